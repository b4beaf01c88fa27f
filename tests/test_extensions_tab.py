"""The Extensions tab's sub-tabs and the services behind them: the extension index (loading from a
local file, no network; filtering, sorting, searching, installing one entry), config states
(save, list, restore commits and enabled states), the Installed table's checkboxes and error
lines, and A1111's element ids. Everything runs on local git repositories (file:// URLs)."""
from __future__ import annotations

import json

import pytest

from sdwebui.services.extensions import config_states, discovery as extensions, index as ext_index
from sdwebui.services.extensions import manager as mgr
from tests.ext_helpers import commit, ext_env, git, make_ext, make_repo  # noqa: F401


def _request(host: str = "127.0.0.1", username: str | None = None):
    from types import SimpleNamespace

    return SimpleNamespace(client=SimpleNamespace(host=host), username=username)


def _entry(name: str, url: str, tags: list[str], added: str, **extra) -> dict:
    return {"name": name, "url": url, "description": f"{name} does things", "tags": tags, "added": added, **extra}


@pytest.fixture
def index_file(ext_env, tmp_path):
    """A local index: a real installable repository plus entries that exercise each filter."""
    url = make_repo(tmp_path / "upstream" / "sd-webui-indexed", {"scripts/indexed.py": "X = 1\n"})
    index = {
        "tags": {"script": "a script", "tab": "a tab", "ads": "advertises", "localization": "a language"},
        "extensions": [
            _entry("Indexed", url, ["script"], "2023-05-01", stars=5, commit_time="2024-01-02T00:00:00Z",
                   created_at="2022-01-01T00:00:00Z"),
            _entry("Alpha Tab", "https://example.invalid/a/alpha-tab.git", ["tab"], "2024-02-01", stars=50,
                   commit_time="2023-01-01T00:00:00Z", created_at="2023-06-01T00:00:00Z"),
            _entry("Zeta ads", "https://example.invalid/z/zeta", ["script", "ads"], "2022-01-01", stars=500),
            _entry("German", "https://example.invalid/l/de", ["localization"], "2021-01-01"),
            {"name": "no url", "tags": []},
        ],
    }
    path = tmp_path / "index.json"
    path.write_text(json.dumps(index))
    return path, url


# ---------------------------------------------------------------------------------------
# the index service
# ---------------------------------------------------------------------------------------
def test_load_index_from_path_and_file_url(index_file):
    path, _ = index_file
    for source in (str(path), path.as_uri()):
        index = ext_index.load_index(source)
        assert [e["name"] for e in index["extensions"]][:2] == ["Indexed", "Alpha Tab"]
        assert index["tags"]["tab"] == "a tab"


@pytest.mark.parametrize("content, source, expected", [
    (None, "missing.json", "not found"),
    ("{not json", "bad.json", "not valid JSON"),
    ('{"tags": {}}', "shape.json", 'needs an "extensions" list'),
    (None, "ftp://example.invalid/index.json", "http(s) URL or a local file path"),
    # nothing listens on port 9 (discard) of this machine: the same answer as being offline
    (None, "http://127.0.0.1:9/index.json", "may be offline"),
])
def test_load_index_errors_are_plain_messages(tmp_path, content, source, expected):
    if content is not None:
        (tmp_path / source).write_text(content)
    if "://" not in source:
        source = str(tmp_path / source)
    with pytest.raises(ext_index.IndexLoadError) as e:
        ext_index.load_index(source, timeout=5)
    assert expected in str(e.value)


def test_default_index_url_and_env(monkeypatch):
    monkeypatch.delenv(ext_index.INDEX_ENV, raising=False)
    assert ext_index.default_index_url() == ("https://raw.githubusercontent.com/AUTOMATIC1111/"
                                             "stable-diffusion-webui-extensions/master/index.json")
    monkeypatch.setenv(ext_index.INDEX_ENV, "/srv/index.json")
    assert ext_index.default_index_url() == "/srv/index.json"


def _names(selection: ext_index.Selection) -> list[str]:
    return [e.name for e in selection.entries]


