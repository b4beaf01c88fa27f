"""Extension management: install from a local git repository (file://), check for updates, update,
uninstall, enable/disable persisted in config.json, restart, and who may do it (the gating rule)."""
from __future__ import annotations

import json

import pytest

from sdwebui.services.extensions import manager as mgr
from sdwebui.services.extensions import discovery as extensions
from sdwebui.services import runtime as shared
from tests.ext_helpers import commit, ext_env, make_ext, make_repo  # noqa: F401


@pytest.fixture
def repo(ext_env):
    path = ext_env.data / "upstream" / "sd-webui-demo.git"
    url = make_repo(path, {"scripts/demo.py": "X = 1\n", "install.py": "open('installed.marker', 'w')\n"})
    return path, url


def test_install_from_file_url(ext_env, repo):
    path, url = repo
    message = mgr.install_from_url(url)
    target = ext_env.user / "sd-webui-demo"
    assert str(target) in message and "restart" in message.lower()
    assert (target / "scripts" / "demo.py").is_file()
    assert (target / "installed.marker").is_file()            # its install.py ran
    assert not (ext_env.data / "tmp" / "sd-webui-demo").exists()
    ext = extensions.find("sd-webui-demo")
    assert ext is not None and ext.remote == url and ext.branch == "main" and len(ext.version) == 8

    with pytest.raises(mgr.ExtensionError) as e:              # the same folder again
        mgr.install_from_url(url)
    assert e.value.field == "dirname" and e.value.status_code == 409
    with pytest.raises(mgr.ExtensionError) as e:              # the same remote under another name
        mgr.install_from_url(url + "/", dirname="other")
    assert e.value.field == "url" and "already installed" in str(e.value)


def test_install_branch_dirname_and_skip_install(ext_env, repo):
    path, url = repo
    from tests.ext_helpers import git

    git(path, "checkout", "-q", "-b", "dev")
    commit(path, {"dev.txt": "dev"}, "dev work")
    git(path, "checkout", "-q", "main")
    ext_env.configure("--skip-install")
    mgr.install_from_url(url, branch="dev", dirname="custom")
    target = ext_env.user / "custom"
    assert (target / "dev.txt").is_file() and not (target / "installed.marker").exists()
    assert extensions.find("custom").branch == "dev"


@pytest.mark.parametrize("kwargs, field", [
    ({"url": ""}, "url"),
    ({"url": "--upload-pack=evil"}, "url"),
    ({"url": "file:///nonexistent/repo.git"}, "url"),
    ({"url": "file:///x/y.git", "dirname": "../escape"}, "dirname"),
    ({"url": "file:///x/y.git", "dirname": ".hidden"}, "dirname"),
])
def test_install_bad_input(ext_env, kwargs, field):
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.install_from_url(**kwargs)
    assert e.value.field == field and 400 <= e.value.status_code < 500
    assert list(ext_env.user.iterdir()) == []


def test_install_unknown_branch(ext_env, repo):
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.install_from_url(repo[1], branch="no-such-branch")
    assert e.value.field == "branch"


def test_check_for_updates_and_update(ext_env, repo):
    path, url = repo
    mgr.install_from_url(url)
    make_ext(ext_env.user, "plain")
    assert mgr.check_for_updates() == {"sd-webui-demo": "latest"}
    new = commit(path, {"scripts/demo.py": "X = 2\n"}, "second")
    assert mgr.check_for_updates(["sd-webui-demo"]) == {"sd-webui-demo": "new commits"}
    ext = extensions.find("sd-webui-demo")
    assert ext.can_update and ext.status == "new commits"
    message = mgr.update("sd-webui-demo")
    assert new[:8] in message
    assert (ext_env.user / "sd-webui-demo" / "scripts" / "demo.py").read_text() == "X = 2\n"
    assert extensions.find("sd-webui-demo").commit_hash == new
    assert mgr.check_for_updates() == {"sd-webui-demo": "latest"}
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.update("plain")
    assert e.value.field == "name"
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.update("nope")
    assert e.value.status_code == 404


def test_check_for_updates_unreachable_remote(ext_env, repo):
    path, url = repo
    mgr.install_from_url(url)
    import shutil

    shutil.rmtree(path)
    status = mgr.check_for_updates()["sd-webui-demo"]
    assert status.startswith("unknown")


