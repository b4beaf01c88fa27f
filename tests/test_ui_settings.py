"""Settings tab, quicksettings and apply_settings, against the real app (the shared `api` fixture).

No browser: the Blocks are built in-process and the event handlers are called directly, the
way gradio would call them. Every test puts back what it changed, because the app (and its
config.json) is shared with the other test modules.
"""
from __future__ import annotations

import asyncio
import json
import shutil
from contextlib import contextmanager
from typing import Any, Iterator

import gradio as gr
import pytest

from sdwebui.services import runtime as shared
from sdwebui.services.options.registry import IMAGE_FORMATS
from sdwebui.interfaces.ui import settings as ui_settings
from sdwebui.interfaces.ui.settings import FROZEN_MESSAGE, apply_settings


def run(coro):
    return asyncio.run(coro)


def build() -> gr.Blocks:
    """The layout modules/ui/app.py uses: the quicksettings bar first, then the tab."""
    with gr.Blocks(analytics_enabled=False) as demo:
        with gr.Row(elem_id="quicksettings"):
            ui_settings.create_quicksettings()
        with gr.Tabs():
            with gr.Tab("Settings", id="settings", elem_id="tab_settings"):
                ui_settings.create_settings_tab()
    return demo


def by_id(demo: gr.Blocks) -> dict[str, Any]:
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def handler(demo: gr.Blocks, block, event: str):
    for fn in demo.fns.values():
        if (block._id, event) in fn.targets:
            return fn
    raise AssertionError(f"no {event} handler on {block.elem_id}")


def load_handlers(demo: gr.Blocks) -> list:
    # the frontend runs every dependency with a "load" target on page load, whatever the id
    return [fn for fn in demo.fns.values() if any(event == "load" for _, event in fn.targets)]


def choice_values(comp) -> list:
    return [v for _, v in comp.choices]


@contextmanager
def restored(*keys: str) -> Iterator[None]:
    """Put options (and the resident checkpoint) back and rewrite config.json afterwards."""
    old = {k: shared.opts.data.get(k) for k in keys}
    try:
        yield
    finally:
        if "sd_model_checkpoint" in old and old["sd_model_checkpoint"] != shared.opts.sd_model_checkpoint:
            changed, error = run(apply_settings({"sd_model_checkpoint": old.pop("sd_model_checkpoint")}))
            assert error is None, error
        old.pop("sd_model_checkpoint", None)
        for k, v in old.items():
            shared.opts.set(k, v, validate=False)
        shared.opts.save()


def stored(data_dir) -> dict:
    return json.loads((data_dir / "config.json").read_text())


def test_every_option_has_one_component(api):
    # the first load (queued at start) adds the hash to the titles: let it finish, so the titles the
    # UI shows and the registry's are read at the same state
    shared.queue.run(shared.ensure_model_loaded, name="test-wait-load")
    demo = build()
    ids = [b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)]
    for key, info in shared.opts.data_labels.items():
        hidden = bool(info.section) and info.section[0] is None   # A1111's "Hidden options": not in the tab
        assert ids.count(f"setting_{key}") == (0 if hidden else 1), key
    for elem_id in ("settings_search", "settings_submit", "settings_result", "settings_reload_values",
                    "refresh_sd_model_checkpoint"):
        assert elem_id in ids
    c = by_id(demo)
    assert isinstance(c["setting_samples_save"], gr.Checkbox) and c["setting_samples_save"].value is True
    n_rows = c["setting_n_rows"]
    assert isinstance(n_rows, gr.Slider) and (n_rows.minimum, n_rows.maximum, n_rows.step) == (-1, 16, 1)
    assert isinstance(c["setting_eta_ddim"], gr.Slider) and c["setting_eta_ddim"].step < 1
    assert isinstance(c["setting_samples_format"], gr.Dropdown)
    assert choice_values(c["setting_samples_format"]) == list(IMAGE_FORMATS)
    assert isinstance(c["setting_emphasis"], gr.Radio)
    assert choice_values(c["setting_emphasis"]) == ["Original", "No norm", "None", "Ignore"]
    ckpt = c["setting_sd_model_checkpoint"]
    assert isinstance(ckpt, gr.Dropdown) and ckpt.allow_custom_value
    assert choice_values(ckpt) == [i.title for i in shared.registry.list()]
    # before the first load it names the checkpoint that will be loaded
    assert ckpt.value == (shared.opts.sd_model_checkpoint or shared.select_checkpoint().title)
    assert ckpt.value.startswith("alpha.safetensors")
    assert choice_values(c["setting_sd_vae"]) == shared.vae_registry.choices()
    assert "tiny-vae.safetensors" in choice_values(c["setting_sd_vae"])
    assert isinstance(c["setting_hide_samplers"], gr.CheckboxGroup)
    assert "Euler a" in choice_values(c["setting_hide_samplers"])
    quick = c["setting_quicksettings_list"]
    assert isinstance(quick, gr.Dropdown) and quick.multiselect and quick.value == ["sd_model_checkpoint"]
    assert isinstance(c["setting_sigma_min"], gr.Number)
    assert isinstance(c["setting_outdir_samples"], gr.Textbox)
    assert "setting_sd_checkpoint_hash" not in c   # derived state, in A1111's hidden section
    assert isinstance(c["setting_img2img_background_color"], gr.ColorPicker)
    assert isinstance(c["setting_sd_vae_explanation"], gr.HTML) and "VAE" in c["setting_sd_vae_explanation"].value
    assert c["setting_samples_save"].interactive is True
    assert c["setting_CLIP_stop_at_last_layers"].label == "Clip skip"
    # sections in registration order, by label
    labels = [b.label for b in demo.blocks.values() if isinstance(b, gr.Accordion)]
    assert labels[:3] == ["Saving images/grids", "Paths for saving", "Saving to a directory"]
    assert "Stable Diffusion" in labels and "VAE" in labels


