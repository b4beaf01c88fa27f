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
"""
from __future__ import annotations

import functools
import inspect
import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from diffusers.utils import is_scipy_available, is_torchsde_available
from diffusers.utils.torch_utils import randn_tensor

logger = logging.getLogger(__name__)

# torchsde warns when a sigma is a float32 rounding error outside the Brownian tree's range (k-diffusion
# in A1111 prints the same); the noise is still right.
warnings.filterwarnings("ignore", message=r"Should have (ta>=t0|tb<=t1)", category=UserWarning)

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
]

KNOWN_DIFFERENCES: tuple[str, ...] = (
    "Not available (diffusers has no equivalent): samplers `DPM fast`, `DPM adaptive`, `Restart` and "
    "`DDIM CFG++`; schedule types `KL Optimal`, `Align Your Steps` and `Beta` (diffusers' `use_beta_sigmas` "
    "interpolates sigma linearly between sigma_min and sigma_max instead of mapping the Beta quantiles to "
    "timesteps as A1111 does, so it is not offered). Asking for any of them is an error that lists the valid names.",
    "`DPM++ 2S a` uses DPMSolverSinglestepScheduler (`sde-dpmsolver++`, order 2). A1111's k-diffusion "
    "sampler is an *ancestral* single-step solver (sigma_down/sigma_up split, eta=1) that makes two model "
    "evaluations per step; diffusers' solver is the SDE variant of DPM-Solver++(2S) and spends one step of the "
    "schedule per model evaluation, so N steps make N model evaluations (A1111: about 2N). Images differ.",
    "`DPM++ 3M SDE`: diffusers 0.42's third-order `sde-dpmsolver++` update uses -0.5 where k-diffusion's "
    "DPM++ 3M SDE uses +0.5 in the coefficient of the second divided difference; our subclass uses "
    "k-diffusion's coefficient (and the heun-type second-order warm-up step, as k-diffusion does).",
    "`DPM2` and `DPM2 a` ignore A1111's `discard_next_to_last_sigma` (diffusers' KDPM2 schedulers build their "
    "interleaved midpoint schedule internally); `DPM++ 3M SDE` honours it. The option "
    "`always_discard_next_to_last_sigma` is not applied.",
    "Brownian-tree noise (A1111 option `brownian_noise`): `DPM++ SDE` always uses it (torchsde). "
    "`DPM++ 2M SDE`, `DPM++ 2M SDE Heun` and `DPM++ 3M SDE` use it only when `create_scheduler(..., seed=...)` "
    "is given (per-image seeds, like A1111's `p.all_seeds`); otherwise they draw Gaussian noise from the "
    "generators passed to `step`. Without `seed`, `DPM++ SDE` derives its tree seeds from those generators.",
    "Eta: honoured by `DDIM` (default 0, A1111 `eta_ddim`) and `Euler a` (default 1, A1111 `eta_ancestral`). "
    "The other stochastic samplers (`DPM2 a`, `DPM++ 2S a`, `DPM++ SDE`, `DPM++ 2M SDE`, `DPM++ 2M SDE Heun`, "
    "`DPM++ 3M SDE`) always run with eta = 1; another value is logged and ignored. "
    "`s_churn`, `s_tmin`, `s_tmax` and `s_noise` are not applied (A1111's defaults, 0/0/0/1, match).",
    "Schedules are computed by diffusers: integer timesteps for the DPM-Solver family (A1111 uses fractional "
    "ones), sigmas interpolated linearly rather than in log-sigma for `Uniform`/`Normal`/`SGM Uniform`/`Simple`; "
    "`SGM Uniform` and `Simple` both use diffusers' `trailing` spacing (t = 999 - k*1000/N, A1111: 999 - k*999/N "
    "and 999 - floor(k*1000/N)); `DDIM` (schedule type) makes exactly N steps (A1111 can make N+1 when 1000 is not "
    "a multiple of N). `Normal` is the same as `Uniform`; `Polyexponential` is applied with its default rho 1, "
    "which equals `Exponential`. The options `sigma_min`, `sigma_max` and `rho` (\"Schedule min/max sigma\", "
    "\"Schedule rho\") are not applied; Karras uses rho 7.",
    "`UniPC` uses A1111's default UniPC settings (variant bh1, order 3, time-uniform skip type, lower order "
    "final) with diffusers' integer timesteps; the `uni_pc_*` options are not read. It ends at sigma_min like "
    "A1111's implementation.",
    "`LCM` uses diffusers' LCMScheduler timesteps (evenly picked from a 50-step LCM schedule, or from N steps "
    "when N > 50); A1111 runs LCM over the k-diffusion sigma schedule, so the schedule type is ignored here.",
    "`PLMS` follows diffusers' PNDM with `skip_prk_steps` (one extra model evaluation for the first step, "
    "like A1111's pseudo improved Euler start); `DDIM`/`PLMS` take their timesteps from the model config "
    "(`leading`, `steps_offset` 1 for every shipped config: the same as A1111's `ddim_discretize=uniform`; "
    "A1111 uses range(0, 1000, 1000 // N) + 1, which can differ by a step when 1000 is not a multiple of N).",
    "Unknown sampler or schedule names are errors (SamplerError, HTTP 4xx in the API). A1111 silently falls back "
    "to `DPM++ 2M` / `Automatic`.",
)


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """How one A1111 sampler is built (private)."""

    base: str                      # diffusers class name
    config: tuple[tuple[str, Any], ...] = ()   # forced settings
    defaults: tuple[tuple[str, Any], ...] = ()  # used when the model config does not say
    kind: str = "k"                # "k": k-diffusion (schedule applies), "timesteps", "lcm"
    needs: str | None = None       # "scipy" / "torchsde"
    eta: float | None = None       # default eta when the sampler honours eta
    eta_ignored: bool = False      # A1111 applies eta_ancestral here; diffusers fixes it at 1


_ALL_SAMPLERS: tuple[tuple[SamplerInfo, _Spec | None], ...] = (
    (SamplerInfo("DPM++ 2M", ("k_dpmpp_2m",), {"scheduler": "karras"}),
     _Spec("DPMSolverMultistepScheduler",
           (("algorithm_type", "dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint")))),
    (SamplerInfo("DPM++ SDE", ("k_dpmpp_sde",), {"scheduler": "karras", "second_order": True, "brownian_noise": True}),
     _Spec("DPMSolverSDEScheduler", needs="torchsde", eta_ignored=True)),
    (SamplerInfo("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), {"scheduler": "exponential", "brownian_noise": True}),
     _Spec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint")), eta_ignored=True)),
    (SamplerInfo("DPM++ 2M SDE Heun", ("k_dpmpp_2m_sde_heun",),
                 {"scheduler": "exponential", "brownian_noise": True, "solver_type": "heun"}),
     _Spec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "heun")), eta_ignored=True)),
    (SamplerInfo("DPM++ 2S a", ("k_dpmpp_2s_a",), {"scheduler": "karras", "uses_ensd": True, "second_order": True}),
     _Spec("DPMSolverSinglestepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint"),
            ("lower_order_final", True)), eta_ignored=True)),
    (SamplerInfo("DPM++ 3M SDE", ("k_dpmpp_3m_sde",),
                 {"scheduler": "exponential", "discard_next_to_last_sigma": True, "brownian_noise": True}),
     _Spec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 3), ("solver_type", "heun")), eta_ignored=True)),
    (SamplerInfo("Euler a", ("k_euler_a", "k_euler_ancestral"), {"uses_ensd": True}),
     _Spec("EulerAncestralDiscreteScheduler", eta=1.0)),
    (SamplerInfo("Euler", ("k_euler",), {}), _Spec("EulerDiscreteScheduler")),
    (SamplerInfo("LMS", ("k_lms",), {}), _Spec("LMSDiscreteScheduler", needs="scipy")),
    (SamplerInfo("Heun", ("k_heun",), {"second_order": True}), _Spec("HeunDiscreteScheduler")),
    (SamplerInfo("DPM2", ("k_dpm_2",), {"scheduler": "karras", "discard_next_to_last_sigma": True, "second_order": True}),
     _Spec("KDPM2DiscreteScheduler")),
    (SamplerInfo("DPM2 a", ("k_dpm_2_a",),
                 {"scheduler": "karras", "discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True}),
     _Spec("KDPM2AncestralDiscreteScheduler", eta_ignored=True)),
    (SamplerInfo("DPM fast", ("k_dpm_fast",), {"uses_ensd": True}), None),
    (SamplerInfo("DPM adaptive", ("k_dpm_ad",), {"uses_ensd": True}), None),
    (SamplerInfo("Restart", ("restart",), {"scheduler": "karras", "second_order": True}), None),
    (SamplerInfo("DDIM", ("ddim",), {}),
     _Spec("DDIMScheduler", defaults=(("clip_sample", False), ("set_alpha_to_one", False)), kind="timesteps",
           eta=0.0)),
    (SamplerInfo("DDIM CFG++", ("ddim_cfgpp",), {}), None),
    (SamplerInfo("PLMS", ("plms",), {}), _Spec("PNDMScheduler", (("skip_prk_steps", True),), kind="timesteps")),
    (SamplerInfo("UniPC", ("unipc",), {}),
     _Spec("UniPCMultistepScheduler",
           (("solver_order", 3), ("solver_type", "bh1"), ("predict_x0", True), ("lower_order_final", True),
            ("timestep_spacing", "linspace"), ("final_sigmas_type", "sigma_min")), kind="timesteps")),
    (SamplerInfo("LCM", ("k_lcm",), {}), _Spec("LCMScheduler", kind="lcm")),
)

# A1111's schedule types, in its order; the value says how we realise it (None: not offered).
_ALL_SCHEDULERS: tuple[tuple[SchedulerInfo, bool], ...] = (
    (SchedulerInfo("automatic", "Automatic", None, -1.0, False), True),
    (SchedulerInfo("uniform", "Uniform", None, -1.0, True), True),
    (SchedulerInfo("karras", "Karras", None, 7.0, False), True),
    (SchedulerInfo("exponential", "Exponential", None, -1.0, False), True),
    (SchedulerInfo("polyexponential", "Polyexponential", None, 1.0, False), True),
    (SchedulerInfo("sgm_uniform", "SGM Uniform", ("SGMUniform",), -1.0, True), True),
    (SchedulerInfo("kl_optimal", "KL Optimal", None, -1.0, False), False),
    (SchedulerInfo("align_your_steps", "Align Your Steps", None, -1.0, False), False),
    (SchedulerInfo("simple", "Simple", None, -1.0, True), True),
    (SchedulerInfo("normal", "Normal", None, -1.0, True), True),
    (SchedulerInfo("ddim", "DDIM", None, -1.0, True), True),
    (SchedulerInfo("beta", "Beta", None, -1.0, True), False),
)

# Legacy (pre-1.9) alias suffixes: "k_dpmpp_2m_ka" = DPM++ 2M Karras, "k_dpmpp_2m_sde_exp" = ... Exponential.
_LEGACY_ALIAS_SUFFIXES = {"_ka": "karras", "_exp": "exponential"}


def _dependency_ok(needs: str | None) -> bool:
    if needs == "scipy":
        return is_scipy_available()
    if needs == "torchsde":
        return is_torchsde_available() and is_scipy_available()
    return True


_SPECS: dict[str, _Spec] = {}
_unavailable: dict[str, str] = {}  # A1111 sampler name -> why it is not offered
for _info, _spec in _ALL_SAMPLERS:
    if _spec is None:
        _unavailable[_info.name] = "it is not supported by the diffusers backend"
    elif not _dependency_ok(_spec.needs):
        _unavailable[_info.name] = f"it needs the '{_spec.needs}' package, which is not installed"
        logger.info("sampler %s disabled: the %s package is not installed", _info.name, _spec.needs)
    else:
        _SPECS[_info.name] = _spec

SAMPLERS: tuple[SamplerInfo, ...] = tuple(info for info, _ in _ALL_SAMPLERS if info.name in _SPECS)
SCHEDULERS: tuple[SchedulerInfo, ...] = tuple(info for info, ok in _ALL_SCHEDULERS if ok)

_AUTOMATIC = SCHEDULERS[0]
_SCHEDULERS_BY_NAME = {s.name: s for s in SCHEDULERS}
_ALL_SCHEDULERS_BY_NAME = {s.name: s for s, _ in _ALL_SCHEDULERS}

# Pass-through keys of the model's scheduler config (other keys are ours to set).
_PASS_THROUGH = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
                 "prediction_type", "timestep_spacing", "steps_offset", "clip_sample", "set_alpha_to_one",
                 "rescale_betas_zero_snr")


# --------------------------------------------------------------------------------------------
# Name resolution
# --------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).casefold()


def _squash(text: str) -> str:
    """Scheduler lookup key: case, spaces, underscores and dashes do not matter ('SGM Uniform' == 'sgm_uniform')."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _sampler_lookup() -> dict[str, SamplerInfo]:
    table: dict[str, SamplerInfo] = {}
    for info, _ in _ALL_SAMPLERS:
        for key in (info.name, *info.aliases):
            table.setdefault(_norm(key), info)
    return table


