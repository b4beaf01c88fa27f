"""Where ControlNet models are, what they are called, and the few that stay loaded.

Folders, first one wins for a name: `models/ControlNet`, `extensions/sd-webui-controlnet/models`
(where users of the third-party extension keep them), the option `control_net_models_path`, and
`--controlnet-dir`. A file is listed as `<stem> [<A1111 legacy hash>]`; a diffusers folder
(`config.json` + weights) by its folder name.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from modules import paths, shared
from sdwebui.engine.control.controlnet_models import ControlModelError
from sdwebui.engine.control.t2i_adapters import load_control_model
from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.models.hashes import model_hash

logger = logging.getLogger(__name__)

EXTENSIONS = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")
_lock = threading.Lock()
_models: dict[str, Path] = {}               # name -> file
_loaded: OrderedDict = OrderedDict()        # (file, checkpoint, dtype, device) -> net


def unit_count() -> int:
    return max(1, min(10, int(shared.opts.data.get("control_net_unit_count", 3) or 3)))


def annotator_dir():
    given = getattr(shared.cmd_opts, "controlnet_annotator_models_path", None) or \
        shared.opts.data.get("control_net_modules_path")
    return Path(given) if given else Path(paths.data_path) / "extensions" / "sd-webui-controlnet" / "annotator" / "downloads"


def folders() -> list[Path]:
    out = [Path(paths.models_path) / "ControlNet", Path(paths.data_path) / "extensions" / "sd-webui-controlnet" / "models"]
    for extra in (shared.opts.data.get("control_net_models_path"), getattr(shared.cmd_opts, "controlnet_dir", None)):
        if extra:
            out.append(Path(extra))
    return out


def _candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in EXTENSIONS and path.stem != "None":
            if path.name.startswith("diffusion_pytorch_model") and (path.parent / "config.json").is_file():
                continue            # a diffusers folder's weights: listed as the folder
            found.append(path)
        elif path.is_dir() and (path / "config.json").is_file() and any(path.glob("diffusion_pytorch_model.*")):
            found.append(path)
    return found


def refresh() -> list[str]:
    """Scan the folders again; the names, sorted as the option asks, "None" first."""
    found: dict[str, Path] = {}
    for folder in folders():
        for path in _candidates(folder):
            name = path.name if path.is_dir() else f"{path.stem} [{model_hash(path)}]"
            found.setdefault(name, path)
    order = shared.opts.data.get("control_net_models_sort_models_by", "name")
    keyed = {"date": lambda kv: -kv[1].stat().st_mtime, "path name": lambda kv: str(kv[1]).lower()}
    items = sorted(found.items(), key=keyed.get(order, lambda kv: kv[0].lower()))
    text = (shared.opts.data.get("control_net_models_name_filter") or "").lower()
    with _lock:
        _models.clear()
        _models.update((k, v) for k, v in items if text in k.lower())
        return ["None", *_models]


def names() -> list[str]:
    with _lock:
        listed = ["None", *_models] if _models else None
    return listed or refresh()


def find(name: str, field: str = "model") -> tuple[str, Path]:
    """A unit's `model`: the exact name, else the file stem (a stale hash still works), else the
    shortest name that contains it."""
    names()
    with _lock:
        models = dict(_models)
    if name not in models and name.split(" [")[0] not in {n.split(" [")[0] for n in models}:
        refresh()          # a file put in the folder since the last scan
        with _lock:
            models = dict(_models)
    if name in models:
        return name, models[name]
    stem = name.split(" [")[0].strip().lower()
    for listed, path in models.items():
        if listed.split(" [")[0].lower() == stem:
            return listed, path
    containing = sorted((n for n in models if stem and stem in n.lower()), key=len)
    if containing:
        return containing[0], models[containing[0]]
    raise ProcessingError(field, f"model not found: {name}; available: {list(models) or 'none (put ControlNet files in models/ControlNet)'}")


def load(path: Path, sd_model, field: str = "model"):
    """The ControlNet for the loaded checkpoint, in its device and dtype (kept in a small LRU)."""
    dtype = torch.float32 if getattr(shared.cmd_opts, "no_half_controlnet", None) else sd_model.dtype
    key = (str(path), getattr(sd_model, "sd_checkpoint_info", None) and sd_model.sd_checkpoint_info.filename,
           dtype, str(sd_model.device))
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    try:
        net = load_control_model(path, sd_model.unet, sd_model.family, device=sd_model.device,
                                 dtype=dtype)
    except ControlModelError as e:
        raise ProcessingError(field, str(e)) from None
    with _lock:
        _loaded[key] = net
        keep = max(1, int(shared.opts.data.get("control_net_model_cache_size", 2) or 1))
        while len(_loaded) > keep:
            _loaded.popitem(last=False)
    return net


_clip: dict = {}        # (file, dtype, device) -> the CLIP vision encoder IP-Adapter units use (one kept)


def clip_vision(relative: str, sd_model, field: str = "module"):
    """The CLIP vision encoder `relative` (under the annotator folder) on the model's device; the
    last one used stays loaded."""
    from sdwebui.engine.control.ip_adapter import IPAdapterError, load_clip_vision

    path = annotator_dir() / relative
    if not path.is_file():
        raise ProcessingError(field, f"IP-Adapter needs {relative} in {annotator_dir()} (no download is attempted)")
    key = (str(path), sd_model.dtype, str(sd_model.device))
    with _lock:
        if key in _clip:
            return _clip[key]
    try:
        model = load_clip_vision(path, device=sd_model.device, dtype=sd_model.dtype)
    except IPAdapterError as e:
        raise ProcessingError(field, str(e)) from None
    with _lock:
        _clip.clear()
        _clip[key] = model
    return model
