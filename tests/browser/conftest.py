"""Real-browser UI tests: the server as a user starts it (`python launch.py --api`, fresh --data-dir)
and Debian's Chromium (/usr/bin/chromium) driven by Playwright. Playwright's own browser download
is never used; test.sh installs the chromium package when it is missing (see there).

Without chromium or the playwright package every browser test skips with the reason (test.sh passes
its install failure in SD_WEBUI_BROWSER_SKIP). Deselect them with `-m "not browser"`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server_process import running_server

BROWSER_DIR = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("SD_WEBUI_CHROMIUM", "/usr/bin/chromium")
# as root on a machine whose network is closed: no sandbox, no GPU, no background connections
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000          # default for every Playwright action and expect()

# Console/network failures that do not matter offline (fonts or favicons fetched from the internet).
# They are reported as warnings, not failures.
HARMLESS = ("favicon", "fonts.googleapis.com", "fonts.gstatic.com", ".woff", ".ttf")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser carries the `browser` marker (registered in pyproject.toml),
    also one whose module forgets `pytestmark`, so `-m "not browser"` never starts a browser."""
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _skip_reason() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return os.environ.get("SD_WEBUI_BROWSER_SKIP") or (
            f"{CHROMIUM} not found: ./test.sh installs Debian's chromium package (as root or with sudo)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"the playwright package is missing ({e}): pip install -e '.[test]'"
    return None


@pytest.fixture(scope="session")
def _plain_webui_server(tmp_path_factory):
    """`launch.py --api` on a fresh data dir (the embedded default model is written on first launch),
    started once for every browser module that uses it (a start costs seconds of the suite's time);
    pytest_runtest_teardown stops it as soon as the run leaves tests/browser."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with running_server(tmp_path_factory.mktemp("browser-server-data"), ["--api"],
                        ready_path="/internal/ping") as srv:
        _started_servers.append(srv)
        yield srv


_started_servers: list = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # after the item's own teardown (its pages and the module's browser are closed by then)
    result = yield
    if _started_servers and (nextitem is None or BROWSER_DIR not in nextitem.path.parents):
        for srv in _started_servers:
            srv.stop()          # idempotent: the fixture's own teardown finds it stopped
        _started_servers.clear()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report carries the end of its server's log: what the page showed as
    "Error" is explained there (CI keeps only pytest's output)."""
    report = yield
    if report.failed and call.when == "call":
        server = item.funcargs.get("webui_server") if hasattr(item, "funcargs") else None
        if server is not None and hasattr(server, "log_tail"):
            try:
                report.sections.append(("server log (last lines)", server.log_tail(6000)))
            except OSError as e:
                report.sections.append(("server log", f"could not be read: {e}"))
    return report


@pytest.fixture(scope="module")
def webui_server(_plain_webui_server):
    """The server the module's browser talks to; a module may override it (with its own extensions)."""
    return _plain_webui_server


@pytest.fixture(scope="module")
def browser(webui_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives the browser a new empty --user-data-dir of its own, removed on close
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageLog:
    """What the page reported: `errors` fail the test, `harmless` ones are only reported."""
    errors: list[str] = field(default_factory=list)
    harmless: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        (self.harmless if any(h in text for h in HARMLESS) else self.errors).append(text)

    def check(self) -> None:
        if self.harmless:
            warnings.warn("ignored offline browser messages: " + "; ".join(self.harmless), stacklevel=2)
        assert not self.errors, "browser reported errors:\n" + "\n".join(self.errors)


def _watch(page, log: PageLog, base: str) -> None:
    def on_console(msg):
        if msg.type == "error":
            url = (msg.location or {}).get("url", "")
            log.add(f"console error: {msg.text} ({url})")

    def on_request_failed(request):
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:        # a stream or image cancelled by navigation or close
            return
        text = f"request failed: {request.method} {request.url}: {failure}"
        if request.url.startswith(base):
            log.add(text)
        else:
            log.harmless.append(text)      # the internet is not reachable here

    page.on("console", on_console)
    page.on("pageerror", lambda exc: log.add(f"page error: {exc}"))
    page.on("requestfailed", on_request_failed)


@pytest.fixture
def open_ui(browser, webui_server):
    """open_ui(color_scheme="light") -> page: the UI in a fresh browser context (no cookies or storage),
    1280x800, rendered (bounded wait), its console watched in `page.console_log`."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []

    def open_page(color_scheme: str = "light", **context_args):
        context = browser.new_context(**{"viewport": VIEWPORT, "color_scheme": color_scheme, **context_args})
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.console_log = PageLog()
        _watch(page, page.console_log, webui_server.base)
        page.goto(webui_server.base + "/", timeout=60_000)
        # the UI is rendered by JavaScript after the HTML loads: wait for it, and for the page to be
        # ready (A1111's onUiLoaded moment: the parts extensions expect are drawn, the tabs set back)
        page.locator("#txt2img_generate").wait_for(state="visible", timeout=60_000)
        page.wait_for_function("() => window.uiLoadedDone === true", timeout=60_000)
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(open_ui):
    """The UI in a fresh browser context, light colour scheme. Console errors fail the test."""
    pg = open_ui()
    yield pg
    pg.console_log.check()
