"""The Checkpoint Merger (A1111's `extras.run_modelmerger`): which files, under which name, with which
metadata and config, and the checkpoint list refreshed afterwards. The tensor work is
`sdwebui.engine.models.merge`, which streams it.

"Config" here: this project derives a model's architecture from its weights, except that its own
tiny models carry it in three metadata keys (`ARCHITECTURE_KEYS`), and that a `<checkpoint>.yaml`
beside a file marks a v-prediction model as in A1111. "Copy config from" copies both from the
chosen input: the architecture keys into the result's metadata, the .yaml to a .yaml beside it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdwebui.engine.atomic_write import atomic_create
from sdwebui.engine.models.merge import (ADD_DIFFERENCE, METHODS, MODELS_NEEDED, WEIGHTED_SUM, MergeError, MergePlan,
                                         TensorSource, merged_tensors, plan_merge, write_merge)
from sdwebui.engine.models.single_file import META_CONFIG, META_FAMILY, META_PREDICTION
from sdwebui.services import runtime
from sdwebui.services.job_state import State
from sdwebui.services.models.checkpoints import CheckpointInfo, CheckpointRegistry
from sdwebui.services.models.model_names import read_metadata_from_safetensors
from sdwebui.services.models.vae_registry import VaeRegistry

logger = logging.getLogger(__name__)

__all__ = ["ARCHITECTURE_KEYS", "CONFIG_SOURCES", "FORMATS", "MergeError", "MergeRequest", "MergeResult", "METHODS",
           "merge_checkpoints", "output_path", "read_metadata", "copy_config", "default_name"]

ARCHITECTURE_KEYS = (META_FAMILY, META_PREDICTION, META_CONFIG)
CONFIG_SOURCES = ("A, B or C", "B", "C", "Don't")     # "Copy config from", by index as A1111's radio gives it
FORMATS = ("ckpt", "safetensors")
NO_VAE = (None, "", "None")


@dataclass
class MergeRequest:
    """A1111's run_modelmerger arguments (same names and defaults as its tab), plus `overwrite`."""
    primary_model_name: str | None
    secondary_model_name: str | None = None
    tertiary_model_name: str | None = None
    interp_method: str = WEIGHTED_SUM
    multiplier: float = 0.3
    save_as_half: bool = False
    custom_name: str = ""
    checkpoint_format: str = "safetensors"
    config_source: int = 0
    bake_in_vae: str | None = "None"
    discard_weights: str = ""
    save_metadata: bool = True
    add_merge_recipe: bool = True
    copy_metadata_fields: bool = True
    metadata_json: str = "{}"
    overwrite: bool = False


@dataclass
class MergeResult:
    filename: Path
    checkpoint: CheckpointInfo | None       # the new file's entry in the refreshed checkpoint list
    sha256: str | None
    config: Path | None = None              # the .yaml copied beside it
    notes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return " ".join([f"Checkpoint saved to {self.filename}", *self.notes])


@dataclass
class _Input:
    """One input model: its registry entry, its open tensors and its metadata (JSON values decoded)."""
    info: CheckpointInfo
    source: TensorSource
    metadata: dict[str, Any]


# --- names -----------------------------------------------------------------------------------------
def default_name(method: str, multiplier: float, a: CheckpointInfo, b: CheckpointInfo | None,
                 c: CheckpointInfo | None) -> str:
    """A1111's generated file name, e.g. `0.7(alpha) + 0.3(beta)`."""
    if method == WEIGHTED_SUM:
        return f"{round(1 - multiplier, 2)}({a.model_name}) + {round(multiplier, 2)}({b.model_name})"
    if method == ADD_DIFFERENCE:
        return f"{a.model_name} + {round(multiplier, 2)}({b.model_name} - {c.model_name})"
    return a.model_name


