"""img2img and inpainting through the API: sizes, seeds, strength, masks, the overlay that keeps
unmasked pixels, resize modes, masked-content modes, and inpainting checkpoints."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.test_api import pixels

SMALL = {"width": 64, "height": 64, "steps": 6, "cfg_scale": 7, "seed": 5, "sampler_name": "Euler a"}


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def noise_image(w: int = 64, h: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def left_half_mask(w: int = 64, h: int = 64) -> Image.Image:
    m = np.zeros((h, w), dtype=np.uint8)
    m[:, : w // 2] = 255
    return Image.fromarray(m)


def img2img(api, **kw):
    r = api.post("/sdapi/v1/img2img", json={**SMALL, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_img2img_basic_reproducible_and_strength_matters(api):
    init = b64(noise_image())
    a = img2img(api, init_images=[init], prompt="a cat")
    b = img2img(api, init_images=[init], prompt="a cat")
    c = img2img(api, init_images=[init], prompt="a cat", denoising_strength=0.3)
    assert np.array_equal(pixels(a["images"][0]), pixels(b["images"][0]))
    assert not np.array_equal(pixels(a["images"][0]), pixels(c["images"][0]))
    info = json.loads(a["info"])
    assert "Denoising strength: 0.75" in info["infotexts"][0]
    assert a["parameters"]["init_images"] is None          # not echoed unless include_init_images
    d = img2img(api, init_images=[init], include_init_images=True)
    assert d["parameters"]["init_images"] == [init]


def test_data_url_and_other_image_formats(api):
    jpg = b64(noise_image(), "JPEG")
    out = img2img(api, init_images=[f"data:image/jpeg;base64,{jpg}"])
    assert Image.open(io.BytesIO(base64.b64decode(out["images"][0]))).size == (64, 64)


@pytest.mark.parametrize("body,field", [
    ({}, "init_images"), ({"init_images": []}, "init_images"), ({"init_images": ["%%%not-base64"]}, "init_images.0"),
    ({"init_images": [base64.b64encode(b"plain text, not an image").decode()]}, "init_images.0"),
    ({"init_images": ["x"], "resize_mode": 7}, "resize_mode"), ({"init_images": ["x"], "inpainting_fill": 4}, "inpainting_fill"),
    ({"init_images": ["x"], "denoising_strength": 2}, "denoising_strength")])
def test_bad_input_is_422_naming_the_field(api, body, field):
    r = api.post("/sdapi/v1/img2img", json={**SMALL, **body})
    assert r.status_code == 422, r.text
    assert field in r.text
    assert "error" in r.json() or "detail" in r.json()


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_resize_modes_give_the_requested_size(api, mode):
    out = img2img(api, init_images=[b64(noise_image(96, 48))], resize_mode=mode, width=64, height=64)
    assert Image.open(io.BytesIO(base64.b64decode(out["images"][0]))).size == (64, 64)


@pytest.mark.parametrize("full_res", [False, True])
@pytest.mark.parametrize("fill", [0, 1, 2, 3])
def test_unmasked_pixels_come_back_unchanged(api, full_res, fill):
    init = noise_image()
    out = img2img(api, init_images=[b64(init)], mask=b64(left_half_mask()), mask_blur=0,
                  inpaint_full_res=full_res, inpaint_full_res_padding=8, inpainting_fill=fill)
    result = pixels(out["images"][0])
    original = np.asarray(init, dtype=np.int16)
    assert np.array_equal(result[:, 32:], original[:, 32:])       # unmasked half: exactly the input
    assert not np.array_equal(result[:, :32], original[:, :32])   # masked half: repainted
    text = json.loads(out["info"])["infotexts"][0]
    assert ("Inpaint area: Only masked" in text) == full_res


def test_inverted_mask_and_blur_infotext(api):
    init = noise_image()
    out = img2img(api, init_images=[b64(init)], mask=b64(left_half_mask()), mask_blur=0, inpainting_mask_invert=1,
                  inpaint_full_res=False)
    result = pixels(out["images"][0])
    assert np.array_equal(result[:, :32], np.asarray(init, dtype=np.int16)[:, :32])
    blurred = img2img(api, init_images=[b64(init)], mask=b64(left_half_mask()), mask_blur=4, inpaint_full_res=False)
    assert "Mask blur: 4" in json.loads(blurred["info"])["infotexts"][0]


def test_batch_of_init_images(api):
    imgs = [b64(noise_image(seed=1)), b64(noise_image(seed=2))]
    out = img2img(api, init_images=imgs, batch_size=2)
    assert len(out["images"]) == 2
    assert json.loads(out["info"])["all_seeds"] == [5, 6]
    r = api.post("/sdapi/v1/img2img", json={**SMALL, "init_images": imgs * 2, "batch_size": 2})
    assert r.status_code == 422 and "init_images" in r.text


def test_inpainting_checkpoint_used_natively(api):
    init = noise_image()
    out = img2img(api, init_images=[b64(init)], mask=b64(left_half_mask()), mask_blur=0, inpaint_full_res=False,
                  override_settings={"sd_model_checkpoint": "tiny-sd1-inpainting"})
    info = json.loads(out["info"])
    assert info["is_using_inpainting_conditioning"] is True
    assert np.array_equal(pixels(out["images"][0])[:, 32:], np.asarray(init, dtype=np.int16)[:, 32:])


def test_sdxl_img2img(api):
    out = img2img(api, init_images=[b64(noise_image())], override_settings={"sd_model_checkpoint": "tiny-sdxl"})
    assert "Model: tiny-sdxl" in json.loads(out["info"])["infotexts"][0]


@pytest.mark.parametrize("sampler", ["DPM++ 2M", "Heun", "DDIM", "DPM2 a", "UniPC", "DPM++ SDE", "LMS", "PLMS"])
def test_img2img_with_every_kind_of_sampler(api, sampler):
    img2img(api, init_images=[b64(noise_image())], sampler_name=sampler, steps=4)
