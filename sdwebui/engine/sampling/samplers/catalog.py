"""The A1111 samplers and schedule types, the solver each sampler runs (A1111's own math,
engine/sampling/kdiffusion), which of them this installation offers, and what still differs from A1111
(KNOWN_DIFFERENCES)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from diffusers.utils import is_scipy_available, is_torchsde_available

logger = logging.getLogger(__name__)

KNOWN_DIFFERENCES: tuple[str, ...] = (
    "Every sampler runs A1111's own math (engine/sampling/kdiffusion: k-diffusion's samplers, A1111's "
    "DDIM / DDIM CFG++ / PLMS / UniPC timestep samplers, its Restart and LCM samplers) over A1111's "
    "twelve schedule types, with its sampler options (`s_churn`, `s_tmin`, `s_tmax`, `s_noise`, eta, "
    "`sigma_min`/`sigma_max`/`rho`, `always_discard_next_to_last_sigma`, `sgm_noise_multiplier`, "
    "`enable_quantization`, `use_old_karras_scheduler_sigmas`, the Beta schedule's alpha/beta, `uni_pc_*`).",
    "`UniPC`: an order above the step count is lowered to it (A1111 stops with an assertion).",
    "Unknown sampler or schedule names are errors (SamplerError, HTTP 4xx in the API). A1111 silently falls back "
    "to `DPM++ 2M` / `Automatic`.",
)


@dataclass(frozen=True)
class SamplerInfo:
    """An A1111 sampler: its name, aliases and A1111 options (``scheduler``, ``uses_ensd`` ...)."""

    name: str
    aliases: tuple[str, ...]
    options: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class SchedulerInfo:
    """An A1111 schedule type (``/sdapi/v1/schedulers`` item)."""

    name: str
    label: str
    aliases: tuple[str, ...] | None
    default_rho: float
    need_inner_model: bool


class SamplerError(ValueError):
    """A bad sampler or schedule type. ``field`` is ``"sampler_name"`` or ``"scheduler"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SamplerSpec:
    """How one A1111 sampler runs (private): its solver (kdiffusion.ksampler.SOLVERS) and whether A1111's
    schedule types apply to it."""

    solver: str
    kind: str = "k"                # "k": k-diffusion (schedule applies), "timesteps": A1111's timestep samplers
    needs: str | None = None       # "scipy" / "torchsde"


def _k(solver: str, needs: str | None = None) -> SamplerSpec:
    return SamplerSpec(solver=solver, needs=needs)


def _timesteps(solver: str) -> SamplerSpec:
    return SamplerSpec(solver=solver, kind="timesteps")