def test_filter_tags_installed_sort_and_search(index_file):
    index = ext_index.load_index(str(index_file[0]))
    hide = ext_index.DEFAULT_HIDDEN_TAGS
    # A1111's defaults: ads, localization and installed hidden; newest first
    sel = ext_index.filter_index(index, ["alpha-tab"], [], hide)
    assert _names(sel) == ["Indexed"] and sel.hidden == 3
    assert sel.tags["installed"] == "installed" and "tab" in sel.tags
    # installed by remote URL (any case, .git or not) is tagged and marked
    sel = ext_index.filter_index(index, [], [index_file[1].upper() + ".git"], [])
    assert next(e for e in sel.entries if e.name == "Indexed").installed
    assert "installed" in next(e for e in sel.entries if e.name == "Indexed").tags
    # "show" keeps only those with any ("or") / all ("and") of the tags
    assert _names(ext_index.filter_index(index, [], [], ["script", "ads"], "show", "or")) == ["Indexed", "Zeta ads"]
    assert _names(ext_index.filter_index(index, [], [], ["script", "ads"], "show", "and")) == ["Zeta ads"]
    assert _names(ext_index.filter_index(index, [], [], ["script", "ads"], "hide", "and")) == [
        "Alpha Tab", "Indexed", "German"]
    orders = {label: _names(ext_index.filter_index(index, [], [], [], sort=label)) for label in ext_index.SORT_LABELS}
    assert orders["newest first"] == ["Alpha Tab", "Indexed", "Zeta ads", "German"]
    assert orders["oldest first"] == orders["newest first"][::-1]
    assert orders["a-z"] == ["Alpha Tab", "German", "Indexed", "Zeta ads"]
    assert orders["z-a"] == orders["a-z"][::-1]
    assert orders["internal order"] == ["Indexed", "Alpha Tab", "Zeta ads", "German"]
    assert orders["update time"][:2] == ["Indexed", "Alpha Tab"]
    assert orders["create time"][:2] == ["Alpha Tab", "Indexed"]
    assert orders["stars"] == ["Zeta ads", "Alpha Tab", "Indexed", "German"]
    assert _names(ext_index.filter_index(index, [], [], [], sort=7)) == orders["stars"]   # A1111 sends the index
    sel = ext_index.filter_index(index, [], [], [], search="TAB")
    assert _names(sel) == ["Alpha Tab"] and sel.hidden == 3
    assert sel.entries[0].update_time and sel.entries[0].create_time and sel.entries[0].stars == 50
    with pytest.raises(ValueError, match="showing_type"):
        ext_index.filter_index(index, [], [], ["ads"], "sometimes")


# ---------------------------------------------------------------------------------------
# the Available sub-tab
# ---------------------------------------------------------------------------------------
def test_available_load_filter_and_install(ext_env, index_file):
    from sdwebui.interfaces.ui import extensions_available as tab

    path, url = index_file
    local = _request()
    filters = [ext_index.DEFAULT_HIDDEN_TAGS, "hide", "or", 0]
    out = tab.load(str(path), *filters, local)
    index, source, table, tags, search, result = out
    assert source == str(path) and "Loaded 5 extensions" in result
    assert 'id="available_extensions"' in table and "Indexed" in table and "Alpha Tab" in table
    assert "Zeta ads" not in table and "Extension hidden: 2" in table
    assert f'data-url="{url}"' in table and "tab" in tags["choices"]

    table, note = tab.refilter(index, [], "hide", "or", 2, "german")
    assert "German" in table and "Indexed" not in table and note == ""

    out = tab.install_from_index(url, index, *filters, "", local)
    assert "Installed into" in out[1] and "Use Installed tab to restart." in out[1]
    assert (ext_env.user / "sd-webui-indexed" / "scripts" / "indexed.py").is_file()
    assert "Indexed" not in out[0]                        # installed ones are hidden by default now
    assert "sd-webui-indexed" in out[3]                   # the Installed table is refreshed too
    table, _ = tab.refilter(index, [], "hide", "or", 0, "")
    assert "Installed</button>" in table                  # shown, its button disabled


def test_available_without_network_says_so_and_keeps_the_table(ext_env):
    from sdwebui.interfaces.ui import extensions_available as tab

    out = tab.load("http://127.0.0.1:9/index.json", [], "hide", "or", 0, _request())
    assert "may be offline" in out[5] and "local file path" in out[5] and "extensions-error" in out[5]
    assert "Traceback" not in out[5]
    assert "Load an extension index first" in tab.refilter(None, [], "hide", "or", 0, "")[1]


