"""ControlNet units that act past the residuals, through the real app: reference_* (attention and
AdaIN hooks, no model), tile_colorfix and inpaint_only (the prediction changed in x0 space), the
pictures the extension restores after decoding (inpaint_only, recolor), and the seeded shuffle."""
from __future__ import annotations

import base64
import io
import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from tests.test_api import pixels
from tests.test_controlnet import BASE, MODEL, b64, controlnet_file, generate, ring, unit  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("controlnet_file")


@pytest.fixture(scope="module")
def photo() -> str:
    """A picture with colour and texture (a reference must have something to give)."""
    rng = np.random.default_rng(3)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, 64)[None, :]
    image[:, :, 2] = np.linspace(255, 0, 64)[:, None]
    image[::8] = rng.integers(0, 255, size=(8, 64, 3))
    return b64(Image.fromarray(image))


def reference(photo, module="reference_only", **kw) -> dict:
    return {"enabled": True, "module": module, "model": "None", "image": photo, **kw}


def differs(a, b, at_least=0.5) -> bool:
    return float(np.abs(pixels(a).astype(np.int16) - pixels(b).astype(np.int16)).mean()) > at_least


def test_reference_units_steer_with_no_model_and_leave_the_unet_as_it_was(api, photo):
    plain = generate(api, [])["images"][0]
    only = generate(api, [reference(photo, save_detected_map=False)])
    assert len(only["images"]) == 1 and differs(only["images"][0], plain)
    again = generate(api, [reference(photo, save_detected_map=False)])["images"][0]
    assert np.array_equal(pixels(again), pixels(only["images"][0]))          # the reference's noise is seeded
    adain = generate(api, [reference(photo, "reference_adain", save_detected_map=False)])["images"][0]
    both = generate(api, [reference(photo, "reference_adain+attn", save_detected_map=False)])["images"][0]
    assert differs(adain, plain) and differs(adain, only["images"][0]) and differs(both, only["images"][0])
    assert 'Module: reference_only, Model: None, Weight: 1.0' in json.loads(only["info"])["infotexts"][0]
    # the hooks are gone after the job: the same request without the unit is the plain image again
    assert np.array_equal(pixels(generate(api, [])["images"][0]), pixels(plain))
    off = generate(api, [reference(photo, weight=0)])["images"][0]
    assert np.array_equal(pixels(off), pixels(plain))


def test_reference_style_fidelity_and_modes_act_on_the_negative_rows(api, photo):
    images = [generate(api, [reference(photo, threshold_a=f, save_detected_map=False)])["images"][0]
              for f in (0.0, 1.0)]
    assert differs(images[0], images[1], 0.1)
    prompt_first = generate(api, [reference(photo, threshold_a=0.0, control_mode="My prompt is more important",
                                            save_detected_map=False)])["images"][0]
    assert np.array_equal(pixels(prompt_first), pixels(images[0]))          # that mode is fidelity 0
    control_first = generate(api, [reference(photo, threshold_a=0.0, control_mode="ControlNet is more important",
                                             save_detected_map=False)])["images"][0]
    assert np.array_equal(pixels(control_first), pixels(images[1]))         # and that one fidelity 1


def test_reference_with_sdxl_hires_and_a_controlnet_beside_it(api, photo, ring):
    xl = {"override_settings": {"sd_model_checkpoint": "tiny-sdxl"}}
    assert differs(generate(api, [reference(photo)], **xl)["images"][0], generate(api, [], **xl)["images"][0])
    hires = dict(enable_hr=True, hr_scale=1.5, hr_upscaler="Latent", denoising_strength=0.5)
    out = generate(api, [reference(photo), unit(ring)], **hires)
    assert [Image.open(io.BytesIO(base64.b64decode(i))).size for i in out["images"]] == \
        [(96, 96), (96, 96), (64, 64), (96, 96), (64, 64)]
    alone = generate(api, [unit(ring)], **hires)["images"][0]
    assert differs(out["images"][0], alone)