def output_path(out_dir: Path, name: str, fmt: str, suffix: str = "") -> Path:
    """`out_dir/<name><suffix>.<fmt>`; a name that is not a plain file name (a path, `..`) is refused,
    so a merge can only be written into the checkpoint folder. A trailing `.<fmt>` is not doubled."""
    if fmt not in FORMATS:
        raise MergeError(f"unknown checkpoint format {fmt!r}; expected one of {', '.join(FORMATS)}")
    name = (name or "").strip()
    if name.lower().endswith("." + fmt):
        name = name[:-len(fmt) - 1]
    if (not name or name in (".", "..") or any(ch in name for ch in ("/", "\\", "\0", os.sep))
            or os.path.isabs(name)):
        raise MergeError(f"The name {name!r} is not allowed: give a plain file name, without '/', '\\' or '..' "
                         f"(merged checkpoints are saved in {out_dir}).")
    path = Path(out_dir) / f"{name}{suffix}.{fmt}"
    if path.resolve().parent != Path(out_dir).resolve():
        raise MergeError(f"The name {name!r} would leave the checkpoint folder {out_dir}.")
    return path


# --- metadata and config -----------------------------------------------------------------------------
def _metadata_of(info: CheckpointInfo) -> dict[str, Any]:
    return read_metadata_from_safetensors(info.filename) if info.is_safetensors else {}


def read_metadata(*names: str | None, registry: CheckpointRegistry | None = None) -> str:
    """A1111's "Read metadata from selected checkpoints": their metadata merged (later ones win) as
    indented JSON, without the architecture keys (they are config, copied by "Copy config from")."""
    registry = registry or runtime.registry
    metadata: dict[str, Any] = {}
    for name in names:
        info = registry.match(name) if name else None
        if info is not None:
            metadata.update({k: v for k, v in _metadata_of(info).items() if k not in ARCHITECTURE_KEYS})
    return json.dumps(metadata, indent=4, ensure_ascii=False)


def _config_index(config_source: int | str) -> int:
    """A1111's radio gives the index; its label is taken too."""
    if isinstance(config_source, str) and config_source in CONFIG_SOURCES:
        return CONFIG_SOURCES.index(config_source)
    return int(config_source)


def _config_candidates(config_source: int | str, items: list) -> list:
    """Of the inputs [A, B, C] (None where not used), those "Copy config from" looks at, in order."""
    a, b, c = (list(items) + [None, None, None])[:3]
    chosen = {0: [a, b, c], 1: [b], 2: [c]}.get(_config_index(config_source), [])
    return [i for i in chosen if i is not None]


def _yaml_of(info: CheckpointInfo) -> Path | None:
    yaml = info.path.with_suffix(".yaml")
    return yaml if yaml.is_file() else None


def copy_config(result: Path, config_source: int, a: Any = None, b: Any = None, c: Any = None) -> Path | None:
    """A1111's extras.create_config: the `.yaml` beside the first of the chosen inputs (A, B or C /
    B / C / none, by `config_source`) that has one, copied beside `result`; its path, or None."""
    for info in _config_candidates(config_source, [a, b, c]):
        yaml = _yaml_of(info)
        if yaml is not None:
            target = Path(result).with_suffix(".yaml")
            logger.info("Copying config from %s to %s", yaml, target)
            shutil.copyfile(yaml, target)
            return target
    return None


def _recipe_models(inputs: list[_Input]) -> dict[str, Any]:
    """A1111's sd_merge_models: every input by sha256 (name, legacy hash, its own recipe), and the
    models its inputs were merged from."""
    models: dict[str, Any] = {}
    for item in inputs:
        models[item.info.sha256] = {"name": item.info.name, "legacy_hash": item.info.hash,
                                    "sd_merge_recipe": item.metadata.get("sd_merge_recipe")}
        earlier = item.metadata.get("sd_merge_models")
        if isinstance(earlier, dict):
            models.update(earlier)
    return models


