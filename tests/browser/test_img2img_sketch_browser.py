"""img2img's Sketch and Inpaint sketch tabs in a real browser: draw on an uploaded picture, generate,
and the job is an img2img one (Sketch) or an inpainting one with the painted mask (Inpaint sketch)."""
from __future__ import annotations

import pytest
from PIL import Image

pytestmark = pytest.mark.browser


def sketch_and_generate(page, tab_title: str, editor_id: str, picture) -> str:
    from playwright.sync_api import expect

    page.locator("#tabs").get_by_role("tab", name="img2img", exact=True).click()
    page.locator("#mode_img2img").get_by_role("tab", name=tab_title, exact=True).click()
    editor = page.locator(f"#{editor_id}")
    # as a user sees it: the editor's two canvases are drawn (its asynchronous set-up is done; an
    # earlier upload is held by javascript/image_editor_ready.js)
    expect(editor.locator(".pixi-target canvas")).to_have_count(1)
    expect(editor.locator(".pixi-target-crop canvas")).to_have_count(1)
    editor.locator("input[type=file]").set_input_files(str(picture))
    canvas = editor.locator("canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.wait_for_timeout(500)        # the editor draws the picture before it takes strokes
    page.mouse.move(x - 30, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=8)
    page.mouse.up()
    steps = page.locator("#img2img_steps input[type=number]")
    steps.fill("3")
    steps.press("Enter")
    page.locator("#img2img_generate").click()
    expect(page.locator("#html_info_img2img")).to_contain_text("Steps:", timeout=120_000)
    return page.locator("#html_info_img2img").inner_text()


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    path = tmp_path_factory.mktemp("sketch") / "blue.png"
    Image.new("RGB", (64, 64), (20, 40, 160)).save(path)
    return path


def test_inpaint_sketch_sends_the_painted_mask(page, picture):
    from playwright.sync_api import expect

    info = sketch_and_generate(page, "Inpaint sketch", "inpaint_sketch", picture)
    assert "Mask blur: 4" in info and "Denoising strength: 0.75" in info
    expect(page.locator("#img2img_mask_alpha")).to_be_visible()     # only this mode has it
    page.locator("#mode_img2img").get_by_role("tab", name="img2img", exact=True).click()
    expect(page.locator("#img2img_mask_alpha")).to_be_hidden()


def test_sketch_is_img2img_from_the_drawn_picture(page, picture):
    info = sketch_and_generate(page, "Sketch", "img2img_sketch", picture)
    assert "Denoising strength: 0.75" in info and "Mask blur" not in info


def test_a_picture_given_before_the_editor_is_set_up_is_kept(page, picture):
    """gradio's editor sets itself up asynchronously when first shown (on a busy machine that takes a
    while); a file chosen (Sketch) or dropped (Inpaint sketch) before then waits, then goes to the
    editor: no error, and each generation runs from its picture. The editors' set-up is held here by
    holding their WebGL renderer's script."""
    from playwright.sync_api import expect

    held = []
    page.route("**/WebGLRenderer-*.js", lambda route: held.append(route))
    page.locator("#tabs").get_by_role("tab", name="img2img", exact=True).click()
    page.locator("#mode_img2img").get_by_role("tab", name="Sketch", exact=True).click()
    page.wait_for_function("() => document.querySelector('#img2img_sketch .pixi-target') !== null")
    page.wait_for_timeout(300)            # room for the renderer's script to be asked for (and held)
    assert held, "the editor's renderer script was not requested (loaded before?)"
    sketch = page.locator("#img2img_sketch")
    sketch.locator("input[type=file]").set_input_files(str(picture))
    page.locator("#mode_img2img").get_by_role("tab", name="Inpaint sketch", exact=True).click()
    page.wait_for_function("() => document.querySelector('#inpaint_sketch .pixi-target') !== null")
    inpaint = page.locator("#inpaint_sketch")
    # a drop onto the editor's upload area, as a file dragged from the desktop
    page.evaluate("""async (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "blue.png", {type: "image/png"}));
        const zone = document.querySelector("#inpaint_sketch input[type=file]").parentElement;
        for (const type of ["dragenter", "dragover", "drop"])
            zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
    }""", list(picture.read_bytes()))
    page.wait_for_timeout(300)            # gradio would take the files now (its error is what is checked)
    assert sketch.locator("canvas").count() == 0 and inpaint.locator("canvas").count() == 0
    assert not page.console_log.errors
    for route in held:
        route.continue_()
    expect(inpaint.locator(".pixi-target canvas")).to_have_count(1)
    steps = page.locator("#img2img_steps input[type=number]")
    steps.fill("2")
    steps.press("Enter")
    page.locator("#img2img_generate").click()
    expect(page.locator("#html_info_img2img")).to_contain_text("Mask blur: 4", timeout=120_000)
    page.locator("#mode_img2img").get_by_role("tab", name="Sketch", exact=True).click()
    expect(sketch.locator(".pixi-target canvas")).to_have_count(1)
    page.locator("#img2img_generate").click()
    expect(page.locator("#html_info_img2img")).not_to_contain_text("Mask blur", timeout=120_000)
    expect(page.locator("#html_info_img2img")).to_contain_text("Denoising strength: 0.75")


def test_detect_size_and_resize_by_scale_the_source_image(page, tmp_path):
    """📐 copies the current tab's image size into Width/Height; "Resize by" generates at the image's size
    times the scale (and shows it), as in A1111."""
    from playwright.sync_api import expect

    picture = tmp_path / "wide.png"
    Image.new("RGB", (96, 64), (160, 40, 20)).save(picture)
    page.locator("#tabs").get_by_role("tab", name="img2img", exact=True).click()
    page.locator("#img2img_image input[type=file]").set_input_files(str(picture))
    expect(page.locator("#img2img_image img").first).to_be_visible()
    page.locator("#img2img_detect_image_size_btn").click()
    expect(page.locator("#img2img_width input[type=number]")).to_have_value("96")
    expect(page.locator("#img2img_height input[type=number]")).to_have_value("64")
    page.locator("#img2img_tabs_resize").get_by_role("tab", name="Resize by", exact=True).click()
    scale = page.locator("#img2img_scale input[type=number]")
    scale.fill("1.5")
    scale.press("Enter")
    expect(page.locator("#img2img_scale_resolution_preview")).to_contain_text("from 96x64 to 144x96")
    steps = page.locator("#img2img_steps input[type=number]")
    steps.fill("2")
    steps.press("Enter")
    page.locator("#img2img_generate").click()
    expect(page.locator("#html_info_img2img")).to_contain_text("Size: 144x96", timeout=120_000)


def test_copy_image_to_another_mode(page, picture):
    """A1111's "Copy image to:" row: the img2img picture goes to Sketch, whose tab opens, and a Sketch
    generation runs from it."""
    from playwright.sync_api import expect

    page.locator("#tabs").get_by_role("tab", name="img2img", exact=True).click()
    page.locator("#img2img_image input[type=file]").set_input_files(str(picture))
    expect(page.locator("#img2img_image img").first).to_be_visible()
    page.locator("#img2img_copy_to_sketch").click()
    expect(page.locator("#mode_img2img").get_by_role("tab", name="Sketch", exact=True)).to_have_attribute(
        "aria-selected", "true")
    expect(page.locator("#img2img_mask_alpha")).to_be_hidden()
    steps = page.locator("#img2img_steps input[type=number]")
    steps.fill("2")
    steps.press("Enter")
    page.locator("#img2img_generate").click()
    info = page.locator("#html_info_img2img")
    expect(info).to_contain_text("Denoising strength: 0.75", timeout=120_000)
    assert "Mask blur" not in info.inner_text()
    # onwards from Sketch to Inpaint sketch: that mode's own control (mask transparency) comes with it
    page.locator("#img2img_img2img_sketch_tab #img2img_copy_to_inpaint_sketch").click()
    expect(page.locator("#mode_img2img").get_by_role("tab", name="Inpaint sketch", exact=True)).to_have_attribute(
        "aria-selected", "true")
    expect(page.locator("#img2img_mask_alpha")).to_be_visible()
