"""``create_scheduler``: what runs an A1111 sampler and schedule type: a KSampler (A1111's math) or, for
UniPC and LCM, a diffusers scheduler with the mixins that give it A1111's behaviour."""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Sequence
from typing import Any

from sdwebui.engine.sampling.samplers.catalog import (SCHEDULERS_BY_NAME, SPECS, SamplerError, SamplerInfo,
                                                      SchedulerInfo, effective_schedule)
from sdwebui.engine.sampling.kdiffusion.ksampler import KSampler, SamplerOptions
from sdwebui.engine.sampling.samplers.lcm import LCMMixin
from sdwebui.engine.sampling.samplers.mixins import CompatMixin
from sdwebui.engine.sampling.samplers.names import sampler_choices, scheduler_choices

logger = logging.getLogger(__name__)

# Pass-through keys of the model's scheduler config (other keys are ours to set).
_PASS_THROUGH = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
                 "prediction_type", "timestep_spacing", "steps_offset", "clip_sample", "set_alpha_to_one",
                 "rescale_betas_zero_snr")


_EXTRA_MIXINS: dict[str, tuple[type, ...]] = {"LCMScheduler": (LCMMixin,)}


@functools.cache
def _scheduler_class(base_name: str) -> type:
    import diffusers

    base = getattr(diffusers, base_name)
    mixins = [*_EXTRA_MIXINS.get(base_name, ()), CompatMixin]
    name = "A1111" + base_name
    return type(name, (*mixins, base), {"__module__": __package__, "__doc__": f"{base_name} with A1111 behaviour."})


def _init_keys(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}


def create_scheduler(sampler: SamplerInfo, scheduler: SchedulerInfo, base_config: dict, *,
                     eta: float | None = None, seed: int | Sequence[int] | None = None,
                     options: SamplerOptions | None = None) -> Any:
    """What runs an A1111 sampler + schedule type: a KSampler (A1111's math, engine/sampling/kdiffusion)
    for every sampler but UniPC and LCM, which get a diffusers scheduler.

    ``base_config`` is the model's scheduler config (its beta schedule, training steps,
    ``prediction_type`` ...). ``eta``: the job's eta (None: the sampler's default, A1111's
    `eta_ancestral` 1 or DDIM's `eta_ddim` 0; the caller passes those options). ``seed``: the
    Brownian-tree seed(s) of the ``brownian_noise`` samplers (DPM++ SDE / 2M SDE / 2M SDE Heun / 3M SDE),
    one per image as A1111's ``p.all_seeds`` (an int: one tree for the batch; None: derived from the
    step generators). ``options``: A1111's sampler settings (SamplerOptions; defaults when None).
    """
    spec = SPECS.get(sampler.name)
    if spec is None:
        raise SamplerError("sampler_name", f"Sampler '{sampler.name}' is not available. "
                                           f"Valid samplers: {sampler_choices()}")
    if scheduler.name not in SCHEDULERS_BY_NAME:
        raise SamplerError("scheduler", f"Schedule type '{scheduler.label}' is not supported. "
                                        f"Valid schedule types: {scheduler_choices()}")
    if spec.solver is not None:
        seeds = None
        if seed is not None:
            seeds = [int(s) for s in seed] if isinstance(seed, Sequence) and not isinstance(seed, str) else int(seed)
        return KSampler(sampler.name, spec.solver, effective_schedule(sampler, scheduler), dict(base_config),
                        options or SamplerOptions(),
                        discard_penultimate=bool(sampler.options.get("discard_next_to_last_sigma")),
                        eta=eta, solver_type=sampler.options.get("solver_type") if spec.solver == "dpmpp_2m_sde" else None,
                        brownian=bool(sampler.options.get("brownian_noise")), seeds=seeds)
    return _diffusers_scheduler(sampler, spec, base_config)


def _diffusers_scheduler(sampler: SamplerInfo, spec, base_config: dict) -> Any:
    cls = _scheduler_class(spec.base)
    accepted = _init_keys(cls)
    config: dict[str, Any] = {}
    for key in _PASS_THROUGH:
        if key in base_config and base_config[key] is not None:
            if key in accepted:
                config[key] = base_config[key]
            elif key == "rescale_betas_zero_snr" and base_config[key]:
                logger.warning("%s does not support rescale_betas_zero_snr; using the plain beta schedule",
                               sampler.name)
    for key, value in spec.defaults:
        config.setdefault(key, value)
    config.update(dict(spec.config))
    config = {k: v for k, v in config.items() if k in accepted}
    return cls.from_config(config)
