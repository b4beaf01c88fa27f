"""What A1111 extensions written for gradio 3 expect of the page, in the real browser, with the
fixture extension `page-probe` (tests/fixtures/extensions): a DOMContentLoaded (and window load)
listener in its script runs although gradio adds the script after those events; onUiUpdate starts
after onUiLoaded and never sees an accordion without its content; at onUiLoaded a
button inside a closed accordion and a box in a tab never opened are already in the page (and the
accordion still shows closed, the first tab still selected); `_js=` on `.then()` runs; A1111's
appendContextMenuOption / removeContextMenuOption, dimensionChange, popupId and requestProgress
work."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import _skip_reason
from tests.browser.test_ui_browser import expect
from tests.server_process import running_server

pytestmark = pytest.mark.browser
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "extensions" / "page-probe"


@pytest.fixture(scope="module")
def webui_server(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("browser-page-scripts")
    shutil.copytree(FIXTURE, data / "extensions" / "page-probe")
    with running_server(data, ["--api", "--skip-install"], ready_path="/internal/ping") as srv:
        yield srv


def test_late_listeners_lazy_elements_and_then_js(page):
    body = page.locator("body")
    expect(body).to_have_attribute("data-probe-dcl", "ran")
    expect(body).to_have_attribute("data-probe-window-load", "ran")
    # onUiLoaded found what gradio 6 would render only once opened, and the UI had not moved
    expect(body).to_have_attribute("data-probe-button", "true")
    expect(body).to_have_attribute("data-probe-tab-box", "true")
    expect(body).to_have_attribute("data-probe-start-tab", "txt2img")
    expect(page.locator("#tab_txt2img")).to_be_visible()
    expect(page.locator("#page_probe_tab_box")).to_be_hidden()
    # onUiUpdate starts after onUiLoaded, on a page where no element is there without its children
    expect(body).to_have_attribute("data-probe-update-first", "after-loaded")
    assert page.evaluate("document.body.dataset.probeUpdatePartial") is None
    # the accordion the button sits in still shows closed, its content hidden
    accordion = page.locator("#page_probe_accordion")
    expect(accordion.locator(".label-wrap").first).not_to_have_class(re.compile(r"\bopen\b"))
    expect(page.locator("#page_probe_button")).to_be_hidden()
    # the click at load ran the server function, then the `_js=` of `.then()` on its output
    accordion.locator(".label-wrap").first.click()
    out = page.locator("#page_probe_out textarea, #page_probe_out input").first
    expect(out).to_have_value("clicked then-js")


def test_context_menu_dimension_change_popup_and_progress(page):
    body = page.locator("body")
    expect(body).to_have_attribute("data-probe-width", "640")      # dimensionChange took the width
    # the extension's entry on the Generate button's right-click menu, after A1111's own two; the
    # removed one is not there
    page.locator("#txt2img_generate").click(button="right")
    menu = page.locator("#context-menu")
    expect(menu).to_be_visible()
    expect(menu.locator("a")).to_have_text(["Generate forever", "Cancel generate forever", "Probe entry"])
    menu.locator("a", has_text="Probe entry").click()
    expect(body).to_have_attribute("data-probe-menu", "clicked")
    expect(menu).to_have_count(0)                                   # a click closes it

    # popupId shows an element over the page; Escape closes it
    page.evaluate("() => { const d = document.createElement('div'); d.id = 'probe_popup'; d.textContent = 'popped';"
                  " gradioApp().appendChild(d); popupId('probe_popup'); }")
    expect(page.locator(".global-popup")).to_be_visible()
    expect(page.locator(".global-popup-inner #probe_popup")).to_have_text("popped")
    page.keyboard.press("Escape")
    expect(page.locator(".global-popup")).to_be_hidden()

    # requestProgress for a task the server does not know: a bar, then (not queued, not active
    # past the inactivity timeout) it is removed and atEnd is called
    page.evaluate("""() => { const c = gradioApp().querySelector('#txt2img_gallery') || gradioApp().querySelector('#txt2img_prompt');
        requestProgress('task(probe)', c, null, () => { document.body.dataset.probeProgressEnd = 'done'; }, null, 0); }""")
    expect(body).to_have_attribute("data-probe-progress-end", "done")
    expect(page.locator(".progressDiv")).to_have_count(0)