def test_tile_colorfix_steers_the_prediction_and_weight_zero_does_nothing(api, photo):
    plain = generate(api, [])["images"][0]
    resample = generate(api, [unit(photo, module="tile_resample", save_detected_map=False)])["images"][0]
    fix = generate(api, [unit(photo, module="tile_colorfix", save_detected_map=False)])["images"][0]
    sharp = generate(api, [unit(photo, module="tile_colorfix+sharp", threshold_b=2,
                                save_detected_map=False)])["images"][0]
    assert differs(fix, resample) and differs(sharp, fix, 0.1)
    wide = generate(api, [unit(photo, module="tile_colorfix", threshold_a=32, save_detected_map=False)])["images"][0]
    assert differs(wide, fix, 0.1)
    off = generate(api, [unit(photo, module="tile_colorfix+sharp", weight=0)])["images"][0]
    assert np.array_equal(pixels(off), pixels(plain))


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction"])
def test_colorfix_gives_the_prediction_the_references_low_frequencies(kind):
    """The maths on its own: with weight 1 the new prediction's x0 is x0 - blur(x0) + blur(reference)."""
    from sdwebui.engine.control.latent_edits import LatentEdit, box_blur
    from sdwebui.engine.control.residuals import UNetCall
    from sdwebui.engine.sampling.prediction import to_x0

    g = torch.Generator().manual_seed(0)
    x, out, ref = (torch.randn(2, 4, 16, 16, generator=g) for _ in range(3))
    call = UNetCall(x, torch.tensor(500), 3, 10, torch.zeros(2, 1, 8), None, 1, [0, 0], "first", None,
                    alpha=lambda: 0.3, prediction_type=kind)
    new = LatentEdit("tile_colorfix", 1.0, variation=3).apply(call, out, ref[:1])
    x0 = to_x0(kind, 0.3, x, out)
    assert torch.allclose(to_x0(kind, 0.3, x, new), x0 - box_blur(x0, 3) + box_blur(ref[:1], 3), atol=1e-4)
    half = LatentEdit("tile_colorfix", 0.5, variation=3).apply(call, out, ref[:1])
    assert torch.allclose(half, (new + out) / 2, atol=1e-5)


def test_inpaint_only_keeps_the_picture_outside_the_mask(api, ring, caplog):
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((20, 20, 44, 44), fill=255)
    out = generate(api, [unit(None, module="inpaint_only", image={"image": ring, "mask": b64(mask)})])
    result, source = pixels(out["images"][0]), pixels(ring)
    assert np.array_equal(result[:8], source[:8]) and np.array_equal(result[:, :8], source[:, :8])
    assert np.abs(result[28:36, 28:36].astype(int) - source[28:36, 28:36]).mean() > 1
    harmonious = generate(api, [unit(None, module="inpaint", image={"image": ring, "mask": b64(mask)})])
    assert not np.array_equal(pixels(harmonious["images"][0])[:8], source[:8])
    # img2img's own inpainting already keeps the picture: the unit falls back, as the extension's does
    body = {"init_images": [ring], "mask": b64(mask), "denoising_strength": 0.8}
    with caplog.at_level(logging.WARNING):
        fallback = generate(api, [unit(None, module="inpaint_only")], route="img2img", **body)
        same = generate(api, [unit(None, module="inpaint")], route="img2img", **body)
    assert "Falls back to inpaint_global_harmonious" in caplog.text
    assert np.array_equal(pixels(fallback["images"][0]), pixels(same["images"][0]))


def test_recolor_gives_the_result_the_maps_lightness(api, photo):
    import cv2

    def lightness(image) -> np.ndarray:
        return cv2.cvtColor(pixels(image)[:, :, :3].astype(np.uint8), cv2.COLOR_RGB2LAB)[:, :, 0].astype(int)

    out = generate(api, [unit(photo, module="recolor_luminance", threshold_a=1.0)])
    wanted = pixels(out["images"][1])[:, :, 0]
    # the map's lightness, up to LAB's round trip (colours near black leave RGB's range)
    assert np.abs(lightness(out["images"][0]) - wanted).mean() < 1.5
    assert np.abs(lightness(generate(api, [])["images"][0]) - wanted).mean() > 10


def test_shuffle_is_seeded_by_the_job(api, photo):
    def shuffled(seed):
        images = generate(api, [unit(photo, module="shuffle")], seed=seed)["images"]
        return pixels(images[1])

    first, again, other = shuffled(5), shuffled(5), shuffled(6)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.shape == (64, 64, 3) and not np.array_equal(first, pixels(photo))


def test_a_failing_pass_still_removes_the_reference_hooks():
    from sdwebui.engine.control.reference import ReferenceHooks
    from sdwebui.engine.control.residuals import UNetControl, controls_pass
    from sdwebui.engine.models.tiny import build_tiny_components

    unet = build_tiny_components("sd1", seed=0).unet
    before = {name: type(p) for name, p in unet.attn_processors.items()}
    hooks = ReferenceHooks()

    class Cleans(UNetControl):
        def end_pass(self):
            hooks.remove()

    with pytest.raises(RuntimeError, match="boom"), controls_pass([Cleans()], None):
        hooks.on(unet)
        assert any("Reference" in type(p).__name__ for p in unet.attn_processors.values())
        raise RuntimeError("boom")
    assert {name: type(p) for name, p in unet.attn_processors.items()} == before
    assert not any(m._forward_hooks for m in unet.modules())


def test_a_pass_with_reference_units_runs_a_compiled_unet_eagerly():
    """Attention processors and forward hooks are Python a compiled UNet would not run."""
    from contextlib import contextmanager

    from sdwebui.engine.control.controlnet_unit import ControlNetUnit
    from sdwebui.engine.control.reference import ReferenceUnit
    from sdwebui.engine.control.residuals import controls_pass

    entered = []

    class Model:
        @contextmanager
        def eager_only(self):
            entered.append(True)
            yield

    with controls_pass([ControlNetUnit(None, np.zeros((8, 8, 3), np.uint8))], Model()):
        assert not entered
    with controls_pass([ReferenceUnit(np.zeros((8, 8, 3), np.uint8))], Model()):
        assert entered


