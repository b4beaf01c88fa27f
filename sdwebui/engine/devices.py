"""Device housekeeping the engine needs while it works, independent of which device the process chose."""
from __future__ import annotations

import gc
import logging

import torch

logger = logging.getLogger(__name__)


def release_freed_host_memory() -> None:
    """Hand memory freed on the heap back to the system (glibc's malloc_trim). A checkpoint's tensors
    are read in pieces that glibc keeps in its heap once freed, so without this a model switch leaves
    the old model's size in the process's RSS; a no-op where there is no glibc."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def torch_gc() -> None:
    """Free what Python and CUDA still hold after a model or a large tensor is dropped (A1111's
    `devices.torch_gc`): a collection, then CUDA's cached blocks and inter-process handles."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