ALL_SAMPLERS: tuple[tuple[SamplerInfo, SamplerSpec | None], ...] = (
    (SamplerInfo("DPM++ 2M", ("k_dpmpp_2m",), {"scheduler": "karras"}), _k("dpmpp_2m")),
    (SamplerInfo("DPM++ SDE", ("k_dpmpp_sde",), {"scheduler": "karras", "second_order": True, "brownian_noise": True}),
     _k("dpmpp_sde", "torchsde")),
    (SamplerInfo("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), {"scheduler": "exponential", "brownian_noise": True}),
     _k("dpmpp_2m_sde", "torchsde")),
    (SamplerInfo("DPM++ 2M SDE Heun", ("k_dpmpp_2m_sde_heun",),
                 {"scheduler": "exponential", "brownian_noise": True, "solver_type": "heun"}),
     _k("dpmpp_2m_sde", "torchsde")),
    (SamplerInfo("DPM++ 2S a", ("k_dpmpp_2s_a",), {"scheduler": "karras", "uses_ensd": True, "second_order": True}),
     _k("dpmpp_2s_ancestral")),
    (SamplerInfo("DPM++ 3M SDE", ("k_dpmpp_3m_sde",),
                 {"scheduler": "exponential", "discard_next_to_last_sigma": True, "brownian_noise": True}),
     _k("dpmpp_3m_sde", "torchsde")),
    (SamplerInfo("Euler a", ("k_euler_a", "k_euler_ancestral"), {"uses_ensd": True}), _k("euler_ancestral")),
    (SamplerInfo("Euler", ("k_euler",), {}), _k("euler")),
    (SamplerInfo("LMS", ("k_lms",), {}), _k("lms", "scipy")),
    (SamplerInfo("Heun", ("k_heun",), {"second_order": True}), _k("heun")),
    (SamplerInfo("DPM2", ("k_dpm_2",), {"scheduler": "karras", "discard_next_to_last_sigma": True, "second_order": True}),
     _k("dpm_2")),
    (SamplerInfo("DPM2 a", ("k_dpm_2_a",),
                 {"scheduler": "karras", "discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True}),
     _k("dpm_2_ancestral")),
    (SamplerInfo("DPM fast", ("k_dpm_fast",), {"uses_ensd": True}), _k("dpm_fast")),
    (SamplerInfo("DPM adaptive", ("k_dpm_ad",), {"uses_ensd": True}), _k("dpm_adaptive")),
    (SamplerInfo("Restart", ("restart",), {"scheduler": "karras", "second_order": True}), _k("restart")),
    (SamplerInfo("DDIM", ("ddim",), {}), _timesteps("ddim")),
    (SamplerInfo("DDIM CFG++", ("ddim_cfgpp",), {}), _timesteps("ddim_cfgpp")),
    (SamplerInfo("PLMS", ("plms",), {}), _timesteps("plms")),
    (SamplerInfo("UniPC", ("unipc",), {}), _timesteps("unipc")),
    (SamplerInfo("LCM", ("k_lcm",), {}), _k("lcm")),
)

# A1111's schedule types, in its order; the value says whether we offer it.
ALL_SCHEDULERS: tuple[tuple[SchedulerInfo, bool], ...] = (
    (SchedulerInfo("automatic", "Automatic", None, -1.0, False), True),
    (SchedulerInfo("uniform", "Uniform", None, -1.0, True), True),
    (SchedulerInfo("karras", "Karras", None, 7.0, False), True),
    (SchedulerInfo("exponential", "Exponential", None, -1.0, False), True),
    (SchedulerInfo("polyexponential", "Polyexponential", None, 1.0, False), True),
    (SchedulerInfo("sgm_uniform", "SGM Uniform", ("SGMUniform",), -1.0, True), True),
    (SchedulerInfo("kl_optimal", "KL Optimal", None, -1.0, False), True),
    (SchedulerInfo("align_your_steps", "Align Your Steps", None, -1.0, False), True),
    (SchedulerInfo("simple", "Simple", None, -1.0, True), True),
    (SchedulerInfo("normal", "Normal", None, -1.0, True), True),
    (SchedulerInfo("ddim", "DDIM", None, -1.0, True), True),
    (SchedulerInfo("beta", "Beta", None, -1.0, True), True),
)


def _dependency_ok(needs: str | None) -> bool:
    if needs == "scipy":
        return is_scipy_available()
    if needs == "torchsde":
        return is_torchsde_available() and is_scipy_available()
    return True


SPECS: dict[str, SamplerSpec] = {}
UNAVAILABLE: dict[str, str] = {}  # A1111 sampler name -> why it is not offered
for _info, _spec in ALL_SAMPLERS:
    if not _dependency_ok(_spec.needs):
        UNAVAILABLE[_info.name] = f"it needs the '{_spec.needs}' package, which is not installed"
        logger.info("sampler %s disabled: the %s package is not installed", _info.name, _spec.needs)
    else:
        SPECS[_info.name] = _spec

SAMPLERS: tuple[SamplerInfo, ...] = tuple(info for info, _ in ALL_SAMPLERS if info.name in SPECS)
SCHEDULERS: tuple[SchedulerInfo, ...] = tuple(info for info, ok in ALL_SCHEDULERS if ok)

AUTOMATIC = SCHEDULERS[0]
SCHEDULERS_BY_NAME = {s.name: s for s in SCHEDULERS}
ALL_SCHEDULERS_BY_NAME = {s.name: s for s, _ in ALL_SCHEDULERS}


def schedule_applies(sampler: SamplerInfo) -> bool:
    """Whether the schedule type changes anything for this sampler (False for DDIM, DDIM CFG++, PLMS, UniPC)."""
    spec = SPECS.get(sampler.name)
    return spec is not None and spec.kind == "k"


def step_multiplier(sampler) -> int:
    """How many model evaluations a step of this sampler counts for in the prompt schedule (A1111's
    `SamplerData.total_steps`): 2 for the second-order samplers, whose denoiser steps through the schedule
    once per evaluation."""
    return 2 if (getattr(sampler, "options", None) or {}).get("second_order") else 1


def effective_schedule(sampler: SamplerInfo, scheduler: SchedulerInfo) -> str | None:
    """The schedule name really applied (None: the sampler ignores schedule types)."""
    if not schedule_applies(sampler):
        return None
    if scheduler.name == "automatic":
        return sampler.options.get("scheduler") or "uniform"
    return scheduler.name
