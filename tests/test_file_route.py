"""`/file=<path>`: what it serves (extensions' assets, the web folders, outputs, model previews,
--gradio-allowed-path) and what it refuses (traversal, dotfiles, symlinks out, settings and
credentials, model weights, Python source) - first the rules alone, then the route on a small app, then the
rules the running app builds from its flags and folders, and the UI login in front of it."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sdwebui.interfaces import file_route
from sdwebui.interfaces.file_route import FileRules, Root, check_path


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A data folder with an extension, outputs, models and files that must never be served, and a
    folder outside it."""
    data = tmp_path / "data"
    ext = data / "extensions" / "my-ext"
    (ext / "javascript").mkdir(parents=True)
    (ext / "javascript" / "a.js").write_text("var a = 1;\n")
    (ext / "javascript" / "m.mjs").write_text("export const m = 1;\n")
    (ext / "style.css").write_text("#x { color: red; }\n")
    (ext / "data.csv").write_text("word,weight\nlantern,1\n")
    (ext / ".git").mkdir()
    (ext / ".git" / "config").write_text("[remote]\n")
    (ext / ".env").write_text("TOKEN=1\n")
    (ext / "scripts").mkdir()
    (ext / "scripts" / "ext.py").write_text("API_KEY = 'x'\n")
    (ext / "models").mkdir()
    (ext / "models" / "net.pth").write_bytes(b"weights")
    outputs = data / "outputs" / "txt2img-images"
    outputs.mkdir(parents=True)
    (outputs / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    models = data / "models" / "Stable-diffusion"
    models.mkdir(parents=True)
    (models / "m.safetensors").write_bytes(b"weights")
    (models / "m.preview.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (data / "config.json").write_text('{"secret": 1}')
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (ext / "escape.txt").symlink_to(outside / "secret.txt")
    (ext / "hidden-link").symlink_to(ext / ".env")
    (ext / "dangling.js").symlink_to(ext / "nowhere.js")
    return {"data": data, "ext": ext, "outputs": outputs, "models": data / "models", "outside": outside}


def rules_for(tree: dict[str, Path], *extra: Root, denied: tuple[Path, ...] = ()) -> FileRules:
    real = file_route._real
    return FileRules(bases=(tree["data"],), roots=(
        Root(real(tree["data"] / "extensions"), "extension"), Root(real(tree["data"] / "outputs"), "outputs"),
        Root(real(tree["models"]), "models", previews_only=True), *extra),
        denied=frozenset(real(p) for p in denied))


@pytest.mark.parametrize("path", ["extensions/my-ext/javascript/a.js", "extensions/my-ext/style.css",
                                  "extensions/my-ext/data.csv", "outputs/txt2img-images/00001.png",
                                  "models/Stable-diffusion/m.preview.png", "./extensions/my-ext/data.csv"])
def test_allowed_files_are_served(tree, path):
    decision = check_path(path, rules_for(tree))
    assert decision.status == 200, decision.message
    assert decision.path == (tree["data"] / path).resolve()


def test_absolute_paths_inside_a_root_are_served(tree):
    # A1111 writes absolute paths for files outside its folder (an extension linked in from elsewhere)
    assert check_path(str(tree["ext"] / "data.csv"), rules_for(tree)).status == 200


def test_an_install_under_a_dot_folder_still_serves(tmp_path, tree):
    # only the part of the path below a known folder must be free of dot-names
    hidden = tmp_path / ".local" / "webui"
    (hidden / "extensions" / "e").mkdir(parents=True)
    (hidden / "extensions" / "e" / "x.js").write_text("1")
    rules = FileRules(bases=(hidden,), roots=(Root(file_route._real(hidden / "extensions"), "extension"),))
    assert check_path(str(hidden / "extensions" / "e" / "x.js"), rules).status == 200
    assert check_path("extensions/e/x.js", rules).status == 200


@pytest.mark.parametrize("path, words", [
    ("extensions/../config.json", "'..'"),
    ("extensions/my-ext/../../config.json", "'..'"),
    ("extensions\\my-ext\\..\\..\\config.json", "'..'"),
    ("config.json", "not in a folder"),
    ("/etc/passwd", "not in a folder"),
    ("extensions/my-ext/.git/config", "dotfiles"),
    ("extensions/my-ext/.env", "dotfiles"),
    (".env", "dotfiles"),
    ("extensions/my-ext/escape.txt", "not in a folder"),          # a symlink out of the folder
    ("extensions/my-ext/hidden-link", "dotfile"),                  # a symlink to a dotfile inside
    ("extensions/my-ext", "folder"),
    ("models/Stable-diffusion/m.safetensors", "preview images"),
    ("extensions/my-ext/models/net.pth", "model files"),
    ("extensions/my-ext/scripts/ext.py", "program files"),
    ("extensions/my-ext/data.csv\x00.png", "NUL"),
])
def test_refused_with_403_and_the_reason(tree, path, words):
    decision = check_path(path, rules_for(tree))
    assert (decision.status, decision.path) == (403, None)
    assert words in decision.message and path.split("/")[0] in decision.message


def test_outside_the_roots_is_403_whether_or_not_it_exists(tree):
    there = check_path(str(tree["outside"] / "secret.txt"), rules_for(tree))
    missing = check_path(str(tree["outside"] / "nothing.txt"), rules_for(tree))
    assert there.status == missing.status == 403


@pytest.mark.parametrize("path", ["extensions/my-ext/missing.js", "outputs/none.png", "extensions/my-ext/dangling.js"])
def test_missing_files_in_a_root_are_404(tree, path):
    decision = check_path(path, rules_for(tree))
    assert decision.status == 404 and decision.message == f"File not found: {path}"


def test_denied_files_are_refused_even_inside_a_served_folder(tree):
    secret = tree["outputs"] / "logins.txt"
    secret.write_text("admin:pw")
    decision = check_path("outputs/txt2img-images/logins.txt", rules_for(tree, denied=(secret,)))
    assert decision.status == 403 and "credentials" in decision.message


def test_a_folder_the_user_named_serves_weights(tree):
    user_root = Root(file_route._real(tree["models"] / "Stable-diffusion"), "allowed", user_named=True)
    assert check_path("models/Stable-diffusion/m.safetensors", rules_for(tree, user_root)).status == 200


def test_relative_paths_try_each_base_in_turn(tree, tmp_path):
    # the data folder first, then the webui's own folder (extensions-builtin lives there)
    webui = tmp_path / "webui"
    (webui / "extensions-builtin" / "b").mkdir(parents=True)
    (webui / "extensions-builtin" / "b" / "style.css").write_text("")
    rules = FileRules(bases=(tree["data"], webui), roots=(
        Root(file_route._real(tree["data"] / "extensions"), "extension"),
        Root(file_route._real(webui / "extensions-builtin"), "extension")))
    assert check_path("extensions-builtin/b/style.css", rules).path == (webui / "extensions-builtin/b/style.css").resolve()
    assert check_path("extensions/my-ext/javascript/a.js", rules).status == 200


def test_web_path_is_relative_with_the_mtime(tree):
    js = tree["ext"] / "javascript" / "a.js"
    os.utime(js, (1_700_000_000.5, 1_700_000_000.5))
    assert file_route.web_path(js, [tree["data"]]) == "file=extensions/my-ext/javascript/a.js?1700000000.5"
    spaced = tree["ext"] / "my data.csv"
    spaced.write_text("")
    assert file_route.web_path(spaced, [tree["data"]]).startswith("file=extensions/my-ext/my%20data.csv?")
    assert file_route.web_path(tree["outside"] / "secret.txt", [tree["data"]]).startswith(
        f"file={(tree['outside'] / 'secret.txt').as_posix()}?")


# --- the route ----------------------------------------------------------------------------------
@pytest.fixture
def client(tree):
    app = FastAPI()
    file_route.register(app, rules=lambda: rules_for(tree))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("url, media_type", [
    ("/file=extensions/my-ext/javascript/a.js?1700000000.5", "text/javascript"),
    ("/file=extensions/my-ext/javascript/m.mjs", "text/javascript"),     # module scripts need a JS type
    ("/file=extensions/my-ext/style.css?1234", "text/css"),
    ("/file/extensions/my-ext/data.csv", "text/csv"),                    # gradio 3's older form
    ("/file=outputs/txt2img-images/00001.png", "image/png"),
])
def test_route_serves_with_the_content_type(client, tree, url, media_type):
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["x-content-type-options"] == "nosniff"
    path = url.split("=", 1)[-1] if "file=" in url else url[len("/file/"):]
    assert r.content == (tree["data"] / path.split("?")[0]).read_bytes()


def test_route_answers_head_and_ranges(client):
    head = client.head("/file=extensions/my-ext/data.csv")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "22"
    part = client.get("/file=extensions/my-ext/data.csv", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"word"
    assert part.headers["content-range"] == "bytes 0-3/22"


@pytest.mark.parametrize("url, status, words", [
    ("/file=extensions/%2e%2e/config.json", 403, "'..'"),           # encoded: a browser would keep it
    ("/file=%2Fetc%2Fpasswd", 403, "not in a folder"),
    ("/file=/etc/passwd", 403, "not in a folder"),
    ("/file=extensions/my-ext/.git/config", 403, "dotfiles"),
    ("/file=extensions/my-ext/%2Eenv", 403, "dotfiles"),
    ("/file=extensions/my-ext/escape.txt", 403, "not in a folder"),
    ("/file=extensions/my-ext/missing.js?123", 404, "File not found: extensions/my-ext/missing.js"),
    ("/file/extensions/my-ext/missing.js", 404, "File not found"),
])
def test_route_refuses_with_a_message(client, url, status, words):
    r = client.get(url)
    assert r.status_code == status and words in r.json()["detail"]
    assert "secret" not in r.text and "root:" not in r.text


# --- the running app's rules ----------------------------------------------------------------------
def test_current_rules_follow_the_flags_and_folders(tree, monkeypatch):
    from sdwebui.interfaces.cli import flags
    from sdwebui.services import paths as paths_mod
    from sdwebui.services import runtime as shared

    logins = tree["data"] / "extensions" / "logins.txt"
    logins.write_text("admin:pw")
    allowed = tree["outside"]
    ns = flags.parse_args(["--data-dir", str(tree["data"]), "--gradio-allowed-path", str(allowed),
                           "--gradio-auth-path", str(logins)], use_env=False)
    monkeypatch.setattr(shared, "cmd_opts", ns)
    monkeypatch.setattr(shared, "paths", paths_mod.from_args(ns))
    monkeypatch.setattr(shared, "opts", argparse.Namespace(outdir_samples="", outdir_save="."))
    (tree["data"] / "user.css").write_text("body {}")
    rules = file_route.current_rules()
    assert check_path("extensions/my-ext/javascript/a.js", rules).status == 200
    assert check_path("user.css", rules).status == 200
    assert check_path("outputs/txt2img-images/00001.png", rules).status == 200
    assert check_path("models/Stable-diffusion/m.preview.png", rules).status == 200
    assert check_path("models/Stable-diffusion/m.safetensors", rules).status == 403
    assert check_path(str(allowed / "secret.txt"), rules).status == 200        # --gradio-allowed-path
    # the --gradio-auth-path file is refused though it lies in a served folder
    assert "credentials" in check_path("extensions/logins.txt", rules).message
    # A1111's default allowed path (the data folder) and an output folder set to "." serve nothing whole
    assert check_path("config.json", rules).status == 403
    assert check_path(str(paths_mod.SCRIPT_PATH / "pyproject.toml"), rules).status == 403


# --- --gradio-auth --------------------------------------------------------------------------------
def test_ui_login_is_needed_when_the_ui_has_one(tree):
    import gradio as gr

    with gr.Blocks() as demo:
        gr.Markdown("x")
    app = FastAPI()
    file_route.register(app, ui_credentials=[("admin", "secret")], rules=lambda: rules_for(tree))
    app = gr.mount_gradio_app(app, demo, path="/", auth=[("admin", "secret")], ssr_mode=False)
    url = "/file=extensions/my-ext/data.csv"
    with TestClient(app) as client:
        refused = client.get(url)
        assert refused.status_code == 401 and "log in" in refused.json()["detail"]
        assert client.get(url, auth=("admin", "wrong")).status_code == 401
        assert client.get(url, auth=("admin", "secret")).status_code == 200      # the same login, as HTTP Basic
        assert client.post("/login", data={"username": "admin", "password": "secret"}).json()["success"]
        assert client.get(url).status_code == 200                               # the UI's login cookie
        assert client.get("/file=/etc/passwd").status_code == 403                # logged in, rules still apply