def test_available_custom_source_and_install_refused_when_exposed(ext_env, index_file):
    from sdwebui.interfaces.ui import extensions_available as tab

    path, url = index_file
    ext_env.configure("--listen")
    out = tab.load(str(path), [], "hide", "or", 0, _request())
    assert "--enable-insecure-extension-access" in out[5]
    out = tab.install_from_index(url, None, [], "hide", "or", 0, "", _request())
    assert "--enable-insecure-extension-access" in out[1] and list(ext_env.user.iterdir()) == []


# ---------------------------------------------------------------------------------------
# the Installed sub-tab
# ---------------------------------------------------------------------------------------
@pytest.fixture
def installed(ext_env, tmp_path):
    path = tmp_path / "upstream" / "sd-webui-demo"
    url = make_repo(path, {"scripts/demo.py": "X = 1\n"})
    mgr.install_from_url(url)
    make_ext(ext_env.builtin, "core")
    make_ext(ext_env.user, "plain")
    extensions.list_extensions()
    return path, url


def test_installed_table_checkboxes_updates_and_errors(ext_env, installed):
    from sdwebui.interfaces.ui import extensions_installed as tab

    path, _ = installed
    table = tab.installed_table_html()
    assert 'id="extensions"' in table and 'class="gr-check-radio gr-checkbox all_extensions_toggle"' in table
    for name in ("core", "plain", "sd-webui-demo"):
        assert f'name="enable_{name}" type="checkbox" checked' in table
    assert ">built-in<" in table and "update_" not in table
    commit(path, {"scripts/demo.py": "X = 2\n"}, "second")
    out = tab.check_from_page('["plain"]', _request())
    assert "Updates available for: sd-webui-demo" in out[0]
    assert 'name="update_sd-webui-demo" checked' in out[1] and "new commits" in out[1]
    extensions.find("plain").report_error("loading p.py: ImportError: no module named <x>")
    assert "ImportError: no module named &lt;x&gt;" in tab.installed_table_html()
    assert "disabled_list must be a JSON list" in tab.check_from_page("nope", _request())[0]


def test_apply_from_page_disables_and_updates(ext_env, installed, monkeypatch):
    from sdwebui.interfaces.ui import extensions_installed as tab

    path, _ = installed
    new = commit(path, {"scripts/demo.py": "X = 2\n"}, "second")
    monkeypatch.setattr(mgr, "restart_server", lambda: "Restarting the server...")
    message = tab.apply_from_page('["plain"]', '["sd-webui-demo"]', "extra", _request())
    assert "Restarting" in message
    config = json.loads(ext_env.config.read_text())
    assert config["disabled_extensions"] == ["plain"] and config["disable_all_extensions"] == "extra"
    assert extensions.find("sd-webui-demo").commit_hash == new
    backups = mgr.list_config_states()             # A1111 saves a state before updating
    assert [s["name"] for s in backups.values()] == ["Backup (pre-update)"]
    assert "--disable" not in tab.disabled_note() and "apply to load every enabled" in tab.disabled_note()
    assert "update_list must be a JSON list" in tab.apply_from_page("[]", "{}", "none", _request())


# ---------------------------------------------------------------------------------------
# config states (Backup/Restore)
# ---------------------------------------------------------------------------------------
def test_config_state_save_list_and_restore(ext_env, installed, monkeypatch):
    path, _ = installed
    first = extensions.find("sd-webui-demo").commit_hash
    saved = mgr.save_config_state("../My state")
    assert saved.parent == ext_env.data / "config_states" and saved.name.endswith("_My state.json")
    state = json.loads(saved.read_text())
    assert state["extensions"]["sd-webui-demo"]["commit_hash"] == first
    assert {"remote", "commit_hash", "commit_date", "branch"} == set(state["webui"])
    (ext_env.data / "config_states" / "broken.json").write_text("{")       # logged and left out
    key, = mgr.list_config_states()
    assert key.startswith("My state: ")

    # move on: a new commit, plain disabled, a new extension installed
    commit(path, {"scripts/demo.py": "X = 3\n"}, "third")
    mgr.update("sd-webui-demo")
    assert extensions.find("sd-webui-demo").commit_hash != first
    mgr.set_enabled(["plain"])
    make_ext(ext_env.user, "newcomer")
    extensions.list_extensions()

    text = mgr.restore_config_state(key, "extensions")
    assert f"-> {first[:8]}" in text and "newcomer: not in the saved state; disabled" in text
    assert extensions.find("sd-webui-demo").commit_hash == first
    assert (ext_env.user / "sd-webui-demo" / "scripts" / "demo.py").read_text() == "X = 1\n"
    assert json.loads(ext_env.config.read_text())["disabled_extensions"] == ["newcomer"]
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.restore_config_state(key, "everything")
    assert e.value.field == "restore_type" and "'both'" in str(e.value)
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.restore_config_state("nope", "extensions")
    assert e.value.status_code == 404
    ext_env.configure("--listen")
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.restore_config_state(key, "extensions")
    assert e.value.status_code == 403


