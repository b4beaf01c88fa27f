"""A1111's `modules.devices` helpers that extensions call (autocast, NaN checks, the device for a
task), over the running app's device and precision. Precision here is set per model part at load
(`services/models/devices.py`), so autocast is a no-op context, as A1111's is in full precision."""
from __future__ import annotations

import contextlib
import logging
from typing import Any

import torch

from sdwebui.services import runtime

logger = logging.getLogger(__name__)

__all__ = ["NansException", "autocast", "without_autocast", "cond_cast_unet", "cond_cast_float", "fp8",
           "get_device_for", "get_optimal_device", "get_optimal_device_name", "get_cuda_device_string",
           "get_cuda_device_id", "test_for_nans", "has_mps", "has_xpu", "cuda_no_autocast", "unet_needs_upcast",
           "manual_cast", "enable_tf32", "torch_npu_set_device", "first_time_calculation", "force_model_fp16",
           "nv_rng", "backend"]

fp8 = False                 # the UNet is never stored in fp8 here
unet_needs_upcast = False
nv_rng = None
backend = "diffusers"


class NansException(Exception):
    """The model produced NaNs (A1111 raises it from test_for_nans)."""


def _device() -> torch.device:
    return runtime.device or torch.device("cpu")


def get_optimal_device() -> torch.device:
    return _device()


def get_optimal_device_name() -> str:
    return str(_device())


def get_cuda_device_id() -> int:
    return _device().index or 0 if _device().type == "cuda" else 0


def get_cuda_device_string() -> str:
    return f"cuda:{get_cuda_device_id()}"


def get_device_for(task: str) -> torch.device:
    """The device for a task (A1111: --use-cpu can send interrogate, gfpgan ... to the CPU)."""
    use_cpu = set(getattr(runtime.cmd_opts, "use_cpu", None) or [])
    return torch.device("cpu") if "all" in use_cpu or task in use_cpu else _device()


def has_mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def has_xpu() -> bool:
    return bool(hasattr(torch, "xpu") and torch.xpu.is_available())


def cuda_no_autocast(device_id: int | None = None) -> bool:
    return False


def autocast(disable: bool = False) -> contextlib.AbstractContextManager:
    """A1111 runs fp16 models under torch.autocast; here each part already runs in its dtype."""
    return contextlib.nullcontext()


def without_autocast(disable: bool = False) -> contextlib.AbstractContextManager:
    if torch.is_autocast_enabled() and not disable:
        return torch.autocast(_device().type, enabled=False)
    return contextlib.nullcontext()


@contextlib.contextmanager
def manual_cast(target_dtype: Any) -> Any:
    yield None


def cond_cast_unet(input: Any) -> Any:
    """Conditioning in the UNet's dtype."""
    manager = runtime.model_manager
    dtype = manager.dtype if manager is not None else None
    return input.to(dtype) if dtype is not None and hasattr(input, "to") else input


def cond_cast_float(input: Any) -> Any:
    return input.float() if unet_needs_upcast and hasattr(input, "float") else input


def test_for_nans(x: torch.Tensor, where: str) -> None:
    """Raise NansException when `x` is all NaN (A1111's check after the UNet and the VAE)."""
    if getattr(runtime.cmd_opts, "disable_nan_check", False):
        return
    if not bool(torch.isnan(x[(0,) * (x.dim() - 3)] if x.dim() > 3 else x).all()):
        return
    what = {"unet": "A tensor with all NaNs was produced in Unet.",
            "vae": "A tensor with all NaNs was produced in VAE."}.get(where, "A tensor with all NaNs was produced.")
    raise NansException(what + " Use --disable-nan-check commandline argument to disable this check.")


def enable_tf32() -> None:
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def torch_npu_set_device() -> None:
    pass


def first_time_calculation() -> None:
    """A1111 warms up cuDNN with a tiny convolution; models here warm up on their first job."""


def force_model_fp16() -> None:
    """A1111 forces fp16 for --precision half on some devices; precision is chosen at load here."""
