"""An extension's page assets in the real browser, served through `/file=`: the fixture extension
`asset-probe` (tests/fixtures/extensions) has a classic script that uses A1111's globals (gradioApp,
onUiLoaded, opts, get_uiCurrentTab, localization) and fetches its own CSV through `file=`, a module
script, a style sheet and a localization; A1111's ui.js helpers switch tabs; `opts` follows a change
made in the Settings tab."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import _skip_reason
from tests.browser.test_ui_browser import expect
from tests.server_process import running_server

pytestmark = pytest.mark.browser
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "extensions" / "asset-probe"


@pytest.fixture(scope="module")
def webui_server(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("browser-file-assets")
    shutil.copytree(FIXTURE, data / "extensions" / "asset-probe")
    # the extension's localization, chosen as a user does in the settings
    (data / "config.json").write_text(json.dumps({"localization": "probe-de"}))
    with running_server(data, ["--api", "--skip-install"], ready_path="/internal/ping") as srv:
        yield srv


def test_extension_scripts_styles_and_data_load_through_file(page, webui_server):
    body = page.locator("body")
    # onUiLoaded ran after every extension script (the module one too), with the UI and `opts` there
    expect(body).to_have_attribute("data-probe-csv", "200:text/csv; charset=utf-8")
    expect(body).to_have_attribute("data-probe-app", "true")
    expect(body).to_have_attribute("data-probe-word", "lantern")
    expect(body).to_have_attribute("data-probe-tab", "txt2img")
    expect(body).to_have_attribute("data-probe-module", "/file=extensions/asset-probe/javascript/probe.mjs")
    expect(body).to_have_attribute("data-probe-module-first", "string")
    # the CSV the script fetched by its relative file= path, shown in a box its style.css colours
    box = page.locator("#asset_probe_box")
    expect(box).to_have_text("lantern harbor")
    assert box.evaluate("e => getComputedStyle(e).color") == "rgb(7, 8, 9)"
    # the tags carry file= paths with the file's mtime, as A1111 writes them
    srcs = page.evaluate("Array.from(document.querySelectorAll('script[data-webui-asset]')).map(s => s.getAttribute('src'))")
    assert [s.split("?")[0] for s in srcs] == ["file=extensions/asset-probe/javascript/probe.js",
                                              "file=extensions/asset-probe/javascript/probe.mjs"]
    assert all(float(s.split("?")[1]) > 0 for s in srcs)
    hrefs = page.evaluate("Array.from(document.querySelectorAll('link[rel=stylesheet][href^=\"file=\"]')).map(l => l.getAttribute('href'))")
    assert any(h.startswith("file=extensions/asset-probe/style.css?") for h in hrefs)
    # window.localization holds the chosen localization, and the page shows it
    expect(body).to_have_attribute("data-probe-localization", "Erzeugen")
    expect(page.locator("#txt2img_generate")).to_have_text("Erzeugen")
    # what the page may not fetch, it does not get
    for path, status in (("file=config.json", 403), ("file=extensions/asset-probe/%2e%2e/x", 403),
                         ("file=extensions/asset-probe/none.csv", 404)):
        assert httpx.get(f"{webui_server.base}/{path}").status_code == status


def test_a1111_tab_helpers_submit_args_and_opts_changes(page):
    assert page.evaluate("[get_tab_index('tabs'), get_tab_index('mode_img2img')]") == [0, 0]
    page.evaluate("switch_to_inpaint()")
    expect(page.locator("#tab_img2img")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-probe-tab-changed", "img2img")
    expect(page.locator("#img2img_inpaint_tab")).to_be_visible()
    assert page.evaluate("get_tab_index('mode_img2img')") == 2           # A1111's number for Inpaint
    # submit_img2img: a new task id first, the img2img mode second, the old gallery not sent back
    args = page.evaluate("submit_img2img('old id', 9, 'prompt', [1, 2], 'info', 'html')")
    assert args[0].startswith("task(") and args[1:] == [2, "prompt", None, "info", "html"]
    page.evaluate("switch_to_txt2img()")
    expect(page.locator("#txt2img_prompt")).to_be_visible()

    # `opts` follows a change made in the Settings tab
    body = page.locator("body")
    expect(body).to_have_attribute("data-probe-opts-changed", "lantern")
    page.locator("#tab_settings-button").click()
    # the extension's section of the settings (closed at first), as a user opens it
    page.locator("#settings_asset_probe .label-wrap").first.click()
    field = page.locator("#setting_asset_probe_word textarea, #setting_asset_probe_word input").first
    expect(field).to_be_visible()
    field.fill("harbor")
    page.locator("#settings_submit").click()
    # onOptionsChanged ran with the new value, without a reload
    expect(body).to_have_attribute("data-probe-opts-changed", "harbor")
    assert page.evaluate("opts.asset_probe_word") == "harbor"
