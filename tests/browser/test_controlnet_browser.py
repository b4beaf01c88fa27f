"""ControlNet from the UI, as a user does it: open the txt2img ControlNet panel, upload a picture,
enable unit 0, pick canny, refresh the model list for a file just put in models/ControlNet, pick
it, preview the detected map, generate. The result differs from the same generation without it, the
gallery holds the detected map after the image, and the infotext has the unit's line."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.browser.test_extension_ui import payload_text

pytestmark = pytest.mark.browser
MODEL = "control_v11p_sd15_canny"


@pytest.fixture(scope="module")
def controlnet_for_the_default_model(webui_server):
    from sdwebui.engine.models.single_file import load_checkpoint
    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE, write_tiny_controlnet

    unet = load_checkpoint(DEFAULT_MODEL_FILE).unet
    path = write_tiny_controlnet(webui_server.data / "models" / "ControlNet" / f"{MODEL}.pth", unet, seed=4)
    yield path
    path.unlink()


def _choose(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    page.locator("ul[role='listbox'] li", has_text=value).first.click()


def _png(page, src: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"), dtype=np.int16)


def test_one_unit_from_the_ui_changes_the_result(page, webui_server, controlnet_for_the_default_model, tmp_path):
    from playwright.sync_api import expect

    picture = tmp_path / "ring.png"
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((12, 12, 52, 52), outline="black", width=5)
    image.save(picture)
    page.fill("#txt2img_prompt textarea", "a ring")
    for sel, value in (("#txt2img_steps input[type=number]", "4"), ("#txt2img_seed input[type=number]", "21")):
        page.fill(sel, value)
        page.press(sel, "Enter")
    page.locator("#txt2img_generate").click()
    info = page.locator("#html_info_txt2img")
    expect(info).to_contain_text("Seed: 21", timeout=120_000)
    plain = _png(page, page.locator("#txt2img_gallery img").first.get_attribute("src"))

    page.locator("#txt2img_controlnet .label-wrap").first.click()
    unit = "txt2img_controlnet_ControlNet-0"
    page.locator(f"#{unit}_input_image input[type=file]").set_input_files(str(picture))
    page.locator(f"#{unit}_controlnet_enable_checkbox input").check()
    _choose(page, f"{unit}_controlnet_preprocessor_dropdown", "canny")
    expect(page.locator(f"#{unit}_controlnet_threshold_A_slider")).to_contain_text("Low Threshold")
    page.locator(f"#{unit}_controlnet_refresh_models").click()
    _choose(page, f"{unit}_controlnet_model_dropdown", MODEL)
    page.locator(f"#{unit}_controlnet_trigger_preprocessor").click()
    expect(page.locator(f"#{unit}_generated_image img")).to_be_visible()

    page.locator("#txt2img_generate").click()
    expect(info).to_contain_text('ControlNet 0: "Module: canny', timeout=120_000)
    gallery = page.locator("#txt2img_gallery img")
    expect(gallery).to_have_count(2)                     # the image, then the detected map
    controlled = _png(page, gallery.first.get_attribute("src"))
    assert np.abs(controlled - plain).mean() > 1
    # the built-in API payload panel shows the unit as an API client would send it
    payload = json.loads(payload_text(page, webui_server.base, '"module": "canny"'))
    sent = payload["alwayson_scripts"]["ControlNet"]["args"][0]
    assert sent["enabled"] is True and sent["model"].startswith(MODEL) and sent["weight"] == 1
    assert sent["control_mode"] == "Balanced" and sent["image"] is not None
    assert payload["alwayson_scripts"]["ControlNet"]["args"][1:] == [None, None]    # units left off
