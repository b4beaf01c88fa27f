"""The PNG Info and Extras tabs: built inside gr.Blocks, handlers called directly (no browser, no server)."""
from __future__ import annotations

import asyncio
import base64
import io

import gradio as gr
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from sdwebui.interfaces.ui import extras as extras_ui
from sdwebui.interfaces.ui import pnginfo as pnginfo_ui

SMALL = {"width": 64, "height": 64, "steps": 4, "cfg_scale": 7}


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def _noise(w: int = 40, h: int = 30, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


SCALE_BY, SCALE_TO = 0, 1   # the Upscale script's upscale_mode


def _extras(image=None, batch=None, *, tab=extras_ui.TAB_SINGLE, mode=SCALE_BY, scale=2.0,
            w=512, h=512, crop=True, up1="Nearest", up2="None", vis=0.0):
    from sdwebui.services.extensions.postprocessing_runner import scripts_postproc

    args = scripts_postproc.create_args_for_run({"Upscale": {
        "upscale_enabled": True, "upscale_mode": mode, "upscale_by": scale, "max_side_length": 0,
        "upscale_to_width": w, "upscale_to_height": h, "upscale_crop": crop, "upscaler_1_name": up1,
        "upscaler_2_name": up2, "upscaler_2_visibility": vis}})
    return asyncio.run(extras_ui.run_extras_ui(tab, image, batch, "", "", True, *args))


def _files(folder) -> set:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


@pytest.fixture(scope="module")
def generated(api) -> Image.Image:
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "a red <cat>, (fluffy:1.2)",
                                            "negative_prompt": "blurry", "seed": 1234,
                                            "sampler_name": "DPM++ 2M", "scheduler": "Karras"})
    assert r.status_code == 200, r.text
    return _decode(r.json()["images"][0])


def test_tabs_build(api):
    with gr.Blocks():
        with gr.Tabs():
            with gr.Tab("PNG Info", id="pnginfo", elem_id="tab_pnginfo"):
                png = pnginfo_ui.create_pnginfo_tab()
            with gr.Tab("Extras", id="extras", elem_id="tab_extras"):
                ext = extras_ui.create_extras_tab()
    assert png["image"].elem_id == "pnginfo_image"
    assert png["html_info"].elem_id == "html_info_pnginfo"
    assert png["generation_info"].elem_id == "pnginfo_generation_info"
    assert [b.elem_id for b in png["buttons"].values()] == ["txt2img_tab", "img2img_tab", "extras_tab"]
    assert png["send_to_txt2img"] is png["buttons"]["txt2img"]
    assert ext["image"].elem_id == "extras_image" and ext["image_batch"].elem_id == "extras_image_batch"
    assert ext["gallery"].elem_id == "extras_gallery" and ext["gallery"].format == "png"
    assert ext["upscaler_1"].elem_id == "extras_upscaler_1"
    choices = [c[0] if isinstance(c, tuple) else c for c in ext["upscaler_1"].choices]
    assert choices[:3] == ["None", "Lanczos", "Nearest"]
    for key in ("upscaling_resize", "upscaling_resize_w", "upscaling_resize_h", "upscaling_crop", "upscaler_2",
                "upscaler_2_visibility", "generate", "html_info"):
        assert ext[key].elem_id.startswith(("extras_", "html_info_extras")), key


def test_pnginfo_shows_infotext_and_pastes(generated):
    html, raw = pnginfo_ui.run_pnginfo(generated)
    assert raw.startswith("a red <cat>, (fluffy:1.2)\nNegative prompt: blurry\nSteps: 4")
    assert "Seed: 1234" in raw and "Size: 64x64" in raw
    assert "<b>parameters</b>" in html
    assert "a red &lt;cat&gt;" in html and "<cat>" not in html  # escaped, shown as text
    assert "Seed: 1234" in html

    d = pnginfo_ui.paste_fields(raw)
    assert d["prompt"] == "a red <cat>, (fluffy:1.2)" and d["negative_prompt"] == "blurry"
    assert d["seed"] == 1234 and d["steps"] == 4 and isinstance(d["steps"], int)
    assert (d["width"], d["height"]) == (64, 64)
    assert d["cfg_scale"] == 7.0 and isinstance(d["cfg_scale"], float)
    # DPM++ 2M's own default schedule is Karras, so pasting gives it back as "Automatic" (A1111's rule)
    assert d["sampler_name"] == "DPM++ 2M" and d["scheduler"] == "Automatic"
    assert d["enable_hr"] is False
    assert "override_settings" not in d  # clip skip 1 is the current setting: nothing to override


