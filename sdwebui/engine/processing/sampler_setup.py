"""The sampler of a pass as A1111 sets it up: its eta (the request's, else `eta_ancestral`, or
`eta_ddim` for the DDIM samplers), its churn/noise settings (the request's, else the options'), the
schedule options, and the infotext entries that the options which differ from the defaults add."""
from __future__ import annotations

from typing import Any, Sequence

from sdwebui.engine.sampling import samplers
from sdwebui.engine.sampling.kdiffusion.ksampler import SamplerOptions
from sdwebui.engine.sampling.kdiffusion.schedules import ScheduleOptions

_DDIM_ETA = ("DDIM", "DDIM CFG++")


def _value(requested: Any, option: Any, default: float) -> float:
    value = requested if requested is not None else option
    return float(default if value is None else value)


def sampler_options(p: Any, model: Any) -> SamplerOptions:
    """A1111's sampler settings for the job `p` on `model`."""
    opts = p.ctx.opts
    get = lambda key, default: getattr(opts, key, default)    # noqa: E731
    return SamplerOptions(
        s_churn=_value(getattr(p, "s_churn", None), get("s_churn", 0.0), 0.0),
        s_tmin=_value(getattr(p, "s_tmin", None), get("s_tmin", 0.0), 0.0),
        s_tmax=_value(getattr(p, "s_tmax", None), get("s_tmax", 0.0), 0.0),
        s_noise=_value(getattr(p, "s_noise", None), get("s_noise", 1.0), 1.0),
        always_discard_penultimate=bool(get("always_discard_next_to_last_sigma", False)),
        sgm_noise_multiplier=bool(get("sgm_noise_multiplier", False)),
        quantize=bool(get("enable_quantization", False)),
        uni_pc_variant=str(get("uni_pc_variant", "bh1")), uni_pc_skip_type=str(get("uni_pc_skip_type", "time_uniform")),
        uni_pc_order=int(get("uni_pc_order", 3)), uni_pc_lower_order_final=bool(get("uni_pc_lower_order_final", True)),
        extra_noise=float(get("img2img_extra_noise", 0.0) or 0.0),
        s_min_uncond=_value(getattr(p, "s_min_uncond", None), get("s_min_uncond", 0.0), 0.0),
        s_min_uncond_all=bool(get("s_min_uncond_all", False)),
        schedule=ScheduleOptions(sigma_min=float(get("sigma_min", 0.0) or 0.0),
                                 sigma_max=float(get("sigma_max", 0.0) or 0.0), rho=float(get("rho", 0.0) or 0.0),
                                 beta_alpha=float(get("beta_dist_alpha", 0.6)),
                                 beta_beta=float(get("beta_dist_beta", 0.6)),
                                 old_karras=bool(get("use_old_karras_scheduler_sigmas", False)),
                                 sdxl=bool(getattr(model, "is_sdxl", False))))


def make_scheduler(p: Any, model: Any, sampler: Any, schedule: Any, seeds: Sequence[int], *,
                   from_image: bool) -> Any:
    """What samples this pass (samplers.create_scheduler), its infotext entries recorded in `p`.
    `from_image`: the pass starts from a picture (img2img, hires), where `img2img_extra_noise` acts."""
    opts = p.ctx.opts
    eta = p.eta if p.eta is not None else (opts.eta_ddim if sampler.name in _DDIM_ETA else opts.eta_ancestral)
    options = sampler_options(p, model)
    if not from_image:
        options.extra_noise = 0.0
    scheduler = samplers.create_scheduler(sampler, schedule, model.scheduler_config, eta=eta, seed=seeds,
                                          options=options)
    p.extra_generation_params.update(getattr(scheduler, "infotext", {}))
    if options.extra_noise > 0:
        p.extra_generation_params["Extra noise"] = options.extra_noise
    if options.s_min_uncond > 0:
        p.extra_generation_params["NGMS"] = options.s_min_uncond
        if options.s_min_uncond_all:
            p.extra_generation_params["NGMS all steps"] = True
    return scheduler
