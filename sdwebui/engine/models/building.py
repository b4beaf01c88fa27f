"""Building diffusers / transformers models from a checkpoint's tensors without holding them twice:
the model is made on the meta device, then the file's tensors are assigned in place, and every
parameter must come from the file (a truncated or foreign file fails loudly). Shared by every
family's loader."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import torch

from sdwebui.engine.models.loaded_model import CheckpointLoadError


def assign_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load converted tensors into a meta-initialised model; every parameter must be present."""
    expected = model.state_dict()
    state = {k: v for k, v in state.items() if k in expected}
    missing = [k for k in expected if k not in state and not k.endswith("position_ids")]
    if missing:
        raise CheckpointLoadError(f"{what}: {len(missing)} weights missing from the checkpoint "
                                  f"(first: {missing[0]}); the file is truncated or of another architecture")
    for k, v in state.items():
        if expected[k].shape != v.shape:
            raise CheckpointLoadError(f"{what}: weight {k} has shape {tuple(v.shape)}, the architecture "
                                      f"expects {tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=False, assign=True)
    meta = [n for n, p in model.named_parameters() if p.is_meta]
    if meta:
        raise CheckpointLoadError(f"{what}: parameter {meta[0]} was not loaded")


@contextmanager
def empty_weights():
    """accelerate's init_empty_weights patches nn.Module globally while it is active, so two threads
    building models at once would put each other's parameters on the meta device; serialise it."""
    from accelerate import init_empty_weights

    with _META_LOCK, init_empty_weights():
        yield


_META_LOCK = threading.Lock()


@contextmanager
def real_weights():
    """Build a model with real parameters while another thread may be in empty_weights(): without
    the lock, its global patch would put this model's parameters on the meta device too."""
    with _META_LOCK:
        yield


def build_empty(cls: Any, config: Any) -> torch.nn.Module:
    with empty_weights():
        return cls.from_config(config)


class quiet_diffusers:
    """diffusers logs a warning per converted model about unexpected keys; they are expected here."""

    def __enter__(self):
        from diffusers.utils import logging as dlog

        self._level = dlog.get_verbosity()
        dlog.set_verbosity_error()

    def __exit__(self, *exc):
        from diffusers.utils import logging as dlog

        dlog.set_verbosity(self._level)
        return False
