"""The txt2img output panel and the footer in a real browser, on one page (a page load costs
seconds): an empty output gallery before the first image (no upload zone), the footer's A1111
links and versions line with the start-up profile, a 64x64 image shown small (not stretched over
the column), and 💾 Save writing the image and offering it in the download files."""
from __future__ import annotations

import pytest

from tests.browser.test_ui_browser import expect, fill_txt2img, wait_for_result

pytestmark = pytest.mark.browser


def test_output_panel_footer_and_save(page, webui_server):
    gallery = page.locator("#txt2img_gallery")
    expect(gallery).to_be_visible()
    # output only: no file input, no "Drop Media Here - or - Click to Upload"
    expect(gallery.locator("input[type=file]")).to_have_count(0)
    expect(gallery).not_to_contain_text("Drop")
    expect(gallery).not_to_contain_text("Upload")
    buttons = page.locator("#image_buttons_txt2img button")
    expect(buttons).to_have_count(6)
    ids = [buttons.nth(i).get_attribute("id") for i in range(6)]
    assert ids == ["txt2img_open_folder", "save_txt2img", "save_zip_txt2img", "txt2img_send_to_img2img",
                   "txt2img_send_to_inpaint", "txt2img_send_to_extras"]

    footer = page.locator("#footer")
    for name in ("API", "Github", "Gradio", "Startup profile", "Reload UI"):
        expect(footer.get_by_role("link", name=name)).to_be_visible()
    expect(footer.get_by_role("link", name="API")).to_have_attribute("href", "./docs")    # started with --api
    for part in ("version:", "python:", "torch:", "diffusers:", "gradio:", "checkpoint:"):
        expect(footer.locator(".versions")).to_contain_text(part)
    expect(page.locator("footer")).to_have_count(0)            # gradio's own footer is switched off
    footer.get_by_role("link", name="Startup profile").click()
    expect(page.locator(".global-popup .startup-profile")).to_contain_text("create ui")
    page.keyboard.press("Escape")
    expect(page.locator(".global-popup")).to_be_hidden()

    fill_txt2img(page, prompt="small dots", steps=2, seed=880)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=880)
    image = gallery.locator("img").first
    box = image.bounding_box()
    assert box and 64 <= box["width"] <= 128 and 64 <= box["height"] <= 128, box

    page.locator("#save_txt2img").click()
    expect(page.locator("#html_log_txt2img")).to_contain_text("Saved:")
    download = page.locator("#download_files_txt2img")
    expect(download).to_be_visible()
    expect(download).to_contain_text(".png")
    saved = page.locator("#html_log_txt2img").inner_text().split("Saved:", 1)[1].strip()
    assert list(webui_server.data.rglob(saved)), f"{saved} not under {webui_server.data}"
