"""The Extra Networks panel in a real browser: the pages beside txt2img's Generation tab list what the
API lists, a LoRA card puts `<lora:name:weight>` and its activation text into the prompt and takes them
out again, Refresh finds files added while running, search / folder buttons / sort act on the cards,
the edit dialog writes A1111's user metadata JSON, Replace preview takes the last generated image, an
embedding card adds its name and a checkpoint card switches the model."""
from __future__ import annotations

import json
import shutil

import pytest
import requests
import torch
from PIL import Image
from safetensors.torch import save_file

pytestmark = pytest.mark.browser

TAGS = {"set": {"red fox": 5, "forest": 2}}


def write_lora(folder, name: str, **metadata) -> None:
    """A small kohya-layout LoRA file (listing reads only its header; it is not applied here)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = "lora_unet_down_blocks_0_attentions_0_proj_in"
    tensors = {f"{key}.lora_down.weight": torch.zeros(2, 8), f"{key}.lora_up.weight": torch.zeros(8, 2),
               f"{key}.alpha": torch.tensor(2.0)}
    save_file(tensors, str(folder / f"{name}.safetensors"),
              metadata={"ss_output_name": name, "ss_tag_frequency": json.dumps(TAGS), **metadata})


@pytest.fixture(scope="module")
def lora_dir(webui_server):
    """The module's LoRA files; removed afterwards, so the shared server's later users list none."""
    folder = webui_server.data / "models" / "Lora"
    write_lora(folder, "tiny_style")
    Image.new("RGB", (32, 48), (200, 30, 30)).save(folder / "tiny_style.png")
    (folder / "tiny_style.json").write_text(json.dumps({"activation text": "foxy", "preferred weight": 0.7}))
    yield folder
    shutil.rmtree(folder)
    folder.mkdir()
    requests.post(webui_server.base + "/sdapi/v1/refresh-loras", timeout=60)


def text_encoder_width(checkpoint) -> int:
    """The embedded default model's text encoder width (from the config its file declares)."""
    from safetensors import safe_open

    with safe_open(str(checkpoint), "pt") as f:
        return json.loads(f.metadata()["sd_webui_config"])["text_encoder"]["hidden_size"]


def open_page_tab(page, tab: str, title: str):
    """Opens an Extra Networks page of `tab` and waits for its cards (not the "Loading..." pane)."""
    page.locator(f"#{tab}_extra_tabs").get_by_role("tab", name=title, exact=True).click()
    part = f"{tab}_{title.lower().replace(' ', '_')}"
    cards = page.locator(f"#{part}_cards")
    cards.wait_for(state="visible")
    page.wait_for_function(f"() => !document.querySelector('#{part}_cards').textContent.includes('Loading...')")
    return cards


def refresh(page, part: str) -> None:
    page.locator(f"#{part}_extra_refresh").click()


def prompt_value(page, tab: str = "txt2img") -> str:
    return page.locator(f"#{tab}_prompt textarea").input_value()


def test_lora_card_toggles_its_tag_and_lists_what_the_api_lists(page, webui_server, lora_dir):
    from playwright.sync_api import expect

    requests.post(webui_server.base + "/sdapi/v1/refresh-loras", timeout=30)
    cards = open_page_tab(page, "txt2img", "Lora")
    refresh(page, "txt2img_lora")      # the module's file was written after the server started
    card = cards.locator('.card[data-name="tiny_style"]')
    expect(card).to_be_visible()
    api_names = {x["name"] for x in requests.get(webui_server.base + "/sdapi/v1/loras", timeout=30).json()}
    card_names = set(cards.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.name)"))
    assert card_names == api_names and "tiny_style" in card_names
    # the preview beside the file is served through the panel's thumbnail route
    src = card.locator("img.preview").get_attribute("src")
    assert "tiny_style.png" in src
    assert requests.get(webui_server.base + src.lstrip("."), timeout=30).status_code == 200

    page.locator("#txt2img_prompt textarea").fill("a castle")
    card.click()
    # the user metadata's preferred weight and activation text (not the default multiplier)
    expect(page.locator("#txt2img_prompt textarea")).to_have_value("a castle <lora:tiny_style:0.7> foxy")
    card.click()
    expect(page.locator("#txt2img_prompt textarea")).to_have_value("a castle")


def test_refresh_search_folders_and_sort(page, lora_dir):
    from playwright.sync_api import expect

    write_lora(lora_dir / "styles", "another_look")
    cards = open_page_tab(page, "txt2img", "Lora")
    refresh(page, "txt2img_lora")
    expect(cards.locator('.card[data-name="another_look"]')).to_be_visible()

    search = page.locator("#txt2img_lora_extra_search")
    search.fill("another")
    expect(cards.locator(".card:not(.hidden)")).to_have_count(1)
    expect(cards.locator('.card[data-name="another_look"]')).to_be_visible()
    # the folder buttons search for the folder
    page.locator("#txt2img_lora_dirs button", has_text="styles").click()
    expect(search).to_have_value("styles/")
    expect(cards.locator(".card:not(.hidden)")).to_have_count(1)
    page.locator("#txt2img_lora_dirs button.search-all").click()
    expect(search).to_have_value("")
    expect(cards.locator(".card:not(.hidden)")).to_have_count(2)

    def order() -> list[str]:
        return cards.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.name)")

    page.locator("#txt2img_lora_extra_sort_name").click()
    page.wait_for_function("() => document.querySelector('#txt2img_lora_cards .card').dataset.name === 'another_look'")
    assert order() == ["another_look", "tiny_style"]
    page.locator("#txt2img_lora_extra_sort_dir").click()
    page.wait_for_function("() => document.querySelector('#txt2img_lora_cards .card').dataset.name === 'tiny_style'")
    assert order() == ["tiny_style", "another_look"]


