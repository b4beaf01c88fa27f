"""The page on a phone-sized screen (390x844, touch, as an iPhone 12-15 reports it): nothing wider than
the screen, the prompt and Generate reachable, a generation works with taps."""
from __future__ import annotations

import os

from playwright.sync_api import expect

KEY_PARTS = "#txt2img_prompt, #txt2img_generate, #txt2img_steps, #txt2img_gallery, #quicksettings, #tabs"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def test_the_page_works_on_a_phone_sized_screen(open_ui):
    page = open_ui(**PHONE)
    shot = os.environ.get("SD_WEBUI_PHONE_SHOT")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate("""sel => [...document.querySelectorAll(sel)]
        .map(e => [e.id || e.className, Math.round(e.getBoundingClientRect().right)])
        .filter(([, right]) => right > window.innerWidth + 1)""", KEY_PARTS)
    if shot:
        page.screenshot(path=shot, full_page=False)
    assert overflow <= 0, f"page is {overflow}px wider than the 390px screen"
    assert wide == [], f"controls past the screen's right edge: {wide}"
    prompt = page.locator("#txt2img_prompt textarea")
    prompt.tap()
    prompt.fill("a phone user's cat")
    generate = page.locator("#txt2img_generate")
    generate.scroll_into_view_if_needed()
    generate.tap()
    expect(page.locator("#html_info_txt2img")).to_contain_text("a phone user's cat", timeout=120_000)
    # the result is below the parameters on a phone: the user scrolls down to it (its image loads lazily)
    page.locator("#txt2img_gallery").scroll_into_view_if_needed()
    expect(page.locator("#txt2img_gallery img").first).to_be_visible()
    page.console_log.check()
