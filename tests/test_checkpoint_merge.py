"""The Checkpoint Merger (A1111's extras.run_modelmerger and its tab): the math of each method checked
numerically on tiny checkpoints, fp16, discarding weights, baking a VAE, metadata and config, refused
names and existing files, clear errors for models that do not fit, and the streaming (each tensor
written before the next is read). Most tests use a checkpoint folder and registry of their own; the
last ones go through the running app (`api` fixture), whose checkpoint list they leave as it was."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sdwebui.engine.models import merge as merge_engine
from sdwebui.engine.models.hashes import HashCache
from sdwebui.services import checkpoint_merge as cm
from sdwebui.services.models.checkpoints import CheckpointRegistry
from sdwebui.services.models.vae_registry import VaeRegistry

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
POSITION_IDS = "cond_stage_model.transformer.text_model.embeddings.position_ids"
SCHEDULE = "alphas_cumprod"        # a buffer without "model" in its name: A1111 keeps A's


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def _derive(src: Path, dst: Path, *, scale: float = 1.0, dtype: torch.dtype | None = None,
            extra_meta: dict[str, str] | None = None, schedule: float = 0.5) -> Path:
    """A copy of a tiny checkpoint with its weights scaled / cast, A1111's extra non-merged tensors
    added and more metadata (writing a new tiny model takes seconds; this takes milliseconds)."""
    tensors = {k: (v.float() * scale).to(dtype or v.dtype) for k, v in load_file(src).items()}
    tensors[POSITION_IDS] = torch.arange(77, dtype=torch.int64)[None]
    tensors[SCHEDULE] = torch.full((4,), schedule, dtype=torch.float32)
    save_file(tensors, str(dst), metadata={**_metadata(src), **(extra_meta or {})})
    return dst


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_files) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("merge-inputs")
    return {
        "a": _derive(tiny_files["sd1"], d / "a.safetensors", extra_meta={"ss_note": "from A", "shared": "A"}),
        "b": _derive(tiny_files["sd1b"], d / "b.safetensors", extra_meta={"shared": "B"}, schedule=0.25),
        "c": _derive(tiny_files["sd1"], d / "c.safetensors", scale=0.5, schedule=0.125),
        "a32": _derive(tiny_files["sd1"], d / "a32.safetensors", dtype=torch.float32),
        "xl": tiny_files["sdxl"], "inpaint": tiny_files["sd1inpaint"], "plain": tiny_files["sd1b"],
    }


@pytest.fixture
def env(tmp_path, inputs, tiny_vae_file):
    """A checkpoint folder holding the inputs, its registry, a VAE folder, and merge(**request)."""
    ckpt, vae_dir = tmp_path / "Stable-diffusion", tmp_path / "VAE"
    ckpt.mkdir()
    vae_dir.mkdir()
    for name, path in inputs.items():
        shutil.copy(path, ckpt / f"{name}.safetensors")
    shutil.copy(tiny_vae_file, vae_dir / "tiny-vae.safetensors")
    cache = HashCache(tmp_path / "cache.json")
    registry = CheckpointRegistry([ckpt], cache)
    registry.refresh()
    vaes = VaeRegistry([vae_dir], [ckpt], cache)
    vaes.refresh()

    def merge(primary="a", secondary="b", tertiary=None, **kw):
        request = cm.MergeRequest(primary, secondary, tertiary, **kw)
        return cm.merge_checkpoints(request, registry=registry, vae_registry=vaes, out_dir=ckpt)

    return SimpleNamespace(ckpt=ckpt, registry=registry, merge=merge, files=lambda: sorted(p.name for p in
                                                                                         ckpt.iterdir()))


def _close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal up to the output dtype's rounding (the math is done in fp32, then cast)."""
    return torch.equal(actual, expected.to(actual.dtype))


# --- the methods ---------------------------------------------------------------------------------
def test_weighted_sum_is_a_times_one_minus_m_plus_b_times_m(env, inputs):
    result = env.merge(interp_method="Weighted sum", multiplier=0.25)
    assert result.filename.name == "0.75(a) + 0.25(b).safetensors"
    a, b, out = load_file(inputs["a"]), load_file(inputs["b"]), load_file(result.filename)
    assert set(out) == set(a)
    for key in a:
        if key in (POSITION_IDS, SCHEDULE):
            assert torch.equal(out[key], a[key]), key          # never interpolated (A1111's rules)
        else:
            assert out[key].dtype == torch.float16
            assert _close(out[key], a[key].float() * 0.75 + b[key].float() * 0.25), key
    assert not torch.equal(out[UNET_IN], a[UNET_IN])


