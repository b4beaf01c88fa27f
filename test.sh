#!/usr/bin/env bash
# Install what is missing (as webui.sh does, plus the test extra) and run the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh -k options -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SD_WEBUI_EXTRAS=test SD_WEBUI_RUN_TESTS=1 exec ./webui.sh "$@"