def _scheduler_lookup() -> dict[str, SchedulerInfo]:
    table: dict[str, SchedulerInfo] = {}
    for info, _ in _ALL_SCHEDULERS:
        for key in (info.name, info.label, *(info.aliases or ())):
            table.setdefault(_squash(key), info)
    return table


_SAMPLER_KEYS = _sampler_lookup()
_SCHEDULER_KEYS = _scheduler_lookup()


def _sampler_choices() -> str:
    return ", ".join(s.name for s in SAMPLERS)


def _scheduler_choices() -> str:
    return ", ".join(s.label for s in SCHEDULERS)


def _find_sampler(name: str) -> SamplerInfo | None:
    return _SAMPLER_KEYS.get(_norm(name))


def _find_scheduler(name: str) -> SchedulerInfo | None:
    return _SCHEDULER_KEYS.get(_squash(name))


def _available_sampler(info: SamplerInfo, requested: str) -> SamplerInfo:
    if info.name not in _SPECS:
        raise SamplerError("sampler_name", f"Sampler '{requested}' is not available: {_unavailable[info.name]}. "
                                           f"Valid samplers: {_sampler_choices()}")
    return info


def _available_scheduler(info: SchedulerInfo, requested: str) -> SchedulerInfo:
    if info.name not in _SCHEDULERS_BY_NAME:
        raise SamplerError("scheduler", f"Schedule type '{requested}' is not supported by the diffusers backend. "
                                        f"Valid schedule types: {_scheduler_choices()}")
    return info


