"""``create_scheduler``: what runs an A1111 sampler and schedule type, a KSampler (A1111's math,
engine/sampling/kdiffusion)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sdwebui.engine.sampling.samplers.catalog import (SCHEDULERS_BY_NAME, SPECS, SamplerError, SamplerInfo,
                                                      SchedulerInfo, effective_schedule)
from sdwebui.engine.sampling.kdiffusion.ksampler import KSampler, SamplerOptions
from sdwebui.engine.sampling.samplers.names import sampler_choices, scheduler_choices

logger = logging.getLogger(__name__)

# A1111 1.10 runs SD3 on its k-diffusion samplers ("DDIM and other timestep samplers currently not
# supported"); LCM's consistency boundary assumes an epsilon model as well
FLOW_REFUSED = frozenset({"ddim", "ddim_cfgpp", "plms", "unipc", "lcm"})


def create_scheduler(sampler: SamplerInfo, scheduler: SchedulerInfo, base_config: dict, *,
                     eta: float | None = None, seed: int | Sequence[int] | None = None,
                     options: SamplerOptions | None = None) -> Any:
    """What runs an A1111 sampler + schedule type: a KSampler (A1111's math, engine/sampling/kdiffusion).

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
    if base_config.get("prediction_type") == "flow" and spec.solver in FLOW_REFUSED:
        usable = ", ".join(name for name, other in SPECS.items() if other.solver not in FLOW_REFUSED)
        raise SamplerError("sampler_name", f"Sampler '{sampler.name}' does not work with a flow-matching model "
                                           f"(SD3): it steps by the discrete timesteps of a noise-prediction model. "
                                           f"Samplers for this model: {usable}")
    seeds = None
    if seed is not None:
        seeds = [int(s) for s in seed] if isinstance(seed, Sequence) and not isinstance(seed, str) else int(seed)
    return KSampler(sampler.name, spec.solver, effective_schedule(sampler, scheduler), dict(base_config),
                    options or SamplerOptions(),
                    discard_penultimate=bool(sampler.options.get("discard_next_to_last_sigma")),
                    eta=eta, solver_type=sampler.options.get("solver_type") if spec.solver == "dpmpp_2m_sde" else None,
                    brownian=bool(sampler.options.get("brownian_noise")), seeds=seeds)
