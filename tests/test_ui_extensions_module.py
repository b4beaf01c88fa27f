"""A1111's `modules.ui_extensions`, `modules.config_states` and `paths_internal.config_states_dir`
as an extension calls them in-process, on local git repositories and a local index file (no
network): the Available index loads, filters and installs; the Installed table, update checks and
Apply; config states save, list and restore; access follows A1111's flag rule."""
from __future__ import annotations

import json

import gradio as gr
import pytest

from sdwebui.services.extensions import discovery as extensions
from sdwebui.services.extensions import manager as mgr
from tests.ext_helpers import commit, ext_env, make_ext  # noqa: F401
from tests.test_extensions_tab import index_file, installed  # noqa: F401

HIDDEN = ["ads", "localization", "installed"]


def test_available_index_loads_filters_and_installs(ext_env, index_file):  # noqa: F811
    from modules import ui_extensions

    path, url = index_file
    source, code, tags, *_ = ui_extensions.refresh_available_extensions(str(path), HIDDEN, "hide", "or", 0)
    assert source == str(path)
    assert [e["name"] for e in ui_extensions.available_extensions["extensions"]][0] == "Indexed"
    assert 'id="available_extensions"' in code and "Indexed" in code and "Zeta ads" not in code
    assert "tab" in tags["choices"]
    code, _ = ui_extensions.search_extensions("german", [], "hide", "or", 2)
    assert "German" in code and "Indexed" not in code
    code, ext_table, message, cleared = ui_extensions.install_extension_from_index(url, HIDDEN, "hide", "or", 0, "")
    assert "Installed into" in message and cleared == ""
    assert (ext_env.user / "sd-webui-indexed" / "scripts" / "indexed.py").is_file()
    assert "Indexed" not in code and "sd-webui-indexed" in ext_table
    assert 'name="enable_sd-webui-indexed"' in ui_extensions.extension_table()
    with pytest.raises(mgr.ExtensionError, match="already installed"):
        ui_extensions.install_extension_from_url("again", url)
    assert ui_extensions.get_extension_dirname_from_url("https://github.com/a/Some-Ext.git") == "Some-Ext"
    assert ui_extensions.normalize_git_url(None) == ""
    assert ui_extensions.get_date({"created_at": "2023-11-23T10:00:00Z"}, "created_at").startswith("2023-11-2")
    assert [r for r, _ in ui_extensions.sort_ordering] == [True, False, False, True, False, True, True, True]


def test_updates_apply_and_config_states(ext_env, installed, monkeypatch):  # noqa: F811
    from modules import config_states, paths_internal, ui_extensions

    path, _ = installed
    first = extensions.find("sd-webui-demo").commit_hash
    commit(path, {"scripts/demo.py": "X = 2\n"}, "second")
    table, _ = ui_extensions.check_updates(None, '["plain"]')
    assert 'name="update_sd-webui-demo" checked' in table

    assert paths_internal.config_states_dir == str(ext_env.data / "config_states")
    dropdown, message = ui_extensions.save_config_state("mine")
    assert dropdown["value"].startswith("mine: ") and dropdown["choices"][0] == "Current"
    assert str(ext_env.data / "config_states") in message
    held = config_states.all_config_states
    assert config_states.list_config_states() is held and list(held) == [dropdown["value"]]
    state = held[dropdown["value"]]
    assert state["extensions"]["sd-webui-demo"]["commit_hash"] == first
    assert set(config_states.get_config()) == {"created_at", "webui", "extensions"}
    assert "Config Backup: mine" in ui_extensions.update_config_states_table(dropdown["value"])

    monkeypatch.setattr(mgr, "restart_server", lambda: "Restarting the server...")
    assert "Restarting" in ui_extensions.apply_and_restart('["plain"]', '["sd-webui-demo"]', "none")
    assert extensions.find("sd-webui-demo").commit_hash != first
    assert json.loads(ext_env.config.read_text())["disabled_extensions"] == ["plain"]
    config_states.restore_extension_config(state)       # back to the saved commit, plain enabled again
    assert extensions.find("sd-webui-demo").commit_hash == first
    assert json.loads(ext_env.config.read_text())["disabled_extensions"] == []
    assert ui_extensions.restore_config_state(False, dropdown["value"], "extensions") == "<span>Cancelled.</span>"
    assert "Select a config" in ui_extensions.restore_config_state(True, "Current", "extensions")
    assert "Restarting" in ui_extensions.restore_config_state(True, dropdown["value"], "extensions")


def test_access_follows_a1111s_flag_rule(ext_env):  # noqa: F811
    from modules import config_states, ui_extensions

    ui_extensions.check_access()                        # this machine, not exposed: allowed
    ext_env.configure("--listen")
    with pytest.raises(AssertionError, match="--enable-insecure-extension-access"):
        ui_extensions.check_access()
    with pytest.raises(AssertionError):
        ui_extensions.install_extension_from_url(None, "https://example.invalid/x.git")
    with pytest.raises(mgr.ExtensionError) as e:
        config_states.restore_extension_config({"extensions": {}})
    assert e.value.status_code == 403


def test_create_ui_builds_the_extensions_tab(ext_env):  # noqa: F811
    from modules import ui_extensions

    make_ext(ext_env.user, "one")
    extensions.list_extensions()
    ui = ui_extensions.create_ui()
    assert isinstance(ui, gr.Blocks)
    ids = {getattr(b, "elem_id", None) for b in ui.blocks.values()}
    assert {"tabs_extensions", "extensions_install_url", "extensions_index_url"} <= ids
