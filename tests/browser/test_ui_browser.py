"""The txt2img UI in a real browser, as a user drives it: load, generate, same seed same image,
progress and Interrupt, the checkpoint quicksetting, dark mode.

Every wait is bounded (Playwright's auto-waiting expect() with a timeout); nothing relies on how
fast the machine is for its verdict.
"""
from __future__ import annotations

import io
import re
import time

import httpx
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

GENERATE_TIMEOUT_MS = 120_000     # a 64x64 image takes well under a second on 2 CPU cores


def expect(*args, **kwargs):
    from playwright.sync_api import expect as _expect

    return _expect(*args, **kwargs)


def set_number(page, elem_id: str, value: int) -> None:
    """Type into the number box of a slider or number field and leave it, as a user does."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")
    expect(box).to_have_value(str(value))


def set_slider(page, elem_id: str, value: int) -> None:
    set_number(page, elem_id, value)
    expect(page.locator(f"#{elem_id} input[type=range]")).to_have_value(str(value))


def fill_txt2img(page, *, prompt: str, steps: int, seed: int, size: int = 64, batch_count: int = 1) -> None:
    page.locator("#txt2img_prompt textarea").fill(prompt)
    set_slider(page, "txt2img_width", size)
    set_slider(page, "txt2img_height", size)
    set_slider(page, "txt2img_steps", steps)
    if batch_count != 1:
        set_slider(page, "txt2img_batch_count", batch_count)
    set_number(page, "txt2img_seed", seed)


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in the dropdown `elem_id`, as a user does. The option is looked up in that dropdown's
    own list: another dropdown's list may still be open (closing animates), offering the same names."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.locator(f"#{elem_id}").get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def gallery_images(page):
    return page.locator("#txt2img_gallery img")


def wait_for_result(page, *, seed: int, size: int = 64) -> None:
    """The infotext comes with the job's result (the gallery may show live previews before it);
    a fresh page has none, so once it names the seed the gallery shows this job's images."""
    info = page.locator("#html_info_txt2img")
    expect(info).to_contain_text(f"Seed: {seed}", timeout=GENERATE_TIMEOUT_MS)
    expect(info).to_contain_text(f"Size: {size}x{size}")
    job_over(page)
    expect(gallery_images(page).first).to_be_visible()


def job_over(page, tab: str = "txt2img") -> None:
    """The page's progress bar and live preview are gone, and Interrupt/Skip hidden again."""
    expect(page.locator(f"#{tab}_results .progressDiv")).to_have_count(0)
    expect(page.locator(f"#{tab}_results .livePreview")).to_have_count(0)
    expect(page.locator(f"#{tab}_interrupt")).to_be_hidden()
    expect(page.locator(f"#{tab}_skip")).to_be_hidden()


def image_bytes(page) -> bytes:
    """The PNG the gallery shows, fetched from the server like the browser did (same cookies)."""
    src = gallery_images(page).first.get_attribute("src")
    assert src, "gallery image has no src"
    response = page.request.get(src, timeout=30_000)
    assert response.ok, f"GET {src}: {response.status}"
    return response.body()


def generate_in_new_page(open_ui, **values) -> bytes:
    """A fresh page each time (navigating away from a page drops gradio's open stream, which
    its client logs as a console error), so its gallery and infotext start empty."""
    page = open_ui()
    fill_txt2img(page, **values)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=values["seed"], size=values.get("size", 64))
    data = image_bytes(page)
    page.console_log.check()
    return data


def default_title(base: str) -> str:
    models = httpx.get(base + "/sdapi/v1/sd-models", timeout=30).json()
    assert [m["model_name"] for m in models] == ["tiny-default-sd1"], models
    return models[0]["title"]


def luminance(css_colour: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


# ---------------------------------------------------------------------------------------------


def test_page_loads_with_the_txt2img_tab_and_no_console_errors(open_ui):
    started = time.monotonic()
    page = open_ui()                # waits (bounded) for the UI to be rendered
    load_s = time.monotonic() - started
    assert page.title() == "Stable Diffusion"
    tab = page.get_by_role("tab", name="txt2img")
    expect(tab).to_be_visible()
    expect(tab).to_have_attribute("aria-selected", "true")
    for elem_id in ("txt2img_prompt", "txt2img_neg_prompt", "txt2img_generate",
                    "txt2img_gallery", "txt2img_steps", "txt2img_width", "txt2img_height", "txt2img_seed",
                    "setting_sd_model_checkpoint"):
        expect(page.locator(f"#{elem_id}")).to_be_visible()
    expect(page.locator("#txt2img_generate")).to_have_text("Generate")
    # as in A1111, Interrupt and Skip appear only while a job runs
    expect(page.locator("#txt2img_interrupt")).to_be_hidden()
    expect(page.locator("#txt2img_skip")).to_be_hidden()
    # the layout fits a 1280 px wide window: no horizontal scrolling
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the 1280px window"
    # (no "networkidle": gradio keeps a stream open) fonts are the last thing a page fetches
    page.wait_for_load_state("load")
    assert page.evaluate("document.fonts.ready.then(() => document.fonts.status)") == "loaded"
    print(f"UI rendered in {load_s:.1f}s")
    page.console_log.check()


def test_generate_shows_image_and_infotext(page, webui_server, tmp_path):
    fill_txt2img(page, prompt="a red circle on a blue background", steps=4, seed=123)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=123)
    shot = tmp_path / "txt2img-after-generation.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    info = page.locator("#html_info_txt2img")
    expect(info).to_contain_text("a red circle on a blue background")
    expect(info).to_contain_text("Steps: 4")
    expect(info).to_contain_text("Model: tiny-default-sd1")
    image = Image.open(io.BytesIO(image_bytes(page)))
    assert image.format == "PNG" and image.size == (64, 64)
    box = gallery_images(page).first.bounding_box()
    assert box and box["width"] > 32 and box["height"] > 32, f"gallery image is not shown at a usable size: {box}"
    # the quicksettings bar still names the model
    expect(page.locator("#setting_sd_model_checkpoint input")).to_have_value(default_title(webui_server.base))


