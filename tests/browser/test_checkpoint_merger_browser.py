"""The Checkpoint Merger tab in a real browser, as a user drives it: a second checkpoint put in the
folder, the lists refreshed, two models merged; the result is offered by the quicksettings checkpoint
dropdown at once, and generates through the API. The shared server's checkpoint list is left as it
was (other modules expect the default model alone)."""
from __future__ import annotations

import json

import httpx
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tests.browser.test_ui_browser import choose, expect

pytestmark = pytest.mark.browser

MERGE_TIMEOUT_MS = 120_000



def _second_checkpoint(default_file: str, target) -> None:
    """The default model with other weights (same architecture and metadata), so the two can merge."""
    with safe_open(default_file, framework="pt") as f:
        metadata = f.metadata() or {}
    tensors = {k: (v.float() * 0.5).to(v.dtype) if v.is_floating_point() else v
               for k, v in load_file(default_file).items()}
    save_file(tensors, str(target), metadata=metadata)


def test_merge_two_checkpoints_in_the_tab(page, webui_server):
    base = webui_server.base
    default = httpx.get(base + "/sdapi/v1/sd-models", timeout=30).json()[0]
    folder = webui_server.data / "models" / "Stable-diffusion"
    second, merged = folder / "half-weights.safetensors", folder / "browser-merge.safetensors"
    try:
        _second_checkpoint(default["filename"], second)
        page.get_by_role("tab", name="Checkpoint Merger").click()
        description = page.locator("#modelmerger_interp_description")
        expect(description).to_contain_text("A * (1 - M) + B * M")
        page.locator("#modelmerger_interp_method").get_by_label("Add difference").check()
        expect(description).to_contain_text("A + (B - C) * M")
        page.locator("#modelmerger_interp_method").get_by_label("Weighted sum").check()
        # the new file is offered once the lists are refreshed
        page.locator("#refresh_checkpoint_A").click()
        page.locator("#refresh_checkpoint_B").click()
        choose(page, "modelmerger_primary_model_name", default["title"])
        choose(page, "modelmerger_secondary_model_name", "half-weights.safetensors")
        page.locator("#modelmerger_custom_name").get_by_role("textbox").fill("browser-merge")
        page.locator("#modelmerger_merge").click()
        result = page.locator("#modelmerger_result")
        expect(result).to_contain_text(f"Checkpoint saved to {merged}", timeout=MERGE_TIMEOUT_MS)
        expect(page.locator(".progressDiv")).to_have_count(0)        # the page's progress bar is gone

        listed = {m["model_name"]: m for m in httpx.get(base + "/sdapi/v1/sd-models", timeout=30).json()}
        title = listed["browser-merge"]["title"]
        assert listed["browser-merge"]["hash"] and title == f"browser-merge.safetensors [{listed['browser-merge']['hash']}]"
        # the quicksettings dropdown offers it without a reload or a refresh
        box = page.locator("#setting_sd_model_checkpoint input")
        box.click()
        expect(page.get_by_role("option", name=title, exact=True)).to_be_visible()
        box.press("Escape")

        r = httpx.post(base + "/sdapi/v1/txt2img", timeout=120, json={
            "prompt": "merged", "steps": 2, "width": 64, "height": 64,
            "override_settings": {"sd_model_checkpoint": title}})
        assert r.status_code == 200, r.text
        assert "Model: browser-merge" in json.loads(r.json()["info"])["infotexts"][0]
        # the merge's recipe is in the file
        with safe_open(str(merged), framework="pt") as f:
            recipe = json.loads(f.metadata()["sd_merge_recipe"])
        assert recipe["interp_method"] == "Weighted sum" and recipe["custom_name"] == "browser-merge"
    finally:
        for path in (second, merged):
            path.unlink(missing_ok=True)
        httpx.post(base + "/sdapi/v1/refresh-checkpoints", timeout=60)
