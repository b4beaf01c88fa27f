"""A1111 sampler names and schedule types, mapped onto diffusers schedulers.

A1111 (1.10) offers *samplers* (``DPM++ 2M``, ``Euler a`` ...) and, since 1.9, separate *schedule
types* (``Karras``, ``Exponential`` ...). This module keeps A1111's names, aliases, options and
``/sdapi/v1/samplers`` / ``/sdapi/v1/schedulers`` shapes, and builds the diffusers scheduler that
comes closest to what A1111 runs:

=====================  ==========================================================================
A1111 sampler          diffusers scheduler (our thin subclass adds the A1111 details below)
=====================  ==========================================================================
DPM++ 2M               DPMSolverMultistepScheduler  dpmsolver++, order 2, midpoint
DPM++ SDE              DPMSolverSDEScheduler        (needs torchsde; Brownian-tree noise)
DPM++ 2M SDE           DPMSolverMultistepScheduler  sde-dpmsolver++, order 2, midpoint
DPM++ 2M SDE Heun      DPMSolverMultistepScheduler  sde-dpmsolver++, order 2, heun
DPM++ 2S a             DPMSolverSinglestepScheduler sde-dpmsolver++, order 2 (closest, see below)
DPM++ 3M SDE           DPMSolverMultistepScheduler  sde-dpmsolver++, order 3 (3rd-order term fixed)
Euler a                EulerAncestralDiscreteScheduler (+ Karras/Exponential sigmas, + eta)
Euler                  EulerDiscreteScheduler
LMS                    LMSDiscreteScheduler         (needs scipy)
Heun                   HeunDiscreteScheduler
DPM2                   KDPM2DiscreteScheduler
DPM2 a                 KDPM2AncestralDiscreteScheduler
DDIM                   DDIMScheduler                (eta from create_scheduler, default 0)
PLMS                   PNDMScheduler                skip_prk_steps=True
UniPC                  UniPCMultistepScheduler      bh1, order 3, time-uniform (A1111's defaults)
LCM                    LCMScheduler
=====================  ==========================================================================

Schedule types: *k-diffusion* samplers (all but DDIM, PLMS, UniPC and LCM) apply the schedule type
like A1111 does. ``Automatic`` means the sampler's own ``scheduler`` option (Karras for DPM++ 2M,
Exponential for the SDE variants ...) or, for samplers without one (Euler, Euler a, LMS, Heun),
A1111's k-diffusion default: the uniform (``linspace``) schedule over the full sigma range. The
model's ``timestep_spacing`` (``leading`` in the shipped SD configs) is deliberately *not* used for
k-diffusion samplers, because A1111 never uses it there. DDIM, PLMS and UniPC are A1111
"timesteps" samplers and LCM uses diffusers' own LCM timesteps: they ignore the schedule type, and
:func:`schedule_type_label` then reports ``Automatic``. DDIM and PLMS follow the model config's
``timestep_spacing`` (``leading`` with ``steps_offset`` 1 is exactly A1111's DDIM discretization).

Every scheduler returned by :func:`create_scheduler` works with one generic loop::

    sch.set_timesteps(steps, device)
    latents = latents * sch.init_noise_sigma
    for t in sch.timesteps:
        x = sch.scale_model_input(latents, t)
        eps = model(x, t)
        latents = sch.step(eps, t, latents, generator=generators_or_none).prev_sample

``step`` accepts ``generator=`` (a ``torch.Generator`` or a per-image list) on every scheduler, even
those whose diffusers ``step`` has no such argument (it is then ignored, or used to derive the
Brownian-tree seeds, see ``seed`` in :func:`create_scheduler`). ``init_noise_sigma`` is A1111's
``sigmas[0]`` for every k-diffusion sampler (diffusers uses ``sqrt(sigma**2 + 1)`` with ``leading``
spacing and 1.0 for the DPM-Solver family, which differ slightly).

Anything that still differs from A1111 is listed in :data:`KNOWN_DIFFERENCES`.

The package: ``catalog`` (the samplers and schedule types, and what each is built from), ``names``
(request names, infotext labels, API lists), ``factory`` (:func:`create_scheduler`), one module per
sampler family for its A1111 behaviour (``dpm_solver``, ``euler_ancestral``, ``ddim``, ``lcm``),
``mixins`` for what the families share, ``schedules`` and ``noise`` for A1111's formulas, and
``extension_tables`` for the tables extensions read through ``modules.sd_samplers`` / ``sd_schedulers``.
"""
from __future__ import annotations

from sdwebui.engine.sampling.samplers.catalog import (KNOWN_DIFFERENCES, SAMPLERS, SCHEDULERS, SamplerError,
                                                      SamplerInfo, SchedulerInfo, schedule_applies, step_multiplier)
from sdwebui.engine.sampling.samplers.factory import create_scheduler
from sdwebui.engine.sampling.samplers.names import (resolve, sampler_api_list, schedule_type_label,
                                                    scheduler_api_list)

__all__ = [
    "KNOWN_DIFFERENCES",
    "SAMPLERS",
    "SCHEDULERS",
    "SamplerError",
    "SamplerInfo",
    "SchedulerInfo",
    "create_scheduler",
    "resolve",
    "sampler_api_list",
    "schedule_applies",
    "schedule_type_label",
    "scheduler_api_list",
    "step_multiplier",
]
