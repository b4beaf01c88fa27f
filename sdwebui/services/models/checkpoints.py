"""The checkpoint registry (what is on disk, with A1111 titles and hashes) and the model
manager (exactly one checkpoint resident on the device)."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from sdwebui.services.models import devices, offload
from sdwebui.engine.models.hashes import HashCache, model_hash
from sdwebui.engine.models.single_file import (META_CONFIG, META_FAMILY, META_PREDICTION, CheckpointLoadError, SDModel,
                                              family_of_file,
                                              load_checkpoint)

logger = logging.getLogger(__name__)

CHECKPOINT_EXTENSIONS = (".safetensors", ".ckpt", ".gguf")    # .gguf: quantised Flux / SD3 transformers


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


@dataclass
class CheckpointInfo:
    # the absolute path as a `str`, as A1111's CheckpointInfo.filename (extensions call str methods on
    # it: model-converter's `.endswith`); `path` is the same as a Path for our own code
    filename: str
    name: str                      # path relative to the checkpoint dir, e.g. "sub/model.safetensors"
    sha256: str | None = None
    hash: str = ""                 # legacy 8-hex hash
    aliases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.filename = str(self.filename)

    @property
    def path(self) -> Path:
        return Path(self.filename)

    @property
    def is_safetensors(self) -> bool:
        return self.path.suffix.lower() == ".safetensors"

    @property
    def name_for_extra(self) -> str:
        return Path(self.name).stem

    @property
    def model_name(self) -> str:
        return re.sub(r"[\\/]", "_", str(Path(self.name).with_suffix("")))

    @property
    def shorthash(self) -> str | None:
        return self.sha256[:10] if self.sha256 else None

    @property
    def title(self) -> str:
        return f"{self.name} [{self.shorthash}]" if self.shorthash else self.name

    @property
    def short_title(self) -> str:
        return f"{self.name_for_extra} [{self.shorthash}]" if self.shorthash else self.name_for_extra

    def ids(self) -> list[str]:
        out = [self.title, self.name, self.name_for_extra, self.model_name, self.filename,
               self.path.name, str(Path(self.name).with_suffix("")), self.hash, f"{self.name} [{self.hash}]"]
        if self.sha256:
            out += [self.sha256, self.shorthash, f"{self.name_for_extra} [{self.shorthash}]"]
        return [i for i in out if i]

    @property
    def family(self) -> str | None:
        """The model family (sd1 ... sd3, flux) read from the file's header once; None if unknown."""
        if not hasattr(self, "_family"):
            self._family = family_of_file(self.path)
        return self._family

    def api_dict(self) -> dict:
        yaml = self.path.with_suffix(".yaml")
        return {"title": self.title, "model_name": self.model_name, "hash": self.shorthash,
                "sha256": self.sha256, "filename": self.filename,
                "config": str(yaml) if yaml.is_file() else None, "family": self.family}


class CheckpointRegistry:
    def __init__(self, dirs: list[Path], hash_cache: HashCache, extra_files: list[Path] | None = None):
        self.dirs = [Path(d) for d in dirs]
        self.extra_files = [Path(f) for f in (extra_files or [])]
        self.cache = hash_cache
        self._lock = threading.Lock()
        self._list: list[CheckpointInfo] = []

    def refresh(self) -> list[CheckpointInfo]:
        found: list[CheckpointInfo] = []
        seen: set[Path] = set()
        for base in self.dirs:
            if not base.is_dir():
                continue
            files = [p for p in base.rglob("*") if p.suffix.lower() in CHECKPOINT_EXTENSIONS
                     and ".vae." not in p.name.lower() and p.is_file()]
            for p in sorted(files, key=lambda p: _natural_key(str(p.relative_to(base)))):
                rp = p.resolve()
                if rp in seen:
                    continue
                seen.add(rp)
                found.append(self._info(p, p.relative_to(base).as_posix()))
        for p in self.extra_files:
            if p.is_file() and p.resolve() not in seen:
                seen.add(p.resolve())
                found.append(self._info(p, p.name))
        with self._lock:
            self._list = found
        return found

    def _info(self, path: Path, name: str) -> CheckpointInfo:
        info = CheckpointInfo(filename=path.resolve(), name=name, hash=model_hash(path))
        info.sha256 = self.cache.cached_sha256(path, f"checkpoint/{name}")
        return info

    def list(self) -> list[CheckpointInfo]:
        with self._lock:
            return list(self._list)

    def match(self, query: str | None) -> CheckpointInfo | None:
        """By title, name, file name (with or without extension), stem, short hash or sha256;
        then the same ignoring a trailing `[hash]` and case."""
        if not query:
            return None
        items = self.list()
        for info in items:
            if query in info.ids():
                return info
        bare = re.sub(r"\s*\[[0-9a-fA-F]+\]\s*$", "", query).strip()
        lowered = bare.lower()
        for info in items:
            if lowered in (i.lower() for i in info.ids()):
                return info
        return None

    def ensure_hash(self, info: CheckpointInfo) -> str:
        if not info.sha256:
            info.sha256 = self.cache.sha256(info.filename, f"checkpoint/{info.name}")
        return info.sha256


