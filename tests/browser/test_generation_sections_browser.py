"""txt2img's "Hires. fix" and "Refiner" sections in a real browser: A1111's element ids, the target size
line, and a generation from each that gives the image size and infotext the API gives."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def open_section(page, elem_id: str):
    section = page.locator(f"#{elem_id}")
    section.locator("button, .label-wrap").first.click()
    return section


def generated_infotext(page) -> str:
    from playwright.sync_api import expect

    expect(page.locator("#html_info_txt2img")).to_contain_text("Steps:", timeout=120_000)
    return page.locator("#html_info_txt2img").inner_text()


def test_hires_fix_section_generates_the_upscaled_size(page):
    from playwright.sync_api import expect

    hires = open_section(page, "txt2img_hr")
    for elem_id in ("txt2img_hr_upscaler", "txt2img_hires_steps", "txt2img_denoising_strength", "txt2img_hr_scale",
                    "txt2img_hr_resize_x", "txt2img_hr_resize_y"):
        expect(page.locator(f"#{elem_id}")).to_be_visible()
    hires.locator("#txt2img_enable_hr input").check()
    # the target size follows the first pass's size and the scale (64x64 embedded default, x2)
    expect(page.locator("#txtimg_hr_finalres")).to_contain_text("from 64x64 to 128x128")
    page.locator("#txt2img_steps input[type=number]").fill("4")
    page.locator("#txt2img_steps input[type=number]").press("Enter")
    page.locator("#txt2img_hires_steps input[type=number]").fill("2")
    page.locator("#txt2img_hires_steps input[type=number]").press("Enter")
    page.locator("#txt2img_prompt textarea").fill("a green hill")
    page.locator("#txt2img_generate").click()
    info = generated_infotext(page)
    assert "Hires upscale: 2" in info and "Hires steps: 2" in info and "Hires upscaler: Latent" in info
    size = page.locator("#txt2img_gallery img").first.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == [128, 128]


def test_refiner_section_switches_model_for_the_last_steps(page, webui_server):
    from playwright.sync_api import expect

    refiner = open_section(page, "script_txt2img_refiner")
    enable = refiner.locator("#script_txt2img_refiner_enable input")
    expect(enable).not_to_be_checked()
    expect(page.locator("#script_txt2img_refiner_switch_at input[type=number]")).to_have_value("0.8")
    dropdown = page.locator("#script_txt2img_refiner_checkpoint input")
    dropdown.click()
    page.get_by_role("option").filter(has_text="tiny-default-sd1").first.click()
    expect(enable).to_be_checked()          # choosing a checkpoint turns the refiner on
    page.locator("#txt2img_steps input[type=number]").fill("4")
    page.locator("#txt2img_steps input[type=number]").press("Enter")
    page.locator("#txt2img_prompt textarea").fill("a green hill")
    page.locator("#txt2img_generate").click()
    info = generated_infotext(page)
    assert "Refiner: tiny-default-sd1" in info and "Refiner switch at: 0.8" in info


def _seed_shown(page) -> str | None:
    import re

    m = re.search(r"Seed: (\d+)", page.locator("#html_info_txt2img").inner_text())
    return m.group(1) if m else None


def test_generate_forever_from_the_context_menu(page):
    from playwright.sync_api import expect

    page.locator("#txt2img_steps input[type=number]").fill("2")
    page.locator("#txt2img_steps input[type=number]").press("Enter")
    page.locator("#txt2img_prompt textarea").fill("a yellow star")
    page.locator("#txt2img_generate").click(button="right")
    menu = page.locator("#context-menu")
    expect(menu).to_contain_text("Generate forever")
    expect(menu).to_contain_text("Cancel generate forever")
    menu.get_by_text("Generate forever", exact=True).click()
    # a first image, then another one (a new random seed) with no further click
    expect(page.locator("#html_info_txt2img")).to_contain_text("Seed:", timeout=120_000)
    first = _seed_shown(page)
    page.wait_for_function(
        "s => { const m = document.querySelector('#html_info_txt2img').innerText.match(/Seed: (\\d+)/);"
        " return m && m[1] !== s; }", arg=first, timeout=120_000)

    page.locator("#txt2img_generate").click(button="right")
    page.locator("#context-menu").get_by_text("Cancel generate forever", exact=True).click()
    # the job running now ends, and no other starts
    page.wait_for_function("() => !document.body.classList.contains('webui-generating-txt2img')", timeout=120_000)
    expect(page.locator("#html_info_txt2img")).to_contain_text("Seed:")
    last = _seed_shown(page)
    page.wait_for_timeout(1500)       # three times the menu's 0.5 s re-press period
    assert not page.evaluate("() => document.body.classList.contains('webui-generating-txt2img')")
    assert _seed_shown(page) == last and page.evaluate("() => generateOnRepeatInterval") is None