def build_metadata(request: MergeRequest, inputs: list[_Input], result_kind: str) -> dict[str, str]:
    """The result's safetensors metadata: A1111's rules (copied fields, the JSON editor's, `format`,
    `sd_merge_recipe`, `sd_merge_models`), then the architecture keys of the config source."""
    metadata: dict[str, Any] = {}
    if request.save_metadata and request.copy_metadata_fields:
        for item in inputs:
            metadata.update({k: v for k, v in item.metadata.items() if k not in ARCHITECTURE_KEYS})
    if request.save_metadata:
        metadata.update(_parse_metadata_json(request.metadata_json))
        metadata["format"] = "pt"
    if request.save_metadata and request.add_merge_recipe:
        hashes = [item.info.sha256 for item in inputs] + [None, None]
        metadata["sd_merge_recipe"] = {
            "type": "webui", "primary_model_hash": hashes[0], "secondary_model_hash": hashes[1],
            "tertiary_model_hash": hashes[2], "interp_method": request.interp_method,
            "multiplier": request.multiplier, "save_as_half": request.save_as_half,
            "custom_name": request.custom_name, "config_source": request.config_source,
            "bake_in_vae": request.bake_in_vae, "discard_weights": request.discard_weights,
            "is_inpainting": result_kind == "inpainting", "is_instruct_pix2pix": result_kind == "instruct-pix2pix"}
        metadata["sd_merge_models"] = _recipe_models(inputs)
    for item in _config_candidates(request.config_source, inputs):
        arch = {k: item.metadata[k] for k in ARCHITECTURE_KEYS if k in item.metadata}
        if arch:
            metadata.update(arch)
            break
    # safetensors stores strings only; A1111 writes its JSON fields as JSON text, so do all others
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in metadata.items()}