def test_restore_webui_commit(ext_env):
    root = ext_env.root
    git(root, "init", "-q", "-b", "main")
    first = commit(root, {"webui.txt": "one"}, "one")
    state = {"webui": config_states.webui_config()}
    assert state["webui"]["commit_hash"] == first and state["webui"]["branch"] == "main"
    commit(root, {"webui.txt": "two"}, "two")
    (root / "webui.txt").write_text("local edit")
    result = config_states.restore_webui(state)
    assert not result.ok and "uncommitted changes" in result.text
    git(root, "checkout", "-q", "--", "webui.txt")
    result = config_states.restore_webui(state)
    assert result.ok and (root / "webui.txt").read_text() == "one"
    assert not config_states.restore_webui({"webui": {"commit_hash": "-x"}}).ok


def test_backup_tab_handlers(ext_env, installed, monkeypatch):
    from sdwebui.interfaces.ui import extensions_backup as tab

    monkeypatch.setattr(mgr, "restart_server", lambda: "Restarting the server...")
    dropdown, info = tab.save("nightly", _request())
    key = dropdown["value"]
    assert key.startswith("nightly: ") and dropdown["choices"][0] == "Current" and "Saved the state" in info
    table = tab.state_table_html(key)
    assert 'id="config_state_webui"' in table and 'id="config_state_extensions"' in table
    assert "sd-webui-demo" in table and "Config Backup: nightly" in table
    assert "Config Backup: Config" in tab.state_table_html("Current")
    assert "Choose a saved state" in tab.restore(True, "Current", "extensions", _request())
    assert "cancelled" in tab.restore(False, key, "extensions", _request())
    message = tab.restore(True, key, "extensions", _request())
    assert "Restored extensions" in message and "Restarting" in message
    assert "login" in tab.restore(True, key, "extensions", _request("10.1.2.3"))


# ---------------------------------------------------------------------------------------
# the tab and the API
# ---------------------------------------------------------------------------------------
def test_tab_has_a1111_sub_tabs_and_ids(ext_env):
    import gradio as gr

    from sdwebui.interfaces.ui.extensions_tab import create_extensions_tab

    make_ext(ext_env.user, "one")
    with gr.Blocks() as demo:
        with gr.Tabs():
            create_extensions_tab()
    blocks = list(demo.blocks.values())
    ids = {getattr(b, "elem_id", None) for b in blocks}
    assert {"tabs_extensions", "extensions_installed_top", "extensions_installed_html", "extensions_disable_all",
            "extensions_disabled_list", "extensions_update_list", "extension_to_install",
            "install_extension_button", "extension_install_result", "extensions_backup_top_row",
            "extensions_backup_top_row2", "extension_backup_saved_configs", "extension_backup_restore_type",
            "extension_backup_restore", "refresh_config_states"} <= ids
    tabs = [b.label for b in blocks if isinstance(b, gr.Tab)]
    assert tabs[1:] == ["Installed", "Available", "Install from URL", "Backup/Restore"]
    radio = next(b for b in blocks if getattr(b, "elem_id", None) == "extensions_disable_all")
    assert [c[1] for c in radio.choices] == ["none", "extra", "all"]


def test_api_item_carries_load_errors(ext_env):
    from sdwebui.interfaces.api import models

    make_ext(ext_env.user, "broken")
    extensions.list_extensions()
    extensions.find("broken").report_error("loading b.py: SyntaxError: invalid syntax")
    items = {i["name"]: models.ExtensionItem(**i).model_dump() for i in extensions.api_list()}
    assert items["broken"]["errors"] == ["loading b.py: SyntaxError: invalid syntax"]
    assert {"name", "remote", "branch", "commit_hash", "version", "commit_date", "enabled"} < set(items["broken"])
