"""The Lora built-in's `network` module (A1111's names): a network file on disk (`NetworkOnDisk`),
a network as a job uses it (`Network`), and the base classes of network module types.

A `NetworkOnDisk` is made from the app's LoRA registry entry for the file (its safetensors
metadata already read, sdwebui/engine/models/lora.py), so nothing is read twice."""
from __future__ import annotations

import enum
import logging
import os
from collections import namedtuple
from typing import Any

from modules import shared

logger = logging.getLogger(__name__)

NetworkWeights = namedtuple("NetworkWeights", ["network_key", "sd_key", "w", "sd_module"])

# the order A1111 shows a network's metadata in
metadata_tags_order = {"ss_sd_model_name": 1, "ss_resolution": 2, "ss_clip_skip": 3, "ss_num_train_images": 10,
                       "ss_tag_frequency": 20}

LDM_MODULES = ("this web UI merges a network into the model's weights for the job (diffusers modules, no LDM "
               "forward patches); per-module network code (NetworkModule.calc_updown / forward) has nothing to "
               "run on")


class SdVersion(enum.Enum):
    Unknown = 1
    SD1 = 2
    SD2 = 3
    SDXL = 4


def _registry_file(filename: str) -> Any:
    """The app's registry entry (LoraFile) for a file, or None."""
    registry = shared.loras
    if registry is None:
        return None
    real = os.path.realpath(filename)
    return next((f for f in registry.list() if os.path.realpath(f.path) == real), None)


class NetworkOnDisk:
    def __init__(self, name: str, filename: str, lora_file: Any = None):
        self.name = name
        self.filename = str(filename)
        self.is_safetensors = os.path.splitext(self.filename)[1].lower() == ".safetensors"
        self.lora_file = lora_file or _registry_file(self.filename)
        if self.lora_file is not None:
            metadata = dict(self.lora_file.metadata)
        elif self.is_safetensors:
            from modules import sd_models

            try:
                metadata = sd_models.read_metadata_from_safetensors(self.filename)
            except Exception as e:      # an unreadable file is listed without metadata, as in A1111
                logger.warning("reading lora %s: %s", self.filename, e)
                metadata = {}
        else:
            metadata = {}
        self.metadata = dict(sorted(metadata.items(), key=lambda kv: metadata_tags_order.get(kv[0], 999)))
        self.alias = self.metadata.get("ss_output_name", self.name)
        self.hash: str | None = None
        self.shorthash: str | None = None
        self.set_hash(str(self.metadata.get("sshs_model_hash") or self._cached_sha256() or ""))
        self.sd_version = self.detect_version()

    def _cached_sha256(self) -> str | None:
        registry = shared.loras
        if registry is None:
            return None
        return registry.cache.cached_sha256(self.filename, f"lora/{self.name}")

    def detect_version(self) -> SdVersion:
        if str(self.metadata.get("ss_base_model_version", "")).startswith("sdxl_"):
            return SdVersion.SDXL
        if str(self.metadata.get("ss_v2", "")) == "True":
            return SdVersion.SD2
        if self.metadata:
            return SdVersion.SD1
        return SdVersion.Unknown

    def set_hash(self, v: str) -> None:
        self.hash = v
        self.shorthash = v[:12]
        if self.shorthash:
            import networks

            dict.__setitem__(networks.available_network_hash_lookup, self.shorthash, self)

    def read_hash(self) -> None:
        """Compute the file's hash if it is not known yet (the app's hash cache keeps it)."""
        if not self.hash and shared.loras is not None:
            self.set_hash(shared.loras.cache.sha256(self.filename, f"lora/{self.name}"))

    def get_alias(self) -> str:
        import networks

        preferred = getattr(shared.opts, "lora_preferred_name", "Alias from file") if shared.opts else "Alias from file"
        if preferred == "Filename" or self.alias.lower() in networks.forbidden_network_aliases:
            return self.name
        return self.alias


class Network:  # A1111's LoraModule
    def __init__(self, name: str, network_on_disk: NetworkOnDisk):
        self.name = name
        self.network_on_disk = network_on_disk
        self.te_multiplier = 1.0
        self.unet_multiplier = 1.0
        self.dyn_dim = None
        self.modules: dict = {}
        self.bundle_embeddings: dict = {}
        self.mtime: float | None = None
        self.mentioned_name: str | None = None   # the name or alias the prompt used

    @property
    def multiplier(self) -> float:
        """The multiplier before A1111 1.5 split it into te / unet (some extensions still read it)."""
        return self.te_multiplier

    @multiplier.setter
    def multiplier(self, value: float) -> None:
        self.te_multiplier = self.unet_multiplier = value


class ModuleType:
    def create_module(self, net: Network, weights: NetworkWeights) -> "NetworkModule | None":
        return None


class NetworkModule:
    """Base class of A1111's per-module network types; here only their bookkeeping works."""

    def __init__(self, net: Network, weights: NetworkWeights):
        self.network = net
        self.network_key = weights.network_key
        self.sd_key = weights.sd_key
        self.sd_module = weights.sd_module
        self.alpha = float(weights.w["alpha"].item()) if "alpha" in weights.w else None
        self.scale = float(weights.w["scale"].item()) if "scale" in weights.w else None
        self.dim = None

    def multiplier(self) -> float:
        return self.network.te_multiplier if "transformer" in (self.sd_key or "")[:20] else self.network.unet_multiplier

    def calc_scale(self) -> float:
        if self.scale is not None:
            return self.scale
        if self.dim is not None and self.alpha is not None:
            return self.alpha / self.dim
        return 1.0

    def calc_updown(self, target: Any) -> Any:
        raise NotImplementedError(LDM_MODULES)

    def finalize_updown(self, updown: Any, orig_weight: Any, output_shape: Any, ex_bias: Any = None) -> Any:
        raise NotImplementedError(LDM_MODULES)

    def forward(self, x: Any, y: Any) -> Any:
        raise NotImplementedError(LDM_MODULES)