def test_add_difference_is_a_plus_b_minus_c_times_m(env, inputs):
    result = env.merge(tertiary="c", interp_method="Add difference", multiplier=0.5)
    assert result.filename.name == "a + 0.5(b - c).safetensors"
    a, b, c = (load_file(inputs[k]) for k in "abc")
    out = load_file(result.filename)
    for key in a:
        if key not in (POSITION_IDS, SCHEDULE):
            assert _close(out[key], a[key].float() + (b[key].float() - c[key].float()) * 0.5), key
    assert torch.equal(out[SCHEDULE], a[SCHEDULE])


def test_the_methods_ask_for_the_models_they_need(env):
    with pytest.raises(cm.MergeError, match="Failed: Merging requires a secondary model."):
        env.merge(secondary=None)
    with pytest.raises(cm.MergeError, match=r"Failed: Interpolation method \(Add difference\) requires a tertiary"):
        env.merge(interp_method="Add difference")
    with pytest.raises(cm.MergeError, match="Failed: Merging requires a primary model."):
        env.merge(primary="")
    with pytest.raises(cm.MergeError, match="'nope' not found"):
        env.merge(secondary="nope")


def test_no_interpolation_converts_to_ckpt_with_a_weights(env, inputs):
    result = env.merge(secondary=None, interp_method="No interpolation", checkpoint_format="ckpt")
    assert result.filename.name == "a.ckpt"
    state = torch.load(result.filename, weights_only=True)
    a = load_file(inputs["a"])
    assert set(state) == set(a) and all(torch.equal(state[k], a[k]) for k in a)
    assert result.checkpoint.title == f"a.ckpt [{hashlib.sha256(result.filename.read_bytes()).hexdigest()[:10]}]"


def test_save_as_half_turns_every_fp32_tensor_into_fp16(env, inputs):
    result = env.merge("a32", "b", save_as_half=True, multiplier=0.5)
    a, b, out = load_file(inputs["a32"]), load_file(inputs["b"]), load_file(result.filename)
    assert {out[k].dtype for k in out if k != POSITION_IDS} == {torch.float16}
    assert out[POSITION_IDS].dtype == torch.int64
    assert _close(out[UNET_IN], a[UNET_IN] * 0.5 + b[UNET_IN].float() * 0.5)
    kept = env.merge("a32", None, interp_method="No interpolation", custom_name="kept32")
    assert load_file(kept.filename)[UNET_IN].dtype == torch.float32


def test_discard_weights_drops_the_matching_names(env):
    result = env.merge(discard_weights=r"^first_stage_model\.decoder\.")
    out = load_file(result.filename)
    assert out and not any(k.startswith("first_stage_model.decoder.") for k in out)
    assert any(k.startswith("first_stage_model.encoder.") for k in out)
    assert "weights were discarded" in result.message
    with pytest.raises(cm.MergeError, match="not a valid regular expression"):
        env.merge(discard_weights="(", custom_name="bad-regex")
    assert "bad-regex.safetensors" not in env.files()


def test_bake_in_vae_replaces_the_vae_weights(env, tiny_vae_file):
    result = env.merge(bake_in_vae="tiny-vae.safetensors")
    vae, out = load_file(tiny_vae_file), load_file(result.filename)
    baked = [k for k in vae if f"first_stage_model.{k}" in out]
    assert baked and all(torch.equal(out[f"first_stage_model.{k}"], vae[k]) for k in baked)
    with pytest.raises(cm.MergeError, match="VAE 'missing.pt' not found"):
        env.merge(bake_in_vae="missing.pt")


