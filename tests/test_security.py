"""Security, shown on a real server (`python launch.py --api --api-auth ... --gradio-auth ...`):

- --api-auth covers EVERY route under /sdapi and /internal: the built-in ones, listed from the running
  app's /openapi.json, and the ones an extension adds in on_app_started (checked by path, not by route);
- --gradio-auth covers the UI and every Gradio route that Gradio itself puts behind its login
  (listed from Gradio's own route table), file routes included;
- no file outside the output / Gradio temp dirs can be read through any file-serving URL
  (../, %-encoded, double-encoded, backslash, absolute, null-byte and dot-dot-inside-allowed-dir variants);
- CORS is closed unless configured, also for the Gradio routes and for a non-loopback Host;
- the server binds to loopback unless --listen / --server-name;
- no password shows in /cmd-flags, the server log, error bodies or the UI config;
- checkpoints, embeddings, LoRAs and upscalers load pickles with weights_only: a malicious pickle is a
  clear 4xx / skip and never runs;
- extension management through the Extensions tab's handlers follows the access rule.

Everything is bounded (one server for the module, a few hundred local requests); no timing assertions.
"""
from __future__ import annotations

import base64
import http.client
import json
import pickle
import socket
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest
import torch

from tests.ext_helpers import ext_env, make_repo  # noqa: F401  (fixture)
from tests.server_process import ROOT, running_server

API_USER, API_PASSWORD = "user", "s3cretpw"
UI_USER, UI_PASSWORD = "admin", "g4uipw"
FILE_USER, FILE_PASSWORD = "second", "pw2fromfile"
WRONG_PASSWORD = "wr0ngpw-attempt"
SECRETS = (API_PASSWORD, UI_PASSWORD, FILE_PASSWORD, WRONG_PASSWORD)
AUTH = (API_USER, API_PASSWORD)
SECRET_TEXT = "TOPSECRET-6c1f0e-not-for-the-web"

