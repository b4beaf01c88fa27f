"""Hires fix: target sizes, latent and image upscalers, second-pass sampler/steps/prompt/checkpoint,
infotext fields and errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sdwebui.engine.processing.hires import target_size
from tests.test_api import decode, pixels, txt2img

BASE = {"prompt": "a cat", "seed": 3, "steps": 4, "width": 64, "height": 64, "sampler_name": "Euler"}


def test_target_size_rules():
    assert target_size(512, 512, 2, 0, 0) == (1024, 1024, 0, 0)
    assert target_size(512, 768, 1.5, 0, 0) == (768, 1152, 0, 0)
    assert target_size(512, 768, 2, 1024, 0) == (1024, 1536, 0, 0)
    assert target_size(512, 768, 2, 0, 1024) == (682, 1024, 0, 0)
    assert target_size(512, 768, 2, 1024, 1024) == (1024, 1536, 0, 64)


@pytest.mark.parametrize("upscaler", ["Latent", "Latent (nearest-exact)", "Latent (bicubic antialiased)",
                                      "Lanczos", "Nearest", "None"])
def test_upscalers_give_the_hires_size(api, upscaler):
    out = txt2img(api, **BASE, enable_hr=True, hr_scale=1.5, hr_upscaler=upscaler)
    assert decode(out["images"][0]).size == (96, 96)
    text = json.loads(out["info"])["infotexts"][0]
    assert f"Hires upscaler: {upscaler}" in text and "Hires upscale: 1.5" in text
    assert "Size: 64x64" in text and "Denoising strength: 0.7" in text   # A1111 UI default when not sent


def test_hires_reproducible_and_changes_with_strength(api):
    a = txt2img(api, **BASE, enable_hr=True, denoising_strength=0.5)
    b = txt2img(api, **BASE, enable_hr=True, denoising_strength=0.5)
    c = txt2img(api, **BASE, enable_hr=True, denoising_strength=0.9)
    assert np.array_equal(pixels(a["images"][0]), pixels(b["images"][0]))
    assert not np.array_equal(pixels(a["images"][0]), pixels(c["images"][0]))
    assert decode(a["images"][0]).size == (128, 128)


def test_resize_to_and_truncation(api):
    out = txt2img(api, **{**BASE, "height": 96}, enable_hr=True, hr_resize_x=96, hr_resize_y=96)
    assert decode(out["images"][0]).size == (96, 96)
    assert "Hires resize: 96x96" in json.loads(out["info"])["infotexts"][0]


def test_second_pass_options(api):
    plain = txt2img(api, **BASE, enable_hr=True)
    other = txt2img(api, **BASE, enable_hr=True, hr_second_pass_steps=6, hr_sampler_name="DPM++ 2M",
                    hr_scheduler="Karras", hr_prompt="a dog", hr_negative_prompt="blurry",
                    hr_checkpoint_name="beta")
    text = json.loads(other["info"])["infotexts"][0]
    for part in ("Hires steps: 6", "Hires sampler: DPM++ 2M", "Hires schedule type: Karras",
                 "Hires prompt: a dog", "Hires negative prompt: blurry", "Hires checkpoint: beta"):
        assert part in text
    assert not np.array_equal(pixels(plain["images"][0]), pixels(other["images"][0]))
    from sdwebui.services import runtime as shared
    assert shared.model_manager.sd_model.sd_checkpoint_info.model_name == "alpha"   # switched back


def test_batch_with_hires(api):
    out = txt2img(api, **BASE, enable_hr=True, batch_size=2, n_iter=2)
    assert len(out["images"]) == 4 and {decode(i).size for i in out["images"]} == {(128, 128)}


@pytest.mark.parametrize("body,field", [({"hr_upscaler": "Ultra 9000"}, "hr_upscaler"),
                                        ({"hr_sampler_name": "Nope"}, "hr_sampler_name"),
                                        ({"hr_checkpoint_name": "missing"}, "hr_checkpoint_name"),
                                        ({"hr_scale": 100}, "hr_scale")])
def test_bad_hires_fields_are_422(api, body, field):
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "enable_hr": True, **body})
    assert r.status_code == 422, r.text
    assert field in r.text
    if field == "hr_upscaler":
        assert "Latent (bicubic)" in r.text and "Lanczos" in r.text


def test_refiner_switches_model_part_way(api):
    from sdwebui.services import runtime as shared

    base = txt2img(api, **BASE)
    refined = txt2img(api, **BASE, refiner_checkpoint="beta", refiner_switch_at=0.5)
    text = json.loads(refined["info"])["infotexts"][0]
    # "beta [hash]" once its hash is known (A1111 too writes the short title it has at that time)
    assert "Refiner: beta" in text and "Refiner switch at: 0.5" in text and "Model: alpha," in text
    assert not np.array_equal(pixels(base["images"][0]), pixels(refined["images"][0]))
    assert shared.model_manager.sd_model.sd_checkpoint_info.model_name == "alpha"
    batch = txt2img(api, **BASE, refiner_checkpoint="beta", refiner_switch_at=0.5, n_iter=2)
    assert np.array_equal(pixels(batch["images"][0]), pixels(refined["images"][0]))   # batch 2 restarts on base
    xl = txt2img(api, **BASE, override_settings={"sd_model_checkpoint": "tiny-sdxl"},
                 refiner_checkpoint="tiny-sdxl", refiner_switch_at=0.8, enable_hr=True, hr_scale=1.5)
    assert decode(xl["images"][0]).size == (96, 96)
    for body, field in (({"refiner_checkpoint": "nope", "refiner_switch_at": 0.5}, "refiner_checkpoint"),
                        ({"refiner_checkpoint": "beta", "refiner_switch_at": 1.5}, "refiner_switch_at")):
        r = api.post("/sdapi/v1/txt2img", json={**BASE, **body})
        assert r.status_code == 422 and field in r.text


def test_hires_cfg_scale_guides_the_second_pass_only(api):
    """hr_cfg (Forge's field and "Hires CFG Scale" key; not in A1111 1.10): the second pass's CFG
    scale. Unset, 0 or equal to cfg_scale, the pass uses cfg_scale and the infotext says nothing."""
    from sdwebui.interfaces.ui.pnginfo import paste_fields

    plain = txt2img(api, **BASE, enable_hr=True)
    same = txt2img(api, **BASE, enable_hr=True, hr_cfg=7.0)
    zero = txt2img(api, **BASE, enable_hr=True, hr_cfg=0)
    low = txt2img(api, **BASE, enable_hr=True, hr_cfg=2.5)
    for out in (same, zero):
        assert np.array_equal(pixels(plain["images"][0]), pixels(out["images"][0]))
        assert "Hires CFG Scale" not in json.loads(out["info"])["infotexts"][0]
    assert not np.array_equal(pixels(plain["images"][0]), pixels(low["images"][0]))
    text = json.loads(low["info"])["infotexts"][0]
    assert "Hires CFG Scale: 2.5" in text and "CFG scale: 7.0" in text
    assert paste_fields(text)["hr_cfg"] == 2.5
    assert paste_fields(json.loads(plain["info"])["infotexts"][0])["hr_cfg"] == 0.0
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "enable_hr": True, "hr_cfg": -1})
    assert r.status_code == 422 and "hr_cfg" in r.text


def test_sdxl_base_hands_over_to_an_sdxl_refiner(api, data_dir):
    """A1111's SDXL base + refiner: the refiner file (OpenCLIP-bigG only, 5 time ids with the aesthetic
    scores) takes over the last steps with its own conditioning; the infotext names the job's model."""
    from sdwebui.engine.models.tiny import write_tiny_checkpoint
    from sdwebui.services import runtime as shared

    path = data_dir / "extra" / "tiny-sdxl-refiner.safetensors"
    write_tiny_checkpoint(path, "sdxl-refiner", seed=11)
    xl = {**BASE, "override_settings": {"sd_model_checkpoint": "tiny-sdxl"}}
    try:
        assert api.post("/sdapi/v1/refresh-checkpoints").status_code == 200
        base = txt2img(api, **xl)
        refined = txt2img(api, **xl, refiner_checkpoint="tiny-sdxl-refiner", refiner_switch_at=0.5)
        again = txt2img(api, **xl, refiner_checkpoint="tiny-sdxl-refiner", refiner_switch_at=0.5)
        text = json.loads(refined["info"])["infotexts"][0]
        assert "Refiner: tiny-sdxl-refiner" in text and "Refiner switch at: 0.5" in text
        assert "Model: tiny-sdxl," in text      # the job's model, not the refiner that finished it
        assert not np.array_equal(pixels(base["images"][0]), pixels(refined["images"][0]))
        assert np.array_equal(pixels(refined["images"][0]), pixels(again["images"][0]))
        assert shared.model_manager.sd_model.family != "sdxl-refiner"     # the override is undone after
    finally:
        path.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")
