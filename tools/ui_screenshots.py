"""Takes the README's screenshots of the UI panels (docs/screenshots/*.png) from a real server on a
scratch data dir and Debian's Chromium: the Extra Networks cards and their editor, hires fix and the
refiner after a generation, Inpaint sketch, soft inpainting, the Generate forever menu, and the
txt2img tab on a phone-sized screen.

    python tools/ui_screenshots.py [--out docs/screenshots]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _previews(folder: Path) -> None:
    """Three small LoRA files with gradient previews, descriptions and user metadata."""
    import torch
    from PIL import Image, ImageDraw
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    looks = {"watercolor_v2": ((40, 90, 200), (250, 200, 120), "Soft watercolor washes"),
             "ink_sketch": ((20, 20, 20), (230, 230, 230), "Black ink line art"),
             "sunset_palette": ((250, 90, 40), (90, 20, 120), "Warm evening colours")}
    key = "lora_unet_down_blocks_0_attentions_0_proj_in"
    for name, (a, b, text) in looks.items():
        tensors = {f"{key}.lora_down.weight": torch.zeros(2, 8), f"{key}.lora_up.weight": torch.zeros(8, 2)}
        save_file(tensors, str(folder / f"{name}.safetensors"), metadata={
            "ss_output_name": name, "ss_tag_frequency": json.dumps({"set": {name.split("_")[0]: 12, "scenery": 5}})})
        image = Image.new("RGB", (192, 256))
        draw = ImageDraw.Draw(image)
        for y in range(256):
            t = y / 255
            draw.line([(0, y), (192, y)], fill=tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3)))
        image.save(folder / f"{name}.png")
        (folder / f"{name}.json").write_text(json.dumps({"description": text, "activation text": name.split("_")[0],
                                                         "preferred weight": 0.8}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright
    from PIL import Image

    from tests.server_process import running_server

    data = Path(tempfile.mkdtemp(prefix="webui-shots-"))
    _previews(data / "models" / "Lora")
    picture = data / "picture.png"
    Image.new("RGB", (64, 64), (30, 60, 150)).save(picture)
    args = ["--headless", "--no-sandbox", "--disable-gpu"]
    with running_server(data, ["--api"], ready_path="/internal/ping") as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(120_000)
        page.goto(srv.base + "/")
        page.locator("#txt2img_generate").wait_for(state="visible")

        page.locator("#txt2img_extra_tabs").get_by_role("tab", name="Lora", exact=True).click()
        page.locator('#txt2img_lora_cards .card[data-name="ink_sketch"]').wait_for()
        page.locator("#txt2img_prompt textarea").fill("a lighthouse on a cliff")
        page.locator('#txt2img_lora_cards .card[data-name="watercolor_v2"]').click()
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "extra-networks.png"))
        card = page.locator('#txt2img_lora_cards .card[data-name="watercolor_v2"]')
        card.hover()
        card.locator(".edit-button").click()
        page.locator(".global-popup-inner > #txt2img_lora_edit_user_metadata").wait_for()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "extra-networks-edit.png"))
        page.keyboard.press("Escape")

        page.locator("#txt2img_extra_tabs").get_by_role("tab", name="Generation", exact=True).click()
        page.locator("#txt2img_prompt textarea").fill("a lighthouse on a cliff")
        page.locator("#txt2img_hr").locator("button, .label-wrap").first.click()
        page.locator("#txt2img_enable_hr input").check()
        page.locator("#script_txt2img_refiner").locator("button, .label-wrap").first.click()
        page.locator("#txt2img_steps input[type=number]").fill("8")
        page.locator("#txt2img_steps input[type=number]").press("Enter")
        page.locator("#txt2img_generate").click()
        page.locator("#html_info_txt2img").get_by_text("Hires upscale").wait_for()
        page.locator("#txt2img_hr").scroll_into_view_if_needed()
        page.screenshot(path=str(out / "hires-refiner.png"))

        page.locator("#txt2img_generate").scroll_into_view_if_needed()
        page.locator("#txt2img_generate").click(button="right")
        page.locator("#context-menu").wait_for()
        page.screenshot(path=str(out / "generate-forever.png"), clip={"x": 640, "y": 0, "width": 640, "height": 400})
        page.mouse.click(10, 10)

        page.locator("#tabs").get_by_role("tab", name="img2img", exact=True).click()
        page.locator("#mode_img2img").get_by_role("tab", name="Inpaint sketch", exact=True).click()
        editor = page.locator("#inpaint_sketch")
        editor.locator("input[type=file]").set_input_files(str(picture))
        box = editor.locator("canvas").first.bounding_box()
        page.wait_for_timeout(800)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 60, y - 20)
        page.mouse.down()
        page.mouse.move(x + 60, y + 20, steps=12)
        page.mouse.up()
        page.locator("#img2img_prompt textarea").fill("a red boat")
        page.locator("#img2img_steps input[type=number]").fill("8")
        page.locator("#img2img_steps input[type=number]").press("Enter")
        page.locator("#img2img_generate").click()
        page.locator("#html_info_img2img").get_by_text("Mask blur").wait_for()
        page.screenshot(path=str(out / "inpaint-sketch.png"))

        soft = page.locator("#soft_inpainting_enabled")
        soft.scroll_into_view_if_needed()
        soft.locator("button, .label-wrap").first.click()     # opening the accordion turns it on
        page.locator("#img2img_generate").click()
        page.locator("#html_info_img2img").get_by_text("Soft inpainting enabled").wait_for()
        soft.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "soft-inpainting.png"))

        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                 has_touch=True)
        phone.set_default_timeout(120_000)
        phone.goto(srv.base + "/")
        phone.locator("#txt2img_prompt textarea").fill("a lighthouse on a cliff")
        phone.locator("#txt2img_generate").tap()
        phone.locator("#html_info_txt2img").get_by_text("lighthouse").wait_for()
        phone.locator("#txt2img_prompt").scroll_into_view_if_needed()
        phone.screenshot(path=str(out / "phone.png"))
        browser.close()
    print("screenshots in", out)


if __name__ == "__main__":
    main()