def test_edit_dialog_saves_user_metadata_and_replaces_the_preview(page, lora_dir):
    from playwright.sync_api import expect

    # an image in the gallery first: "Replace preview" takes the selected (first) one
    page.locator("#txt2img_prompt textarea").fill("a blue square")
    page.locator("#txt2img_generate").click()
    # the job's result, not a live preview shown in the gallery while it runs
    expect(page.locator("#html_info_txt2img")).to_contain_text("Steps:", timeout=120_000)
    expect(page.locator("#txt2img_gallery img").first).to_be_visible()

    cards = open_page_tab(page, "txt2img", "Lora")
    card = cards.locator('.card[data-name="tiny_style"]')
    card.hover()
    card.locator(".edit-button").click()
    editor = page.locator(".global-popup-inner > #txt2img_lora_edit_user_metadata")
    expect(editor).to_be_visible()
    expect(editor.get_by_label("Activation text")).to_have_value("foxy")
    expect(editor.locator("div.prose.extra-network-name")).to_contain_text("tiny_style")
    expect(editor).to_contain_text("red fox")        # the training set's tags, from its metadata

    editor.get_by_label("Description").fill("A warm red style")
    editor.get_by_label("Activation text").fill("foxy, autumn")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator(".global-popup")).to_be_hidden()
    saved = json.loads((lora_dir / "tiny_style.json").read_text())
    assert saved["description"] == "A warm red style" and saved["activation text"] == "foxy, autumn"
    assert saved["preferred weight"] == 0.7
    expect(card.locator(".description")).to_have_text("A warm red style")   # the card was made again

    before = Image.open(lora_dir / "tiny_style.png").convert("RGB")
    card = cards.locator('.card[data-name="tiny_style"]')
    card.hover()
    card.locator(".edit-button").click()
    expect(editor).to_be_visible()
    preview = "() => { const i = document.querySelector('.global-popup .standalone-card-preview img'); return i && i.src; }"
    shown = page.wait_for_function(preview).json_value()
    editor.get_by_role("button", name="Replace preview").click()
    # the dialog's preview shows the new file once it is written (its URL carries the file's new
    # modification time)
    page.wait_for_function(f"(before) => {{ const src = ({preview})(); return src && src !== before; }}", arg=shown)
    after = Image.open(lora_dir / "tiny_style.png")
    assert after.size == (64, 64) and after.convert("RGB").tobytes() != before.tobytes()
    assert "a blue square" in after.info.get("parameters", "")      # its infotext kept
    page.keyboard.press("Escape")


def test_embedding_card_adds_its_name_and_checkpoint_card_switches_model(page, webui_server):
    from playwright.sync_api import expect

    ckpt_dir = webui_server.data / "models" / "Stable-diffusion"
    original = next(ckpt_dir.glob("*.safetensors"))
    emb_dir = webui_server.data / "embeddings"
    emb_dir.mkdir(exist_ok=True)
    save_file({"emb_params": torch.randn(2, text_encoder_width(original))}, str(emb_dir / "shiny.safetensors"))
    cards = open_page_tab(page, "txt2img", "Textual Inversion")
    refresh(page, "txt2img_textual_inversion")
    card = cards.locator('.card[data-name="shiny"]')
    expect(card).to_be_visible()
    card.click()
    expect(page.locator("#txt2img_prompt textarea")).to_have_value("shiny")

    shutil.copy(original, ckpt_dir / "zz-copy.safetensors")
    try:
        cards = open_page_tab(page, "txt2img", "Checkpoints")
        refresh(page, "txt2img_checkpoints")
        copy_card = cards.locator('.card[data-name="zz-copy"]')
        expect(copy_card).to_be_visible()
        copy_card.click()
        page.wait_for_function("() => document.querySelector('#setting_sd_model_checkpoint input').value"
                               ".startsWith('zz-copy')", timeout=120_000)
        options = requests.get(webui_server.base + "/sdapi/v1/options", timeout=30).json()
        assert options["sd_model_checkpoint"].startswith("zz-copy")
    finally:
        # the shared server as it started: its own model loaded, no extra files listed
        requests.post(webui_server.base + "/sdapi/v1/options",
                      json={"sd_model_checkpoint": original.name}, timeout=120).raise_for_status()
        (ckpt_dir / "zz-copy.safetensors").unlink(missing_ok=True)
        (emb_dir / "shiny.safetensors").unlink(missing_ok=True)
        requests.post(webui_server.base + "/sdapi/v1/refresh-checkpoints", timeout=60).raise_for_status()
        requests.post(webui_server.base + "/sdapi/v1/refresh-embeddings", timeout=60)