def test_uninstall(ext_env, repo):
    mgr.install_from_url(repo[1])
    make_ext(ext_env.builtin, "core")
    message = mgr.uninstall("sd-webui-demo")
    assert "Uninstalled" in message
    assert not (ext_env.user / "sd-webui-demo").exists()
    assert extensions.find("sd-webui-demo") is None
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.uninstall("core")
    assert e.value.status_code == 403 and (ext_env.builtin / "core").is_dir()
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.uninstall("sd-webui-demo")
    assert e.value.status_code == 404


def test_uninstall_symlinked_folder_removes_only_the_link(ext_env, tmp_path):
    outside = make_ext(tmp_path / "elsewhere", "linked", {"keep.txt": "x"})
    (ext_env.user / "linked").symlink_to(outside, target_is_directory=True)
    extensions.list_extensions()
    mgr.uninstall("linked")
    assert not (ext_env.user / "linked").exists() and (outside / "keep.txt").is_file()


def test_enable_disable_persisted_and_read_back(ext_env):
    make_ext(ext_env.builtin, "core")
    make_ext(ext_env.user, "one", {"metadata.ini": "[Extension]\nName = One Ext\n"})
    make_ext(ext_env.user, "two")
    extensions.list_extensions()
    mgr.set_enabled(["One Ext", "ghost"], "extra")
    stored = json.loads(ext_env.config.read_text())
    # stored as A1111 does: folder names, and the mode
    assert stored["disabled_extensions"] == ["one", "ghost"] and stored["disable_all_extensions"] == "extra"
    assert shared.opts.disabled_extensions == ["one", "ghost"]
    ext_env.configure()                          # a new process: options loaded from config.json
    extensions.list_extensions()
    assert not extensions.find("one").enabled and extensions.find("two").enabled
    assert [e.name for e in extensions.active()] == ["core"]
    mgr.set_enabled([], "none")
    ext_env.configure(opts_loaded=False)         # read straight from config.json too
    extensions.list_extensions()
    assert [e.name for e in extensions.active()] == ["core", "One Ext", "two"]
    with pytest.raises(mgr.ExtensionError) as e:
        mgr.set_enabled([], "some")
    assert e.value.field == "disable_all"


def test_set_enabled_before_options_load_writes_config(ext_env):
    ext_env.config.write_text(json.dumps({"samples_format": "jpg"}))
    ext_env.configure(opts_loaded=False)
    mgr.set_enabled(["x"])
    stored = json.loads(ext_env.config.read_text())
    assert stored == {"samples_format": "jpg", "disabled_extensions": ["x"], "disable_all_extensions": "none"}


def test_restart_server(ext_env, monkeypatch):
    import threading

    stopped = threading.Event()
    monkeypatch.setattr(shared, "_server_stop_callbacks", [stopped.set])
    marker = ext_env.data / "tmp" / "restart"
    assert "start it again by hand" in mgr.restart_server(force_after_s=None)
    assert stopped.wait(5) and not marker.exists()
    stopped.clear()
    monkeypatch.setenv("SD_WEBUI_RESTART", "1")
    assert "Restarting" in mgr.restart_server(force_after_s=None)
    assert stopped.wait(5) and marker.is_file()


def test_apply_and_restart_saves_then_restarts(ext_env, monkeypatch):
    make_ext(ext_env.user, "one")
    extensions.list_extensions()
    calls = []
    monkeypatch.setattr(mgr, "restart_server", lambda: calls.append("restart") or "Restarting the server...")
    message = mgr.apply_and_restart(["one"], "none", ["one"])
    assert calls == ["restart"] and "not a git checkout" in message
    assert json.loads(ext_env.config.read_text())["disabled_extensions"] == ["one"]


# ---------------------------------------------------------------------------------------
# the gating rule
# ---------------------------------------------------------------------------------------
LOCAL = ["127.0.0.1", "127.3.4.5", "::1", "localhost"]
REMOTE = ["192.168.1.20", "10.0.0.1", "2001:db8::1", "testclient", None]


@pytest.mark.parametrize("flags", [["--listen"], ["--share"], ["--server-name", "0.0.0.0"], ["--ngrok", "tok"],
                                   ["--listen", "--gradio-auth", "u:p"]])
@pytest.mark.parametrize("host", ["127.0.0.1", "192.168.1.20"])
def test_exposed_server_refuses_without_insecure_flag(ext_env, flags, host):
    ext_env.configure(*flags)
    message = mgr.access_error(host, authenticated=True)
    assert message and "--enable-insecure-extension-access" in message and flags[0] in message
    with pytest.raises(mgr.ExtensionError) as e:     # the functions check the flag rule themselves
        mgr.install_from_url("file:///x/y.git")
    assert e.value.status_code == 403 and e.value.field == "access"
    for fn in (lambda: mgr.check_for_updates(), lambda: mgr.update("x"), lambda: mgr.uninstall("x")):
        with pytest.raises(mgr.ExtensionError):
            fn()