def _split_legacy(name: str) -> tuple[SamplerInfo, SchedulerInfo] | None:
    """'DPM++ 2M Karras' -> (DPM++ 2M, Karras); 'k_dpmpp_2m_ka' -> (DPM++ 2M, Karras)."""
    norm = _norm(name)
    candidates: list[tuple[int, SamplerInfo, SchedulerInfo]] = []
    for sched, _ in _ALL_SCHEDULERS:
        if sched.name == "automatic":
            continue
        for suffix in {sched.label, sched.name, *(sched.aliases or ())}:
            suffix_n = _norm(suffix)
            if norm.endswith(" " + suffix_n):
                sampler = _SAMPLER_KEYS.get(norm[: -len(suffix_n) - 1].rstrip())
                if sampler is not None:
                    candidates.append((len(suffix_n), sampler, sched))
    for suffix, sched_name in _LEGACY_ALIAS_SUFFIXES.items():
        if norm.endswith(suffix):
            sampler = _SAMPLER_KEYS.get(norm[: -len(suffix)])
            if sampler is not None:
                candidates.append((len(suffix), sampler, _ALL_SCHEDULERS_BY_NAME[sched_name]))
    if not candidates:
        return None
    _, sampler, sched = max(candidates, key=lambda c: c[0])  # longest suffix wins
    return sampler, sched


