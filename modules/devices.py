"""Which device and precision generation runs on, from the flags."""
from __future__ import annotations

import argparse
import gc
import logging

import torch

logger = logging.getLogger(__name__)


def select_device(cmd_opts: argparse.Namespace) -> torch.device:
    use_cpu = set(cmd_opts.use_cpu or [])
    if "all" in use_cpu or "sd" in use_cpu:
        return torch.device("cpu")
    if torch.cuda.is_available():
        index = int(cmd_opts.device_id) if cmd_opts.device_id is not None else torch.cuda.current_device()
        return torch.device("cuda", index)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def select_dtypes(cmd_opts: argparse.Namespace, device: torch.device) -> tuple[torch.dtype, torch.dtype]:
    """(model dtype, VAE dtype). Half precision only on an accelerator: CPUs run fp16 slowly."""
    if device.type == "cpu" or cmd_opts.no_half or cmd_opts.precision == "full":
        return torch.float32, torch.float32
    dtype = torch.float16
    vae = torch.float32 if cmd_opts.no_half_vae else dtype
    return dtype, vae


def vae_upcast_dtype(cmd_opts: argparse.Namespace, device: torch.device) -> torch.dtype:
    """The dtype for a VAE that overflows in fp16 (SDXL's): bf16 where the GPU computes in it (the
    range of fp32, so no overflow, at half the cost), else fp32; --no-half-vae always fp32."""
    if device.type == "cuda" and not cmd_opts.no_half_vae and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def torch_gc() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()


cpu = torch.device("cpu")


def __getattr__(name: str):
    """A1111's `devices.device`, `devices.dtype`, `devices.dtype_vae` ... of the running app."""
    from modules import shared

    manager = shared.model_manager
    values = {"device": shared.device or cpu,
              "dtype": manager.dtype if manager else torch.float32,
              "dtype_unet": manager.dtype if manager else torch.float32,
              "dtype_vae": manager.vae_dtype if manager else torch.float32,
              "device_interrogate": shared.device or cpu, "device_gfpgan": shared.device or cpu,
              "device_esrgan": shared.device or cpu, "device_codeformer": shared.device or cpu}
    if name in values:
        return values[name]
    raise AttributeError(f"module 'modules.devices' has no attribute {name!r}")
