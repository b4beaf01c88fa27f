"""/sdapi/v1/extra-single-image, extra-batch-images and /upscalers through the API."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_api import decode
from tests.test_img2img import b64, noise_image


def test_upscalers_list(api):
    names = [u["name"] for u in api.get("/sdapi/v1/upscalers").json()]
    assert names[:3] == ["None", "Lanczos", "Nearest"]
    assert api.get("/sdapi/v1/realesrgan-models").json() == []


def test_single_image_scale_and_resize_to(api):
    img = noise_image(40, 30)
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(img), "upscaling_resize": 2,
                                                        "upscaler_1": "Nearest"})
    assert r.status_code == 200, r.text
    out = decode(r.json()["image"])
    assert out.size == (80, 60)
    assert np.array_equal(np.asarray(out)[::2, ::2], np.asarray(img))     # nearest: exact 2x2 blocks
    assert "Postprocess upscaler: Nearest" in r.json()["html_info"]
    r = api.post("/sdapi/v1/extra-single-image", json={"image": f"data:image/png;base64,{b64(img)}",
                                                        "resize_mode": 1, "upscaling_resize_w": 100,
                                                        "upscaling_resize_h": 50, "upscaler_1": "Lanczos"})
    assert decode(r.json()["image"]).size == (100, 50)


def test_batch_images(api):
    r = api.post("/sdapi/v1/extra-batch-images", json={
        "imageList": [{"data": b64(noise_image(seed=1)), "name": "a.png"},
                      {"data": b64(noise_image(32, 16, seed=2)), "name": "b.png"}],
        "upscaling_resize": 1.5, "upscaler_1": "Lanczos"})
    assert r.status_code == 200, r.text
    assert [decode(i).size for i in r.json()["images"]] == [(96, 96), (48, 24)]


@pytest.mark.parametrize("body,field", [
    ({"upscaler_1": "R-ESRGAN 99x"}, "upscaler_1"), ({"upscaler_1": "Lanczos", "upscaler_2": "nope"}, "upscaler_2"),
    ({"upscaling_resize": 0}, "upscaling_resize"), ({"image": "@@@"}, "image"), ({"image": ""}, "image"),
    ({"extras_upscaler_2_visibility": 3}, "extras_upscaler_2_visibility")])
def test_bad_extras_input_is_422(api, body, field):
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(noise_image()), **body})
    assert r.status_code == 422, r.text
    assert field in r.text
    if field == "upscaler_1":
        assert "Lanczos" in r.text


def test_batch_needs_images(api):
    assert api.post("/sdapi/v1/extra-batch-images", json={"imageList": []}).status_code == 422
