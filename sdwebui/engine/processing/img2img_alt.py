"""img2img from the image's own noise (A1111's "img2img alternative test"): instead of random noise,
the run starts from the noise that inverting the sampler finds for the image under its original
prompt (sampling/inversion.py), mixed with some random noise. An img2img job gets it through
`use_inverted_noise(p, ...)`, which takes over the job's `sample` step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.processing.base import make_encoder
from sdwebui.engine.prompt.encoding import ScheduledConditioning
from sdwebui.engine.sampling import inversion
from sdwebui.engine.sampling.loop import Interrupted

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InversionSettings:
    """What the image is inverted with: the prompts it was made from, the guidance and step count
    of the inversion, the share of random noise mixed in, and the sigma-adjusted variant."""
    original_prompt: str
    original_negative_prompt: str
    cfg_scale: float
    steps: int
    randomness: float
    sigma_adjustment: bool


@dataclass
class InversionCache:
    """The last inverted noise, reused while the settings and the image stay the same (a script
    keeps one across jobs, as A1111's does: inverting costs as much as sampling)."""
    settings: InversionSettings | None = None
    latent: torch.Tensor | None = None
    noise: torch.Tensor | None = None
    hits: int = field(default=0)

    def lookup(self, settings: InversionSettings, latent: torch.Tensor) -> torch.Tensor | None:
        # A1111's test of "the same image": latents at a tenth's precision differ by less than 100 in all
        key = (latent.float().cpu() * 10).to(torch.int64)
        if (self.settings == settings and self.latent is not None and self.latent.shape == key.shape
                and int((self.latent - key).abs().sum()) < 100):
            self.hits += 1
            return self.noise
        return None

    def store(self, settings: InversionSettings, latent: torch.Tensor, noise: torch.Tensor) -> None:
        self.settings, self.latent, self.noise = settings, (latent.float().cpu() * 10).to(torch.int64), noise


def mix_noise(inverted: torch.Tensor, random: torch.Tensor, randomness: float) -> torch.Tensor:
    """The inverted noise with a `randomness` share of random noise, kept at unit spread."""
    r = float(randomness)
    return ((1 - r) * inverted + r * random) / ((r * r + (1 - r) * (1 - r)) ** 0.5)


def use_inverted_noise(p, settings: InversionSettings, cache: InversionCache) -> None:
    """Make the img2img job `p` start from the inverted noise of its image. The job's own seeded
    noise is the random part. The initial noise multiplier does not apply (the noise is the image's)."""
    if settings.steps < 1:
        raise ProcessingError("script_args.6", f"decode steps must be at least 1, got {settings.steps}")
    if not 0.0 <= settings.randomness <= 1.0:
        raise ProcessingError("script_args.9", f"randomness must be between 0 and 1, got {settings.randomness}")
    own_sample = type(p).sample
    p.initial_noise_multiplier = 1.0
    for key, value in (("Decode prompt", settings.original_prompt),
                       ("Decode negative prompt", settings.original_negative_prompt),
                       ("Decode CFG scale", settings.cfg_scale), ("Decode steps", settings.steps),
                       ("Randomness", settings.randomness), ("Sigma Adjustment", settings.sigma_adjustment)):
        p.extra_generation_params[key] = value

    def sample(model, scheduler, noise, conditioning, noise_rng, lo: int, hi: int):
        init = p.init_latent
        inverted = cache.lookup(settings, init)
        if inverted is None:
            state = p.ctx.state
            state.job_count += 1
            images = init.shape[0]
            batch = ScheduledConditioning(make_encoder(p, model), [settings.original_prompt] * images,
                                          [settings.original_negative_prompt] * images, settings.steps).at(0)
            image_cond = p.image_conditioning if model.is_inpainting else None
            try:
                inverted = inversion.find_noise_for_image(
                    model, init, batch.context, batch.pooled, float(settings.cfg_scale), int(settings.steps),
                    sigma_adjustment=bool(settings.sigma_adjustment), image_cond=image_cond, width=p.width,
                    height=p.height, callback=p.callback(model)).cpu()
            except Interrupted:
                return init, False      # interrupted while inverting: the image comes back as it was
            state.nextjob()
            cache.store(settings, init, inverted)
        combined = mix_noise(inverted.to(noise), noise, settings.randomness)
        # the loop noises the image as init + noise * sigma0; this noise makes that combined * sigma0
        total, t_enc = p.denoise_steps()
        sigma0 = inversion.start_sigma(scheduler, total, t_enc)
        start_noise = combined - init.to(noise) / sigma0
        return own_sample(p, model, scheduler, start_noise, conditioning, noise_rng, lo, hi)

    p.sample = sample