def test_paste_fields_rules(api):
    text = ("cat\nNegative prompt: dog\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 7, "
            "Size: 512x768, Clip skip: 2, Variation seed: 99, Variation seed strength: 0.25, "
            "Denoising strength: 0.4, Hires upscale: 1.5, Hires steps: 10, Hires upscaler: Lanczos")
    d = pnginfo_ui.paste_fields(text)
    assert (d["width"], d["height"]) == (512, 768)
    assert d["sampler_name"] == "DPM++ 2M" and d["scheduler"] == "Automatic"  # combined name split
    assert d["steps"] == 30 and d["cfg_scale"] == 6.5 and d["seed"] == 7
    assert d["subseed"] == 99 and d["subseed_strength"] == 0.25
    assert d["enable_hr"] is True and d["hr_scale"] == 1.5 and d["hr_upscaler"] == "Lanczos"
    assert d["hr_second_pass_steps"] == 10 and d["denoising_strength"] == 0.4
    assert (d["hr_resize_x"], d["hr_resize_y"]) == (0, 0)
    assert d["hr_sampler_name"] == "Use same sampler" and d["hr_scheduler"] == "Use same scheduler"
    assert d["override_settings"] == {"CLIP_stop_at_last_layers": 2}

    d = pnginfo_ui.paste_fields("cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, "
                                "Seed: 1, Size: 64x64, Denoising strength: 0.75")
    assert d["scheduler"] == "Automatic" and d["sampler_name"] == "Euler a"
    assert d["enable_hr"] is False  # a denoising strength alone (an img2img infotext) is not hires fix
    assert pnginfo_ui.paste_fields("") == {}


def test_pnginfo_without_parameters(api):
    html, raw = pnginfo_ui.run_pnginfo(_noise())
    assert raw == ""
    assert pnginfo_ui.NO_PARAMETERS_MESSAGE in html
    assert pnginfo_ui.run_pnginfo(None) == ("", "")

    # other metadata is still listed, escaped
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<b>hi</b>")
    buf = io.BytesIO()
    _noise().save(buf, format="PNG", pnginfo=info)
    html, raw = pnginfo_ui.run_pnginfo(Image.open(io.BytesIO(buf.getvalue())))
    assert raw == "" and pnginfo_ui.NO_PARAMETERS_MESSAGE in html
    assert "<b>Comment</b>" in html and "&lt;b&gt;hi&lt;/b&gt;" in html


def test_extras_single_nearest_x2_saves(api, generated):
    folder = extras_ui.extras_output_dir()
    before = _files(folder)
    gallery, html = _extras(generated, scale=2.0, up1="Nearest")
    assert len(gallery) == 1
    out = gallery[0][0]
    assert out.size == (128, 128)
    src = np.asarray(generated.convert("RGB"))
    assert np.array_equal(np.asarray(out.convert("RGB"))[::2, ::2], src)  # nearest: exact 2x2 blocks
    assert "Postprocess upscaler: Nearest" in html

    new = _files(folder) - before
    assert len(new) == 1, new
    path = new.pop()
    assert path.parent == folder and path.suffix == ".png"
    assert path.stem.isdigit() and len(path.stem) == 5  # A1111's NNNNN.png for extras
    saved = Image.open(path)
    assert saved.size == (128, 128)
    # the source's generation parameters survive, with A1111's postprocessing/extras chunks added
    assert saved.info["parameters"] == generated.info["parameters"]
    assert "Postprocess upscale by: 2" in saved.info["postprocessing"]
    assert saved.info["extras"] == saved.info["postprocessing"]


