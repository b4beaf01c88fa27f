"""ControlNet through the real app's API, as sd-webui-controlnet's clients use it: units under
alwayson_scripts, its routes, its infotext, the detected maps after the images, and 422s naming the
field. The ControlNet file is a tiny one in lllyasviel's layout (`control_model.*` keys, `.pth`),
shaped for the tiny SD1 UNet the server serves, with non-zero zero-convs so control really acts."""
from __future__ import annotations

import base64
import io
import logging
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.test_api import pixels

pytestmark = pytest.mark.usefixtures("controlnet_file")
MODEL = "control_v11p_sd15_canny"
ALPHA = {"override_settings": {"sd_model_checkpoint": "alpha"}}
BASE = {"prompt": "a ring", "seed": 7, "width": 64, "height": 64, "steps": 4, **ALPHA}


@pytest.fixture(scope="module")
def controlnet_file(data_dir, tmp_path_factory):
    from sdwebui.engine.models.tiny import (build_tiny_components, write_tiny_control_lora, write_tiny_controlnet,
                                            write_tiny_t2i_adapter)

    # the server's "alpha" is tiny.py's SD1 (seed 0): the same UNet shape
    unet = build_tiny_components("sd1", seed=0).unet
    folder = data_dir / "models" / "ControlNet"
    path = write_tiny_controlnet(folder / f"{MODEL}.pth", unet, seed=1)
    write_tiny_t2i_adapter(folder / "t2iadapter_canny_sd15v2.pth", unet, seed=3)
    write_tiny_control_lora(folder / "control_lora_rank128_v11p_sd15_canny_fp16.safetensors", unet, seed=5)
    from diffusers import ControlNetModel
    from sdwebui.engine.models.building import real_weights
    with real_weights():        # a diffusers folder, fresh from the UNet: its zero convs still zero
        ControlNetModel.from_unet(unet).save_pretrained(str(folder / "diffusers_tiny_canny"))
    # one for SDXL too, to be refused with the SD1 checkpoint
    write_tiny_controlnet(folder / "controlnet_tiny_xl_canny.safetensors", build_tiny_components("sdxl", seed=3).unet,
                          seed=2)
    yield path
    shutil.rmtree(folder)


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def ring() -> str:
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((14, 14, 50, 50), outline="black", width=4)
    return b64(image)


def unit(ring, **kw) -> dict:
    return {"enabled": True, "module": "canny", "model": MODEL, "image": ring, **kw}


def generate(api, units, route="txt2img", status=200, **kw):
    body = {**BASE, **kw, "alwayson_scripts": {"ControlNet": {"args": units}}}
    r = api.post(f"/sdapi/v1/{route}", json=body)
    assert r.status_code == status, r.text
    return r.json()


def test_routes_answer_as_the_extension(api):
    assert api.get("/controlnet/version").json() == {"version": 3}
    models = api.get("/controlnet/model_list").json()["model_list"]
    assert models[0] == "None" and any(m.startswith(f"{MODEL} [") and m.endswith("]") for m in models)
    modules = api.get("/controlnet/module_list").json()
    assert modules["module_list"][0] == "none" and set(modules["module_detail"]) == set(modules["module_list"])
    assert modules["module_detail"]["canny"] == {"model_free": False, "sliders": [
        {"name": "Resolution", "value": 512, "min": 64, "max": 2048, "step": 8},
        {"name": "Low Threshold", "value": 100, "min": 1, "max": 255, "step": 1},
        {"name": "High Threshold", "value": 200, "min": 1, "max": 255, "step": 1}]}
    labels = api.get("/controlnet/module_list", params={"alias_names": True}).json()["module_list"]
    assert "depth_midas" in labels and "invert (from white bg & black line)" in labels
    types = api.get("/controlnet/control_types").json()["control_types"]
    canny = types["Canny"]
    assert canny["default_option"] == "canny" and any(m.startswith(MODEL) for m in canny["model_list"])
    assert "11" in canny["default_model"].split(" [")[0]      # the extension prefers a v1.1 model
    assert api.get("/controlnet/settings").json() == {"control_net_unit_count": 3}


def test_control_changes_the_image_weight_zero_does_not_and_the_map_follows(api, ring):
    plain = generate(api, [])
    assert len(plain["images"]) == 1
    controlled = generate(api, [unit(ring)])
    assert len(controlled["images"]) == 2                      # the image, then the detected map
    assert np.abs(pixels(controlled["images"][0]) - pixels(plain["images"][0])).mean() > 1
    edges = pixels(controlled["images"][1])
    assert edges.shape == (64, 64, 3) and set(np.unique(edges)) <= {0, 255} and edges.max() == 255   # canny's
    off = generate(api, [unit(ring, weight=0)])
    assert np.array_equal(pixels(off["images"][0]), pixels(plain["images"][0]))
    again = generate(api, [unit(ring, save_detected_map=False)])
    assert len(again["images"]) == 1 and np.array_equal(pixels(again["images"][0]), pixels(controlled["images"][0]))


