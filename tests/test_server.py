"""The real thing: `python launch.py --api` as a subprocess on a fresh data dir (embedded default
model written on first launch), generating over HTTP and through the Gradio UI's queue."""
from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image

from tests.server_process import running_server
from tests.ui_client import ui_txt2img

AUTH = ("tester", "s3cret:with-colon")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    args = ["--api", "--api-auth", AUTH[0] + ":" + AUTH[1], "--api-log", "--cors-allow-origins", "http://allowed.test"]
    with running_server(tmp_path_factory.mktemp("server-data"), args, ready_path="/internal/ping", auth=AUTH) as srv:
        yield srv.base, srv.data


def test_first_launch_writes_default_model_and_generates(server):
    base, data = server
    ckpts = list((data / "models" / "Stable-diffusion").iterdir())
    assert [p.name for p in ckpts] == ["tiny-default-sd1.safetensors"]
    r = httpx.post(base + "/sdapi/v1/txt2img", json={"prompt": "a red circle on a blue background",
                                                      "width": 64, "height": 64, "steps": 8, "seed": 11},
                   auth=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    image = Image.open(io.BytesIO(base64.b64decode(body["images"][0])))
    assert image.size == (64, 64)
    assert "Model: tiny-default-sd1" in image.info["parameters"]
    assert json.loads(body["info"])["all_seeds"] == [11]
    models = httpx.get(base + "/sdapi/v1/sd-models", auth=AUTH).json()
    assert models[0]["model_name"] == "tiny-default-sd1" and len(models[0]["sha256"]) == 64


def test_binds_loopback_and_serves_ui_and_docs(server):
    base, _ = server
    page = httpx.get(base + "/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(base + "/docs").status_code == 200
    spec = httpx.get(base + "/openapi.json").json()
    assert "/sdapi/v1/txt2img" in spec["paths"] and "/sdapi/v1/options" in spec["paths"]


def test_ui_generate_goes_through_the_shared_queue(server):
    from gradio_client import Client

    base, data = server
    client = Client(base + "/", verbose=False)
    gallery, info_json, html = ui_txt2img(client, base, txt2img_prompt="a blue square", txt2img_sampling="Euler a",
                                          txt2img_steps=6, txt2img_width=64, txt2img_height=64, txt2img_seed=321,
                                          txt2img_cfg_scale=7)
    info = json.loads(info_json)
    assert info["all_seeds"] == [321] and info["sampler_name"] == "Euler a"
    assert len(gallery) == 1
    saved = list((data / "outputs" / "txt2img-images").rglob("*-321.png"))
    assert saved, "the UI saves like A1111 (samples_save)"
    # the same request through the API gives the same pixels: UI and API are the same job
    r = httpx.post(base + "/sdapi/v1/txt2img", json={"prompt": "a blue square", "sampler_name": "Euler a",
                                                      "steps": 6, "width": 64, "height": 64, "seed": 321,
                                                      "cfg_scale": 7}, auth=AUTH, timeout=120)
    api_pixels = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB").tobytes()
    assert Image.open(saved[0]).convert("RGB").tobytes() == api_pixels


def test_api_auth_required(server):
    base, _ = server
    r = httpx.get(base + "/sdapi/v1/options")
    assert r.status_code == 401 and r.headers.get("www-authenticate") == "Basic"
    assert httpx.get(base + "/sdapi/v1/options", auth=("tester", "wrong")).status_code == 401
    flags = httpx.get(base + "/sdapi/v1/cmd-flags", auth=AUTH).json()
    assert flags["api_auth"] == "<hidden>" and "s3cret" not in json.dumps(flags)


def test_cors_only_for_configured_origins(server):
    base, _ = server
    ok = httpx.options(base + "/sdapi/v1/options", headers={"Origin": "http://allowed.test",
                                                             "Access-Control-Request-Method": "GET"})
    assert ok.headers.get("access-control-allow-origin") == "http://allowed.test"
    other = httpx.options(base + "/sdapi/v1/options", headers={"Origin": "http://evil.test",
                                                                "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in other.headers


def test_api_log_lines(server):
    base, data = server
    httpx.get(base + "/sdapi/v1/samplers", auth=AUTH)
    deadline = time.time() + 10
    while time.time() < deadline:
        log = (data / "server.log").read_text(errors="replace")
        if "GET /sdapi/v1/samplers" in log:
            break
        time.sleep(0.1)
    line = next(l for l in log.splitlines() if "GET /sdapi/v1/samplers" in l)
    assert "API " in line and " 200 " in line and "127.0.0.1" in line
    assert "s3cret" not in log


def test_ui_generates_with_a_flux_model_and_its_distilled_cfg(server, tmp_path):
    """A FLUX.1 dev file dropped into models/Stable-diffusion: chosen through the options, the UI's
    Generate with its Distilled CFG Scale slider gives the API's pixels for the same request."""
    from gradio_client import Client

    from sdwebui.engine.models.tiny_dit import write_tiny_flux

    base, data = server
    write_tiny_flux(data / "models" / "Stable-diffusion" / "flux-ui.safetensors", "dev", all_in_one=True)
    before = httpx.get(base + "/sdapi/v1/options", auth=AUTH).json()["sd_model_checkpoint"]
    try:
        assert httpx.post(base + "/sdapi/v1/refresh-checkpoints", auth=AUTH, timeout=60).status_code == 200
        r = httpx.post(base + "/sdapi/v1/options", json={"sd_model_checkpoint": "flux-ui"}, auth=AUTH, timeout=120)
        assert r.status_code == 200, r.text
        client = Client(base + "/", verbose=False)
        _, info_json, _ = ui_txt2img(client, base, txt2img_prompt="a red house", txt2img_steps=4, txt2img_width=64,
                                     txt2img_height=64, txt2img_seed=5, txt2img_cfg_scale=1,
                                     txt2img_distilled_cfg_scale=2.5)
        info = json.loads(info_json)
        assert "Distilled CFG Scale: 2.5" in info["infotexts"][0]
        saved = sorted((data / "outputs" / "txt2img-images").rglob("*-5.png"))[-1]
        r = httpx.post(base + "/sdapi/v1/txt2img", json={"prompt": "a red house", "steps": 4, "width": 64, "height": 64,
                                                          "seed": 5, "cfg_scale": 1, "distilled_cfg_scale": 2.5,
                                                          "sampler_name": info["sampler_name"]}, auth=AUTH, timeout=120)
        api_pixels = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB").tobytes()
        assert Image.open(saved).convert("RGB").tobytes() == api_pixels
    finally:
        httpx.post(base + "/sdapi/v1/options", json={"sd_model_checkpoint": before}, auth=AUTH, timeout=120)
