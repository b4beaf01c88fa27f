"""img2img and inpainting processing (`modules.processing.StableDiffusionProcessingImg2Img` in A1111)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.hooks import PostProcessMaskOverlayArgs
from sdwebui.engine.processing import img2img_prep as prep
from sdwebui.engine.processing.base import StableDiffusionProcessing
from sdwebui.engine.processing.image_latents import (edit_conditioning, encode_images, inpainting_conditioning,
                                                    vae_tile_above)
from sdwebui.engine.sampling import rng as rng_mod
from sdwebui.engine.sampling.loop import sample


class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    """img2img and inpainting with A1111's fields and semantics (API defaults)."""

    is_txt2img = False
    tabname = "img2img"

    def __init__(self, init_images: list[Image.Image] | None = None, resize_mode: int = 0,
                 denoising_strength: float | None = 0.75, image_cfg_scale: float | None = None,
                 mask: Image.Image | None = None, mask_blur_x: int = 4, mask_blur_y: int = 4,
                 mask_blur: int | None = None, mask_round: bool = True, inpainting_fill: int = 0,
                 inpaint_full_res: bool = True, inpaint_full_res_padding: int = 0, inpainting_mask_invert: int = 0,
                 initial_noise_multiplier: float | None = None, latent_mask: Image.Image | None = None,
                 **kwargs: Any):
        super().__init__(denoising_strength=0.75 if denoising_strength is None else denoising_strength, **kwargs)
        self.init_images = list(init_images or [])
        self.resize_mode = int(resize_mode)
        self.image_cfg_scale = image_cfg_scale
        self.image_mask = mask
        self.mask_blur_x = int(mask_blur if mask_blur is not None else mask_blur_x)
        self.mask_blur_y = int(mask_blur if mask_blur is not None else mask_blur_y)
        self.mask_round = mask_round
        self.inpainting_fill = int(inpainting_fill)
        self.inpaint_full_res = bool(inpaint_full_res)
        self.inpaint_full_res_padding = int(inpaint_full_res_padding)
        self.inpainting_mask_invert = int(inpainting_mask_invert)
        self.initial_noise_multiplier = initial_noise_multiplier
        self.latent_mask = latent_mask
        self.init_latent = None
        self.keep_mask = None
        self.mask = self.nmask = None     # A1111's latent masks, (channels, h, w): 1 = keep / 1 = repaint
        self.image_conditioning = None
        self.overlay_images: list[Image.Image] = []
        self.originals: list[Image.Image] = []
        self.mask_for_overlay: Image.Image | None = None
        self.paste_to: tuple[int, int, int, int] | None = None

    @property
    def mask_blur(self) -> int | None:
        return self.mask_blur_x if self.mask_blur_x == self.mask_blur_y else None

    @mask_blur.setter
    def mask_blur(self, value: int) -> None:
        # A1111: assigning mask_blur sets both directions (poor man's outpainting does)
        self.mask_blur_x = self.mask_blur_y = int(value)

    def init(self, model) -> None:
        # scripts run process_images on the same p again (SD upscale, outpainting, loopback): what the
        # last run derived from its images and mask must not carry over to this one
        self.originals, self.overlay_images = [], []
        self.mask_for_overlay = self.paste_to = self.keep_mask = self.image_conditioning = None
        self.mask = self.nmask = None
        opts = self.ctx.opts
        tile_above = vae_tile_above(opts)
        if not self.init_images:
            raise ProcessingError("init_images", "img2img needs at least one image in init_images")
        if self.resize_mode not in prep.RESIZE_MODES:
            raise ProcessingError("resize_mode", f"resize_mode must be one of {sorted(prep.RESIZE_MODES)}")
        if self.inpainting_fill not in prep.FILL_MODES:
            raise ProcessingError("inpainting_fill", f"inpainting_fill must be one of {sorted(prep.FILL_MODES)}")
        if self.initial_noise_multiplier is None:
            self.initial_noise_multiplier = opts.initial_noise_multiplier
        w, h = self.width, self.height

        crop_region = None
        mask = self.image_mask
        if mask is not None:
            mask = prep.binary_mask(mask, self.mask_round)
            if mask.size != self.init_images[0].size:  # a mask drawn at another scale covers the same picture
                mask = mask.resize(self.init_images[0].size, Image.Resampling.LANCZOS)
            if self.inpainting_mask_invert:
                mask = ImageOps.invert(mask)
                self.extra_generation_params["Mask mode"] = "Inpaint not masked"
            if self.mask_blur_x > 0 or self.mask_blur_y > 0:
                mask = prep.blur_mask(mask, self.mask_blur_x, self.mask_blur_y)
                self.extra_generation_params["Mask blur"] = self.mask_blur if self.mask_blur is not None \
                    else f"{self.mask_blur_x}x{self.mask_blur_y}"
            if self.inpaint_full_res:
                self.mask_for_overlay = mask
                region = prep.mask_crop_region(mask, self.inpaint_full_res_padding)
                if region is not None:
                    crop_region = prep.expand_crop_region(region, w, h, mask.width, mask.height)
                    x1, y1, x2, y2 = crop_region
                    mask = prep.resize_image(2, mask.crop(crop_region), w, h)
                    self.paste_to = (x1, y1, x2 - x1, y2 - y1)
                else:
                    mask = prep.resize_image(self.resize_mode, mask, w, h)
                self.extra_generation_params["Inpaint area"] = "Only masked"
                self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
            else:
                mask = prep.resize_image(self.resize_mode if self.resize_mode != 3 else 0, mask, w, h)
                # as A1111, the whole picture's result is pasted through the mask doubled: a blurred edge
                # takes the new picture over halfway to the mask's centre
                doubled = np.clip(np.asarray(mask, dtype=np.float32) * 2, 0, 255).astype(np.uint8)
                self.mask_for_overlay = Image.fromarray(doubled)
            if self.inpainting_fill != 1:
                self.extra_generation_params["Masked content"] = prep.FILL_MODES[self.inpainting_fill]
        if self.initial_noise_multiplier != 1.0:
            self.extra_generation_params["Noise multiplier"] = self.initial_noise_multiplier

        prepared = []
        for img in self.init_images:
            img = _flatten(img, opts.img2img_background_color)
            if crop_region is None and self.resize_mode != 3:
                img = prep.resize_image(self.resize_mode, img, w, h)
            if mask is not None:
                self.originals.append(img)
                if self.mask_for_overlay.size != img.size:   # "only masked" found nothing to crop to
                    self.mask_for_overlay = prep.resize_image(self.resize_mode, self.mask_for_overlay, *img.size)
                self.overlay_images.append(prep.overlay_image(img, self.mask_for_overlay))
            if crop_region is not None:
                img = prep.resize_image(2, img.crop(crop_region), w, h)
            if mask is not None and self.inpainting_fill == 0:
                img = prep.fill_masked(img, mask)
            prepared.append(img)

        if len(prepared) == 1:
            prepared = prepared * self.batch_size
            self.originals = self.originals * self.batch_size
            self.overlay_images = self.overlay_images * self.batch_size
        elif len(prepared) <= self.batch_size:
            self.batch_size = len(prepared)
        else:
            raise ProcessingError("init_images", f"{len(prepared)} init images for batch_size {self.batch_size}: "
                                                 "send one image, or at most batch_size images")
        self.init_latent = encode_images(model, prepared, tile_above, self.ctx)
        if self.resize_mode == 3:
            f = model.vae_scale_factor
            self.init_latent = torch.nn.functional.interpolate(self.init_latent, size=(h // f, w // f), mode="bilinear")

        if mask is not None:
            latent_size = (self.init_latent.shape[3], self.init_latent.shape[2])
            lat = np.asarray((self.latent_mask or mask).convert("L").resize(latent_size), dtype=np.float32) / 255
            if self.mask_round:
                lat = np.around(lat)
            inpaint = torch.from_numpy(lat)[None, None].to(self.init_latent)
            self.keep_mask = 1.0 - inpaint
            channels = self.init_latent.shape[1]
            self.mask, self.nmask = self.keep_mask[0].expand(channels, -1, -1), inpaint[0].expand(channels, -1, -1)
            if self.inpainting_fill == 2:
                noise = rng_mod.ImageRNG(tuple(self.init_latent.shape[1:]), self.all_seeds[:self.batch_size],
                                         device=model.device, randn_source=opts.randn_source).first()
                self.init_latent = self.init_latent * self.keep_mask + noise.to(self.init_latent) * inpaint
            elif self.inpainting_fill == 3:
                self.init_latent = self.init_latent * self.keep_mask
        if model.is_inpainting:
            self.image_conditioning = inpainting_conditioning(model, prepared, mask, opts.inpainting_mask_weight,
                                                              tile_above, round_mask=self.mask_round)
        elif model.is_edit:
            self.image_conditioning = edit_conditioning(model, prepared, tile_above)
        if not model.is_edit:
            self.image_cfg_scale = None      # only instruct-pix2pix models have an image CFG (A1111)

    def denoise_steps(self) -> tuple[int, int]:
        """(schedule length, A1111's t_enc) for the denoising strength, as A1111's setup_img2img_steps
        counts them; the samplers run t_enc + 1 steps at the end of the schedule."""
        strength = min(float(self.denoising_strength), 0.999)
        if self.ctx.opts.img2img_fix_steps:
            return (int(self.steps / strength) if strength > 0 else 0), self.steps - 1
        return self.steps, int(strength * self.steps)

    def sample(self, model, scheduler, noise, conditioning, noise_rng, lo: int, hi: int):
        total, t_enc = self.denoise_steps()
        self.ctx.state.sampling_steps = t_enc + 1
        if total == 0:
            return self.init_latent, True
        return sample(model, scheduler, noise * float(self.initial_noise_multiplier), conditioning,
                      steps=total, cfg_scale=float(self.cfg_scale), width=self.width, height=self.height,
                      generators=noise_rng.generators, rng=noise_rng, callback=self.callback(model),
                      image_cfg_scale=self.image_cfg_scale,
                      init_latents=self.init_latent, denoise_steps=t_enc, keep_mask=self.keep_mask,
                      image_cond=self.image_conditioning, hooks=self.ctx.hooks, sampler=self.sampler,
                      mask_blend=self._mask_blend(), controls=self.unet_controls,
                      **self.refiner_for("first", t_enc + 1, lo, hi))

    def _mask_blend(self):
        """The scripts' on_mask_blend for the loop, or None (the loop's plain blend) when no
        always-on script has one."""
        runner = self.scripts
        if runner is None or self.keep_mask is None:
            return None
        uses = getattr(runner, "uses_hook", None)
        if uses is not None and not uses("on_mask_blend"):
            return None
        return lambda mba: runner.on_mask_blend(self, mba)

    def postprocess_image(self, index: int, image: Image.Image) -> Image.Image:
        """Inpainting's composite: the result (a crop pasted back into the original) under the
        original's unmasked part. Scripts' postprocess_maskoverlay may replace the mask and the
        overlay first (soft inpainting's difference-based composite does)."""
        if self.mask_for_overlay is None:
            return image
        original = self.originals[index % len(self.originals)]
        overlay = self.overlay_images[index % len(self.overlay_images)] if self.overlay_images else None
        if self.scripts is not None:
            # the index within the batch, as A1111's (scripts keep one entry per batch image)
            ppmo = PostProcessMaskOverlayArgs(index % self.batch_size, self.mask_for_overlay, overlay)
            self.scripts.postprocess_maskoverlay(self, ppmo)
            overlay = ppmo.overlay_image
        return prep.apply_overlay(image, self.paste_to, overlay, base=original)


def _flatten(image: Image.Image, background: str) -> Image.Image:
    """Transparent parts onto the img2img background colour, as A1111 does."""
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        bg = Image.new("RGBA", image.size, background)
        bg.alpha_composite(image)
        return bg.convert("RGB")
    return image.convert("RGB")
