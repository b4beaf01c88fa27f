"""A1111's `modules.sd_vae_approx` and `modules.sd_vae_taesd`: the preview networks for the resident
model, from the files in `models/VAE-approx` / `models/VAE-taesd` (never downloaded: a missing file
raises FileNotFoundError naming where it was looked for)."""
from __future__ import annotations

from typing import Any

from sdwebui.engine.models.preview_decoders import VAEApprox, taesd_decoder, taesd_encoder  # noqa: F401  (A1111's names)
from sdwebui.services import runtime

# A1111's builder names in sd_vae_taesd
decoder = taesd_decoder
encoder = taesd_encoder


def _resident() -> Any:
    model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
    if model is None:
        raise RuntimeError("no model is loaded: the preview networks are chosen by the resident model's family")
    return model


def model() -> Any:
    """sd_vae_approx.model(): the Approx NN network for the resident model (SD1/SD2 or SDXL)."""
    return runtime.preview_decoders.approx_nn(_resident())


def decoder_model() -> Any:
    """sd_vae_taesd.decoder_model(): TAESD's decoder for the resident model (taesd / taesdxl)."""
    return runtime.preview_decoders.taesd_decoder(_resident())


def encoder_model() -> Any:
    """sd_vae_taesd.encoder_model(): TAESD's encoder for the resident model."""
    return runtime.preview_decoders.taesd_encoder(_resident())
