"""`--medvram` / `--medvram-sdxl` / `--lowvram`: the model's weights stay in RAM and each part goes
to the GPU only while it runs, for cards with little memory.

* medvram ("model" offload): whole parts move (text encoders -> UNet -> VAE, in the order a job uses
  them); when one part starts, the one before it goes back to RAM. Costs a copy per part per job.
* lowvram ("sequential" offload): every layer moves on its own at its forward; the least VRAM and the
  slowest.

Both use accelerate's offload hooks (already a dependency through diffusers). `model.device` stays the
GPU, so every tensor the engine makes is created where the computation happens.
"""
from __future__ import annotations

import argparse
import logging

import torch

logger = logging.getLogger(__name__)


def offload_mode(cmd_opts: argparse.Namespace, family: str, device: torch.device) -> str | None:
    """"sequential", "model" or None for a model of `family` on `device`."""
    if device.type == "cpu":
        return None
    if getattr(cmd_opts, "lowvram", False):
        return "sequential"
    if getattr(cmd_opts, "medvram", False) or (getattr(cmd_opts, "medvram_sdxl", False) and family.startswith("sdxl")):
        return "model"
    return None


def _parts_in_order_of_use(model) -> list[torch.nn.Module]:
    return [m for m in (model.text_encoder, model.text_encoder_2, getattr(model, "text_encoder_3", None), model.unet,
                        model.vae) if m is not None]


def enable(model, device: torch.device, mode: str) -> None:
    """Keep `model`'s weights in RAM and run each part on `device` (see the module docstring)."""
    from accelerate import cpu_offload, cpu_offload_with_hook

    parts = _parts_in_order_of_use(model)
    for m in parts:
        m.to("cpu")
    if mode == "sequential":
        for m in parts:
            cpu_offload(m, execution_device=device)
    else:
        hook = None
        for m in parts:
            _, hook = cpu_offload_with_hook(m, execution_device=device, prev_module_hook=hook)
    model.device = device
    model.offload = mode
    logger.info("%s offload: the model stays in RAM, each part runs on %s", mode, device)


def disable(model) -> None:
    """Remove the offload hooks (before the model is cached in RAM or moved as a whole)."""
    if not getattr(model, "offload", None):
        return
    from accelerate.hooks import remove_hook_from_module

    for m in _parts_in_order_of_use(model):
        remove_hook_from_module(m, recurse=True)
    model.offload = None