def test_same_seed_gives_the_same_image(open_ui):
    values = dict(prompt="a green triangle", steps=4)
    first = generate_in_new_page(open_ui, seed=123, **values)
    page = open_ui()
    fill_txt2img(page, seed=123, **values)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=123)
    again = image_bytes(page)
    # the same page again, with the next seed: its infotext names the new seed once that job is done
    set_number(page, "txt2img_seed", 124)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=124)
    other = image_bytes(page)
    page.console_log.check()
    assert first == again, "the same seed and settings gave different image bytes"
    pixels = lambda data: Image.open(io.BytesIO(data)).convert("RGB").tobytes()  # noqa: E731
    assert pixels(first) != pixels(other), "a different seed gave the same picture"


def test_progress_is_shown_and_interrupt_stops_the_job(page, webui_server):
    # 100 images of 150 steps would run for minutes; only Interrupt can end it within the timeout
    batch_count = 100
    fill_txt2img(page, prompt="a long job", steps=150, seed=1000, batch_count=batch_count)
    page.locator("#txt2img_generate").click()
    try:
        # A1111's bar above the gallery: percent done and ETA, polled from /internal/progress
        progress = page.locator("#txt2img_results .progressDiv .progress")
        expect(progress).to_have_text(re.compile(r"\d+% ETA: "), timeout=60_000)
        expect(page.locator("#txt2img_skip")).to_be_visible()
        # the live preview over the gallery: asked for by the page's polls, made by the worker every
        # show_progress_every_n_steps (default 10) at the image's size
        preview = page.locator("#txt2img_results .livePreview img").last
        expect(preview).to_be_visible(timeout=60_000)
        page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=preview.element_handle())
        page.locator("#txt2img_interrupt").click()
        wait_for_result(page, seed=1000)
    except BaseException:
        # do not leave minutes of work on the shared server for the next tests
        httpx.post(webui_server.base + "/sdapi/v1/interrupt", timeout=10)
        raise
    expect(page.locator("#html_info_txt2img")).to_contain_text("Steps: 150")
    shown = gallery_images(page).count()
    assert 1 <= shown < batch_count, f"{shown} images: the job was not stopped early"


def test_checkpoint_dropdown_shows_the_default_model(page, webui_server):
    base = webui_server.base
    title = default_title(base)
    assert httpx.get(base + "/sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"] == title
    box = page.locator("#setting_sd_model_checkpoint input")
    expect(box).to_have_value(title)
    # the list offers it; picking it again (a round trip through the server) keeps it
    box.click()
    option = page.get_by_role("option", name=title)
    expect(option).to_be_visible()
    option.click()
    expect(page.get_by_role("option")).to_have_count(0)
    expect(box).to_have_value(title)
    assert httpx.get(base + "/sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"] == title


def test_dark_mode_follows_the_browser(open_ui):
    colours = {}
    for scheme in ("light", "dark"):
        page = open_ui(color_scheme=scheme)
        colours[scheme] = page.evaluate("""() => ({
            body: getComputedStyle(document.body).backgroundColor,
            text: getComputedStyle(document.querySelector('#txt2img_prompt textarea')).color})""")
        page.console_log.check()
    light, dark = colours["light"], colours["dark"]
    assert luminance(light["body"]) > 0.8, f"light page background is not light: {light}"
    assert luminance(dark["body"]) < 0.2, f"dark colour scheme did not give a dark background: {dark}"
    assert luminance(dark["text"]) > 0.7, f"dark mode text is not light: {dark}"