def resolve(sampler_name: str | None, scheduler: str | None) -> tuple[SamplerInfo, SchedulerInfo]:
    """Find the sampler and schedule type for a request, like A1111's ``get_sampler_and_scheduler``.

    Names and aliases match case-insensitively (``"Euler a"``, ``"k_euler_a"``); schedule types by name,
    label or alias (``"karras"``, ``"Karras"``, ``"SGM Uniform"``, ``"sgm_uniform"``). An empty or
    ``None`` sampler is ``Euler`` (A1111's effective API default); an empty or ``None`` schedule type is
    ``Automatic``. Legacy combined names (``"DPM++ 2M Karras"``) are split when the schedule type is
    Automatic/None. A schedule type equal to the sampler's own default becomes ``Automatic``.
    Raises :class:`SamplerError` for unknown or unsupported names.
    """
    sched_info = _AUTOMATIC
    if scheduler is not None and str(scheduler).strip():
        found = _find_scheduler(str(scheduler))
        if found is None:
            raise SamplerError("scheduler", f"Schedule type '{scheduler}' not found. "
                                            f"Valid schedule types: {_scheduler_choices()}")
        sched_info = _available_scheduler(found, str(scheduler))

    name = str(sampler_name).strip() if sampler_name is not None else ""
    if not name:
        name = "Euler"
    sampler = _find_sampler(name)
    if sampler is None and sched_info.name == "automatic":
        split = _split_legacy(name)
        if split is not None:
            sampler, legacy_sched = split
            sched_info = _available_scheduler(legacy_sched, legacy_sched.label)
    if sampler is None:
        hint = ""
        if _split_legacy(name) is not None:
            hint = " (a combined name such as 'DPM++ 2M Karras' is only split when the schedule type is Automatic)"
        raise SamplerError("sampler_name", f"Sampler '{name}' not found{hint}. Valid samplers: {_sampler_choices()}")
    sampler = _available_sampler(sampler, name)

    if sched_info.name == sampler.options.get("scheduler"):
        sched_info = _AUTOMATIC
    return sampler, sched_info


def schedule_applies(sampler: SamplerInfo) -> bool:
    """Whether the schedule type changes anything for this sampler (False for DDIM, PLMS, UniPC, LCM)."""
    spec = _SPECS.get(sampler.name)
    return spec is not None and spec.kind == "k"


def _effective_schedule(sampler: SamplerInfo, scheduler: SchedulerInfo) -> str | None:
    """The schedule name really applied (None: the sampler ignores schedule types)."""
    if not schedule_applies(sampler):
        return None
    if scheduler.name == "automatic":
        return sampler.options.get("scheduler") or "uniform"
    return scheduler.name


