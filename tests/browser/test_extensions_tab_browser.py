"""The Extensions tab in a real browser, as an A1111 user works it: install an extension from a
local git repository (file:// URL) through "Install from URL" and find it in Installed; load a
local extension index in Available, filter and search it, and install an entry with its button
(the page's JavaScript hands the URL to the hidden install button, as in A1111)."""
from __future__ import annotations

import json

import pytest

from tests.ext_helpers import GIT_IDENTITY, make_repo

pytestmark = pytest.mark.browser


@pytest.fixture
def local_repos(tmp_path, monkeypatch):
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    first = make_repo(tmp_path / "sd-webui-browser-demo", {"scripts/demo.py": "X = 1\n"})
    second = make_repo(tmp_path / "sd-webui-browser-beta", {"scripts/beta.py": "Y = 1\n"})
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"tags": {"script": "", "tab": "", "ads": ""}, "extensions": [
        {"name": "Browser demo", "url": first, "description": "the first one", "tags": ["script"],
         "added": "2024-01-01"},
        {"name": "Browser beta", "url": second, "description": "the second one", "tags": ["tab"],
         "added": "2024-02-01"},
        {"name": "Sponsored", "url": "https://example.invalid/x/sponsored", "description": "buy",
         "tags": ["ads"], "added": "2024-03-01"},
    ]}))
    return first, second, index


def test_install_from_url_and_from_a_local_index(page, webui_server, local_repos):
    from playwright.sync_api import expect

    first, second, index = local_repos
    page.get_by_role("tab", name="Extensions").click()
    table = page.locator("#extensions")
    expect(table).to_contain_text("api-payload-display")
    expect(table).to_contain_text("built-in")
    expect(page.locator("#extensions_apply")).to_be_visible()
    expect(page.locator('#extensions input[name="enable_api-payload-display"]')).to_be_checked()

    # Install from URL
    page.get_by_role("tab", name="Install from URL").click()
    url_box = page.locator("#extensions_install_url textarea, #extensions_install_url input").first
    url_box.fill(first)
    page.locator("#extension_install_button").click()
    result = page.locator("#extension_install_result")
    expect(result).to_contain_text("Use Installed tab to restart.", timeout=60_000)
    assert (webui_server.data / "extensions" / "sd-webui-browser-demo" / "scripts" / "demo.py").is_file()
    url_box.fill(first)
    page.locator("#extension_install_button").click()
    expect(result).to_contain_text("already exists")          # a message, not a traceback

    page.get_by_role("tab", name="Installed").click()
    demo_box = page.locator('#extensions input[name="enable_sd-webui-browser-demo"]')
    expect(demo_box).to_be_checked()
    # what "Apply and restart UI" would send (not clicked: it would stop the shared server)
    demo_box.uncheck()
    sent = page.evaluate("extensions_apply('', '', 'none')")
    assert json.loads(sent[0]) == ["sd-webui-browser-demo"] and json.loads(sent[1]) == [] and sent[2] == "none"
    page.locator("#extensions_check").click()          # the unticked one is not checked
    expect(page.locator("#extensions_installed_info")).to_contain_text("Checked 0 extension(s); no updates.",
                                                                       timeout=60_000)

    # Available, from a local index file
    page.get_by_role("tab", name="Available").click()
    source = page.locator("#extensions_index_url textarea, #extensions_index_url input").first
    expect(source).to_have_value("https://raw.githubusercontent.com/AUTOMATIC1111/"
                                 "stable-diffusion-webui-extensions/master/index.json")
    source.fill(str(index))
    page.locator("#extensions_available_load").click()
    available = page.locator("#available_extensions")
    expect(page.locator("#extensions_available_result")).to_contain_text("Loaded 3 extensions")
    # by default ads and installed ones are hidden
    expect(available).to_contain_text("Browser beta")
    expect(available).not_to_contain_text("Sponsored")
    expect(available).not_to_contain_text("Browser demo")
    expect(page.locator("#extensions_available_html")).to_contain_text("Extension hidden: 2")

    page.locator("#extensions_available_tags").get_by_label("installed").uncheck()
    expect(available).to_contain_text("Browser demo")
    expect(available.locator("tr", has_text="Browser demo").get_by_role("button")).to_be_disabled()

    search = page.locator("#extensions_available_search textarea, #extensions_available_search input").first
    search.fill("second")
    expect(available).not_to_contain_text("Browser demo")
    expect(available).to_contain_text("Browser beta")

    available.locator("tr", has_text="Browser beta").get_by_role("button", name="Install").click()
    expect(page.locator("#extensions_available_result")).to_contain_text("Installed into", timeout=60_000)
    assert (webui_server.data / "extensions" / "sd-webui-browser-beta" / "scripts" / "beta.py").is_file()
    page.get_by_role("tab", name="Installed").click()
    expect(page.locator('#extensions input[name="enable_sd-webui-browser-beta"]')).to_be_checked()