@pytest.mark.parametrize("host", LOCAL)
@pytest.mark.parametrize("flags", [[], ["--listen", "--enable-insecure-extension-access"]])
def test_loopback_allowed(ext_env, host, flags):
    ext_env.configure(*flags)
    assert mgr.access_error(host, authenticated=False) is None


@pytest.mark.parametrize("host", REMOTE)
def test_remote_needs_configured_and_passed_login(ext_env, host):
    ext_env.configure("--listen", "--enable-insecure-extension-access")
    message = mgr.access_error(host, authenticated=False)
    assert message and "--gradio-auth" in message and "--api-auth" in message
    for auth in (["--gradio-auth", "u:p"], ["--api-auth", "u:p"]):
        ext_env.configure("--listen", "--enable-insecure-extension-access", *auth)
        assert mgr.access_error(host, authenticated=True) is None
        assert "login" in mgr.access_error(host, authenticated=False)


def test_remote_client_of_local_server_needs_login(ext_env):
    # bound to loopback but reached through a proxy/tunnel: the client address decides
    assert mgr.access_error("192.168.1.20", authenticated=False) is not None
    ext_env.configure("--gradio-auth", "u:p")
    assert mgr.access_error("192.168.1.20", authenticated=True) is None


# ---------------------------------------------------------------------------------------
# the Extensions tab's handlers (no browser)
# ---------------------------------------------------------------------------------------
def _request(host: str | None, username: str | None = None):
    from types import SimpleNamespace

    return SimpleNamespace(client=SimpleNamespace(host=host), username=username)


def test_tab_builds_with_a1111_ids(ext_env):
    import gradio as gr

    from sdwebui.interfaces.ui.extensions_tab import create_extensions_tab

    make_ext(ext_env.user, "one")
    with gr.Blocks() as demo:
        with gr.Tabs():
            create_extensions_tab()
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"tab_extensions", "extensions_installed_top", "extensions_apply", "extensions_check",
            "extension_to_install", "extensions_install_branch", "extensions_install_dirname",
            "extension_install_button"} <= ids


def test_tab_install_refused_for_remote_client_without_login(ext_env, repo):
    from sdwebui.interfaces.ui import extensions_tab as tab

    out = tab.install(repo[1], "", "", _request("192.168.1.5"))
    assert "extensions-error" in out[0] and "--gradio-auth" in out[0]
    assert list(ext_env.user.iterdir()) == []
    ext_env.configure("--listen")
    out = tab.install(repo[1], "", "", _request("127.0.0.1", "admin"))
    assert "--enable-insecure-extension-access" in out[0]
    assert "--enable-insecure-extension-access" in tab.apply_and_restart([], "none", [], _request("127.0.0.1"))


def test_tab_install_list_and_uninstall(ext_env, repo):
    from sdwebui.interfaces.ui import extensions_tab as tab

    local = _request("127.0.0.1")
    out = tab.install(repo[1], "", "", local)
    assert "Installed into" in out[0] and out[1] == ""
    table = out[2]
    assert "sd-webui-demo" in table and repo[1] in table
    bad = tab.install("file:///nowhere/x.git", "", "", local)
    assert "extensions-error" in bad[0] and "could not clone" in bad[0]
    checked = tab.check_updates(local)
    assert "no updates" in checked[0]
    extensions.find("sd-webui-demo").report_error("loading demo.py: boom <b>")
    assert "boom &lt;b&gt;" in tab.installed_table_html()
    out = tab.uninstall("sd-webui-demo", local)
    assert "Uninstalled" in out[0] and "sd-webui-demo" not in out[1]


def test_tab_apply_persists_enabled_state(ext_env, monkeypatch):
    from sdwebui.interfaces.ui import extensions_tab as tab

    make_ext(ext_env.user, "one")
    make_ext(ext_env.user, "two")
    extensions.list_extensions()
    monkeypatch.setattr(mgr, "restart_server", lambda: "Restarting the server...")
    message = tab.apply_and_restart(["two"], "none", [], _request("::1"))
    assert "Restarting" in message
    assert json.loads(ext_env.config.read_text())["disabled_extensions"] == ["one"]
