"""The styles editor and the prompt row's tools in a real browser, as a user drives them: create a
style in the 🖌️ dialog and read it back through /sdapi/v1/prompt-styles, see it in the other tab's
dropdown, apply it to the prompt, delete it; 🗑️ clears the prompts after the confirmation.

Every wait is bounded (Playwright's expect()); a step waits for what the UI shows when the server
has answered (the Delete button appears once a save is done), never for an amount of time."""
from __future__ import annotations

import csv
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from tests.browser.test_ui_browser import expect

pytestmark = pytest.mark.browser

NAME = 'Frame, "quoted"'     # a comma and quotes: must round-trip through styles.csv


def api_styles(base: str) -> dict[str, dict]:
    return {s["name"]: s for s in httpx.get(base + "/sdapi/v1/prompt-styles", timeout=30).json()}


def page_config(base: str) -> dict:
    return httpx.get(base + "/config", timeout=30).json()


def open_dialog(page, tab: str = "txt2img"):
    page.locator(f"#{tab}_styles_edit_button").click()
    dialog = page.locator(f".global-popup-inner > #{tab}_styles_dialog")
    expect(dialog).to_be_visible()
    return dialog


def pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.locator(f"#{elem_id}").get_by_role("option", name=option, exact=True).click()


@contextmanager
def answering_dialogs(page, *answers: bool) -> Iterator[list[str]]:
    """The page's confirm() boxes answered in turn (True: OK) while inside; yields their messages."""
    seen: list[str] = []

    def on_dialog(dialog) -> None:
        seen.append(dialog.message)
        (dialog.accept if len(seen) <= len(answers) and answers[len(seen) - 1] else dialog.dismiss)()

    page.on("dialog", on_dialog)
    try:
        yield seen
    finally:
        page.remove_listener("dialog", on_dialog)