def _parse_metadata_json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as e:
        raise MergeError(f"'Metadata in JSON format' is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MergeError("'Metadata in JSON format' must be a JSON object ({...})")
    return value


# --- the merge ---------------------------------------------------------------------------------------
def _find(registry: CheckpointRegistry, name: str) -> CheckpointInfo:
    info = registry.match(name)
    if info is None:
        raise MergeError(f"Checkpoint {name!r} not found (refresh the list?)")
    return info


def _chosen_models(request: MergeRequest, registry: CheckpointRegistry) -> list[CheckpointInfo]:
    """The infos of A (and B, C as the method needs them), with A1111's messages when one is missing."""
    if request.interp_method not in METHODS:
        raise MergeError(f"unknown interpolation method {request.interp_method!r}; expected one of "
                         f"{', '.join(METHODS)}")
    needed = MODELS_NEEDED[request.interp_method]
    if not request.primary_model_name:
        raise MergeError("Failed: Merging requires a primary model.")
    if needed >= 2 and not request.secondary_model_name:
        raise MergeError("Failed: Merging requires a secondary model.")
    if needed >= 3 and not request.tertiary_model_name:
        raise MergeError(f"Failed: Interpolation method ({request.interp_method}) requires a tertiary model.")
    names = [request.primary_model_name, request.secondary_model_name, request.tertiary_model_name][:needed]
    return [_find(registry, name) for name in names]


def _check_free(path: Path, request: MergeRequest, copies_config: bool) -> None:
    """No existing file is replaced unless the request says so."""
    if request.overwrite:
        return
    for target in [path] + ([path.with_suffix(".yaml")] if copies_config else []):
        if target.exists():
            raise MergeError(f"{target.name} already exists in {target.parent}: choose another name (or tick "
                             f"'Overwrite existing file').")


def _progress(state: State | None, text: str) -> None:
    logger.info("%s", text)
    if state is not None:
        state.textinfo = text


def merge_checkpoints(request: MergeRequest, *, registry: CheckpointRegistry | None = None,
                      vae_registry: VaeRegistry | None = None, out_dir: Path | None = None,
                      state: State | None = None) -> MergeResult:
    """Merge as `request` says, write the result into `out_dir` (the app's checkpoint folder:
    --ckpt-dir, else models/Stable-diffusion), add it to the checkpoint list with its hash and
    return where it went. Raises MergeError with a message for the user; the loaded model is not
    touched. Run it on the generation queue (A1111 holds the queue lock for it)."""
    registry = registry or runtime.registry
    vae_registry = vae_registry or runtime.vae_registry
    if out_dir is None:
        out_dir = runtime.paths.extra_checkpoint_dir or runtime.paths.checkpoints
    out_dir = Path(out_dir)
    infos = _chosen_models(request, registry)
    if request.save_metadata:   # bad JSON is refused before anything is read
        _parse_metadata_json(request.metadata_json)
    if request.custom_name:     # a bad name is refused before anything is read
        output_path(out_dir, request.custom_name, request.checkpoint_format)
    vae_info = None
    if request.bake_in_vae not in NO_VAE:
        vae_info = vae_registry.match(request.bake_in_vae) if vae_registry is not None else None
        if vae_info is None:
            raise MergeError(f"VAE {request.bake_in_vae!r} not found (refresh the VAE list?)")
    with ExitStack() as stack:
        inputs = []
        for letter, info in zip("ABC", infos):
            source = stack.enter_context(TensorSource(info.filename, f"{letter} ({info.name})"))
            inputs.append(_Input(info, source, _metadata_of(info)))
        vae = stack.enter_context(TensorSource(vae_info.filename, f"VAE {vae_info.model_name}")) if vae_info else None
        sources = [i.source for i in inputs] + [None, None]
        plan = plan_merge(request.interp_method, sources[0], sources[1], sources[2], half=request.save_as_half,
                          discard=request.discard_weights or None, vae=vae)
        name = request.custom_name or default_name(request.interp_method, request.multiplier,
                                                   *(infos + [None, None])[:3])
        path = output_path(out_dir, name, request.checkpoint_format, f".{plan.result_kind}" if plan.result_kind else "")
        yaml_source = next((y for y in map(_yaml_of, _config_candidates(request.config_source, infos)) if y), None)
        _check_free(path, request, yaml_source is not None)
        metadata = None
        if request.checkpoint_format == "safetensors":
            if request.save_metadata and request.add_merge_recipe:
                for item in inputs:
                    registry.ensure_hash(item.info)     # the recipe names the inputs by sha256
            metadata = build_metadata(request, inputs, plan.result_kind) or None
        digest = _write(path, plan, request, inputs, vae, metadata, state)
    config = copy_config(path, request.config_source, *infos) if yaml_source is not None else None
    checkpoint = _register(registry, path, digest)
    result = MergeResult(path, checkpoint, checkpoint.sha256 if checkpoint else digest, config, _notes(plan))
    _progress(state, "Checkpoint saved")
    logger.info("%s", result.message)
    return result


def _write(path: Path, plan: MergePlan, request: MergeRequest, inputs: list[_Input], vae: TensorSource | None,
           metadata: dict[str, str] | None, state: State | None) -> str | None:
    if state is not None:
        state.job_count = 1
        state.sampling_steps = len(plan.steps)
        state.sampling_step = 0

    def step_done(_key: str) -> None:
        if state is not None:
            state.sampling_step += 1

    sources = [i.source for i in inputs] + [None, None]
    _progress(state, f"Merging {', '.join(i.source.label for i in inputs)} into {path.name} ({request.interp_method})")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = merged_tensors(plan, request.multiplier, sources[0], sources[1], sources[2], vae)
    try:
        with atomic_create(path, overwrite=request.overwrite) as out:
            return write_merge(out, request.checkpoint_format, plan, tensors, metadata, on_tensor=step_done)
    except FileExistsError:
        raise MergeError(f"{path.name} already exists in {path.parent}: choose another name.") from None


def _register(registry: CheckpointRegistry, path: Path, digest: str | None) -> CheckpointInfo | None:
    """Refresh the checkpoint list and give the new entry its sha256 (computed while writing a
    .safetensors; read back for a .ckpt), so it is listed with its short hash at once."""
    registry.refresh()
    info = next((i for i in registry.list() if Path(i.filename) == path.resolve()), None)
    if info is None:
        logger.warning("%s was written outside the folders the checkpoint list reads", path)
        return None
    if digest and info.sha256 != digest:
        registry.cache.remember_sha256(path, f"checkpoint/{info.name}", digest)
        info.sha256 = digest
    registry.ensure_hash(info)
    return info


def _notes(plan: MergePlan) -> list[str]:
    notes = []
    if plan.kept_from_a:
        notes.append(f"{plan.kept_from_a} of A's weights are not in B and were kept from A.")
    if plan.discarded:
        notes.append(f"{len(plan.discarded)} weights were discarded.")
    return notes

