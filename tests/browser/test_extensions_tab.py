"""The Extensions tab in a real browser: the installed list shows the built-in extension, and an
extension installs from a local git repository (file:// URL) through "Install from URL"."""
from __future__ import annotations

import pytest

from tests.ext_helpers import GIT_IDENTITY, make_repo

pytestmark = pytest.mark.browser


@pytest.fixture
def local_repo(tmp_path, monkeypatch):
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    return make_repo(tmp_path / "sd-webui-browser-demo", {"scripts/demo.py": "X = 1\n"})


def test_installed_list_and_install_from_url(page, webui_server, local_repo):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Extensions").click()
    table = page.locator("#extensions_table")
    expect(table).to_be_visible()
    expect(table).to_contain_text("api-payload-display")
    expect(table).to_contain_text("(built-in)")
    for elem_id in ("extensions_apply", "extensions_check"):
        expect(page.locator(f"#{elem_id}")).to_be_visible()

    page.get_by_role("tab", name="Install from URL").click()
    page.locator("#extension_to_install textarea, #extension_to_install input").first.fill(local_repo)
    page.locator("#extension_install_button").click()
    expect(page.locator("#extension_install_result")).to_contain_text("Installed into", timeout=60_000)
    assert (webui_server.data / "extensions" / "sd-webui-browser-demo" / "scripts" / "demo.py").is_file()

    # installing it again is refused with a message, not a traceback
    page.locator("#extension_to_install textarea, #extension_to_install input").first.fill(local_repo)
    page.locator("#extension_install_button").click()
    expect(page.locator("#extension_install_result")).to_contain_text("already exists")

    page.get_by_role("tab", name="Installed").click()
    expect(table).to_contain_text("sd-webui-browser-demo")
