"""A loaded checkpoint as the rest of the project sees it (SDModel), and the error a file that cannot
be loaded raises. Every family's loader (single_file.py for SD1/SD2/SDXL, sd3.py) returns an SDModel."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch


class CheckpointLoadError(Exception):
    """The file could not be turned into a model; the message says why in user terms."""


class FamilyFlags:
    """A1111's flags on its model object that extensions read (`shared.sd_model.is_sdxl` ...), from
    the model family's name: sd1, sd2*, sdxl*, sd3, flux."""

    family: str
    is_ssd = False
    cond_stage_key = "txt"      # the LDM conditioning key of A1111's text-to-image models

    @property
    def is_sdxl(self) -> bool:
        return self.family.startswith("sdxl")

    @property
    def is_flux(self) -> bool:
        """A FLUX.1 model (dev or schnell: a transformer on 16-channel latents, rectified flow)."""
        return self.family == "flux"

    @property
    def is_sd3(self) -> bool:
        """A1111's flag: an SD3 / SD3.5 model (a transformer on 16-channel latents, rectified flow)."""
        return self.family == "sd3"

    @property
    def is_sd2(self) -> bool:
        return self.family.startswith("sd2")

    @property
    def is_sd1(self) -> bool:
        return self.family.startswith("sd1")


@dataclass
class SDModel(FamilyFlags):
    """A loaded checkpoint: diffusers components plus what generation needs to know."""

    family: str
    prediction_type: str
    unet: Any
    vae: Any
    text_encoder: Any | None
    text_encoder_2: Any | None
    tokenizer: Any | None
    tokenizer_2: Any | None
    scheduler_config: dict
    device: torch.device
    dtype: torch.dtype
    vae_dtype: torch.dtype
    default_size: int
    filename: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # set by the model manager (A1111 names that extensions read)
    sd_checkpoint_info: Any = None
    sd_model_hash: str | None = None
    base_vae: Any = None        # the checkpoint's own VAE, kept while a separate VAE file is in use
    loaded_vae: Any = None      # modules.sd_vae.VaeInfo of the separate VAE in use, or None
    # set by the speed-ups (services.models.speedups), read by the sampling loop through the methods below
    compiled: str | None = None  # the torch.compile mode the UNet and VAE decoder run in
    compiled_shapes: Any = None  # their compiled and pending input shapes (a ShapeBook: eager_only())
    text_encoder_3: Any | None = None   # SD3's T5-XXL (None: not in use, sd3_enable_t5 off)
    tokenizer_3: Any | None = None
    variant: str = ""                   # what users call the model within its family ("SD3.5 Large")

    def __post_init__(self) -> None:
        if self.base_vae is None:
            self.base_vae = self.vae

    @property
    def uses_distilled_cfg(self) -> bool:
        """FLUX.1 dev: a guidance embedder takes the distilled CFG scale (Forge's `use_distilled_cfg_scale`)."""
        return self.is_flux and bool(getattr(self.unet.config, "guidance_embeds", False))

    @property
    def sd_model_checkpoint(self) -> str:
        """The checkpoint file's path, as A1111's `sd_model.sd_model_checkpoint`."""
        return str(getattr(self.sd_checkpoint_info, "filename", "") or self.filename)

    @property
    def parameterization(self) -> str:
        """A1111's name of the prediction type: "eps" or "v"."""
        return "v" if self.prediction_type == "v_prediction" else "eps"

    @property
    def is_inpainting(self) -> bool:
        return self.unet.config.in_channels == 9

    @property
    def is_edit(self) -> bool:
        """An instruct-pix2pix model: the UNet also sees the input picture's latents (4 more channels)."""
        return self.unet.config.in_channels == self.latent_channels * 2

    @property
    def latent_channels(self) -> int:
        return self.vae.config.latent_channels

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def fix_dimensions(self, width: int, height: int) -> tuple[int, int]:
        """A1111's `sd_model.fix_dimensions`: SD3's and Flux's 2x2 patches need sizes in multiples of 16
        (rounded down, as A1111); the UNet families take any multiple of 8."""
        if self.is_sd3 or self.is_flux:
            return width // 16 * 16, height // 16 * 16
        return width, height

    def components(self) -> list[torch.nn.Module]:
        return [m for m in (self.unet, self.vae, self.text_encoder, self.text_encoder_2, self.text_encoder_3)
                if m is not None]

    def runs_as_cuda_graphs(self) -> bool:
        """Whether the compiled UNet replays CUDA graphs (their outputs are reused each call)."""
        return self.device.type == "cuda" and self.compiled in ("reduce-overhead", "max-autotune")

    def eager_only(self) -> contextlib.AbstractContextManager:
        """A context within which the compiled parts run eagerly and book no shapes (calls of odd
        sizes or dtypes not worth compiled slots); a no-op for a model that is not compiled."""
        book = self.compiled_shapes
        return book.eager_only() if book is not None and self.compiled else contextlib.nullcontext()
