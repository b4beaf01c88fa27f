"""The Lora built-in's `networks` module (A1111's names): the LoRA / LyCORIS files the app knows,
by name and by alias, and the networks the current job uses.

The listing comes from the app's LoRA registry (`shared.loras`, sdwebui/engine/models/lora.py,
which reads --lora-dir and models/LyCORIS) and stays live: `available_networks` and the other
dicts are rebuilt, in place, whenever the registry's files changed (a refresh from
/sdapi/v1/refresh-loras, from the Extra Networks page or list_available_networks()).

How the networks act differs from A1111 (docs/compatibility.md, "Built-in extensions"): this app
merges the networks a prompt's `<lora:name:te:unet>` tags name into the model's weights for one job
and puts the weights back afterwards. Nothing patches torch.nn, so `network_forward` and
`network_Linear_forward` ... run the original forward (the weights already hold the networks),
`load_networks()` resolves names into `loaded_networks` for extensions to read, and changing a
multiplier there does not change the image.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any

import lora_patches
import network
from modules import shared

logger = logging.getLogger(__name__)


class _LiveDict(dict):
    """A dict that brings itself up to date with the registry before every read."""

    def __getitem__(self, key):
        _sync()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        _sync()
        return dict.get(self, key, default)

    def __contains__(self, key) -> bool:
        _sync()
        return dict.__contains__(self, key)

    def __iter__(self):
        _sync()
        return dict.__iter__(self)

    def __len__(self) -> int:
        _sync()
        return dict.__len__(self)

    def keys(self):
        _sync()
        return dict.keys(self)

    def values(self):
        _sync()
        return dict.values(self)

    def items(self):
        _sync()
        return dict.items(self)

    def copy(self) -> dict:
        _sync()
        return dict(dict.items(self))

    def __repr__(self) -> str:
        _sync()
        return dict.__repr__(self)


available_networks: dict[str, network.NetworkOnDisk] = _LiveDict()
available_network_aliases: dict[str, network.NetworkOnDisk] = _LiveDict()
forbidden_network_aliases: dict[str, int] = _LiveDict()
available_network_hash_lookup: dict[str, network.NetworkOnDisk] = _LiveDict()
loaded_networks: list[network.Network] = []
loaded_bundle_embeddings: dict = {}
networks_in_memory: dict[str, network.Network] = {}

# module types (A1111 fills it with its LDM module classes; see network.LDM_MODULES)
module_types: list[network.ModuleType] = []

originals: lora_patches.LoraPatches | None = None
extra_network_lora: Any = None

_synced: list = []      # the registry entries the dicts were last built from


def _sync() -> None:
    registry = shared.loras
    if registry is None:
        return
    files = registry.list()
    if len(files) == len(_synced) and all(a is b for a, b in zip(files, _synced)):
        return
    _synced[:] = files
    for d in (available_networks, available_network_aliases, forbidden_network_aliases,
              available_network_hash_lookup):
        dict.clear(d)
    dict.update(forbidden_network_aliases, {"none": 1, "addams": 1})   # names A1111 never resolves as aliases
    for lora_file in files:
        entry = network.NetworkOnDisk(lora_file.name, str(lora_file.path), lora_file=lora_file)
        dict.__setitem__(available_networks, entry.name, entry)
        if dict.__contains__(available_network_aliases, entry.alias):
            dict.__setitem__(forbidden_network_aliases, entry.alias.lower(), 1)
        dict.__setitem__(available_network_aliases, entry.name, entry)
        dict.__setitem__(available_network_aliases, entry.alias, entry)


def list_available_networks() -> None:
    """Re-read the LoRA folders (the registry's refresh) and rebuild the listing."""
    if shared.loras is not None:
        shared.loras.refresh()
    _sync()


def process_network_files(names: list[str] | None = None) -> None:
    list_available_networks()


def update_available_networks_by_names(names: list[str]) -> None:
    list_available_networks()


def _find(name: str) -> network.NetworkOnDisk | None:
    if name.lower() in forbidden_network_aliases:
        return available_networks.get(name)
    return available_network_aliases.get(name)


def load_network(name: str, network_on_disk: network.NetworkOnDisk) -> network.Network:
    net = network.Network(name, network_on_disk)
    net.mtime = os.path.getmtime(network_on_disk.filename)
    return net


def load_networks(names: list[str], te_multipliers: list[float] | None = None,
                  unet_multipliers: list[float] | None = None, dyn_dims: list[int] | None = None) -> None:
    """Resolve `names` (file names or aliases) into `loaded_networks`, with their multipliers. The
    weights are merged by the app for the prompt's tags (see the module docstring)."""
    loaded_networks.clear()
    if any(_find(n) is None for n in names):
        list_available_networks()
    missing = []
    for i, name in enumerate(names):
        on_disk = _find(name)
        if on_disk is None:
            missing.append(name)
            continue
        net = networks_in_memory.get(name)
        if net is None or os.path.getmtime(on_disk.filename) > (net.mtime or 0):
            net = networks_in_memory[name] = load_network(name, on_disk)
        net.mentioned_name = name
        net.te_multiplier = te_multipliers[i] if te_multipliers else 1.0
        net.unet_multiplier = unet_multipliers[i] if unet_multipliers else net.te_multiplier
        net.dyn_dim = dyn_dims[i] if dyn_dims else None
        loaded_networks.append(net)
    if missing:
        logger.warning("Lora not found: %s", ", ".join(missing))
    purge_networks_from_memory()


def purge_networks_from_memory() -> None:
    limit = int(getattr(shared.opts, "lora_in_memory_limit", 0) or 0) if shared.opts is not None else 0
    while len(networks_in_memory) > limit and networks_in_memory:
        networks_in_memory.pop(next(iter(networks_in_memory)))


def assign_network_names_to_compvis_modules(sd_model: Any) -> None:
    """A1111 names the LDM model's modules for its forward patches here; the app maps network keys
    to the diffusers modules itself when it merges a network."""


def network_forward(org_module: Any, input: Any, original_forward: Any) -> Any:
    return original_forward(org_module, input)


def network_apply_weights(self: Any) -> None:
    """Nothing to apply: during a job the weights already hold the prompt's networks."""


def network_restore_weights_from_backup(self: Any) -> None:
    """Nothing to restore: the app puts the weights back when the job ends."""


def network_reset_cached_weight(self: Any) -> None:
    pass


def _original(name: str):
    def call(self, *args, **kwargs):
        return getattr(originals or lora_patches.LoraPatches(), name)(self, *args, **kwargs)
    call.__name__ = f"network_{name}"
    return call


network_Linear_forward = _original("Linear_forward")
network_Linear_load_state_dict = _original("Linear_load_state_dict")
network_Conv2d_forward = _original("Conv2d_forward")
network_Conv2d_load_state_dict = _original("Conv2d_load_state_dict")
network_GroupNorm_forward = _original("GroupNorm_forward")
network_GroupNorm_load_state_dict = _original("GroupNorm_load_state_dict")
network_LayerNorm_forward = _original("LayerNorm_forward")
network_LayerNorm_load_state_dict = _original("LayerNorm_load_state_dict")
network_MultiheadAttention_forward = _original("MultiheadAttention_forward")
network_MultiheadAttention_load_state_dict = _original("MultiheadAttention_load_state_dict")

re_network_name = re.compile(r"(.*)\s*\([0-9a-fA-F]+\)")


def infotext_pasted(infotext: str, params: dict) -> None:
    """kohya's additional-networks infotext fields ("AddNet Model 1" ...) become <lora:...> tags."""
    added = []
    for key in list(params):
        if not key.startswith("AddNet Model "):
            continue
        num = key[len("AddNet Model "):]
        if params.get("AddNet Module " + num) != "LoRA":
            continue
        name = params.get("AddNet Model " + num)
        if name is None:
            continue
        m = re_network_name.match(name)
        if m:
            name = m.group(1)
        added.append(f"<lora:{name}:{params.get('AddNet Weight A ' + num, '1.0')}>")
    if added:
        params["Prompt"] = params.get("Prompt", "") + "\n" + "".join(added)