EXTENSION_SCRIPT = '''
"""A third-party extension that adds routes in on_app_started, the A1111 way (no auth dependency)."""
from modules import script_callbacks
# SEC-EXT-SOURCE-MARKER


def _routes(demo, app):
    app.add_api_route("/sdapi/v1/sec-ext-ping", lambda: {"ok": "sdapi"}, methods=["GET"])
    app.add_api_route("/sdapi/v2/sec-ext", lambda: {"ok": "v2"}, methods=["POST"])
    app.add_api_route("/internal/sec-ext", lambda: {"ok": "internal"}, methods=["GET"])
    app.add_api_route("/sec-ext-open/ping", lambda: {"ok": "open"}, methods=["GET"])


script_callbacks.on_app_started(_routes)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("security-data")
    ext = data / "extensions" / "sec-ext" / "scripts"
    ext.mkdir(parents=True)
    (ext / "routes.py").write_text(EXTENSION_SCRIPT)
    (data / "secret.txt").write_text(SECRET_TEXT)
    (data / "logins.txt").write_text(f"{FILE_USER}:{FILE_PASSWORD}\n")
    allowed = data / "outputs" / "txt2img-images" / "allowed.txt"
    allowed.parent.mkdir(parents=True)
    allowed.write_text("ALLOWED-OUTPUT-FILE")
    args = ["--api", "--api-auth", f"{API_USER}:{API_PASSWORD}", "--gradio-auth", f"{UI_USER}:{UI_PASSWORD}",
            "--gradio-auth-path", str(data / "logins.txt"), "--api-log", "--api-server-stop",
            "--loglevel", "DEBUG"]
    with running_server(data, args, ready_path="/internal/ping", auth=AUTH) as srv:
        srv.allowed = allowed
        yield srv


@pytest.fixture(scope="module")
def ui(server):
    """A logged-in UI client."""
    with httpx.Client(base_url=server.base, timeout=60) as client:
        r = client.post("/login", data={"username": UI_USER, "password": UI_PASSWORD})
        assert r.status_code == 200 and r.json().get("success") is True, r.text
        yield client


def raw_get(server, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, bytes]:
    """A request with the path sent exactly as given (httpx would normalise ../ and %-escapes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------------------------
# --api-auth
# ---------------------------------------------------------------------------------------
BAD_AUTH_HEADERS = {
    "none": None,
    "wrong-password": basic(API_USER, WRONG_PASSWORD),
    "wrong-user": basic("nobody", API_PASSWORD),
    "ui-login": basic(UI_USER, UI_PASSWORD),          # the UI login is not an API login
    "empty-password": basic(API_USER, ""),
    "no-colon": "Basic " + base64.b64encode(API_USER.encode()).decode(),
    "not-base64": "Basic !!!notbase64!!!",
    "bearer": "Bearer " + API_PASSWORD,
    "password-prefix": basic(API_USER, API_PASSWORD[:-1]),
}
# filled by the tests, reported in docs/reliability.md
FIGURES: dict[str, int] = {}


def api_routes(server) -> list[tuple[str, str]]:
    spec = httpx.get(server.base + "/openapi.json", timeout=60).json()
    out = []
    for path, item in spec["paths"].items():
        if path.startswith(("/sdapi", "/internal")):
            for method in item:
                out.append((method.upper(), path.replace("{", "").replace("}", "")))
    return out


def test_every_api_route_needs_the_api_login(server):
    routes = api_routes(server)
    paths = {p for _, p in routes}
    # the extension's routes are in the table too, and so are the --api-server-stop ones
    assert {"/sdapi/v1/sec-ext-ping", "/sdapi/v2/sec-ext", "/internal/sec-ext", "/sdapi/v1/server-kill",
            "/sdapi/v1/txt2img", "/internal/ping", "/internal/progress"} <= paths, sorted(paths)
    routes += [("GET", "/sdapi/v1/no-such-route"), ("DELETE", "/sdapi/v1/options"), ("GET", "/sdapi"),
               ("GET", "/internal")]
    failures = []
    for method, path in routes:
        for name, header in BAD_AUTH_HEADERS.items():
            headers = {"Authorization": header} if header else {}
            r = httpx.request(method, server.base + path, headers=headers, json={} if method == "POST" else None,
                              timeout=60)
            if r.status_code != 401 or r.headers.get("www-authenticate") != "Basic":
                failures.append(f"{method} {path} [{name}] -> {r.status_code} {r.text[:120]}")
            elif "detail" not in r.json():
                failures.append(f"{method} {path} [{name}]: 401 without a message")
    FIGURES["api_routes"] = len(routes)
    FIGURES["api_requests"] = len(routes) * len(BAD_AUTH_HEADERS)
    assert not failures, "\n".join(failures)
    assert server.alive(), "a refused server-kill/stop must not stop the server"
    # with the login they answer (the extension's routes included); outside /sdapi they stay open
    assert httpx.get(server.base + "/sdapi/v1/sec-ext-ping", auth=AUTH).json() == {"ok": "sdapi"}
    assert httpx.get(server.base + "/internal/sec-ext", auth=AUTH).json() == {"ok": "internal"}
    assert httpx.get(server.base + "/sec-ext-open/ping").json() == {"ok": "open"}
    assert httpx.get(server.base + "/sdapi/v1/samplers", auth=AUTH).status_code == 200


@pytest.mark.parametrize("path", [
    "/sd%61pi/v1/options", "/%73dapi/v1/options", "/sdapi/v1/%6fptions", "//sdapi/v1/options",
    "/sdapi//v1/options", "/sdapi/v1/./options", "/sdapi/v1/../v1/options", "/x/../sdapi/v1/options",
    "/internal/../sdapi/v1/options", "/SDAPI/v1/options", "/sdapi/v1/options/", "/sdapi/v1/options?x=1",
    "/sdapi/v1/options%00", "/sdapi/v1/options;x", "/internal/%70ing", "/sdapi/v1/sec-ext-%70ing",
])
def test_encoded_paths_do_not_bypass_the_api_login(server, path):
    status, body = raw_get(server, path)
    assert status >= 400 and status != 500, (status, body[:200])
    assert b"samples_format" not in body and b'"ok"' not in body and b"pong" not in body.lower()


# ---------------------------------------------------------------------------------------
# --gradio-auth
# ---------------------------------------------------------------------------------------
def gradio_login_routes() -> list[tuple[str, str]]:
    """Every route Gradio itself puts behind its login (Depends(login_check)), from its route table."""
    import gradio as gr
    from fastapi.routing import APIRoute
    from gradio.routes import App

    with gr.Blocks() as demo:
        gr.Textbox()
    out = []

    def walk(routes, prefix: str = "", deps: tuple = ()) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)   # FastAPI's included-router wrapper
            if included is not None:
                ctx = route.include_context
                walk(included.routes, prefix + ctx.prefix, deps + tuple(ctx.dependencies))
            elif isinstance(route, APIRoute):
                names = [getattr(d.dependency, "__name__", "") for d in (*deps, *route.dependencies)]
                if "login_check" in names:
                    for method in sorted(route.methods - {"HEAD"}) or ["HEAD"]:
                        out.append((method, prefix + route.path))

    walk(App.create_app(demo).routes)
    return list(dict.fromkeys(out))


def fill(path: str, file_path: str) -> str:
    for param in ("{path_or_url:path}", "{path:path}"):
        path = path.replace(param, file_path)
    return path.replace("{url_path:path}", "https://example.invalid/x").replace("{api_name}", "txt2img") \
        .replace("{event_id}", "x").replace("{session_hash}", "x")


def test_every_gradio_route_needs_the_ui_login(server, ui):
    routes = gradio_login_routes()
    paths = {p for _, p in routes}
    assert {"/config", "/gradio_api/info", "/gradio_api/file={path_or_url:path}", "/gradio_api/upload",
            "/gradio_api/queue/join"} <= paths, sorted(paths)
    allowed = str(server.allowed)
    failures = []
    for method, path in routes:
        url = fill(path, allowed)
        for cookies in ({}, {"access-token": "forged"}, {"access-token-unsecure": "forged"}):
            r = httpx.request(method, server.base + url, cookies=cookies, timeout=60,
                              headers={"Authorization": basic(API_USER, API_PASSWORD)})  # API login: no use here
            if r.status_code not in (401, 403):
                failures.append(f"{method} {url} {cookies} -> {r.status_code} {r.text[:120]}")
    FIGURES["gradio_routes"] = len(routes)
    assert not failures, "\n".join(failures)
    # the page itself is the login form, without the app's config or components
    page = httpx.get(server.base + "/", timeout=60)
    assert page.status_code == 200 and "txt2img_prompt" not in page.text and "sec-ext" not in page.text
    # logged in, the same file route serves an allowed file: the refusals above were the login's
    r = ui.get("/gradio_api/file=" + allowed)
    assert r.status_code == 200 and r.text == "ALLOWED-OUTPUT-FILE"
    assert ui.get("/config").status_code == 200
    # all three logins work for the UI, none of them for the API (and the API login not for the UI)
    for user, password, ok in ((FILE_USER, FILE_PASSWORD, True), (API_USER, API_PASSWORD, False)):
        with httpx.Client(base_url=server.base) as client:
            client.post("/login", data={"username": user, "password": password})
            assert (client.get("/config").status_code == 200) is ok
    assert httpx.get(server.base + "/sdapi/v1/options", auth=(UI_USER, UI_PASSWORD)).status_code == 401


# ---------------------------------------------------------------------------------------
# files: nothing outside the allowed dirs
# ---------------------------------------------------------------------------------------
FILE_ROUTES = ["/gradio_api/file=", "/file=", "/gradio_api/file/", "/static/", "/assets/", "/svelte/",
               "/gradio_api/custom_component/x/client/", "/gradio_api/proxy="]


def traversal_variants(target: Path, outputs: Path) -> list[str]:
    absolute = str(target)
    via_outputs = str(outputs) + "/" + str(Path(*[".."] * len(outputs.parts[1:]))) + absolute   # allowed/../../x
    relative_to_repo = "../" * 12 + absolute.lstrip("/")
    forms = [absolute, via_outputs, relative_to_repo, "//" + absolute.lstrip("/"), "~/" + absolute.lstrip("/")]
    out = []
    for form in forms:
        out += [form,
                quote(form, safe=""),                                   # every / and . escaped
                quote(quote(form, safe=""), safe=""),                   # double-encoded
                form.replace("../", "%2e%2e%2f").replace("/", "%2F"),
                form.replace("../", "..%5c").replace("/", "%5c"),       # backslashes
                form.replace("../", "%c0%ae%c0%ae/"),                   # overlong UTF-8 dots
                form + "%00.png"]                                       # null byte
    return list(dict.fromkeys(out))


def test_no_file_outside_the_allowed_dirs(server, ui):
    data = server.data
    ckpt = next((data / "models" / "Stable-diffusion").glob("*.safetensors"))
    targets = {
        Path("/etc/passwd"): b"root:",
        data / "secret.txt": SECRET_TEXT.encode(),
        data / "config.json": b'"sd_model_checkpoint"',
        data / "logins.txt": FILE_PASSWORD.encode(),
        ckpt: ckpt.read_bytes()[8:64],
        ROOT / "webui.py": b"def create_app",
        data / "extensions" / "sec-ext" / "scripts" / "routes.py": b"SEC-EXT-SOURCE-MARKER",
    }
    cookie = "; ".join(f"{k}={v}" for k, v in ui.cookies.items())
    outputs = server.allowed.parent.parent
    failures = []
    count = 0
    for target, marker in targets.items():
        for variant in traversal_variants(target, outputs):
            for route in FILE_ROUTES:
                count += 1
                status, body = raw_get(server, route + variant, {"Cookie": cookie})
                if marker in body or status == 200 or status >= 500:
                    failures.append(f"{route}{variant} -> {status} {body[:80]!r}")
    FIGURES["traversal_requests"] = count
    FIGURES["traversal_variants"] = count // len(FILE_ROUTES) // len(targets)
    FIGURES["traversal_targets"] = len(targets)
    FIGURES["file_routes"] = len(FILE_ROUTES)
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures[:20])
    # a symlink inside the outputs dir does not lead out of it either
    link = outputs / "link-to-secret.txt"
    link.symlink_to(data / "secret.txt")
    status, body = raw_get(server, "/gradio_api/file=" + str(link), {"Cookie": cookie})
    assert SECRET_TEXT.encode() not in body and status >= 400, (status, body[:100])
    # nor does a URL make the server fetch from this machine (its loopback-only routes)
    for url in (f"http://127.0.0.1:{server.port}/sec-ext-open/ping", f"http://localhost:{server.port}/config"):
        for route in ("/gradio_api/file=", "/gradio_api/proxy="):
            status, body = raw_get(server, route + url, {"Cookie": cookie})
            assert b'"ok"' not in body and b"components" not in body and status != 200, (route, url, status)
    # while the allowed dirs do serve: an output file, and an upload into Gradio's temp dir
    assert raw_get(server, "/gradio_api/file=" + str(server.allowed), {"Cookie": cookie})[0] == 200
    up = ui.post("/gradio_api/upload", files={"files": ("u.txt", b"UPLOADED-CONTENT", "text/plain")})
    assert up.status_code == 200, up.text
    assert ui.get("/gradio_api/file=" + up.json()[0]).content == b"UPLOADED-CONTENT"


IMAGE_FIELDS_AS_PATHS = ["/etc/passwd", "file:///etc/passwd", "../../../../etc/passwd", "http://127.0.0.1:1/x.png",
                         "data:image/png;base64,/etc/passwd"]


@pytest.mark.parametrize("value", IMAGE_FIELDS_AS_PATHS)
def test_image_fields_never_read_paths_or_urls(server, value):
    for path, body, field in (("img2img", {"init_images": [value], "width": 64, "height": 64, "steps": 1},
                               "init_images"),
                              ("png-info", {"image": value}, "image"),
                              ("extra-single-image", {"image": value}, "image")):
        r = httpx.post(server.base + "/sdapi/v1/" + path, json=body, auth=AUTH, timeout=120)
        assert r.status_code == 422 and field in r.text and "root:" not in r.text, (path, r.status_code, r.text)


# ---------------------------------------------------------------------------------------
# CORS, bind address
# ---------------------------------------------------------------------------------------
CORS_PATHS = ["/sdapi/v1/options", "/sdapi/v1/samplers", "/internal/ping", "/", "/config", "/gradio_api/info",
              "/gradio_api/queue/join", "/gradio_api/upload", "/openapi.json", "/login", "/sec-ext-open/ping"]
ORIGINS = ["http://evil.test", "null", "http://localhost:1234", "http://127.0.0.1:9"]


def test_cors_closed_when_not_configured(server):
    hosts = [f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"192.168.1.10:{server.port}", "evil.test"]
    failures = []
    count = 0
    for path in CORS_PATHS:
        for origin in ORIGINS:
            for host in hosts:
                for method, extra in (("GET", {}), ("OPTIONS", {"Access-Control-Request-Method": "POST",
                                                                  "Access-Control-Request-Headers": "content-type"})):
                    count += 1
                    headers = {"Origin": origin, "Host": host, **extra}
                    if path.startswith(("/sdapi", "/internal")):
                        headers["Authorization"] = basic(API_USER, API_PASSWORD)
                    r = httpx.request(method, server.base + path, headers=headers, timeout=60)
                    leaked = {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-allow-o")}
                    if leaked:
                        failures.append(f"{method} {path} Origin={origin} Host={host} -> {leaked}")
    FIGURES["cors_requests"] = count
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures[:20])


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))   # no packet is sent: this only picks the outgoing interface
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_binds_to_loopback_only(server):
    assert f"Running on local URL:  http://127.0.0.1:{server.port}" in server.log_tail(10 ** 7)
    addr = _outside_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError):
        socket.create_connection((addr, server.port), timeout=5).close()


@pytest.mark.parametrize("flags,host", [
    ([], "127.0.0.1"), (["--listen"], "0.0.0.0"), (["--server-name", "192.0.2.7"], "192.0.2.7"),
    (["--share"], "127.0.0.1"), (["--ngrok", "tok"], "127.0.0.1"), (["--api", "--nowebui"], "127.0.0.1"),
    (["--api-auth", "u:p", "--gradio-auth", "a:b"], "127.0.0.1"),
])
def test_bind_host_is_loopback_unless_listen(flags, host):
    from sdwebui.interfaces import app as webui
    from sdwebui.interfaces.cli import flags as cmd_args

    assert webui.bind_host(cmd_args.parse_args(flags, use_env=False)) == host


# ---------------------------------------------------------------------------------------
# malicious pickles
# ---------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this creates `marker`: the proof that the pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_malicious(path: Path, marker: Path, legacy: bool = False) -> Path:
    payload = {"state_dict": {"model.diffusion_model.x": torch.zeros(1), "evil": _Payload(marker)}}
    if legacy:   # a bare pickle, as old .ckpt files and hand-made exploits are
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:        # torch's zip format with the payload inside data.pkl
        torch.save(payload, str(path))
    return path


def test_the_payload_is_live(tmp_path):
    """Control: without weights_only the payload does run (so the tests below test something)."""
    marker = tmp_path / "ran"
    for legacy in (False, True):
        path = write_malicious(tmp_path / f"x{legacy}.ckpt", marker, legacy)
        try:
            torch.load(str(path), weights_only=False)
        except RuntimeError:   # a bare pickle is not a torch file, but its payload has already run
            pass
        assert marker.exists()
        marker.unlink()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_loaders_never_run_pickles(tmp_path, legacy):
    from sdwebui.engine.models.single_file import CheckpointLoadError, load_checkpoint
    from sdwebui.engine.models.single_file import read_state_dict as read_checkpoint
    from sdwebui.engine.models.lora import load_network
    from sdwebui.engine.models.textual_inversion import read_embedding
    from sdwebui.engine.upscaler_models import load_descriptor as _load_descriptor

    marker = tmp_path / "ran"
    for name in ("model.ckpt", "model.pt", "model.pth", "model.bin"):
        path = write_malicious(tmp_path / name, marker, legacy)
        for loader in (read_checkpoint, load_checkpoint, load_network):
            with pytest.raises(CheckpointLoadError):
                loader(path)
        with pytest.raises(Exception) as e:
            read_embedding(path)
        assert not isinstance(e.value, (SystemExit, KeyboardInterrupt))
        with pytest.raises(ValueError, match="cannot read the file"):
            _load_descriptor(path)
        assert not marker.exists(), f"{name}: the pickle ran"


def test_malicious_checkpoint_through_the_api(server):
    ckpt_dir = server.data / "models" / "Stable-diffusion"
    marker = server.data / "pickle-ran"
    write_malicious(ckpt_dir / "evil.ckpt", marker)
    write_malicious(ckpt_dir / "evil-legacy.ckpt", marker, legacy=True)
    write_malicious(server.data / "embeddings" / "evil-emb.pt", marker)
    write_malicious(server.data / "models" / "Lora" / "evil-lora.pt", marker)
    assert httpx.post(server.base + "/sdapi/v1/refresh-checkpoints", auth=AUTH, timeout=120).status_code == 200
    titles = [m["title"] for m in httpx.get(server.base + "/sdapi/v1/sd-models", auth=AUTH, timeout=120).json()]
    assert any("evil.ckpt" in t for t in titles), titles
    for name in ("evil.ckpt", "evil-legacy.ckpt"):
        r = httpx.post(server.base + "/sdapi/v1/options", json={"sd_model_checkpoint": name}, auth=AUTH, timeout=300)
        assert 400 <= r.status_code < 500 and "sd_model_checkpoint" in r.text and name in r.text, r.text
        r = httpx.post(server.base + "/sdapi/v1/txt2img", auth=AUTH, timeout=300, json={
            "width": 64, "height": 64, "steps": 1, "override_settings": {"sd_model_checkpoint": name}})
        assert 400 <= r.status_code < 500 and "sd_model_checkpoint" in r.text, r.text
    assert httpx.post(server.base + "/sdapi/v1/refresh-embeddings", auth=AUTH, timeout=120).status_code == 200
    emb = httpx.get(server.base + "/sdapi/v1/embeddings", auth=AUTH, timeout=120)
    assert emb.status_code == 200 and "evil-emb" not in emb.json()["loaded"], emb.text
    httpx.post(server.base + "/sdapi/v1/refresh-loras", auth=AUTH, timeout=120)
    r = httpx.post(server.base + "/sdapi/v1/txt2img", auth=AUTH, timeout=300,
                   json={"prompt": "<lora:evil-lora:1>", "width": 64, "height": 64, "steps": 1})
    assert 400 <= r.status_code < 500, r.text
    # the previous model still serves, and nothing ran
    r = httpx.post(server.base + "/sdapi/v1/txt2img", json={"width": 64, "height": 64, "steps": 1}, auth=AUTH,
                   timeout=300)
    assert r.status_code == 200 and "evil" not in json.loads(r.json()["info"])["sd_model_name"]
    assert not marker.exists()


# ---------------------------------------------------------------------------------------
# extension management through the UI handlers
# ---------------------------------------------------------------------------------------
def _request(host: str, username: str | None = None):
    return SimpleNamespace(client=SimpleNamespace(host=host), username=username)


ACCESS_CASES = [
    # (flags, client host, logged-in user, allowed)
    ([], "127.0.0.1", None, True),
    ([], "::1", None, True),
    ([], "192.168.1.20", None, False),                           # a remote client through a proxy
    (["--listen"], "192.168.1.20", None, False),
    (["--listen"], "127.0.0.1", None, False),                    # exposed: refused even from here
    (["--listen", "--gradio-auth", "a:b"], "192.168.1.20", "a", False),
    (["--server-name", "0.0.0.0"], "127.0.0.1", None, False),
    (["--listen", "--enable-insecure-extension-access"], "192.168.1.20", None, False),   # no login configured
    (["--listen", "--enable-insecure-extension-access", "--gradio-auth", "a:b"], "192.168.1.20", None, False),
    (["--listen", "--enable-insecure-extension-access", "--gradio-auth", "a:b"], "192.168.1.20", "a", True),
    (["--listen", "--enable-insecure-extension-access"], "127.0.0.1", None, True),
]


@pytest.mark.parametrize("flags,host,user,allowed", ACCESS_CASES)
def test_extension_tab_handlers_follow_the_access_rule(ext_env, tmp_path, monkeypatch, flags, host, user, allowed):
    from sdwebui.services.extensions import manager as mgr
    from sdwebui.services.extensions import discovery as extensions
    from sdwebui.interfaces.ui import extensions_tab as tab

    url = make_repo(tmp_path / "repo", {"scripts/demo.py": "# demo\n"})
    ext_env.configure(*flags)
    monkeypatch.setattr(mgr, "restart_server", lambda: "Restarting the server...")
    (ext_env.user / "present").mkdir()
    extensions.list_extensions()
    config_before = ext_env.config.read_text() if ext_env.config.exists() else None
    request = _request(host, user)
    results = {
        "install": tab.install(url, "", "", request)[0],
        "check": tab.check_updates(request)[0],
        "apply": tab.apply_and_restart([], "none", [], request),
        "uninstall": tab.uninstall("present", request)[0],
    }
    if allowed:
        assert "Installed into" in results["install"], results["install"]
        assert "Restarting" in results["apply"]
        assert "Uninstalled" in results["uninstall"] and not (ext_env.user / "present").exists()
    else:
        for name, html in results.items():
            assert "extensions-error" in html and ("--enable-insecure-extension-access" in html or "login" in html
                                                   or "--gradio-auth" in html), (name, html)
        assert sorted(p.name for p in ext_env.user.iterdir()) == ["present"]
        assert (ext_env.config.read_text() if ext_env.config.exists() else None) == config_before


# ---------------------------------------------------------------------------------------
# secrets (last: it reads the log of everything above)
# ---------------------------------------------------------------------------------------
def test_no_secret_in_flags_logs_or_error_bodies(server, ui):
    bodies: list[str] = []

    def keep(r: httpx.Response) -> httpx.Response:
        bodies.append(r.text + json.dumps(dict(r.headers)))
        return r

    flags = keep(httpx.get(server.base + "/sdapi/v1/cmd-flags", auth=AUTH)).json()
    assert flags["api_auth"] == "<hidden>" and flags["gradio_auth"] == "<hidden>"
    keep(httpx.get(server.base + "/sdapi/v1/options", auth=AUTH))
    keep(httpx.get(server.base + "/openapi.json"))
    keep(ui.get("/config"))
    keep(ui.get("/"))
    keep(ui.get("/gradio_api/info"))
    # failed logins, with the wrong password the log must not keep either
    keep(httpx.get(server.base + "/sdapi/v1/options", auth=(API_USER, WRONG_PASSWORD)))
    keep(httpx.get(server.base + "/sdapi/v1/options", auth=(WRONG_PASSWORD, API_PASSWORD)))
    keep(httpx.post(server.base + "/login", data={"username": UI_USER, "password": WRONG_PASSWORD}))
    keep(httpx.post(server.base + "/login", data={"username": WRONG_PASSWORD, "password": UI_PASSWORD}))
    # errors of every kind (4xx from validation, options, images, unknown routes, files; the 413)
    keep(httpx.post(server.base + "/sdapi/v1/txt2img", auth=AUTH, json={"steps": "many"}))
    keep(httpx.post(server.base + "/sdapi/v1/txt2img", auth=AUTH, content=b"{broken",
                    headers={"content-type": "application/json"}))
    keep(httpx.post(server.base + "/sdapi/v1/options", auth=AUTH, json={"sd_model_checkpoint": "nope"}))
    keep(httpx.post(server.base + "/sdapi/v1/options", auth=AUTH, json={"no_such_option": 1}))
    keep(httpx.post(server.base + "/sdapi/v1/img2img", auth=AUTH, json={"init_images": ["garbage"]}))
    keep(httpx.get(server.base + "/sdapi/v1/no-such-route", auth=AUTH))
    keep(httpx.post(server.base + "/sdapi/v1/txt2img", auth=AUTH, json={"width": 10 ** 6}))
    keep(ui.get("/gradio_api/file=/etc/passwd"))
    keep(ui.get("/gradio_api/file=" + str(server.data / "logins.txt")))
    status, body = raw_get(server, "/sdapi/v1/txt2img", {"Authorization": basic(*AUTH), "Content-Length": str(2 ** 40),
                                                         "Content-Type": "application/json"}, method="POST")
    assert status == 413
    bodies.append(body.decode(errors="replace"))
    text = "\n".join(bodies)
    for secret in SECRETS:
        assert secret not in text, secret
    log = server.log_tail(10 ** 8)
    assert "API " in log and "DEBUG" in log, "the log has the --api-log and DEBUG lines"
    for secret in (*SECRETS, base64.b64encode(f"{API_USER}:{API_PASSWORD}".encode()).decode()):
        assert secret not in log, f"{secret!r} is in the server log"
    FIGURES["secret_probe_requests"] = len(bodies)
    print("security figures:", json.dumps(FIGURES))
