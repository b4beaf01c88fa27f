#!/usr/bin/env bash
# Install what is missing (as webui.sh does: the project, its compat extra, spandrel; plus the test
# extra) and run the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh -k options -x
#
# The browser tests (tests/browser) drive Debian's Chromium (/usr/bin/chromium) through Playwright
# (the Python package, from the test extra; its own browser download is never used). When
# /usr/bin/chromium is missing it is installed here with apt-get, as root or with passwordless sudo;
# when that is not possible or fails, the reason is printed and passed on, and those tests skip with it.
# SD_WEBUI_SKIP_BROWSER_INSTALL=1 never installs (the browser tests then skip if it is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

chromium="${SD_WEBUI_CHROMIUM:-/usr/bin/chromium}"   # the tests read the same variable

browser_unavailable() {
    echo "*** Browser tests will be skipped: $1" >&2
    export SD_WEBUI_BROWSER_SKIP="$1"
}

install_chromium() {
    [[ -x "$chromium" ]] && return 0
    if [[ "${SD_WEBUI_SKIP_BROWSER_INSTALL:-0}" == "1" ]]; then
        browser_unavailable "$chromium is missing and SD_WEBUI_SKIP_BROWSER_INSTALL=1"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        browser_unavailable "$chromium is missing and there is no apt-get to install Debian's chromium package"
        return 0
    fi
    local as_root=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && timeout 10 sudo -n true >/dev/null 2>&1; then
            as_root=(sudo -n)
        else
            browser_unavailable "$chromium is missing; install it with 'sudo apt-get install chromium' (not root and no passwordless sudo)"
            return 0
        fi
    fi
    echo "Installing chromium (Debian package) for the browser tests"
    # bounded: a dead mirror or a held dpkg lock must not hang the test run
    local apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120
               -o Acquire::Retries=2 -o Acquire::http::Timeout=60)
    if ! timeout 600 "${apt[@]}" update -qq; then
        browser_unavailable "'apt-get update' failed or timed out, so chromium could not be installed"
    elif ! timeout 1200 "${apt[@]}" install -y -qq chromium >/dev/null; then
        browser_unavailable "'apt-get install chromium' failed or timed out"
    elif [[ ! -x "$chromium" ]]; then
        browser_unavailable "the chromium package installed no $chromium"
    fi
}

# The suite writes up to ~1.2 GB of tiny checkpoints and outputs under the temp folder at a time
# (a passing test's folder is removed when it ends); a fuller disk makes every later test error.
warn_low_disk() {
    local tmp="${TMPDIR:-/tmp}" free_mb
    free_mb=$(df -Pm "$tmp" 2>/dev/null | awk 'NR == 2 {print $4}') || return 0
    if [[ -n "$free_mb" && "$free_mb" -lt 2048 ]]; then
        echo "*** Only ${free_mb} MB free on the disk of $tmp: the tests need about 1.5 GB there" \
             "(and more for the install); expect 'No space left on device' errors" >&2
    fi
}

warn_low_disk
install_chromium
SD_WEBUI_EXTRAS=test,compat,cluster SD_WEBUI_RUN_TESTS=1 exec ./webui.sh "$@"