def _header(path: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """(metadata, tensor name -> shape) of a .safetensors file, from its header only."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {}), {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def default_architecture_of(path: Path) -> dict:
    """The architecture of the embedded default model, for a file that has its weights but lost the
    metadata declaring them (tools such as model-converter write no metadata): the default is of
    its own size, which no key layout reveals. {} for every other file."""
    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE

    if path.suffix.lower() != ".safetensors" or not DEFAULT_MODEL_FILE.is_file():
        return {}
    try:
        meta, shapes = _header(path)
        if META_CONFIG in meta:
            return {}
        default_meta, default_shapes = _header(DEFAULT_MODEL_FILE)
    except Exception:          # unreadable: the loader reports it
        return {}
    if any(shapes.get(k) != shape for k, shape in default_shapes.items() if not k.startswith("model_ema.")):
        return {}
    logger.info("%s has the embedded default model's weights without its architecture metadata; using the "
                "default's architecture", path.name)
    return {"configs": json.loads(default_meta[META_CONFIG]), "family": default_meta.get(META_FAMILY),
            "prediction_type": default_meta.get(META_PREDICTION)}


class ModelManager:
    """Owns the one resident model. load() must run on the queue worker (it uses the device)."""

    def __init__(self, registry: CheckpointRegistry, device: torch.device, dtype: torch.dtype,
                 vae_dtype: torch.dtype, *, vae_upcast_dtype: torch.dtype = torch.float32,
                 hashing: bool = True, cache_size: Callable[[], int] = lambda: 0,
                 offload_mode: Callable[[SDModel], str | None] = lambda model: None,
                 prepare: Callable[[SDModel], None] = lambda model: None,
                 prepare_vae: Callable[[SDModel], None] = lambda model: None,
                 load_options: Callable[[], dict] = dict):
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self.vae_dtype = vae_dtype
        self.vae_upcast_dtype = vae_upcast_dtype   # for VAEs that overflow in fp16 (devices.vae_upcast_dtype)
        self.hashing = hashing
        self.sd_model: SDModel | None = None
        self.checkpoint_info: CheckpointInfo | None = None
        self.on_loaded: list[Callable[[SDModel], None]] = []
        self.last_load_seconds: float | None = None
        # recently used models kept in RAM (on the CPU), newest last: switching back to one is a
        # copy to the device, not a disk load (options sd_checkpoint_cache / sd_checkpoints_limit)
        self.cache_size = cache_size
        self.ram_cache: OrderedDict[str, SDModel] = OrderedDict()
        self.offload_mode = offload_mode     # --medvram / --lowvram (modules.offload)
        self.prepare = prepare               # fast paths + compile warm-up (modules.speedups), on the device
        self.prepare_vae = prepare_vae       # the same for a VAE swapped in
        # what the settings ask of a load (the text encoder folders, SD3's sd3_enable_t5): load_checkpoint's
        # keyword arguments; a resident SD3 model built with other ones is loaded again (stale())
        self.load_options = load_options

    def dtype_for(self, info: CheckpointInfo) -> torch.dtype:
        """The model's dtype: the device's half precision, but bf16 for FLUX.1 where the GPU has it (it is
        trained and released in bf16, and its activations can overflow fp16's range)."""
        if (self.dtype == torch.float16 and info.family == "flux" and self.device.type == "cuda"
                and torch.cuda.is_bf16_supported()):
            return torch.bfloat16
        return self.dtype

    def stale(self, model: SDModel | None = None) -> bool:
        """Whether `model` (default: the resident one) was built with other load options than the
        settings give now (SD3 with or without T5, other chosen VAE / text encoder files); only the
        transformer families depend on them."""
        model = self.sd_model if model is None else model
        return (model is not None and (model.is_sd3 or model.is_flux)
                and getattr(model, "load_options", None) != self.load_options())

    def load(self, info: CheckpointInfo) -> SDModel:
        """Load `info`; on failure the previous model stays resident and the error propagates."""
        if self.sd_model is not None and self.checkpoint_info is not None \
                and self.checkpoint_info.filename == info.filename and not self.stale():
            return self.sd_model
        start = time.perf_counter()
        new = self.ram_cache.pop(info.filename, None)
        source = "RAM cache"
        if new is not None and self.stale(new):
            new = None
        if new is None:
            logger.info("Loading weights [%s] from %s", info.shorthash or info.hash, info.filename)
            # build on the CPU first: a failing file never disturbs the model on the device
            options = self.load_options()
            new = load_checkpoint(info.filename, device="cpu", dtype=self.dtype_for(info), vae_dtype=self.vae_dtype,
                                  vae_upcast_dtype=self.vae_upcast_dtype, **options, **default_architecture_of(info.path))
            new.load_options = options
            source = "file"
        if self.hashing:
            self.registry.ensure_hash(info)
        self.unload()
        mode = self.offload_mode(new)
        if mode:
            offload.enable(new, self.device, mode)
        elif self.device.type != "cpu":
            for m in new.components():
                m.to(self.device)
            new.device = self.device
        new.sd_checkpoint_info = info
        new.sd_model_hash = info.shorthash
        self.prepare(new)
        self.sd_model, self.checkpoint_info = new, info
        self.last_load_seconds = time.perf_counter() - start
        logger.info("Model %s loaded from %s in %.1fs (%s, %s, %s)", info.title, source, self.last_load_seconds,
                    new.family, self.device, str(self.dtype).removeprefix("torch."))
        for cb in list(self.on_loaded):
            try:
                cb(new)
            except Exception:
                logger.exception("model_loaded callback failed")
        return new

    def apply_vae(self, info) -> None:
        """Use a separate VAE file (`info`, a VaeInfo) or, with None, the checkpoint's own.
        A file that does not load leaves the current VAE in place and raises."""
        from sdwebui.services.models.vae_registry import load_vae_weights

        model = self.sd_model
        if model is None:
            return
        current = model.loaded_vae.filename if model.loaded_vae is not None else None
        wanted = info.filename if info is not None else None
        if current == wanted:
            return
        if info is None:
            model.vae = model.base_vae
        else:
            logger.info("Loading VAE weights from %s", info.filename)
            model.vae = load_vae_weights(model, info)
        model.loaded_vae = info
        self.prepare_vae(model)
        devices.torch_gc()

    def unload(self) -> None:
        """Take the resident model off the device: into the RAM cache when it has room, else freed."""
        model, info = self.sd_model, self.checkpoint_info
        if model is None:
            return
        self.sd_model = None
        self.checkpoint_info = None
        keep = max(0, int(self.cache_size()))
        # a --lowvram model keeps its weights in accelerate's offload map, not in the modules: not cached
        if keep and info is not None and getattr(model, "offload", None) != "sequential":
            offload.disable(model)
            if self.device.type != "cpu":
                for m in model.components():
                    m.to("cpu")
                model.device = torch.device("cpu")
            self.ram_cache[info.filename] = model
        while len(self.ram_cache) > keep:
            self.ram_cache.popitem(last=False)     # the least recently used goes
        del model
        devices.torch_gc()
        devices.release_freed_host_memory()

    def clear_cache(self) -> None:
        self.ram_cache.clear()
        devices.torch_gc()

    def reload(self) -> SDModel | None:
        """Load the resident checkpoint again from its file (a cached copy is not reused)."""
        info = self.checkpoint_info
        if info is None:
            return None
        self.unload()
        self.ram_cache.pop(info.filename, None)
        return self.load(info)


__all__ = ["CheckpointInfo", "CheckpointRegistry", "ModelManager", "CheckpointLoadError"]