def schedule_type_label(sampler: SamplerInfo, scheduler: SchedulerInfo) -> str:
    """The "Schedule type" written to the infotext: the label actually used.

    ``Karras`` for DPM++ 2M + Automatic; ``Automatic`` for samplers without a default (Euler a) and for
    samplers that ignore schedule types (DDIM, PLMS, UniPC, LCM).
    """
    if not schedule_applies(sampler):
        return _AUTOMATIC.label
    if scheduler.name == "automatic":
        default = sampler.options.get("scheduler")
        return _ALL_SCHEDULERS_BY_NAME[default].label if default else _AUTOMATIC.label
    return scheduler.label


def sampler_api_list() -> list[dict]:
    """``GET /sdapi/v1/samplers``: ``[{name, aliases, options: {str: str}}]`` in A1111's order."""
    return [{"name": s.name, "aliases": list(s.aliases), "options": {k: str(v) for k, v in s.options.items()}}
            for s in SAMPLERS]


def scheduler_api_list() -> list[dict]:
    """``GET /sdapi/v1/schedulers``: ``[{name, label, aliases|null, default_rho, need_inner_model}]``."""
    return [{"name": s.name, "label": s.label, "aliases": list(s.aliases) if s.aliases is not None else None,
             "default_rho": s.default_rho, "need_inner_model": s.need_inner_model} for s in SCHEDULERS]


# --------------------------------------------------------------------------------------------
# Schedule helpers (own implementations of A1111's formulas)
# --------------------------------------------------------------------------------------------
def _a1111_timesteps(kind: str, n: int, num_train: int) -> np.ndarray:
    """A1111's timestep-based schedules as descending timesteps (k-diffusion 't')."""
    last = num_train - 1
    if kind in ("uniform", "normal"):
        ts = np.linspace(last, 0, n)
    elif kind == "sgm_uniform":
        ts = np.linspace(last, 0, n + 1)[:-1]
    elif kind == "simple":
        ts = last - np.floor(np.arange(n) * num_train / n)
    elif kind == "ddim":
        ts = (np.arange(n) * max(num_train // n, 1) + 1)[::-1]
    else:
        raise ValueError(kind)
    return np.clip(ts, 0, last)


def _karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, n)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def _exponential_sigmas(n: int, sigma_min: float, sigma_max: float) -> np.ndarray:
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), n))


def _sigma_to_t(sigmas: np.ndarray, train_sigmas: np.ndarray) -> np.ndarray:
    """Fractional timesteps for sigmas, interpolating in log-sigma (k-diffusion's ``sigma_to_t``)."""
    return np.interp(np.log(np.maximum(sigmas, 1e-10)), np.log(train_sigmas), np.arange(len(train_sigmas)))


def _seed_from_generator(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device).item())


def _seeds_from_generators(generator: Any, batch: int) -> int | list[int] | None:
    if generator is None:
        return None
    if isinstance(generator, (list, tuple)):
        if len(generator) != batch:
            raise ValueError(f"got {len(generator)} generators for a batch of {batch}")
        return [_seed_from_generator(g) for g in generator]
    return _seed_from_generator(generator)


def _brownian_sampler(sample: torch.Tensor, sigmas: torch.Tensor, seed: int | list[int] | None):
    from diffusers.schedulers.scheduling_dpmsolver_sde import BrownianTreeNoiseSampler

    if isinstance(seed, (list, tuple)):
        if len(seed) != sample.shape[0]:
            raise ValueError(f"got {len(seed)} noise seeds for a batch of {sample.shape[0]}")
        seed = [int(s) for s in seed]
    positive = sigmas[sigmas > 0]
    return BrownianTreeNoiseSampler(sample, positive.min().item(), sigmas.max().item(), seed)


# --------------------------------------------------------------------------------------------
# Scheduler subclasses (mixins combined with the diffusers classes on demand)
# --------------------------------------------------------------------------------------------
class _CompatMixin:
    """Lets ``step`` take ``generator=`` on every scheduler."""

    @classmethod
    def _base_step_takes_generator(cls) -> bool:
        return _step_takes_generator(cls)

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             generator: Any = None, **kwargs: Any) -> Any:
        if self._base_step_takes_generator():
            kwargs["generator"] = generator
        return super().step(model_output, timestep, sample, *args, **kwargs)  # type: ignore[misc]


@functools.cache
def _step_takes_generator(cls: type) -> bool:
    mro = cls.__mro__
    for klass in mro[mro.index(_CompatMixin) + 1:]:
        if "step" in klass.__dict__:
            return "generator" in inspect.signature(klass.__dict__["step"]).parameters
    return False