# --- metadata and config -----------------------------------------------------------------------
def test_merge_recipe_and_copied_metadata(env):
    first = env.merge(multiplier=0.5, custom_name="first", metadata_json='{"mine": "typed", "shared": "editor"}')
    meta = _metadata(first.filename)
    recipe = json.loads(meta["sd_merge_recipe"])
    a, b = env.registry.match("a"), env.registry.match("b")
    assert recipe["type"] == "webui" and recipe["interp_method"] == "Weighted sum" and recipe["multiplier"] == 0.5
    assert (recipe["primary_model_hash"], recipe["secondary_model_hash"], recipe["tertiary_model_hash"]) == (
        a.sha256, b.sha256, None)
    models = json.loads(meta["sd_merge_models"])
    assert models[a.sha256] == {"name": "a.safetensors", "legacy_hash": a.hash, "sd_merge_recipe": None}
    assert models[b.sha256]["name"] == "b.safetensors"
    # A's and B's fields (B's win), then the editor's; the architecture is A's (the config)
    assert meta["ss_note"] == "from A" and meta["shared"] == "editor" and meta["mine"] == "typed"
    assert meta["format"] == "pt" and meta["sd_webui_family"] == "sd1"
    # a merge of a merge names the models it came from
    second = env.merge("first", "c", multiplier=0.5, custom_name="second")
    models2 = json.loads(_metadata(second.filename)["sd_merge_models"])
    assert {a.sha256, b.sha256, first.sha256} <= set(models2)
    assert models2[first.sha256]["sd_merge_recipe"]["multiplier"] == 0.5


def test_metadata_switches(env):
    bare = _metadata(env.merge(custom_name="bare", save_metadata=False, metadata_json="{not json").filename)
    # the architecture keys are config, not metadata: the file must still load as the tiny model it is
    assert set(bare) == set(cm.ARCHITECTURE_KEYS)
    no_recipe = _metadata(env.merge(custom_name="no-recipe", add_merge_recipe=False, copy_metadata_fields=False)
                          .filename)
    assert "sd_merge_recipe" not in no_recipe and "ss_note" not in no_recipe and no_recipe["format"] == "pt"
    with pytest.raises(cm.MergeError, match="not valid JSON"):
        env.merge(custom_name="bad-json", metadata_json="{not json")
    with pytest.raises(cm.MergeError, match="must be a JSON object"):
        env.merge(custom_name="bad-json", metadata_json="[1]")
    assert "bad-json.safetensors" not in env.files()


def test_read_metadata_gives_the_selected_models_metadata(env):
    text = cm.read_metadata("a", "b", None, registry=env.registry)
    data = json.loads(text)
    assert data["ss_note"] == "from A" and data["shared"] == "B" and data["format"] == "pt"
    assert not set(cm.ARCHITECTURE_KEYS) & set(data)


def test_copy_config_follows_the_chosen_source(env):
    (env.ckpt / "b.yaml").write_text("model:\n  params:\n    parameterization: v\n")
    from_b = env.merge(custom_name="from-b", config_source=1)
    assert from_b.config == env.ckpt / "from-b.yaml"
    assert from_b.config.read_text() == (env.ckpt / "b.yaml").read_text()
    assert _metadata(from_b.filename)["sd_webui_family"] == "sd1"     # B's architecture keys
    first_found = env.merge(custom_name="abc", config_source="A, B or C")
    assert first_found.config == env.ckpt / "abc.yaml"                # A has no .yaml; B's is the first
    none = env.merge(custom_name="none", config_source=3)
    assert none.config is None and "none.yaml" not in env.files()
    assert not set(cm.ARCHITECTURE_KEYS) & set(_metadata(none.filename))
    # an existing .yaml is not replaced either
    (env.ckpt / "taken.yaml").write_text("mine")
    with pytest.raises(cm.MergeError, match="taken.yaml already exists"):
        env.merge(custom_name="taken", config_source=1)
    assert (env.ckpt / "taken.yaml").read_text() == "mine" and "taken.safetensors" not in env.files()


# --- names and files ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "sub/name", "..", "back\\slash", "."])
def test_names_that_leave_the_folder_are_refused(env, name):
    before = sorted(p.name for p in env.ckpt.parent.rglob("*"))
    with pytest.raises(cm.MergeError, match="not allowed"):
        env.merge(custom_name=name)
    assert sorted(p.name for p in env.ckpt.parent.rglob("*")) == before


def test_an_existing_file_is_never_replaced_unless_asked(env):
    first = env.merge(custom_name="same.safetensors", multiplier=0.5)     # the extension is not doubled
    assert first.filename.name == "same.safetensors"
    original = first.filename.read_bytes()
    with pytest.raises(cm.MergeError, match="same.safetensors already exists"):
        env.merge(custom_name="same", multiplier=0.9)
    assert first.filename.read_bytes() == original
    with pytest.raises(cm.MergeError, match="a.safetensors already exists"):
        env.merge("a", None, interp_method="No interpolation")
    replaced = env.merge(custom_name="same", multiplier=0.9, overwrite=True)
    assert replaced.filename.read_bytes() != original
    assert replaced.checkpoint.sha256 == hashlib.sha256(replaced.filename.read_bytes()).hexdigest()
    assert not [n for n in env.files() if n.endswith(".tmp")]