def test_apply_settings_persists_and_shows_in_api(api, data_dir):
    with restored("CLIP_stop_at_last_layers", "samples_format", "api_useragent"):
        changed, error = run(apply_settings({"CLIP_stop_at_last_layers": 2, "samples_format": "jpg",
                                             "api_useragent": "ui-test"}))
        assert error is None
        # restrict_api options are fine from the UI
        assert changed == ["CLIP_stop_at_last_layers", "samples_format", "api_useragent"]
        saved = stored(data_dir)
        assert saved["CLIP_stop_at_last_layers"] == 2 and saved["samples_format"] == "jpg"
        got = api.get("/sdapi/v1/options").json()
        assert got["CLIP_stop_at_last_layers"] == 2 and got["samples_format"] == "jpg"
        # applying the same values again changes nothing
        assert run(apply_settings({"CLIP_stop_at_last_layers": 2})) == ([], None)
        assert ui_settings.result_text(changed[:2], None) == \
            "2 settings changed: CLIP_stop_at_last_layers, samples_format"
        # the API path drops restrict_api options silently
        changed, error = run(apply_settings({"api_useragent": "other"}, from_api=True))
        assert (changed, error) == ([], None) and shared.opts.api_useragent == "ui-test"


def test_bad_value_changes_nothing_and_names_the_key(api, data_dir):
    before = stored(data_dir)
    for bad, key in (({"CLIP_stop_at_last_layers": 2, "samples_save": "perhaps"}, "samples_save"),
                     ({"CLIP_stop_at_last_layers": 99}, "CLIP_stop_at_last_layers"),
                     ({"samples_format": "bmp", "CLIP_stop_at_last_layers": 3}, "samples_format"),
                     ({"no_such_key": 1, "CLIP_stop_at_last_layers": 3}, "no_such_key"),
                     ({"sd_vae": "nope.pt", "CLIP_stop_at_last_layers": 3}, "sd_vae")):
        changed, error = run(apply_settings(bad))
        assert changed == [] and error is not None and key in error, (bad, error)
        assert api.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 1
    assert stored(data_dir) == before