class _FastInitMixin:
    """KDPM2 / DPMSolverSDE build a 1000-step schedule in ``__init__`` (0.1-0.25 s of Python loops) that
    every user replaces with ``set_timesteps(steps)``; build a 2-step one instead (same sigma range)."""

    def set_timesteps(self, num_inference_steps: int, device: Any = None, num_train_timesteps: int | None = None,
                      *args: Any, **kwargs: Any) -> None:
        if "_step_index" not in self.__dict__ and num_train_timesteps is not None \
                and num_inference_steps == num_train_timesteps:
            num_inference_steps = 2  # called from __init__
        super().set_timesteps(num_inference_steps, device, num_train_timesteps, *args, **kwargs)  # type: ignore[misc]


class _VEInitNoise:
    """k-diffusion start: x = noise * sigmas[0] (sample kept in sigma/'VE' space)."""

    @property
    def init_noise_sigma(self) -> float:
        return float(self.sigmas.max())  # type: ignore[attr-defined]


class _VPInitNoise:
    """k-diffusion start for schedulers that keep the sample in 'VP' space: noise * s / sqrt(s^2 + 1)."""

    @property
    def init_noise_sigma(self) -> float:
        sigma = float(self.sigmas.max())  # type: ignore[attr-defined]
        return sigma / math.sqrt(sigma * sigma + 1.0)

    @init_noise_sigma.setter
    def init_noise_sigma(self, _value: float) -> None:  # diffusers' __init__ assigns 1.0
        pass


class _CustomTimestepsMixin:
    """DPM-Solver family: A1111 timestep schedules (diffusers' 'linspace' drops t=0) and the
    ``discard_next_to_last_sigma`` option."""

    _a1111_timesteps_kind: str | None = None
    _a1111_discard_penultimate: bool = False

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None, mu: float | None = None,
                      timesteps: list[int] | None = None) -> None:
        if timesteps is not None or num_inference_steps is None:
            super().set_timesteps(num_inference_steps, device=device, mu=mu, timesteps=timesteps)  # type: ignore[misc]
            return
        n = int(num_inference_steps) + (1 if self._a1111_discard_penultimate else 0)
        kind = self._a1111_timesteps_kind
        if kind is not None:
            ts = _a1111_timesteps(kind, n, self.config.num_train_timesteps).round().astype(np.int64)  # type: ignore[attr-defined]
            super().set_timesteps(device=device, timesteps=ts.tolist())  # type: ignore[misc]
        else:
            super().set_timesteps(n, device=device, mu=mu)  # type: ignore[misc]
        if self._a1111_discard_penultimate and len(self.timesteps) >= 2:  # type: ignore[attr-defined]
            self.sigmas = torch.cat([self.sigmas[:-2], self.sigmas[-1:]])  # type: ignore[attr-defined]
            self.timesteps = self.timesteps[:-1]  # type: ignore[attr-defined]
            self.num_inference_steps = len(self.timesteps)