def test_the_result_is_listed_with_its_hash(env):
    result = env.merge(custom_name="listed")
    digest = hashlib.sha256(result.filename.read_bytes()).hexdigest()
    assert result.sha256 == digest
    assert f"listed.safetensors [{digest[:10]}]" in [i.title for i in env.registry.list()]
    # stored in the hash cache: a fresh registry lists it with the hash without reading the file
    fresh = CheckpointRegistry([env.ckpt], HashCache(env.ckpt.parent / "cache.json"))
    assert next(i for i in fresh.refresh() if i.name == "listed.safetensors").sha256 == digest


# --- models that do not fit ----------------------------------------------------------------------
def test_models_of_different_families_give_a_clear_error(env):
    with pytest.raises(cm.MergeError, match="is an SD1 model and B .* is an SDXL model"):
        env.merge("a", "xl")
    assert not [n for n in env.files() if "xl)" in n]


def test_weights_of_other_shapes_give_a_clear_error(tmp_path):
    save_file({"model.diffusion_model.x": torch.zeros(4, 4)}, str(tmp_path / "p.safetensors"))
    save_file({"model.diffusion_model.x": torch.zeros(8, 4)}, str(tmp_path / "q.safetensors"))
    with merge_engine.TensorSource(tmp_path / "p.safetensors", "A") as p, \
            merge_engine.TensorSource(tmp_path / "q.safetensors", "B") as q:
        with pytest.raises(merge_engine.MergeError, match=r"differ in shape .* model.diffusion_model.x: shape \[4, 4\]"):
            merge_engine.plan_merge("Weighted sum", p, q)
    save_file({"model.diffusion_model.y": torch.zeros(4)}, str(tmp_path / "r.safetensors"))
    with merge_engine.TensorSource(tmp_path / "p.safetensors", "A") as p, \
            merge_engine.TensorSource(tmp_path / "r.safetensors", "B") as r:
        with pytest.raises(merge_engine.MergeError, match="no weights in common"):
            merge_engine.plan_merge("Weighted sum", p, r)