def wait_until(page, predicate, timeout_ms: int = 30_000) -> None:
    """Until `predicate()` holds (the page's events are handled meanwhile); bounded."""
    for _ in range(timeout_ms // 50):
        if predicate():
            return
        page.wait_for_timeout(50)
    assert predicate(), "the page did not get there"


def test_styles_editor_and_the_prompt_tools(page, webui_server):
    """One page for the whole round (a page load is the costly part): a bad name is refused, a style
    is created, listed everywhere, applied, deleted; 🗑️ asks before it clears the prompts."""
    base = webui_server.base
    before = api_styles(base)
    assert NAME not in before
    open_dialog(page)
    name_box = page.locator("#txt2img_styles_edit_select input")
    expect(page.locator("#txt2img_edit_style_save")).to_be_hidden()          # no name, nothing to save
    name_box.fill("   ")
    name_box.press("Enter")
    expect(page.locator("#txt2img_edit_style_save")).to_be_hidden()          # only spaces: still nothing
    name_box.fill("#not a style")      # styles.csv would read it back as a comment: refused, with the reason
    name_box.press("Enter")
    page.locator("#txt2img_edit_style_save").click()
    expect(page.get_by_text("cannot start with '#'")).to_be_visible()
    assert api_styles(base) == before

    name_box.fill(NAME)
    name_box.press("Enter")
    expect(page.locator("#txt2img_edit_style_save")).to_be_visible()
    expect(page.locator("#txt2img_edit_style_delete")).to_be_hidden()        # a new style: nothing to delete yet
    page.locator("#txt2img_edit_style_prompt textarea").fill("masterpiece, {prompt}, 4k")
    page.locator("#txt2img_edit_style_neg_prompt textarea").fill("blurry")
    page.locator("#txt2img_edit_style_save").click()
    expect(page.locator("#txt2img_edit_style_delete")).to_be_visible()       # the save is done
    assert api_styles(base)[NAME] == {"name": NAME, "prompt": "masterpiece, {prompt}, 4k", "negative_prompt": "blurry"}
    with open(webui_server.data / "styles.csv", encoding="utf-8-sig", newline="") as f:
        assert {"name": NAME, "prompt": "masterpiece, {prompt}, 4k", "negative_prompt": "blurry"} in list(
            csv.DictReader(f))
    # a page opened from now on lists it too (gradio serves every page the config made at start; the
    # lists are refreshed by an event that follows the save)
    def listed() -> bool:
        choices = {c["props"].get("elem_id"): c["props"].get("choices") for c in page_config(base)["components"]}
        return [NAME, NAME] in choices["txt2img_styles"] and [NAME, NAME] in choices["img2img_styles_edit_select"]
    wait_until(page, listed)
    page.locator("#txt2img_edit_style_close").click()
    expect(page.locator(".global-popup")).to_be_hidden()

    # the other tab's dropdown lists it too, without a page reload
    page.get_by_role("tab", name="img2img").click()
    page.locator("#img2img_styles input").click()
    expect(page.locator("#img2img_styles").get_by_role("option", name=NAME, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="txt2img").click()

    # 📋 writes the selected style into the prompts and empties the selection
    page.locator("#txt2img_prompt textarea").fill("a cat")
    pick(page, "txt2img_styles", NAME)
    page.keyboard.press("Escape")
    expect(page.locator("#txt2img_styles .token")).to_have_count(1)
    page.locator("#txt2img_style_apply").click()
    expect(page.locator("#txt2img_prompt textarea")).to_have_value("masterpiece, a cat, 4k")
    expect(page.locator("#txt2img_neg_prompt textarea")).to_have_value("blurry")
    expect(page.locator("#txt2img_styles .token")).to_have_count(0)
    expect(page.locator("#txt2img_token_counter")).to_contain_text("/75")

    # Delete asks first; cancelling keeps the style, accepting removes it
    open_dialog(page)
    pick(page, "txt2img_styles_edit_select", NAME)
    expect(page.locator("#txt2img_edit_style_prompt textarea")).to_have_value("masterpiece, {prompt}, 4k")
    with answering_dialogs(page, False, True) as confirms:
        page.locator("#txt2img_edit_style_delete").click()
        wait_until(page, lambda: len(confirms) == 1)
        expect(page.locator("#txt2img_edit_style_delete")).to_be_visible()
        assert NAME in api_styles(base)
        page.locator("#txt2img_edit_style_delete").click()
        wait_until(page, lambda: len(confirms) == 2)
    assert confirms == [f"Delete style {NAME}?"] * 2
    expect(page.locator("#txt2img_edit_style_delete")).to_be_hidden()
    expect(page.locator("#txt2img_edit_style_prompt textarea")).to_have_value("")
    assert NAME not in api_styles(base)
    choices = {c["props"].get("elem_id"): c["props"].get("choices") for c in page_config(base)["components"]}
    assert [NAME, NAME] not in choices["txt2img_styles"]
    page.locator("#txt2img_styles_edit_select input").click()
    expect(page.locator("#txt2img_styles_edit_select").get_by_role("option", name=NAME, exact=True)).to_have_count(0)

    # 🗑️ clears both prompts once the user confirms
    page.keyboard.press("Escape")
    expect(page.locator(".global-popup")).to_be_hidden()
    page.locator("#txt2img_prompt textarea").fill("keep me")
    page.locator("#txt2img_neg_prompt textarea").fill("and me")
    with answering_dialogs(page, False, True) as confirms:
        page.locator("#txt2img_clear_prompt").click()
        wait_until(page, lambda: len(confirms) == 1)
        expect(page.locator("#txt2img_prompt textarea")).to_have_value("keep me")
        page.locator("#txt2img_clear_prompt").click()
        wait_until(page, lambda: len(confirms) == 2)
    assert confirms == ["Delete prompt?"] * 2
    expect(page.locator("#txt2img_prompt textarea")).to_have_value("")
    expect(page.locator("#txt2img_neg_prompt textarea")).to_have_value("")
    expect(page.locator("#txt2img_token_counter")).to_contain_text("0/75")
