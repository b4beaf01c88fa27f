"""A1111's samplers and schedule types: their names, aliases, options and ``/sdapi/v1/samplers`` /
``/sdapi/v1/schedulers`` shapes, and what runs each one.

A1111 (1.10) offers *samplers* (``DPM++ 2M``, ``Euler a`` ...) and, since 1.9, separate *schedule
types* (``Karras``, ``Exponential`` ...). Every sampler runs A1111's own math, written in
``engine/sampling/kdiffusion``: k-diffusion's samplers over A1111's twelve schedule types, and A1111's
timestep samplers (DDIM, DDIM CFG++, PLMS, UniPC), which ignore the schedule type. ``Automatic`` means
the sampler's own ``scheduler`` option (Karras for DPM++ 2M, Exponential for the SDE variants ...) or,
for samplers without one, k-diffusion's uniform schedule over the model's sigmas.

:func:`create_scheduler` gives a ``KSampler`` (the sampler, its schedule, options and noise seeds) that
``loop.sample`` runs; what still differs from A1111 is listed in :data:`KNOWN_DIFFERENCES`.

The package: ``catalog`` (the samplers and schedule types, and the solver each runs), ``names``
(request names, infotext labels, API lists), ``factory`` (:func:`create_scheduler`) and
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