def test_old_spellings_give_the_same_image(api, ring):
    new = generate(api, [unit(ring, resize_mode="Crop and Resize", control_mode="Balanced", guidance_end=1.0)])
    old = generate(api, [{"enabled": True, "module": "canny", "model": f"{MODEL} [00000000]", "input_image": ring,
                          "resize_mode": 1, "control_mode": 0, "guidance": 1.0, "lowvram": True, "foo": "ignored",
                          "is_ui": False}])
    assert np.array_equal(pixels(new["images"][0]), pixels(old["images"][0]))
    aliased = generate(api, [unit(ring, resize_mode="Inner Fit (Scale to Fit)")])
    assert np.array_equal(pixels(new["images"][0]), pixels(aliased["images"][0]))


def test_control_modes_and_the_guidance_window_differ(api, ring):
    images = {mode: pixels(generate(api, [unit(ring, control_mode=mode)])["images"][0])
              for mode in ("Balanced", "My prompt is more important", "ControlNet is more important")}
    values = list(images.values())
    assert all(not np.array_equal(a, b) for i, a in enumerate(values) for b in values[i + 1:])
    plain = pixels(generate(api, [])["images"][0])
    late = pixels(generate(api, [unit(ring, guidance_start=0.5)])["images"][0])
    assert not np.array_equal(late, plain) and not np.array_equal(late, images["Balanced"])


def test_infotext_line_as_the_extension_writes_it(api, ring):
    info = generate(api, [{"enabled": False}, unit(ring, threshold_a=-1, pixel_perfect=True)])["info"]
    import json
    text = json.loads(info)["infotexts"][0]
    assert (f'ControlNet 0: "Module: canny, Model: {MODEL} [') in text
    assert ('Weight: 1.0, Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 100, Threshold B: 200, '
            'Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: True, Control Mode: Balanced"') in text
    assert "ControlNet 1" not in text


def test_batches_and_hires_count_the_maps(api, ring):
    out = generate(api, [unit(ring)], batch_size=2, n_iter=2)
    assert len(out["images"]) == 4 + 1
    hires = generate(api, [unit(ring)], enable_hr=True, hr_scale=1.5, hr_upscaler="Latent", denoising_strength=0.5)
    sizes = [Image.open(io.BytesIO(base64.b64decode(i))).size for i in hires["images"]]
    assert sizes == [(96, 96), (96, 96), (64, 64)]             # image, hires map, first-pass map
    low_only = generate(api, [unit(ring, hr_option="Low res only")], enable_hr=True, hr_scale=1.5,
                        hr_upscaler="Latent", denoising_strength=0.5)
    assert not np.array_equal(pixels(low_only["images"][0]), pixels(hires["images"][0]))


def test_img2img_takes_the_init_image_when_the_unit_has_none(api, ring):
    body = {"init_images": [ring], "denoising_strength": 0.6}
    plain = generate(api, [], route="img2img", **body)
    controlled = generate(api, [{"enabled": True, "module": "canny", "model": MODEL}], route="img2img", **body)
    assert len(controlled["images"]) == 2
    assert not np.array_equal(pixels(controlled["images"][0]), pixels(plain["images"][0]))


@pytest.mark.parametrize("bad, field, words", [
    ({"weight": 3}, "weight", "between 0 and 2"),
    ({"guidance_start": 0.8, "guidance_end": 0.2}, "guidance_start", "after guidance_end"),
    ({"module": "no_such"}, "module", "module(no_such) not found in supported modules."),
    ({"model": "no_such_model"}, "model", "model not found: no_such_model"),
    ({"model": "None"}, "model", "You have not selected any ControlNet Model."),
    ({"image": "", "mask": "aGVsbG8="}, "mask", "without an image"),
    ({"image": None}, "image", "no input image is given"),
    ({"control_mode": "Loud"}, "control_mode", "Balanced"),
    ({"model": "controlnet_tiny_xl_canny"}, "model", "not compatible with the loaded checkpoint"),
    ({"module": "depth"}, "module", "midas/dpt_hybrid-midas-501f0c75.pt"),
])
def test_bad_units_are_422_naming_the_field(api, ring, bad, field, words):
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "alwayson_scripts": {"controlnet": {"args": [unit(ring, **bad)]}}})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "alwayson_scripts", "ControlNet", "args", "0", field] and words in detail["msg"]


