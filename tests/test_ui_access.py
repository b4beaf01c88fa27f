"""UI access flags on a real server: --gradio-auth protects the UI (not the API, as in A1111),
--gradio-auth-path reads logins from a file, and the UI only serves files from allowed dirs."""
from __future__ import annotations

import httpx
import pytest

from tests.server_process import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ui-auth-data")
    (data / "logins.txt").write_text("second:pw2\n")
    args = ["--api", "--gradio-auth", "admin:secret", "--gradio-auth-path", str(data / "logins.txt")]
    with running_server(data, args, ready_path="/internal/ping") as srv:
        yield srv


def test_ui_needs_login(server):
    assert httpx.get(server.base + "/config").status_code == 401
    assert httpx.get(server.base + "/gradio_api/info").status_code == 401
    for user, password in (("admin", "secret"), ("second", "pw2")):
        with httpx.Client(base_url=server.base) as client:
            r = client.post("/login", data={"username": user, "password": password})
            assert r.status_code == 200 and r.json().get("success") is True
            assert client.get("/config").status_code == 200
    with httpx.Client(base_url=server.base) as client:
        client.post("/login", data={"username": "admin", "password": "wrong"})
        assert client.get("/config").status_code == 401


def test_api_is_not_behind_the_ui_login(server):
    assert httpx.get(server.base + "/sdapi/v1/samplers").status_code == 200


@pytest.mark.parametrize("path", ["/file=/etc/passwd", "/gradio_api/file=/etc/passwd", "/file=../../etc/passwd",
                                  "/gradio_api/file=%2Fetc%2Fpasswd"])
def test_no_files_outside_allowed_dirs(server, path):
    with httpx.Client(base_url=server.base) as client:
        client.post("/login", data={"username": "admin", "password": "secret"})
        r = client.get(path)
        assert r.status_code in (403, 404) and "root:" not in r.text
