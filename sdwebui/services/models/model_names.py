"""A1111's module-level model functions and tables that extensions use (`modules.sd_models`,
`modules.sd_vae`), over the running app's checkpoint and VAE registries and its model manager.

Loading and switching models belongs to the generation queue's worker (the model is the device's
one tenant); these functions run a switch there, so an extension may call them from any thread.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from sdwebui.engine.models.hashes import model_hash  # noqa: F401  (A1111's sd_models.model_hash)
from sdwebui.services import runtime
from sdwebui.services.models.checkpoints import CheckpointInfo

logger = logging.getLogger(__name__)

__all__ = ["SdModelData", "checkpoint_tiles", "checkpoints_list_now", "get_closet_checkpoint_match", "list_models",
           "load_model", "model_data", "model_dir", "model_hash", "read_metadata_from_safetensors",
           "reload_model_weights", "reload_vae_weights", "select_checkpoint", "send_model_to_cpu",
           "send_model_to_device", "unload_model_weights", "vae_dict_now", "refresh_vae_list",
           "get_loaded_vae_name", "get_loaded_vae_hash", "checkpoint_aliases_now", "model_path_now", "vae_path_now",
           "load_vae_dict"]

model_dir = "Stable-diffusion"
_STRIP_CHECKSUM = re.compile(r"\s*\[[^]]+]\s*$")


def _registry():
    if runtime.registry is None:
        raise RuntimeError("the app has not started: there is no checkpoint list yet")
    return runtime.registry


def checkpoints_list_now() -> dict[str, CheckpointInfo]:
    """A1111's `sd_models.checkpoints_list`: title -> CheckpointInfo, as listed now."""
    return {info.title: info for info in runtime.registry.list()} if runtime.registry is not None else {}


def checkpoint_aliases_now() -> dict[str, CheckpointInfo]:
    """A1111's `sd_models.checkpoint_aliases`: every name a checkpoint answers to -> its info."""
    if runtime.registry is None:
        return {}
    return {alias: info for info in runtime.registry.list() for alias in info.ids()}


def model_path_now() -> str:
    return str(runtime.paths.checkpoints) if runtime.paths is not None else ""


def checkpoint_tiles(use_short: bool = False) -> list[str]:
    return [info.short_title if use_short else info.title for info in checkpoints_list_now().values()]


def list_models() -> None:
    """Rescan the checkpoint folders (A1111 fills checkpoints_list here)."""
    _registry().refresh()


def get_closet_checkpoint_match(search_string: str) -> CheckpointInfo | None:
    """The checkpoint a title, name, hash or file name names; else the shortest title containing it.
    (A1111's spelling of "closest".)"""
    if not search_string:
        return None
    registry = _registry()
    found = registry.match(search_string) or registry.match(_STRIP_CHECKSUM.sub("", search_string))
    if found is not None:
        return found
    containing = sorted((i for i in registry.list() if search_string in i.title), key=lambda i: len(i.title))
    return containing[0] if containing else None


def select_checkpoint() -> CheckpointInfo | None:
    """The checkpoint the app would load: --ckpt, else the settings' one, else the first."""
    return runtime.select_checkpoint()


def read_metadata_from_safetensors(filename: str) -> dict[str, Any]:
    """The metadata of a .safetensors file, JSON values decoded as A1111 does."""
    import json

    from safetensors import safe_open

    with safe_open(str(filename), framework="pt") as f:
        meta = dict(f.metadata() or {})
    for key, value in meta.items():
        if isinstance(value, str) and value[:1] == "{":
            try:
                meta[key] = json.loads(value)
            except ValueError:
                pass
    return meta


def _on_queue(fn, name: str):
    return runtime.queue.run(fn, name=name) if runtime.queue is not None else fn()


def _info_for(info: Any) -> CheckpointInfo | None:
    if info is None or isinstance(info, CheckpointInfo):
        return info
    return get_closet_checkpoint_match(str(getattr(info, "title", info)))


