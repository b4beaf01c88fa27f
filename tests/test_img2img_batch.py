"""img2img's Batch mode: the plan of requests (masks by file name, PNG info, output names, one seed for
the batch) and a run through the UI's batch function on the real queue, writing into the output folder."""
from __future__ import annotations

import asyncio

from PIL import Image, PngImagePlugin

from sdwebui.services import img2img_batch


def _png(path, color, infotext: str | None = None) -> None:
    info = None
    if infotext:
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", infotext)
    Image.new("RGB", (64, 64), color).save(path, pnginfo=info)


def _read(path):
    with Image.open(path) as im:
        return im.info.get("parameters")


def _parse(text: str) -> dict:
    from sdwebui.interfaces.ui.pnginfo import parse_for_paste

    return parse_for_paste(text)


def test_plan_masks_png_info_output_names_and_one_seed(tmp_path, api):
    inputs, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    for d in (inputs, masks):
        d.mkdir()
    _png(inputs / "a.png", (200, 0, 0), "a cat\nNegative prompt: blur\nSteps: 7, Seed: 42, CFG scale: 5, "
                                       "Model hash: feedbeef")
    _png(inputs / "b.png", (0, 200, 0))
    Image.new("RGB", (64, 64)).save(inputs / "c.jpg")
    (inputs / "notes.txt").write_text("not an image")
    _png(masks / "a.png", (255, 255, 255))
    _png(masks / "c.png", (255, 255, 255))
    base = {"prompt": "oil painting", "negative_prompt": "", "seed": -1, "steps": 20, "cfg_scale": 7}
    settings = img2img_batch.BatchSettings(input_dir=str(inputs), output_dir=str(out), mask_dir=str(masks),
                                           use_png_info=True, png_info_props=["Prompt", "Seed", "Model hash"])
    items = list(img2img_batch.plan(base, settings, read_infotext=_read, parse=_parse,
                                    match_checkpoint=lambda h: "alpha.safetensors [feedbeef]" if h == "feedbeef" else None))
    # b.png has no mask of its name (and the folder holds two): skipped, as in A1111
    assert [(i.image.name, i.mask.name) for i in items] == [("a.png", "a.png"), ("c.jpg", "c.png")]
    a, c = (i.values for i in items)
    assert a["prompt"] == "oil painting a cat" and a["seed"] == 42 and a["steps"] == 20   # Steps not asked for
    assert a["negative_prompt"] == "" and a["cfg_scale"] == 7
    assert a["override_settings"]["sd_model_checkpoint"] == "alpha.safetensors [feedbeef]"
    assert a["override_settings"]["samples_filename_pattern"] == "a"
    assert c["override_settings"]["outdir_img2img_samples"] == str(out) and c["override_settings"]["save_to_dirs"] is False
    # no PNG info in c.jpg: the batch's one seed, fixed before the first image
    assert c["prompt"] == "oil painting" and isinstance(c["seed"], int) and c["seed"] >= 0
    several = list(img2img_batch.plan({**base, "seed": 5, "batch_size": 2},
                                      img2img_batch.BatchSettings(input_dir=str(inputs), output_dir=str(out)),
                                      read_infotext=_read, parse=_parse, match_checkpoint=lambda h: None))
    assert [i.values["seed"] for i in several] == [5, 5, 5]
    assert several[0].values["override_settings"]["samples_filename_pattern"] == "a-[generation_number]"


def test_batch_from_the_ui_writes_the_output_folder(tmp_path, api):
    from sdwebui.interfaces.ui import img2img as img2img_ui

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _png(inputs / "first.png", (200, 0, 0))
    _png(inputs / "second.png", (0, 0, 200))
    values = {"prompt": "a boat", "steps": 3, "width": 64, "height": 64, "seed": 11, "denoising_strength": 0.5,
              "save_images": True, "sampler_name": "Euler"}

    async def drain():
        last = None
        async for last in img2img_ui.run_batch(values, {"batch_input": str(inputs), "batch_output": str(out)},
                                               None, None):
            pass
        return last

    gallery, info, _ = asyncio.run(drain())
    assert len(gallery) == 2
    # named after the input files (with A1111's save_images_add_number prefix), straight in the folder
    written = sorted(p.name for p in out.iterdir())
    assert written == ["00000-first.png", "00001-second.png"]
    assert all("Seed: 11" in _read(out / name) for name in written)