def test_render_openpose_json_draws_the_poses(api):
    """Pose editors send keypoints to be drawn: COCO body points and limbs in their colours."""
    def person(scale=1.0):
        body = [0.0] * 54
        for index, (x, y) in {1: (32, 12), 2: (32, 24), 3: (20, 24), 6: (44, 24)}.items():    # nose, neck, shoulders
            body[3 * (index - 1):3 * index] = [x * scale, y * scale, 1.0]
        return {"people": [{"pose_keypoints_2d": body, "face_keypoints_2d": [10 * scale, 50 * scale, 1.0]}],
                "canvas_width": 64, "canvas_height": 64}

    r = api.post("/controlnet/render_openpose_json", json=[person(), person(1 / 64)])
    assert r.status_code == 200 and r.json()["info"] == "Success"
    pixel_image, fraction_image = (pixels(i) for i in r.json()["images"])
    assert np.array_equal(pixel_image, fraction_image)        # fractions of the canvas are the same pose
    assert tuple(pixel_image[24, 32]) == (255, 85, 0)          # the neck's point
    assert tuple(pixel_image[24, 26]) == (153, 0, 0)           # the neck-right shoulder limb, at 0.6
    assert tuple(pixel_image[50, 10]) == (255, 255, 255)       # a face point
    assert tuple(pixel_image[60, 60]) == (0, 0, 0)
    assert api.post("/controlnet/render_openpose_json", json=[]).json() == {"info": "No pose data detected."}
    bad = person()
    bad["people"][0]["pose_keypoints_2d"] = [1.0, 2.0]
    r = api.post("/controlnet/render_openpose_json", json=[bad])
    assert r.status_code == 422 and "triples" in r.text


def test_external_code_drives_units_as_adetailer_does(api, ring):
    """Other extensions import external_code by path and put units in a job's script arguments."""
    import importlib

    from modules import processing, scripts

    external = importlib.import_module("extensions-builtin.sd-webui-controlnet.scripts.external_code")
    assert external.get_api_version() == 3 and external.get_max_models_num() == 3
    assert any(m.startswith(f"{MODEL} [") for m in external.get_models())
    assert "canny" in external.get_modules() and "depth_midas" in external.get_modules(alias_names=True)
    assert external.get_modules_detail()["canny"]["sliders"][1]["name"] == "Low Threshold"
    runner = scripts.scripts_txt2img
    p = processing.StableDiffusionProcessingTxt2Img(
        prompt=BASE["prompt"], seed=BASE["seed"], width=64, height=64, steps=BASE["steps"],
        override_settings=BASE["override_settings"], scripts=runner,
        script_args=runner.script_args_for(None, None, None))
    assert external.get_all_units_in_processing(p)[0].enabled is False
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(ring))).convert("RGB"))     # a numpy picture
    made = external.ControlNetUnit(enabled=True, module="canny", model=MODEL, image=picture, foo="ignored",
                                   control_mode=external.ControlMode.BALANCED,
                                   resize_mode=external.ResizeMode.INNER_FIT)
    external.update_cn_script_in_processing(p, [made])
    units = external.get_all_units_in_processing(p)
    assert len(units) == 3 and units[0] is made and not units[1].enabled
    with pytest.raises(Exception, match="weight"):
        external.ControlNetUnit(enabled=True, weight=5)
    processed = processing.process_images(p)
    assert 'ControlNet 0: "Module: canny' in processed.infotexts[0]
    through_api = generate(api, [unit(ring, save_detected_map=False)])["images"][0]
    assert np.array_equal(np.asarray(processed.images[0].convert("RGB")), pixels(through_api)[:, :, :3])


def test_effective_region_mask_limits_where_a_unit_acts(api, ring, photo):
    plain = generate(api, [])["images"][0]
    full = generate(api, [unit(ring, save_detected_map=False)])["images"][0]
    black = b64(Image.new("L", (64, 64), 0))
    nowhere = generate(api, [unit(ring, effective_region_mask=black, save_detected_map=False)])["images"][0]
    assert np.array_equal(pixels(nowhere), pixels(plain))
    white = b64(Image.new("RGB", (64, 64), "white"))
    everywhere = generate(api, [unit(ring, effective_region_mask=white, save_detected_map=False)])["images"][0]
    assert np.array_equal(pixels(everywhere), pixels(full))
    left = Image.new("L", (64, 64), 0)
    left.paste(255, (0, 0, 32, 64))
    half = generate(api, [unit(ring, effective_region_mask=b64(left), save_detected_map=False)])["images"][0]
    assert differs(half, plain) and differs(half, full)
    generate(api, [reference(photo, effective_region_mask=black)], status=422)
