"""A1111's `modules.hypernetworks.hypernetwork`: hypernetwork files are listed (`shared.hypernetworks`,
name -> path, from models/hypernetworks) but not applied: applying one patches the cross-attention
layers of A1111's LDM UNet, which this backend does not have. LoRA (`<lora:...>`) does the same job
here."""
from __future__ import annotations

import logging
import os

from sdwebui.services.legacy import unsupported, unsupported_class

logger = logging.getLogger(__name__)

__all__ = ["Hypernetwork", "HypernetworkModule", "apply_hypernetworks", "apply_single_hypernetwork",
           "attention_CrossAttention_forward", "create_hypernetwork", "find_closest_hypernetwork_name",
           "list_hypernetworks", "load_hypernetwork", "load_hypernetworks", "train_hypernetwork"]

_INSTEAD = "hypernetworks are not applied; use a LoRA (<lora:name:weight>) instead"


def list_hypernetworks(path: str) -> dict[str, str]:
    """Hypernetwork files (*.pt) under `path`: name (file stem) -> full path."""
    found: dict[str, str] = {}
    if not os.path.isdir(path):
        return found
    for root, _dirs, files in os.walk(path, followlinks=True):
        for name in sorted(files):
            if name.lower().endswith(".pt"):
                found[os.path.splitext(name)[0]] = os.path.join(root, name)
    return found


def find_closest_hypernetwork_name(search: str, hypernetworks: dict[str, str] | None = None) -> str | None:
    names = sorted(hypernetworks or {}, key=len)
    search = (search or "").lower()
    return next((n for n in names if search in n.lower()), None) if search else None


Hypernetwork = unsupported_class("hypernetworks.hypernetwork.Hypernetwork", _INSTEAD)
HypernetworkModule = unsupported_class("hypernetworks.hypernetwork.HypernetworkModule", _INSTEAD)
load_hypernetwork = unsupported("hypernetworks.hypernetwork.load_hypernetwork", _INSTEAD)
create_hypernetwork = unsupported("hypernetworks.hypernetwork.create_hypernetwork", _INSTEAD)
train_hypernetwork = unsupported("hypernetworks.hypernetwork.train_hypernetwork", _INSTEAD)
apply_single_hypernetwork = unsupported("hypernetworks.hypernetwork.apply_single_hypernetwork", _INSTEAD)
attention_CrossAttention_forward = unsupported("hypernetworks.hypernetwork.attention_CrossAttention_forward", _INSTEAD)


def load_hypernetworks(names: list[str], multipliers: list[float] | None = None) -> None:
    """Nothing to unload; asking for any hypernetwork is refused (see module docstring)."""
    if names:
        raise NotImplementedError(f"hypernetworks {names}: {_INSTEAD}")


def apply_hypernetworks(hypernetworks: list, context, layer=None):
    """With no hypernetwork loaded (always, here) the context passes through unchanged, as in A1111."""
    if hypernetworks:
        raise NotImplementedError(_INSTEAD)
    return context, context