def test_detect_and_its_errors(api, ring, caplog):
    with caplog.at_level(logging.INFO):
        r = api.post("/controlnet/detect", json={"controlnet_module": "canny", "controlnet_input_images": [ring, ring],
                                                 "controlnet_threshold_a": -100, "controlnet_processor_res": -100})
    assert r.status_code == 200 and r.json()["info"] == "Success" and len(r.json()["images"]) == 2
    edges = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))))
    assert edges.shape[:2] == (512, 512) and edges.max() == 255     # at the default resolution
    assert "[canny.threshold_a] Invalid value(-100.0), using default value 100." in caplog.text
    assert "[canny.processor_res] Invalid value(-100), using default value 512." in caplog.text
    for body, detail in (({"controlnet_module": "nope", "controlnet_input_images": [ring]}, "Module not available"),
                         ({"controlnet_module": "canny", "controlnet_input_images": []}, "No image selected")):
        r = api.post("/controlnet/detect", json=body)
        assert r.status_code == 422 and r.json()["detail"] == detail


def test_pasting_an_infotext_line_gives_back_the_unit(api, ring):
    """The UI's paste: each unit control takes its value from the `ControlNet N` line."""
    import json

    import controlnet_ui   # the extension's own module (its folder is on sys.path once loaded)

    text = json.loads(generate(api, [unit(ring, weight=0.6, guidance_end=0.8, control_mode=2)])["info"])["infotexts"][0]
    from modules import infotext_utils
    params = infotext_utils.parse_generation_parameters(text)
    values = {name: controlnet_ui._paste_getter(0, name)(params) for name in controlnet_ui.FIELDS}
    assert values["enabled"] is True and values["module"] == "canny" and values["model"].startswith(MODEL)
    assert values["weight"] == 0.6 and values["guidance_end"] == 0.8 and values["threshold_a"] == 100
    assert values["control_mode"] == "ControlNet is more important" and values["resize_mode"] == "Crop and Resize"
    assert controlnet_ui._paste_getter(1, "enabled")(params) is None      # no second unit: left as it is


@pytest.mark.parametrize("checkpoint, name", [("tiny-sd3", "SD3"), ("tiny-flux", "FLUX.1")])
def test_a_unit_on_a_transformer_model_is_a_422_naming_it(api, ring, checkpoint, name):
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "override_settings": {"sd_model_checkpoint": checkpoint},
                                            "alwayson_scripts": {"controlnet": {"args": [unit(ring)]}}})
    assert r.status_code == 422, r.text
    assert f"the loaded checkpoint is {name}" in r.json()["detail"][0]["msg"]


def test_an_sdxl_controlnet_steers_an_sdxl_checkpoint(api, ring):
    """SDXL's 9 + 1 residuals and its added conditioning; the file is an unprefixed .safetensors."""
    xl = {"override_settings": {"sd_model_checkpoint": "tiny-sdxl"}}
    plain = generate(api, [], **xl)
    controlled = generate(api, [unit(ring, model="controlnet_tiny_xl_canny", weight=2)],
                          **xl)
    assert np.abs(pixels(controlled["images"][0]) - pixels(plain["images"][0])).mean() > 1
    assert "Model: controlnet_tiny_xl_canny [" in controlled["info"]


@pytest.mark.parametrize("module", ["canny", "invert", "threshold", "blur_gaussian", "tile_resample", "scribble_xdog",
                                    "lineart_standard", "recolor_luminance", "recolor_intensity", "color", "shuffle",
                                    "tile_colorfix", "reference_only"])
def test_every_built_in_preprocessor_makes_a_map(api, ring, module):
    if module == "color":     # colour blocks of a two-colour picture
        split = Image.new("RGB", (64, 64), "red")
        split.paste((0, 0, 255), (0, 0, 32, 64))
        ring = b64(split)
    r = api.post("/controlnet/detect", json={"controlnet_module": module, "controlnet_input_images": [ring],
                                             "controlnet_processor_res": 128})
    assert r.status_code == 200, r.text
    out = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB"), dtype=np.int16)
    source = np.asarray(Image.open(io.BytesIO(base64.b64decode(ring))).convert("RGB"), dtype=np.int16)
    assert out.std() > 0 and out.shape[2] == 3        # a picture, not a blank
    if module == "invert":
        assert np.array_equal(out, 255 - source)      # no resolution slider: the picture's own size