def test_ctrl_enter_in_the_prompt_generates(page):
    page.fill("#txt2img_prompt textarea", "a shortcut")
    page.fill("#txt2img_width input[type=number]", "64")
    page.fill("#txt2img_height input[type=number]", "64")
    page.fill("#txt2img_steps input[type=number]", "2")
    page.fill("#txt2img_seed input", "77")
    page.focus("#txt2img_prompt textarea")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#html_info_txt2img').innerText.includes('Seed: 77')",
                           timeout=60000)


def test_two_tabs_generating_at_once_each_get_their_own_result(open_ui):
    """Two users: A starts a longer job, B queues behind it; each sees only its own previews and
    result (the shared queue runs them one after the other)."""
    a, b = open_ui(), open_ui()
    fill_txt2img(a, prompt="first user", steps=60, seed=501, size=128)
    fill_txt2img(b, prompt="second user", steps=3, seed=502)
    a.locator("#txt2img_generate").click()
    b.locator("#txt2img_generate").click()
    wait_for_result(b, seed=502)
    wait_for_result(a, seed=501, size=128)
    assert "second user" not in a.locator("#html_info_txt2img").inner_text()
    assert "first user" not in b.locator("#html_info_txt2img").inner_text()
    from PIL import Image
    import io
    assert Image.open(io.BytesIO(image_bytes(a))).size == (128, 128)
    assert Image.open(io.BytesIO(image_bytes(b))).size == (64, 64)
    a.console_log.check()
    b.console_log.check()


def test_send_result_to_img2img(page):
    fill_txt2img(page, prompt="send me", steps=2, seed=808)
    page.locator("#txt2img_generate").click()
    wait_for_result(page, seed=808)
    page.locator("#txt2img_send_to_img2img").click()
    expect(page.locator("#img2img_prompt textarea")).to_have_value("send me")
    expect(page.locator("#img2img_image img").first).to_be_visible()
    page.locator("#img2img_generate").click()
    info = page.locator("#html_info_img2img")
    expect(info).to_contain_text("Denoising strength", timeout=GENERATE_TIMEOUT_MS)
    expect(info).to_contain_text("send me")


def test_token_counter_sits_in_the_prompt_box_corner(page):
    page.locator("#txt2img_prompt textarea").fill("a photo of a cat")
    counter = page.locator("#txt2img_token_counter")
    expect(counter).to_contain_text("5/75")
    box = page.locator("#txt2img_prompt").bounding_box()
    c = counter.bounding_box()
    assert box and c, "prompt box and counter are shown"
    # inside the prompt box, in its top-right corner (A1111's place for it)
    assert box["x"] + box["width"] / 2 < c["x"] and c["x"] + c["width"] <= box["x"] + box["width"] + 1
    assert box["y"] <= c["y"] < box["y"] + box["height"] / 2
    neg = page.locator("#txt2img_neg_prompt").bounding_box()
    n = page.locator("#txt2img_negative_token_counter").bounding_box()
    assert neg["y"] <= n["y"] < neg["y"] + neg["height"] / 2 and n["x"] > neg["x"] + neg["width"] / 2


def test_first_launch_starts_at_the_default_models_size(page):
    # the embedded default model draws at 64x64: a first-time user's first image is at its size
    for elem_id in ("txt2img_width", "txt2img_height"):
        expect(page.locator(f"#{elem_id} input[type=number]")).to_have_value("64")


def test_a_settings_section_shows_api_changes_when_opened_and_apply_keeps_them(page, webui_server):
    """A page opened before an API change: the Saving images section shows the new value when opened;
    Apply of another edit in it changes only that one (the API's change is not written back)."""
    base = webui_server.base
    before = httpx.get(base + "/sdapi/v1/options", timeout=30).json()
    quality = 81 if before["jpeg_quality"] != 81 else 82
    assert httpx.post(base + "/sdapi/v1/options", json={"jpeg_quality": quality}, timeout=60).status_code == 200
    try:
        page.locator("#tab_settings-button").click()
        page.locator("#settings_saving-images .label-wrap").first.click()
        expect(page.locator("#setting_jpeg_quality input[type=number]")).to_have_value(str(quality))
        # the API changes it again while the page shows the section; an Apply of another field keeps it
        assert httpx.post(base + "/sdapi/v1/options", json={"jpeg_quality": quality - 10},
                          timeout=60).status_code == 200
        name = page.locator("#setting_samples_filename_pattern textarea, #setting_samples_filename_pattern input").first
        name.fill("[seed]-browser")
        page.locator("#settings_submit").click()
        expect(page.locator("#settings_result")).to_contain_text("1 setting changed: samples_filename_pattern")
        after = httpx.get(base + "/sdapi/v1/options", timeout=30).json()
        assert after["samples_filename_pattern"] == "[seed]-browser" and after["jpeg_quality"] == quality - 10
        expect(page.locator("#setting_jpeg_quality input[type=number]")).to_have_value(str(quality - 10))
    finally:
        httpx.post(base + "/sdapi/v1/options", json={k: before[k] for k in ("jpeg_quality", "samples_filename_pattern")},
                   timeout=60)
