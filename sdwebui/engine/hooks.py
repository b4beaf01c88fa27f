"""What the engine calls out to while it works, and the objects it hands over.

The engine never imports the extension runtime. A job's context (engine.context) carries a `Hooks`
object; the services layer implements it with the extensions' callbacks. The parameter objects
keep A1111's class names and fields, since extensions read and replace their fields
(`modules.script_callbacks.CFGDenoiserParams`, `modules.scripts.PostprocessImageArgs`, ...).
"""
from __future__ import annotations

from typing import Any, Protocol


class Hooks(Protocol):
    """The extensions' callbacks, by A1111 category ("cfg_denoiser", "before_image_saved", ...)."""

    def has(self, category: str) -> bool:
        """Whether any callback is registered (the engine skips building parameters otherwise)."""

    def call(self, category: str, *args: Any) -> None:
        """Run the category's callbacks in order; they change the parameter objects in place."""


class NoHooks:
    """For engine use without extensions (tests, tools, benchmarks)."""

    def has(self, category: str) -> bool:
        return False

    def call(self, category: str, *args: Any) -> None:
        return None


NO_HOOKS = NoHooks()


# callback parameters (modules.script_callbacks) ---------------------------------------------
class ImageSaveParams:
    def __init__(self, image, p, filename: str, pnginfo: dict):
        self.image = image          # may be replaced by the callback
        self.p = p
        self.filename = filename    # where the image is about to be written (may be changed)
        self.pnginfo = pnginfo      # text chunks; "parameters" is the infotext


class ExtraNoiseParams:
    def __init__(self, noise, x, xi):
        self.noise, self.x, self.xi = noise, x, xi


class CFGDenoiserParams:
    """Before the UNet call of a step. `x` is the scheduler-scaled UNet input (one row per UNet
    batch row), `sigma` the step's sigma (or timestep for schedulers without sigmas); `text_cond`
    and `text_uncond` are the text conditionings. Replacing x, text_cond or text_uncond changes what
    the UNet gets."""

    def __init__(self, x, image_cond, sigma, sampling_step, total_sampling_steps, text_cond, text_uncond,
                 denoiser=None):
        self.x = x
        self.image_cond = image_cond
        self.sigma = sigma
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.text_cond = text_cond
        self.text_uncond = text_uncond
        self.denoiser = denoiser


class CFGDenoisedParams:
    """After the UNet call, before guidance combines the rows; `x` is the UNet output."""

    def __init__(self, x, sampling_step, total_sampling_steps, inner_model):
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.inner_model = inner_model


class AfterCFGCallbackParams:
    """After guidance; `x` is the combined prediction the sampler steps with."""

    def __init__(self, x, sampling_step, total_sampling_steps):
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps


class ImageGridLoopParams:
    def __init__(self, imgs, cols: int, rows: int):
        self.imgs, self.cols, self.rows = imgs, cols, rows


# Script hook arguments (modules.scripts) -----------------------------------------------------
class PostprocessImageArgs:
    def __init__(self, image):
        self.image = image


class PostprocessBatchListArgs:
    def __init__(self, images):
        self.images = images


class PostSampleArgs:
    def __init__(self, samples):
        self.samples = samples


class MaskBlendArgs:
    def __init__(self, current_latent, nmask, init_latent, mask, blended_latent, denoiser=None, sigma=None):
        self.current_latent = current_latent
        self.nmask = nmask
        self.init_latent = init_latent
        self.mask = mask
        self.blended_latent = blended_latent
        self.denoiser = denoiser
        self.is_final_blend = denoiser is None
        self.sigma = sigma


class PostProcessMaskOverlayArgs:
    def __init__(self, index, mask_for_overlay, overlay_image):
        self.index, self.mask_for_overlay, self.overlay_image = index, mask_for_overlay, overlay_image
