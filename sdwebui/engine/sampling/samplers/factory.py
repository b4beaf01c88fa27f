"""``create_scheduler``: the diffusers scheduler for an A1111 sampler and schedule type, built from the
diffusers class and the mixins that give it A1111's behaviour (one module per sampler family)."""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Sequence
from typing import Any

from diffusers.utils import is_torchsde_available

from sdwebui.engine.sampling.samplers.catalog import (SCHEDULERS_BY_NAME, SPECS, SamplerError, SamplerInfo,
                                                      SchedulerInfo, effective_schedule)
from sdwebui.engine.sampling.samplers.ddim import DDIMEtaMixin
from sdwebui.engine.sampling.samplers.dpm_solver import CustomTimestepsMixin, DPMMultistepMixin, DPMSDEMixin
from sdwebui.engine.sampling.samplers.euler_ancestral import EulerAncestralMixin
from sdwebui.engine.sampling.samplers.lcm import LCMMixin
from sdwebui.engine.sampling.samplers.mixins import CompatMixin, FastInitMixin, VEInitNoise, VPInitNoise
from sdwebui.engine.sampling.samplers.names import sampler_choices, scheduler_choices

logger = logging.getLogger(__name__)

# Pass-through keys of the model's scheduler config (other keys are ours to set).
_PASS_THROUGH = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
                 "prediction_type", "timestep_spacing", "steps_offset", "clip_sample", "set_alpha_to_one",
                 "rescale_betas_zero_snr")


_VE_BASES = {"EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "LMSDiscreteScheduler",
             "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
             "DPMSolverSDEScheduler"}
_EXTRA_MIXINS: dict[str, tuple[type, ...]] = {
    "EulerAncestralDiscreteScheduler": (EulerAncestralMixin,),
    "DPMSolverMultistepScheduler": (DPMMultistepMixin, VPInitNoise),
    "DPMSolverSinglestepScheduler": (CustomTimestepsMixin, VPInitNoise),
    "DPMSolverSDEScheduler": (DPMSDEMixin, FastInitMixin),
    "KDPM2DiscreteScheduler": (FastInitMixin,),
    "KDPM2AncestralDiscreteScheduler": (FastInitMixin,),
    "DDIMScheduler": (DDIMEtaMixin,),
    "LCMScheduler": (LCMMixin,),
}


@functools.cache
def _scheduler_class(base_name: str) -> type:
    import diffusers

    base = getattr(diffusers, base_name)
    mixins = list(_EXTRA_MIXINS.get(base_name, ()))
    if base_name in _VE_BASES:
        mixins.append(VEInitNoise)
    mixins.append(CompatMixin)
    name = "A1111" + base_name
    return type(name, (*mixins, base), {"__module__": __package__, "__doc__": f"{base_name} with A1111 behaviour."})


def _init_keys(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}


def create_scheduler(sampler: SamplerInfo, scheduler: SchedulerInfo, base_config: dict, *,
                     eta: float | None = None, seed: int | Sequence[int] | None = None) -> Any:
    """Build the diffusers scheduler for an A1111 sampler + schedule type.

    ``base_config`` is the model's scheduler config; only its beta schedule, training steps,
    ``prediction_type``, ``steps_offset``, ``timestep_spacing`` (used by DDIM/PLMS only),
    ``clip_sample``, ``set_alpha_to_one``, ``trained_betas`` and ``rescale_betas_zero_snr`` are used.

    ``eta``: DDIM's eta (default 0) and Euler a's eta (default 1); ignored (logged when it is not 1)
    by the other stochastic samplers. ``seed``: Brownian-tree noise seed(s) for the ``brownian_noise``
    samplers (DPM++ SDE / 2M SDE / 2M SDE Heun / 3M SDE), like A1111's ``BrownianTreeNoiseSampler``.
    Pass the batch's per-image seeds (a list as long as the batch) for batch-independent results; an
    int gives one tree for the whole batch. Without it DPM++ SDE derives its seeds from the generators
    given to ``step`` and the multistep SDE samplers draw Gaussian noise from them.
    """
    spec = SPECS.get(sampler.name)
    if spec is None:
        raise SamplerError("sampler_name", f"Sampler '{sampler.name}' is not available. "
                                           f"Valid samplers: {sampler_choices()}")
    if scheduler.name not in SCHEDULERS_BY_NAME:
        raise SamplerError("scheduler", f"Schedule type '{scheduler.label}' is not supported by the diffusers backend. "
                                        f"Valid schedule types: {scheduler_choices()}")
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
    if spec.kind == "timesteps":
        config.setdefault("steps_offset", 1)  # A1111 always shifts DDIM/PLMS timesteps by one
    config.update(dict(spec.config))

    schedule = effective_schedule(sampler, scheduler)
    custom_timesteps: str | None = None
    ancestral_sigmas: str | None = None
    if schedule is not None:
        # k-diffusion samplers: A1111's schedule, never the model's timestep_spacing
        config["timestep_spacing"] = "linspace"
        custom_sched = issubclass(cls, CustomTimestepsMixin)
        if schedule == "karras":
            if spec.base == "EulerAncestralDiscreteScheduler":
                ancestral_sigmas = "karras"
            else:
                config["use_karras_sigmas"] = True
        elif schedule in ("exponential", "polyexponential"):
            if spec.base == "EulerAncestralDiscreteScheduler":
                ancestral_sigmas = "exponential"
            else:
                config["use_exponential_sigmas"] = True
        elif custom_sched:
            custom_timesteps = schedule
        elif schedule in ("sgm_uniform", "simple"):
            config["timestep_spacing"] = "trailing"
        elif schedule == "ddim":
            config["timestep_spacing"] = "leading"
            config["steps_offset"] = 1
        if "final_sigmas_type" in accepted:
            config["final_sigmas_type"] = "zero"
        if "lower_order_final" in accepted and spec.base == "DPMSolverMultistepScheduler":
            config["lower_order_final"] = False  # k-diffusion never lowers the order near the end
            config["euler_at_final"] = False
    elif scheduler.name != "automatic":
        logger.debug("%s ignores the schedule type %s", sampler.name, scheduler.label)

    config = {k: v for k, v in config.items() if k in accepted}
    sch = cls.from_config(config)

    if isinstance(sch, CustomTimestepsMixin):
        sch._a1111_timesteps_kind = custom_timesteps
        sch._a1111_discard_penultimate = bool(sampler.options.get("discard_next_to_last_sigma"))
    if isinstance(sch, EulerAncestralMixin):
        sch._a1111_sigma_kind = ancestral_sigmas
    if spec.eta is not None:
        sch._a1111_eta = spec.eta if eta is None else float(eta)
    elif eta is not None and spec.eta_ignored and float(eta) != 1.0:
        logger.warning("%s runs with eta 1 on the diffusers backend; eta %s is ignored", sampler.name, eta)
    if sampler.options.get("brownian_noise") and seed is not None:
        seed_value: int | list[int] = (
            [int(s) for s in seed] if isinstance(seed, Sequence) and not isinstance(seed, str) else int(seed))
        if isinstance(sch, (DPMSDEMixin, DPMMultistepMixin)):
            if is_torchsde_available():
                sch._a1111_brownian_seed = seed_value
            else:
                logger.warning("torchsde is not installed: %s uses Gaussian noise instead of a Brownian tree",
                               sampler.name)
    return sch