def test_switch_checkpoint_and_back(api, data_dir):
    with restored("sd_model_checkpoint"):
        changed, error = run(apply_settings({"sd_model_checkpoint": "beta"}))
        assert (changed, error) == (["sd_model_checkpoint"], None)
        assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"].startswith("sub/beta.safetensors [")
        assert shared.model_manager.checkpoint_info.title.startswith("sub/beta.safetensors")
        assert stored(data_dir)["sd_model_checkpoint"].startswith("sub/beta.safetensors [")

        changed, error = run(apply_settings({"sd_model_checkpoint": "does-not-exist"}))
        assert changed == [] and "sd_model_checkpoint" in error and "alpha.safetensors" in error
        assert shared.opts.sd_model_checkpoint.startswith("sub/beta")

        changed, error = run(apply_settings({"sd_model_checkpoint": "alpha"}))
        assert (changed, error) == (["sd_model_checkpoint"], None)
        assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"].startswith("alpha.safetensors [")


def test_failed_checkpoint_load_keeps_model(api, data_dir):
    bad = data_dir / "models" / "Stable-diffusion" / "broken-ui.safetensors"
    bad.write_bytes(b"\x00" * 4096)
    try:
        run(ui_settings.run_on_queue(shared.registry.refresh, "refresh"))
        before = shared.opts.sd_model_checkpoint
        changed, error = run(apply_settings({"sd_model_checkpoint": "broken-ui", "CLIP_stop_at_last_layers": 2}))
        assert changed == [] and "sd_model_checkpoint" in error and "previous model" in error
        assert shared.opts.sd_model_checkpoint == before and shared.opts.CLIP_stop_at_last_layers == 1
    finally:
        bad.unlink()
        run(ui_settings.run_on_queue(shared.registry.refresh, "refresh"))


def _tab_inputs(demo: gr.Blocks):
    """Apply's handler, the sections' snapshot states (what the page showed) and the components."""
    fn = handler(demo, by_id(demo)["settings_submit"], "click")
    states = [b for b in fn.inputs if isinstance(b, gr.State)]
    return fn.fn, states, fn.inputs[len(states):]


def sections(demo: gr.Blocks) -> list:
    return _tab_inputs(demo)[1]


def shown_of(snapshots) -> dict:
    return {k: v for snap in snapshots for k, v in snap.items()}


def test_freeze_settings_refuses(api, data_dir, monkeypatch):
    before = stored(data_dir)
    monkeypatch.setattr(shared.cmd_opts, "freeze_settings", True)
    assert run(apply_settings({"CLIP_stop_at_last_layers": 2})) == ([], FROZEN_MESSAGE)
    demo = build()
    c = by_id(demo)
    assert c["settings_submit"].interactive is False
    assert c["setting_samples_save"].interactive is False
    assert c["setting_sd_model_checkpoint"].interactive is False
    apply_fn, states, components = _tab_inputs(demo)
    values = [b.value for b in components]
    values[[b.elem_id for b in components].index("setting_CLIP_stop_at_last_layers")] = 4
    out = run(apply_fn(*[st.value for st in states], *values))
    assert "frozen" in out[0]
    assert shared.opts.CLIP_stop_at_last_layers == 1 and stored(data_dir) == before


def test_apply_button_applies_only_edited_values(api, data_dir):
    with restored("CLIP_stop_at_last_layers", "samples_format", "jpeg_quality"):
        demo = build()
        apply_fn, states, components = _tab_inputs(demo)
        ids = [c.elem_id for c in components]
        assert "setting_sd_model_checkpoint" not in ids  # it lives in the quicksettings bar
        values = [c.value for c in components]
        shown = [dict(st.value) for st in states]
        # meanwhile the API changes jpeg_quality; the page still shows the old value
        assert api.post("/sdapi/v1/options", json={"jpeg_quality": 55}).status_code == 200
        values[ids.index("setting_CLIP_stop_at_last_layers")] = 3.0  # a slider may hand back floats
        values[ids.index("setting_samples_format")] = "webp"
        out = run(apply_fn(*shown, *values))
        # keys come in registration order
        assert html_text(out[0]) == "2 settings changed: samples_format, CLIP_stop_at_last_layers"
        assert shared.opts.CLIP_stop_at_last_layers == 3 and isinstance(shared.opts.CLIP_stop_at_last_layers, int)
        assert shared.opts.jpeg_quality == 55  # not reverted by the stale page
        assert stored(data_dir)["samples_format"] == "webp"
        # the result re-reads the store: new snapshot and component values
        n = len(states)
        new_shown = {k: v for snap in out[1:1 + n] for k, v in snap.items()}
        assert new_shown["jpeg_quality"] == 55 and new_shown["samples_format"] == "webp"
        assert out[1 + n + ids.index("setting_jpeg_quality")]["value"] == 55

        # a bad value: the error names the key, nothing changes, the page keeps the edits
        values = [new_shown[c.elem_id.removeprefix("setting_")] for c in components]
        values[ids.index("setting_samples_format")] = "bmp"
        values[ids.index("setting_CLIP_stop_at_last_layers")] = 2
        out = run(apply_fn(*out[1:1 + n], *values))
        assert "samples_format" in out[0] and out[0].startswith("Error")
        assert shared.opts.CLIP_stop_at_last_layers == 3 and shared.opts.samples_format == "webp"
        assert all(o == gr.skip() for o in out[1:])


def html_text(s: str) -> str:
    import html

    return html.unescape(s)


def test_reload_and_page_load_show_api_changes(api):
    with restored("jpeg_quality"):
        demo = build()
        c = by_id(demo)
        reload_fn = handler(demo, c["settings_reload_values"], "click")
        assert api.post("/sdapi/v1/options", json={"jpeg_quality": 42}).status_code == 200
        out = reload_fn.fn()
        outputs = list(reload_fn.outputs)
        idx = [getattr(o, "elem_id", None) for o in outputs].index("setting_jpeg_quality")
        assert out[idx]["value"] == 42 and shown_of(out[:len(sections(demo))])["jpeg_quality"] == 42
        # the page load re-reads the quicksettings bar only; opening a section of the Settings tab
        # re-reads that section, sending only what changed since the page was built (an update per
        # setting made every page seconds slower)
        assert len(load_handlers(demo)) == 1
        assert not [fn for fn in demo.fns.values() if any(event == "select" for _, event in fn.targets)]
        saving = by_id(demo)["settings_saving-images"]
        opened = handler(demo, saving, "expand")
        out = opened.fn()
        outputs = list(opened.outputs)
        assert isinstance(outputs[0], gr.State) and len(outputs) < 60       # one section's, not all
        idx = [getattr(o, "elem_id", None) for o in outputs].index("setting_jpeg_quality")
        assert out[idx]["value"] == 42 and out[0]["jpeg_quality"] == 42
        unchanged = [getattr(o, "elem_id", None) for o in outputs].index("setting_samples_format")
        assert out[unchanged] == gr.skip()


def test_search_filters_settings(api):
    demo = build()
    search = by_id(demo)["settings_search"]
    fn = handler(demo, search, "change")
    outputs = list(fn.outputs)
    out = fn.fn("clip skip")
    vis = {getattr(o, "elem_id", None) or o.label: u.get("visible") for o, u in zip(outputs, out)}
    assert vis["setting_CLIP_stop_at_last_layers"] is True
    assert vis["setting_samples_save"] == "hidden"
    assert vis["settings_sd"] is True and vis["settings_saving-images"] == "hidden"
    out = fn.fn("samples_save")  # by key as well
    vis = {getattr(o, "elem_id", None): u.get("visible") for o, u in zip(outputs, out)}
    assert vis["setting_samples_save"] is True and vis["setting_CLIP_stop_at_last_layers"] == "hidden"
    assert all(u.get("visible") is True for u in fn.fn(""))


def test_quicksettings_apply_immediately_and_refresh(api, data_dir):
    with restored("quicksettings_list", "CLIP_stop_at_last_layers", "sd_vae"):
        shared.opts.set("quicksettings_list", ["sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"])
        demo = build()
        c = by_id(demo)
        ids = [b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)]
        for key in ("sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"):
            assert ids.count(f"setting_{key}") == 1
        assert "refresh_sd_model_checkpoint" in ids and "refresh_sd_vae" in ids

        clip = c["setting_CLIP_stop_at_last_layers"]
        update = run(handler(demo, clip, "release").fn(2.0))
        assert update["value"] == 2 and shared.opts.CLIP_stop_at_last_layers == 2
        assert stored(data_dir)["CLIP_stop_at_last_layers"] == 2
        assert api.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2

        vae = c["setting_sd_vae"]
        update = run(handler(demo, vae, "input").fn("tiny-vae.safetensors"))
        assert update["value"] == "tiny-vae.safetensors"
        assert api.get("/sdapi/v1/options").json()["sd_vae"] == "tiny-vae.safetensors"
        with pytest.warns(UserWarning, match="sd_vae"):  # gr.Warning outside a request
            update = run(handler(demo, vae, "input").fn("nope.pt"))
        assert update["value"] == "tiny-vae.safetensors" and shared.opts.sd_vae == "tiny-vae.safetensors"
        run(handler(demo, vae, "input").fn("Automatic"))
        assert shared.opts.sd_vae == "Automatic"

        ckpt = c["setting_sd_model_checkpoint"]
        with pytest.warns(UserWarning, match="sd_model_checkpoint"):
            update = run(handler(demo, ckpt, "input").fn("does-not-exist"))
        assert update["value"] == shared.opts.sd_model_checkpoint

        extra = data_dir / "models" / "Stable-diffusion" / "gamma-ui.safetensors"
        shutil.copy(data_dir / "models" / "Stable-diffusion" / "alpha.safetensors", extra)
        try:
            update = run(handler(demo, c["refresh_sd_model_checkpoint"], "click").fn())
            assert any(t.startswith("gamma-ui.safetensors") for t in update["choices"])
            assert update["value"] == shared.opts.sd_model_checkpoint
        finally:
            extra.unlink()
            run(ui_settings.run_on_queue(shared.registry.refresh, "refresh"))


def test_quicksetting_switches_checkpoint(api):
    with restored("sd_model_checkpoint"):
        demo = build()
        ckpt = by_id(demo)["setting_sd_model_checkpoint"]
        beta = next(i.title for i in shared.registry.list() if i.title.startswith("sub/beta"))
        update = run(handler(demo, ckpt, "input").fn(beta))
        assert update["value"] == beta
        assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == beta
