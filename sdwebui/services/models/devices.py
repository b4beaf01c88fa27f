"""Which device and precision generation runs on, from the flags."""
from __future__ import annotations

import argparse
import functools
import logging
import re
from pathlib import Path

import torch

from sdwebui.engine.devices import release_freed_host_memory, torch_gc  # noqa: F401  (A1111's devices.torch_gc; the engine owns them)

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
    """(model dtype, VAE dtype). fp16 on an accelerator unless --no-half / --precision full. On the
    CPU fp32, as in A1111, except `--precision half` on a CPU with native bf16 arithmetic: bf16 there
    (fp16 has no fast CPU kernels; bf16 has, and fp32's range, so nothing overflows)."""
    if cmd_opts.no_half or cmd_opts.precision == "full":
        return torch.float32, torch.float32
    if device.type == "cpu":
        if cmd_opts.precision != "half":
            return torch.float32, torch.float32
        if not cpu_computes_bf16():
            logger.info("--precision half: this CPU has no native bf16 arithmetic (AVX512-BF16 or AMX), which "
                        "is what makes half precision faster on a CPU; running in fp32")
            return torch.float32, torch.float32
        dtype = torch.bfloat16
    else:
        dtype = torch.float16
    vae = torch.float32 if cmd_opts.no_half_vae else dtype
    return dtype, vae


@functools.cache
def cpu_computes_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX). With them a full-size SD1.5 UNet
    step runs in bf16 1.8x as fast as in fp32 (11.4 s -> 6.3 s at 512 px on two Zen 4 cores)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", info) is not None


def vae_upcast_dtype(cmd_opts: argparse.Namespace, device: torch.device) -> torch.dtype:
    """The dtype for a VAE that overflows in fp16 (SDXL's): bf16 where the GPU computes in it (the
    range of fp32, so no overflow, at half the cost), else fp32; --no-half-vae always fp32."""
    if device.type == "cuda" and not cmd_opts.no_half_vae and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


cpu = torch.device("cpu")