def test_a_damaged_input_gives_a_clear_error(env, inputs):
    data = inputs["b"].read_bytes()
    (env.ckpt / "b.safetensors").write_bytes(data[:len(data) // 2])       # cut short
    with pytest.raises(cm.MergeError, match=r"B \(b.safetensors\) is damaged"):
        env.merge(custom_name="from-damaged")
    (env.ckpt / "b.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(cm.MergeError, match="is not a .safetensors file"):
        env.merge(custom_name="from-damaged")
    assert "from-damaged.safetensors" not in env.files()


def test_an_inpainting_a_keeps_its_extra_input_channels(env, inputs):
    result = env.merge("inpaint", "plain", multiplier=0.5)
    assert result.filename.name == "0.5(inpaint) + 0.5(plain).inpainting.safetensors"
    a, b, out = load_file(inputs["inpaint"]), load_file(inputs["plain"]), load_file(result.filename)
    assert out[UNET_IN].shape[1] == 9
    assert _close(out[UNET_IN][:, :4], a[UNET_IN][:, :4].float() * 0.5 + b[UNET_IN].float() * 0.5)
    assert torch.equal(out[UNET_IN][:, 4:], a[UNET_IN][:, 4:])
    assert json.loads(_metadata(result.filename)["sd_merge_recipe"])["is_inpainting"] is True
    with pytest.raises(cm.MergeError, match="A must be the inpainting model"):
        env.merge("plain", "inpaint")


# --- streaming -----------------------------------------------------------------------------------
def test_each_tensor_is_written_before_the_next_is_read(env, monkeypatch):
    events: list[tuple[str, str]] = []
    get, write = merge_engine.TensorSource.get, merge_engine.SafetensorsStreamWriter.write

    def spy_get(self, key):
        events.append(("read", key))
        return get(self, key)

    def spy_write(self, key, tensor):
        events.append(("write", key))
        return write(self, key, tensor)

    monkeypatch.setattr(merge_engine.TensorSource, "get", spy_get)
    monkeypatch.setattr(merge_engine.SafetensorsStreamWriter, "write", spy_write)
    env.merge(tertiary="c", interp_method="Add difference", bake_in_vae="tiny-vae.safetensors")
    writes = [k for kind, k in events if kind == "write"]
    assert len(writes) > 400
    # between two writes only the next tensor's inputs (A's, B's, C's or the VAE's) are read
    pending: set[str] = set()
    for kind, key in events:
        if kind == "read":
            pending.add(key.removeprefix("first_stage_model."))
            assert len(pending) == 1, f"{pending} read before the previous tensor was written"
        else:
            pending.clear()


# --- through the running app ---------------------------------------------------------------------
def test_a_merge_in_the_app_is_listed_by_the_api_and_generates(api):
    from modules import extras
    from sdwebui.services import runtime

    out_dir = runtime.paths.extra_checkpoint_dir      # --ckpt-dir, as in A1111
    made = []
    try:
        res = extras.run_modelmerger(None, "alpha", "sub/beta.safetensors", None, "Weighted sum", 0.5, False,
                                     "merged-by-test", "safetensors", 0, "None", "", True, True, True, "{}")
        made += [out_dir / "merged-by-test.safetensors"]
        assert res[-1] == f"Checkpoint saved to {made[0]}"
        digest = hashlib.sha256(made[0].read_bytes()).hexdigest()
        title = f"merged-by-test.safetensors [{digest[:10]}]"
        assert all(title in update["choices"] for update in res[:4])
        listed = {m["title"]: m for m in api.get("/sdapi/v1/sd-models").json()}
        assert listed[title]["hash"] == digest[:10] and listed[title]["sha256"] == digest
        r = api.post("/sdapi/v1/txt2img", json={"prompt": "a merged model", "width": 64, "height": 64, "steps": 2,
                                                "override_settings": {"sd_model_checkpoint": title}})
        assert r.status_code == 200, r.text
        assert "Model: merged-by-test" in json.loads(r.json()["info"])["infotexts"][0]
        # models that do not fit: a message, and the running model stays loaded
        loaded = runtime.model_manager.sd_model
        bad = extras.run_modelmerger(None, "alpha", "tiny-sdxl", None, "Weighted sum", 0.5, False, "bad", "safetensors",
                                     0, "None", "", True, True, True, "{}")
        assert bad[-1].startswith("Error merging checkpoints: ") and "SDXL" in bad[-1]
        assert runtime.model_manager.sd_model is loaded and not (out_dir / "bad.safetensors").exists()
    finally:
        for path in made:
            path.unlink(missing_ok=True)
        api.post("/sdapi/v1/refresh-checkpoints")


def test_the_tab_has_a1111s_elements_and_updates_the_quicksettings_dropdown():
    import gradio as gr

    from modules import ui_checkpoint_merger
    from sdwebui.interfaces.ui import checkpoint_merger

    with gr.Blocks() as demo:
        quick = gr.Dropdown(choices=[], elem_id="setting_sd_model_checkpoint")
        ui = checkpoint_merger.create_checkpoint_merger_tab()
    assert isinstance(ui, ui_checkpoint_merger.UiCheckpointMerger)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"modelmerger_primary_model_name", "modelmerger_secondary_model_name", "modelmerger_tertiary_model_name",
            "modelmerger_custom_name", "modelmerger_interp_amount", "modelmerger_interp_method",
            "modelmerger_checkpoint_format", "modelmerger_save_as_half", "modelmerger_config_method",
            "modelmerger_bake_in_vae", "modelmerger_discard_weights", "modelmerger_merge", "modelmerger_result",
            "modelmerger_save_metadata", "modelmerger_add_recipe", "modelmerger_copy_metadata",
            "refresh_checkpoint_A", "refresh_checkpoint_B", "refresh_checkpoint_C",
            "modelmerger_refresh_bake_in_vae", "modelmerger_results_panel"} <= ids
    merge = next(d for d in demo.fns.values() if len(d.inputs) == 17)
    assert quick._id in [o._id for o in merge.outputs]
    assert "A * (1 - M) + B * M" in ui_checkpoint_merger.update_interp_description("Weighted sum")
    assert "A + (B - C) * M" in ui_checkpoint_merger.update_interp_description("Add difference")
