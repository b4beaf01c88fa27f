"""A1111's `modules.devices`: `sdwebui.services.models.devices` and A1111's helpers
(`sdwebui.services.legacy.device_helpers`: autocast, test_for_nans, get_optimal_device ...), plus
A1111's `devices.device`, `devices.dtype`, `devices.dtype_vae` ... of the running app (the CPU and
fp32 before it has started)."""
from __future__ import annotations

import torch

from modules._facade import expose
from sdwebui.services import runtime
from sdwebui.services.models import devices


def _device() -> torch.device:
    return runtime.device or devices.cpu


def _dtype(attr: str) -> torch.dtype:
    manager = runtime.model_manager
    return getattr(manager, attr) if manager is not None else torch.float32


expose(__name__, 'sdwebui.services.models.devices', 'sdwebui.services.legacy.device_helpers', computed={
    "device": _device, "device_interrogate": _device, "device_gfpgan": _device, "device_esrgan": _device,
    "device_codeformer": _device,
    "dtype": lambda: _dtype("dtype"), "dtype_unet": lambda: _dtype("dtype"), "dtype_vae": lambda: _dtype("vae_dtype"),
})