class _DPMMultistepMixin(_CustomTimestepsMixin):
    """DPM++ 2M / 2M SDE / 3M SDE: Brownian-tree noise when seeded, k-diffusion's 3M SDE update."""

    _a1111_brownian_seed: int | list[int] | None = None
    _a1111_noise_sampler: Any = None

    def set_timesteps(self, *args: Any, **kwargs: Any) -> None:
        super().set_timesteps(*args, **kwargs)
        self._a1111_noise_sampler = None

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             variance_noise: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if (self._a1111_brownian_seed is not None and variance_noise is None and not args
                and self.config.algorithm_type == "sde-dpmsolver++"):  # type: ignore[attr-defined]
            if self.step_index is None:  # type: ignore[attr-defined]
                self._init_step_index(timestep)  # type: ignore[attr-defined]
            if self._a1111_noise_sampler is None:
                self._a1111_noise_sampler = _brownian_sampler(sample, self.sigmas, self._a1111_brownian_seed)  # type: ignore[attr-defined]
            i = self.step_index  # type: ignore[attr-defined]
            sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]  # type: ignore[attr-defined]
            if float(sigma_next) > 0:
                variance_noise = self._a1111_noise_sampler(sigma, sigma_next)
            else:
                variance_noise = torch.zeros_like(sample)
        return super().step(model_output, timestep, sample, *args, variance_noise=variance_noise, **kwargs)  # type: ignore[misc]

    def multistep_dpm_solver_third_order_update(self, model_output_list: list[torch.Tensor], *args: Any,
                                                sample: torch.Tensor | None = None,
                                                noise: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        if self.config.algorithm_type != "sde-dpmsolver++" or args or sample is None:  # type: ignore[attr-defined]
            return super().multistep_dpm_solver_third_order_update(  # type: ignore[misc]
                model_output_list, *args, sample=sample, noise=noise, **kwargs)
        # k-diffusion's DPM++ 3M SDE (eta = 1), written for diffusers' VP-scaled sample.
        i = self.step_index  # type: ignore[attr-defined]
        alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(self.sigmas[i + 1])  # type: ignore[attr-defined]
        lambdas = []
        for s in (self.sigmas[i + 1], self.sigmas[i], self.sigmas[i - 1], self.sigmas[i - 2]):  # type: ignore[attr-defined]
            a, sg = self._sigma_to_alpha_sigma_t(s)  # type: ignore[attr-defined]
            lambdas.append(torch.log(a) - torch.log(sg))
        _, sigma_s0 = self._sigma_to_alpha_sigma_t(self.sigmas[i])  # type: ignore[attr-defined]
        lam_t, lam_s0, lam_s1, lam_s2 = lambdas
        h, h_0, h_1 = lam_t - lam_s0, lam_s0 - lam_s1, lam_s1 - lam_s2
        r0, r1 = h_0 / h, h_1 / h
        m0, m1, m2 = model_output_list[-1], model_output_list[-2], model_output_list[-3]
        d1_0, d1_1 = (m0 - m1) / r0, (m1 - m2) / r1
        d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        h_eta = 2.0 * h
        phi_1 = -torch.expm1(-h_eta)
        phi_2 = torch.expm1(-h_eta) / h_eta + 1.0
        phi_3 = phi_2 / h_eta - 0.5
        x_t = ((sigma_t / sigma_s0) * torch.exp(-h)) * sample + alpha_t * (phi_1 * m0 + phi_2 * d1 - phi_3 * d2)
        if noise is not None:
            x_t = x_t + sigma_t * torch.sqrt(phi_1) * noise
        return x_t


class _DPMSDEMixin:
    """DPM++ SDE: Brownian-tree seeds from ``seed`` or, failing that, from the step generators."""

    _a1111_brownian_seed: int | list[int] | None = None

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             generator: Any = None, **kwargs: Any) -> Any:
        if self.noise_sampler is None:  # type: ignore[attr-defined]  # (re)set by set_timesteps
            if self.step_index is None:  # type: ignore[attr-defined]
                self._init_step_index(timestep)  # type: ignore[attr-defined]
            seed = self._a1111_brownian_seed
            if seed is None:
                seed = _seeds_from_generators(generator, sample.shape[0])
            self.noise_sampler = _brownian_sampler(sample, self.sigmas, seed)  # type: ignore[attr-defined]
        return super().step(model_output, timestep, sample, *args, generator=generator, **kwargs)  # type: ignore[misc]


class _EulerAncestralMixin:
    """Euler a: Karras/Exponential sigmas (diffusers lacks them for this class) and eta."""

    _a1111_sigma_kind: str | None = None
    _a1111_eta: float = 1.0

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        super().set_timesteps(num_inference_steps, device)  # type: ignore[misc]
        kind = self._a1111_sigma_kind
        if kind not in ("karras", "exponential", "polyexponential"):
            return
        ac = self.alphas_cumprod.double().numpy()  # type: ignore[attr-defined]
        train = ((1.0 - ac) / ac) ** 0.5
        lo, hi = float(train.min()), float(train.max())
        n = int(num_inference_steps)
        sig = _karras_sigmas(n, lo, hi) if kind == "karras" else _exponential_sigmas(n, lo, hi)
        ts = _sigma_to_t(sig, train)
        self.sigmas = torch.from_numpy(np.append(sig, 0.0).astype(np.float32))
        self.timesteps = torch.from_numpy(ts.astype(np.float32)).to(device=device)

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any,
             generator: Any = None, return_dict: bool = True, **kwargs: Any) -> Any:
        eta = float(self._a1111_eta)
        if eta == 1.0 or args or kwargs:
            return super().step(model_output, timestep, sample, *args, generator=generator,  # type: ignore[misc]
                                return_dict=return_dict, **kwargs)
        from diffusers.schedulers.scheduling_euler_ancestral_discrete import EulerAncestralDiscreteSchedulerOutput

        if self.step_index is None:  # type: ignore[attr-defined]
            self._init_step_index(timestep)  # type: ignore[attr-defined]
        i = self.step_index  # type: ignore[attr-defined]
        sigma, sigma_to = float(self.sigmas[i]), float(self.sigmas[i + 1])  # type: ignore[attr-defined]
        x = sample.to(torch.float32)
        eps = model_output.to(torch.float32)
        if self.config.prediction_type == "epsilon":  # type: ignore[attr-defined]
            denoised = x - sigma * eps
        elif self.config.prediction_type == "v_prediction":  # type: ignore[attr-defined]
            denoised = eps * (-sigma / (sigma**2 + 1) ** 0.5) + x / (sigma**2 + 1)
        else:
            raise ValueError(f"prediction_type {self.config.prediction_type!r} is not supported by Euler a")  # type: ignore[attr-defined]
        sigma_up = min(sigma_to, eta * (sigma_to**2 * (sigma**2 - sigma_to**2) / sigma**2) ** 0.5)
        sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
        x = x + (x - denoised) / sigma * (sigma_down - sigma)
        noise = randn_tensor(model_output.shape, dtype=model_output.dtype, device=model_output.device,
                             generator=generator)
        x = (x + noise.to(torch.float32) * sigma_up).to(model_output.dtype)
        self._step_index += 1  # type: ignore[attr-defined]
        if not return_dict:
            return (x, denoised)
        return EulerAncestralDiscreteSchedulerOutput(prev_sample=x, pred_original_sample=denoised)


