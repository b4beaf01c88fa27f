"""A1111's `CFGDenoiser` as the cfg callbacks see it (`CFGDenoiserParams.denoiser`): the object that
stands for one sampling run, with the fields extensions read from it. The sampling loop
(`loop.sample`) makes one per run and moves `step` along; the guidance itself is computed by the loop,
so replacing this class's methods changes nothing (docs/compatibility.md)."""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


class CFGDenoiser:
    def __init__(self, model: Any = None, steps: int = 0, *, p: Any = None, mask: Any = None, nmask: Any = None,
                 init_latent: Any = None) -> None:
        self.model = model                                     # the SDModel that samples
        self.inner_model = getattr(model, "unet", None)        # what A1111 calls the wrapped UNet
        self.model_wrap = None                                 # A1111's k-diffusion wrapper: none here
        self.p = p
        self.steps = steps
        self.total_steps = steps
        self.step = 0
        self.mask = mask
        self.nmask = nmask
        self.init_latent = init_latent
        self.image_cfg_scale = None
        self.padded_cond_uncond = False
        self.padded_cond_uncond_v0 = False
        self.mask_before_denoising = False
        self.sampler = None
        self.cond_scale_miltiplier = 1.0
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None

    @property
    def inner_model_is_sdxl(self) -> bool:
        return bool(getattr(self.model, "is_sdxl", False))
