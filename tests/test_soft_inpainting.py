"""Soft inpainting (extensions-builtin/soft-inpainting, A1111 1.10's built-in): listed as an img2img
always-on script with A1111's controls, a blurred mask gives a soft transition while the far unmasked
part stays the original, seeds reproduce, its infotext pastes back; and the loop's mask-blend hook
(engine/sampling/mask_blend.py) gives the plain blend unless a script changes it."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from tests.test_api import pixels
from tests.test_img2img import b64, noise_image

ON = [True, 1.5, 0.75, 6, 0.25, 1.25, 3]       # A1111's order: enabled, then the six sliders
KEYS = ["Soft inpainting enabled", "Soft inpainting schedule bias", "Soft inpainting preservation strength",
        "Soft inpainting transition contrast boost", "Soft inpainting mask influence",
        "Soft inpainting difference threshold", "Soft inpainting difference contrast"]
W, H = 128, 64


def _left_mask() -> Image.Image:
    m = np.zeros((H, W), dtype=np.uint8)
    m[:, :40] = 255
    return Image.fromarray(m)


def _inpaint(api, args=None, **kw):
    body = {"prompt": "a cat", "width": W, "height": H, "steps": 6, "cfg_scale": 7, "seed": 11,
            "sampler_name": "Euler a", "init_images": [b64(noise_image(W, H, seed=3))], "mask": b64(_left_mask()),
            "mask_blur": 8, "inpaint_full_res": False, "inpainting_fill": 1, "denoising_strength": 0.9, **kw}
    if args is not None:
        body["alwayson_scripts"] = {"soft inpainting": {"args": args}}
    r = api.post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_listed_for_img2img_with_a1111_controls(api):
    listed = api.get("/sdapi/v1/scripts").json()
    assert "soft inpainting" in listed["img2img"] and "soft inpainting" not in listed["txt2img"]
    info = {(i["name"], i["is_img2img"]): i for i in api.get("/sdapi/v1/script-info").json()}
    assert ("soft inpainting", False) not in info
    script = info[("soft inpainting", True)]
    assert script["is_alwayson"] is True
    got = [(a["label"], a["value"], a["minimum"], a["maximum"], a["step"]) for a in script["args"]]
    assert got == [("Soft inpainting", False, None, None, None), ("Schedule bias", 1, 0, 8, 0.1),
                   ("Preservation strength", 0.5, 0, 8, 0.05), ("Transition contrast boost", 4, 1, 32, 0.5),
                   ("Mask influence", 0, 0, 1, 0.05), ("Difference threshold", 0.5, 0, 8, 0.25),
                   ("Difference contrast", 2, 0, 8, 0.25)]


def test_soft_transition_keeps_far_pixels_and_reproduces(api):
    original = np.asarray(noise_image(W, H, seed=3), dtype=np.int16)
    off = pixels(_inpaint(api, [False, 1, 0.5, 4, 0, 0.5, 2])["images"][0])
    soft = _inpaint(api, ON)
    on = pixels(soft["images"][0])
    assert np.array_equal(on, pixels(_inpaint(api, ON)["images"][0]))        # same seed, same image
    blurred = np.asarray(_left_mask().filter(ImageFilter.GaussianBlur(8)), dtype=np.int16)
    band = (blurred > 40) & (blurred < 215)
    assert band.sum() > 200
    assert not np.array_equal(on[band], off[band])
    assert not np.array_equal(on[band], original[band])
    # beyond the reach of the composite's filters and blur the original comes back exactly, as without it
    assert np.array_equal(on[:, 96:], original[:, 96:]) and np.array_equal(off[:, 96:], original[:, 96:])
    assert not np.array_equal(on[:, :24], original[:, :24])                 # the masked part is repainted
    # the schedule bias acts only in the per-step latent blend (on_mask_blend)
    biased = pixels(_inpaint(api, [ON[0], 8, *ON[2:]])["images"][0])
    assert not np.array_equal(biased[band], on[band])
    # the composite is by difference: a higher threshold (the sampling is the same) gives more of the original back
    lenient = pixels(_inpaint(api, [*ON[:5], 8, ON[6]])["images"][0])
    assert np.abs(lenient - original)[band].mean() < np.abs(on - original)[band].mean()


def test_infotext_and_paste_round_trip(api):
    out = _inpaint(api, ON)
    text = json.loads(out["info"])["infotexts"][0]
    for key, value in zip(KEYS, ON):
        assert f"{key}: {value}" in text
    parsed = api.post("/sdapi/v1/png-info", json={"image": out["images"][0]}).json()["parameters"]
    from sdwebui.interfaces.ui.panel_paste import script_value
    from sdwebui.services.extensions import scripts

    script = scripts.scripts_img2img.find("Soft Inpainting", alwayson=True)
    assert [key for _, key in script.infotext_fields] == KEYS == script.paste_field_names
    pasted = [script_value(component, key, parsed)["value"] for component, key in script.infotext_fields]
    assert pasted == ON
    off = json.loads(_inpaint(api, [False, 1, 0.5, 4, 0, 0.5, 2])["info"])["infotexts"][0]
    assert "Soft inpainting" not in off


def test_only_for_inpainting(api):
    body = {"prompt": "a cat", "width": 64, "height": 64, "steps": 2, "seed": 1, "init_images": [b64(noise_image())],
            "alwayson_scripts": {"soft inpainting": {"args": ON}}}
    r = api.post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    assert "Soft inpainting" not in json.loads(r.json()["info"])["infotexts"][0]


def test_composite_masks_follow_the_latent_difference():
    from sdwebui.engine.processing.soft_inpainting import SoftInpaintingSettings, difference_masks, latent_blend

    settings = SoftInpaintingSettings()
    orig = torch.randn(1, 4, 8, 16)
    moved = orig.clone()
    moved[..., :3] += 5                       # the left three latent columns changed a lot
    nmask = torch.zeros(4, 8, 16)
    nmask[..., :3] = 1
    picture = noise_image(128, 64)
    masks, overlays = difference_masks(settings, nmask, orig, moved, [picture.convert("RGBA")], 128, 64, None)
    mask = np.asarray(masks[0])
    assert mask[:, :8].min() >= 250 and mask[:, 100:].max() == 0
    assert np.array_equal(np.asarray(overlays[0])[:, 100:, :3], np.asarray(picture)[:, 100:])
    assert np.asarray(overlays[0])[:, :8, 3].max() <= 5                 # transparent where the result shows
    # the latent mix: all original at t = 0 (up to the length guard), all current at t = 1
    cur = torch.randn(1, 4, 8, 16)
    assert torch.allclose(latent_blend(settings, orig, cur, torch.zeros(4, 8, 16)), orig, atol=1e-4)
    assert torch.allclose(latent_blend(settings, orig, cur, torch.ones(4, 8, 16)), cur, atol=1e-4)
    assert isinstance(masks[0], Image.Image) and masks[0].size == (128, 64)


# the pass's blend hook (no model) ------------------------------------------------------------------
def test_blend_hook_without_changes_is_the_plain_blend():
    from sdwebui.engine.sampling.mask_blend import blend_final, blend_prediction

    g = torch.Generator().manual_seed(0)
    denoised, init = (torch.randn(2, 4, 8, 8, generator=g) for _ in range(2))
    keep = torch.rand(1, 1, 8, 8, generator=g)
    seen = []
    sigma = torch.tensor(3.5)
    plain = init * keep + denoised * (1 - keep)
    assert torch.equal(blend_prediction(None, keep, init, denoised, None, sigma), plain)
    assert torch.equal(blend_prediction(seen.append, keep, init, denoised, None, sigma), plain)
    mba = seen[0]
    assert not mba.is_final_blend and mba.denoiser is not None
    assert mba.nmask.shape == (4, 8, 8) and torch.equal(mba.mask + mba.nmask, torch.ones(4, 8, 8))
    assert mba.sigma.shape == (2,) and float(mba.sigma[0]) == 3.5
    assert torch.equal(mba.init_latent, init) and torch.equal(mba.current_latent, denoised)
    # the final blend, which a script sees with is_final_blend
    assert torch.equal(blend_final(seen.append, denoised, keep, init), plain)
    assert seen[-1].is_final_blend and seen[-1].denoiser is None

    def replace(mba):
        mba.blended_latent = mba.current_latent * 0

    assert torch.equal(blend_prediction(replace, keep, init, denoised, None, sigma), denoised * 0)


def test_controls_follow_the_inpainting_controls_in_the_ui(api, tmp_path, monkeypatch):
    from sdwebui.interfaces.ui.app import create_ui
    from sdwebui.services import runtime

    monkeypatch.setattr(runtime.cmd_opts, "ui_config_file", str(tmp_path / "ui-config.json"))
    demo = create_ui()
    ids = {b.elem_id: key for key, b in demo.blocks.items() if getattr(b, "elem_id", None)}
    for elem_id in ("soft_inpainting_enabled", "mask_blend_power", "mask_blend_scale", "inpaint_detail_preservation",
                    "composite_mask_influence", "composite_difference_threshold", "composite_difference_contrast"):
        assert elem_id in ids, elem_id
    # as A1111: in the img2img tab right after the inpainting controls, before the Script dropdown
    assert ids["img2img_inpaint_controls"] < ids["soft_inpainting_enabled"] < ids["img2img_script_container"]
    assert demo.blocks[ids["soft_inpainting_enabled"]].label == "Soft inpainting"
    # and the API still takes the args at the script's place in the flat list the UI built
    assert "Soft inpainting enabled: True" in json.loads(_inpaint(api, ON)["info"])["infotexts"][0]