class _DDIMEtaMixin:
    """DDIM: the eta given to create_scheduler is used by every step."""

    _a1111_eta: float = 0.0

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not args:
            kwargs.setdefault("eta", float(self._a1111_eta))
        return super().step(model_output, timestep, sample, *args, **kwargs)  # type: ignore[misc]


class _LCMMixin:
    """LCM: more steps than the LCM schedule's 50 just use a finer original schedule."""

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      original_inference_steps: int | None = None, *args: Any, **kwargs: Any) -> None:
        if (num_inference_steps is not None and original_inference_steps is None
                and num_inference_steps > self.config.original_inference_steps):  # type: ignore[attr-defined]
            original_inference_steps = int(num_inference_steps)
        super().set_timesteps(num_inference_steps, device, original_inference_steps, *args, **kwargs)  # type: ignore[misc]


_VE_BASES = {"EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "LMSDiscreteScheduler",
             "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
             "DPMSolverSDEScheduler"}
_EXTRA_MIXINS: dict[str, tuple[type, ...]] = {
    "EulerAncestralDiscreteScheduler": (_EulerAncestralMixin,),
    "DPMSolverMultistepScheduler": (_DPMMultistepMixin, _VPInitNoise),
    "DPMSolverSinglestepScheduler": (_CustomTimestepsMixin, _VPInitNoise),
    "DPMSolverSDEScheduler": (_DPMSDEMixin, _FastInitMixin),
    "KDPM2DiscreteScheduler": (_FastInitMixin,),
    "KDPM2AncestralDiscreteScheduler": (_FastInitMixin,),
    "DDIMScheduler": (_DDIMEtaMixin,),
    "LCMScheduler": (_LCMMixin,),
}


@functools.cache
def _scheduler_class(base_name: str) -> type:
    import diffusers

    base = getattr(diffusers, base_name)
    mixins = list(_EXTRA_MIXINS.get(base_name, ()))
    if base_name in _VE_BASES:
        mixins.append(_VEInitNoise)
    mixins.append(_CompatMixin)
    name = "A1111" + base_name
    return type(name, (*mixins, base), {"__module__": __name__, "__doc__": f"{base_name} with A1111 behaviour."})


# --------------------------------------------------------------------------------------------
# create_scheduler
# --------------------------------------------------------------------------------------------
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
    spec = _SPECS.get(sampler.name)
    if spec is None:
        raise SamplerError("sampler_name", f"Sampler '{sampler.name}' is not available. "
                                           f"Valid samplers: {_sampler_choices()}")
    if scheduler.name not in _SCHEDULERS_BY_NAME:
        raise SamplerError("scheduler", f"Schedule type '{scheduler.label}' is not supported by the diffusers backend. "
                                        f"Valid schedule types: {_scheduler_choices()}")
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

    schedule = _effective_schedule(sampler, scheduler)
    custom_timesteps: str | None = None
    ancestral_sigmas: str | None = None
    if schedule is not None:
        # k-diffusion samplers: A1111's schedule, never the model's timestep_spacing
        config["timestep_spacing"] = "linspace"
        custom_sched = issubclass(cls, _CustomTimestepsMixin)
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

    if isinstance(sch, _CustomTimestepsMixin):
        sch._a1111_timesteps_kind = custom_timesteps
        sch._a1111_discard_penultimate = bool(sampler.options.get("discard_next_to_last_sigma"))
    if isinstance(sch, _EulerAncestralMixin):
        sch._a1111_sigma_kind = ancestral_sigmas
    if spec.eta is not None:
        sch._a1111_eta = spec.eta if eta is None else float(eta)
    elif eta is not None and spec.eta_ignored and float(eta) != 1.0:
        logger.warning("%s runs with eta 1 on the diffusers backend; eta %s is ignored", sampler.name, eta)
    if sampler.options.get("brownian_noise") and seed is not None:
        seed_value: int | list[int] = (
            [int(s) for s in seed] if isinstance(seed, Sequence) and not isinstance(seed, str) else int(seed))
        if isinstance(sch, (_DPMSDEMixin, _DPMMultistepMixin)):
            if is_torchsde_available():
                sch._a1111_brownian_seed = seed_value
            else:
                logger.warning("torchsde is not installed: %s uses Gaussian noise instead of a Brownian tree",
                               sampler.name)
    return sch
