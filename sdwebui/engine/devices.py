"""Device housekeeping the engine needs while it works, independent of which device the process chose."""
from __future__ import annotations

import gc
import logging

import torch

logger = logging.getLogger(__name__)


def torch_gc() -> None:
    """Free what Python and CUDA still hold after a model or a large tensor is dropped (A1111's
    `devices.torch_gc`): a collection, then CUDA's cached blocks and inter-process handles."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