def test_extras_scale_to_and_batch(api, tmp_path):
    a, b = tmp_path / "first.png", tmp_path / "second.png"
    _noise(40, 30, seed=1).save(a)
    _noise(20, 20, seed=2).save(b)
    folder = extras_ui.extras_output_dir()
    before = _files(folder)
    gallery, _ = _extras(None, [str(a), str(b)], tab=extras_ui.TAB_BATCH, mode=SCALE_TO,
                         w=64, h=48, crop=True, up1="Lanczos")
    assert [g[0].size for g in gallery] == [(64, 48), (64, 48)]
    # batch files keep their own names (A1111's use_original_name_batch default)
    assert {p.name for p in _files(folder) - before} <= {"first.png", "second.png"}
    assert (folder / "first.png").is_file() and (folder / "second.png").is_file()


def test_extras_errors(api):
    with pytest.raises(gr.Error, match="nope"):
        _extras(_noise(), up1="nope")
    with pytest.raises(gr.Error, match="upscaler_2|nope2"):
        _extras(_noise(), up1="Nearest", up2="nope2", vis=0.5)
    with pytest.raises(gr.Error, match="No image"):
        _extras(None)
    with pytest.raises(gr.Error, match="No images"):
        _extras(None, [], tab=extras_ui.TAB_BATCH)


def test_hires_target_line_refiner_fields_and_their_paste(api):
    from sdwebui.interfaces.ui import generation_sections as sections

    assert sections.final_resolution(False, 512, 512, 2, 0, 0) == ""
    line = sections.final_resolution(True, 512, 768, 1.5, 0, 0)
    assert "512x768</span> to <span class='resolution'>768x1152" in line
    assert "to <span class='resolution'>1024x1024" in sections.final_resolution(True, 512, 768, 2, 1024, 1024)
    # the refiner's fields reach the request only with Enable ticked and a checkpoint chosen
    values = {"refiner_checkpoint": "alpha", "refiner_switch_at": 0.6}
    sections.apply_refiner(values, {"refiner_enable": False})
    assert values == {"refiner_checkpoint": None}
    values = {"refiner_checkpoint": "alpha", "refiner_switch_at": 0.6}
    sections.apply_refiner(values, {"refiner_enable": True})
    assert values == {"refiner_checkpoint": "alpha", "refiner_switch_at": 0.6}
    titles = sections.checkpoint_titles()
    alpha = next(t for t in titles if t.startswith("alpha"))
    # an infotext names a checkpoint "name [hash]": pasted, it becomes the title the dropdowns list
    d = pnginfo_ui.paste_fields("cat\nSteps: 5, Seed: 1, Size: 64x64, Refiner: alpha [" + alpha.split("[")[1]
                                + ", Refiner switch at: 0.6, Denoising strength: 0.5, Hires upscale: 2, "
                                  "Hires checkpoint: alpha")
    assert d["refiner_checkpoint"] == alpha and d["refiner_switch_at"] == 0.6
    assert d["hr_checkpoint_name"] == alpha


def test_sketch_values_become_the_init_image_and_mask():
    from sdwebui.interfaces.ui import img2img as img2img_ui

    background = Image.new("RGB", (16, 16), (0, 0, 255))
    stroke = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    for x in range(4, 12):
        stroke.putpixel((x, 8), (255, 0, 0, 255))
    composite = background.copy()
    composite.paste(stroke, mask=stroke)
    value = {"background": background, "layers": [stroke], "composite": composite}
    assert img2img_ui.image_from_sketch(value).getpixel((5, 8)) == (255, 0, 0)
    assert img2img_ui.image_from_sketch(None) is None
    image, mask = img2img_ui.inpaint_from_sketch(value, 0, 0)
    assert mask.getpixel((5, 8)) == 255 and mask.getpixel((5, 2)) == 0
    assert image.getpixel((5, 8)) == (255, 0, 0) and image.getpixel((5, 2)) == (0, 0, 255)
    # "Mask transparency" 50: half of the painted colour over the original, and a half-strength mask
    image, mask = img2img_ui.inpaint_from_sketch(value, 50, 0)
    assert mask.getpixel((5, 8)) in (127, 128) and 120 <= image.getpixel((5, 8))[0] <= 135
    # the mask blur softens where the colour goes in
    image, _ = img2img_ui.inpaint_from_sketch(value, 0, 2)
    assert 0 < image.getpixel((5, 9))[0] < 255
