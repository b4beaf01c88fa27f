"""The built-in api-payload-display extension, in-process: the payload it files for a generation
reproduces the same pixels when posted to the API (random seeds, variations, batches, img2img with
a mask). The browser side (per-tab display, copy button) is in tests/browser/test_extension_ui.py."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from sdwebui.services.extensions import scripts


@pytest.fixture(scope="module")
def payloads():
    """recall(token) -> the payload JSON the extension filed under that token."""
    module = next(d.module for d in scripts.scripts_data if d.path.endswith("api_payload_display.py"))
    return module._recall


def images(response) -> list[np.ndarray]:
    assert response.status_code == 200, response.text
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB")) for b in response.json()["images"]]


def b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def with_token(token: str) -> dict:
    return {"alwayson_scripts": {"API payload": {"args": [token]}}}


def test_txt2img_payload_reproduces_random_seed_variations_and_batches(api, payloads):
    request = {"prompt": "a lighthouse", "negative_prompt": "fog", "steps": 4, "width": 64, "height": 64,
               "seed": -1, "subseed": -1, "subseed_strength": 0.4, "batch_size": 2, "cfg_scale": 5,
               "sampler_name": "Euler a", **with_token("t2i")}
    first = images(api.post("/sdapi/v1/txt2img", json=request))
    payload = json.loads(payloads("t2i"))
    assert payload["seed"] >= 0 and payload["subseed"] >= 0 and payload["sampler_name"] == "Euler a"
    assert "API payload" not in payload.get("alwayson_scripts", {})
    again = images(api.post("/sdapi/v1/txt2img", json={**payload, "send_images": True}))
    assert len(again) == len(first) == 2
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_img2img_payload_with_images_reproduces_inpainting(api, payloads):
    source = Image.new("RGB", (64, 64), (30, 120, 200))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    request = {"prompt": "a red box", "steps": 4, "width": 64, "height": 64, "denoising_strength": 0.6,
               "init_images": [b64(source)], "mask": b64(mask), "inpainting_fill": 1, "seed": -1,
               "override_settings": {"api_display_include_base64_images": True}, **with_token("i2i")}
    first = images(api.post("/sdapi/v1/img2img", json=request))
    payload = json.loads(payloads("i2i"))
    assert payload["init_images"][0] != "base64image placeholder" and payload["mask"]
    again = images(api.post("/sdapi/v1/img2img", json=payload))
    assert np.array_equal(first[0], again[0])


def test_images_are_placeholders_by_default(api, payloads):
    request = {"prompt": "x", "steps": 2, "width": 64, "height": 64, "denoising_strength": 0.5,
               "init_images": [b64(Image.new("RGB", (64, 64), (1, 2, 3)))], **with_token("placeholder")}
    assert api.post("/sdapi/v1/img2img", json=request).status_code == 200
    payload = json.loads(payloads("placeholder"))
    assert payload["init_images"] == ["base64image placeholder"] and "mask" not in payload


def test_each_token_keeps_its_own_payload(api, payloads):
    for token, prompt in (("a", "first"), ("b", "second")):
        body = {"prompt": prompt, "steps": 2, "width": 64, "height": 64, **with_token(token)}
        assert api.post("/sdapi/v1/txt2img", json=body).status_code == 200
    assert json.loads(payloads("a"))["prompt"] == "first" and json.loads(payloads("b"))["prompt"] == "second"
    assert payloads("never-used") == ""