def load_model(checkpoint_info: Any = None, already_loaded_state_dict: Any = None) -> Any:
    """Load `checkpoint_info` (or the selected checkpoint) as the resident model. A1111's state-dict
    argument is not supported: models here are built from their files by diffusers."""
    if already_loaded_state_dict is not None:
        raise NotImplementedError("load_model(already_loaded_state_dict=...): this backend builds diffusers models "
                                  "from checkpoint files; save the state dict to a file and load that")
    info = _info_for(checkpoint_info) or select_checkpoint()
    return _on_queue(lambda: runtime.model_manager.load(info), "load-model")


def reload_model_weights(sd_model: Any = None, info: Any = None, forced_reload: bool = False) -> Any:
    """Switch to `info` (or the selected checkpoint); with `forced_reload`, read the file again."""
    target = _info_for(info) or select_checkpoint()

    def switch():
        manager = runtime.model_manager
        if forced_reload and manager.checkpoint_info is not None and target == manager.checkpoint_info:
            manager.unload()
        return manager.load(target)
    return _on_queue(switch, "reload-model")


def unload_model_weights(sd_model: Any = None, info: Any = None) -> None:
    _on_queue(runtime.model_manager.unload, "unload-model")


def send_model_to_cpu(m: Any) -> None:
    """Move every part of a model to the CPU (A1111's --lowvram/--medvram helper)."""
    for part in getattr(m, "components", lambda: [])():
        part.to("cpu")


def send_model_to_device(m: Any) -> None:
    for part in getattr(m, "components", lambda: [])():
        part.to(m.device)


class SdModelData:
    """A1111's `sd_models.model_data`: the resident model, loaded on first ask."""

    @property
    def sd_model(self) -> Any:
        return runtime.sd_model     # on a cluster's front end, the checkpoint's view: never a load here

    @property
    def loaded_sd_models(self) -> list[Any]:
        return [self.sd_model] if self.sd_model is not None else []

    def get_sd_model(self) -> Any:
        if runtime.model_manager is None or runtime.cluster is not None:
            return self.sd_model
        return self.sd_model or _on_queue(runtime.ensure_model_loaded, "load-model")

    def set_sd_model(self, v: Any, already_loaded: bool = False) -> None:
        raise NotImplementedError("model_data.set_sd_model: the model manager owns the resident model here; "
                                  "use sd_models.reload_model_weights(info=...) to switch checkpoints")


model_data = SdModelData()


# --- modules.sd_vae ---------------------------------------------------------------------------

def vae_dict_now() -> dict[str, str]:
    """A1111's `sd_vae.vae_dict`: VAE file name -> path."""
    if runtime.vae_registry is None:
        return {}
    return {info.model_name: str(info.filename) for info in runtime.vae_registry.list()}


def vae_path_now() -> str:
    return str(runtime.paths.vae) if runtime.paths is not None else ""


def refresh_vae_list() -> None:
    if runtime.vae_registry is not None:
        runtime.vae_registry.refresh()


def get_loaded_vae_name() -> str | None:
    model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
    vae = getattr(model, "loaded_vae", None)
    return Path(vae.filename).name if vae is not None else None


def get_loaded_vae_hash() -> str | None:
    model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
    vae = getattr(model, "loaded_vae", None)
    return runtime.vae_registry.shorthash(vae) if vae is not None else None


def reload_vae_weights(sd_model: Any = None, vae_file: Any = None) -> Any:
    """Apply the VAE the settings choose (or the file `vae_file` names) to the resident model."""
    choice = None if vae_file is None else str(vae_file)
    _on_queue(lambda: runtime.apply_vae_setting(choice), "reload-vae")
    return runtime.model_manager.sd_model


def load_vae_dict(filename: str, map_location: Any = None) -> dict[str, Any]:
    """A VAE file's tensors (A1111 keys), read without running code from it."""
    from sdwebui.engine.models.single_file import read_state_dict

    tensors, _meta = read_state_dict(filename)
    return {k: v for k, v in tensors.items() if k not in ("model_ema.decay", "model_ema.num_updates")}