def test_module_list_has_the_extensions_full_set(api):
    listed = api.get("/controlnet/module_list").json()["module_list"]
    labels = api.get("/controlnet/module_list", params={"alias_names": True}).json()["module_list"]
    assert len(listed) == len(labels) >= 68 and listed[0] == "none"
    for name in ("ip-adapter_clip_sd15", "reference_only", "inpaint_only+lama", "dw_openpose_full", "tile_colorfix"):
        assert name in listed
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "alwayson_scripts": {"controlnet": {"args": [
        {"enabled": True, "module": "revision_clipvision", "model": MODEL, "image": b64(Image.new("RGB", (8, 8)))}]}}})
    assert r.status_code == 422 and "not built in yet" in r.text


def test_a_t2i_adapter_steers_the_image(api, ring):
    """TencentARC's layout; its features go inside the UNet's down levels."""
    plain = generate(api, [])
    adapter = {"model": "t2iadapter_canny_sd15v2", "weight": 2}
    balanced = generate(api, [unit(ring, **adapter)])
    assert np.abs(pixels(balanced["images"][0]) - pixels(plain["images"][0])).mean() > 0.5
    soft = generate(api, [unit(ring, **adapter, control_mode="My prompt is more important")])
    assert not np.array_equal(pixels(soft["images"][0]), pixels(balanced["images"][0]))
    off = generate(api, [unit(ring, **{**adapter, "weight": 0})])
    assert np.array_equal(pixels(off["images"][0]), pixels(plain["images"][0]))
    types = api.get("/controlnet/control_types").json()["control_types"]
    assert any(m.startswith("t2iadapter_canny_sd15v2 [") for m in types["T2I-Adapter"]["model_list"])


def test_a_control_lora_is_built_on_the_loaded_unet_and_steers(api, ring):
    plain = generate(api, [])
    out = generate(api, [unit(ring, model="control_lora_rank128_v11p_sd15_canny_fp16")])
    assert len(out["images"]) == 2
    assert np.abs(pixels(out["images"][0]) - pixels(plain["images"][0])).mean() > 0.5


def test_a_diffusers_folder_loads_and_its_zero_convs_change_nothing(api, ring):
    assert "diffusers_tiny_canny" in api.get("/controlnet/model_list").json()["model_list"]
    plain = generate(api, [])
    out = generate(api, [unit(ring, model="diffusers_tiny_canny")])
    assert np.array_equal(pixels(out["images"][0]), pixels(plain["images"][0]))


def test_inpaint_units_take_the_mask_of_the_unit_or_of_img2img(api, ring):
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((16, 16, 48, 48), fill=255)
    body = {"init_images": [ring], "mask": b64(mask), "denoising_strength": 0.8}
    plain = generate(api, [], route="img2img", **body)
    out = generate(api, [{"enabled": True, "module": "inpaint_global_harmonious", "model": MODEL}], route="img2img",
                   **body)
    assert not np.array_equal(pixels(out["images"][0]), pixels(plain["images"][0]))
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(out["images"][1]))))
    assert shown.shape == (64, 64, 4) and shown[32, 32, 3] == 128 and shown[2, 2, 3] == 255   # repainted: see-through
    in_txt2img = generate(api, [unit(None, module="inpaint", image={"image": ring, "mask": b64(mask)})])
    assert len(in_txt2img["images"]) == 2
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "alwayson_scripts": {"controlnet": {"args": [
        unit(ring, module="inpaint_only")]}}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "mask"


def test_detect_of_an_inpaint_module_needs_its_masks(api, ring):
    r = api.post("/controlnet/detect", json={"controlnet_module": "inpaint_only", "controlnet_input_images": [ring]})
    assert r.status_code == 422 and r.json()["detail"] == "Preprocessor inpaint_only requires `controlnet_masks` param."
    r = api.post("/controlnet/detect", json={"controlnet_module": "inpaint_only", "controlnet_input_images": [ring],
                                             "controlnet_masks": [ring]})
    assert r.status_code == 200
    r = api.post("/controlnet/detect", json={"controlnet_module": "canny", "controlnet_input_images": ["not base64"]})
    assert r.status_code == 422


def test_each_xyz_cell_has_the_unit_once(api, ring):
    """The X/Y/Z plot runs a copy of the job per cell: each cell gets the unit, once, as a job of its own."""
    from tests.test_xyz_grid import T, args

    body = {**BASE, "script_name": "x/y/z plot", "script_args": args((T["Steps"], "3, 4")),
            "alwayson_scripts": {"ControlNet": {"args": [unit(ring, save_detected_map=False)]}}}
    r = api.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 200, r.text
    cells = r.json()["images"][1:3]          # after the grid
    for steps, cell in zip((3, 4), cells):
        alone = generate(api, [unit(ring, save_detected_map=False)], steps=steps)
        assert np.array_equal(pixels(cell), pixels(alone["images"][0]))
