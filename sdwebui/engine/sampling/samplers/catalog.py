"""The A1111 samplers and schedule types we know, how each sampler is built from diffusers, which of
them this installation offers, and what still differs from A1111 (KNOWN_DIFFERENCES)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from diffusers.utils import is_scipy_available, is_torchsde_available

logger = logging.getLogger(__name__)

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
    """How one A1111 sampler is built (private)."""

    base: str                      # diffusers class name
    config: tuple[tuple[str, Any], ...] = ()   # forced settings
    defaults: tuple[tuple[str, Any], ...] = ()  # used when the model config does not say
    kind: str = "k"                # "k": k-diffusion (schedule applies), "timesteps", "lcm"
    needs: str | None = None       # "scipy" / "torchsde"
    eta: float | None = None       # default eta when the sampler honours eta
    eta_ignored: bool = False      # A1111 applies eta_ancestral here; diffusers fixes it at 1


ALL_SAMPLERS: tuple[tuple[SamplerInfo, SamplerSpec | None], ...] = (
    (SamplerInfo("DPM++ 2M", ("k_dpmpp_2m",), {"scheduler": "karras"}),
     SamplerSpec("DPMSolverMultistepScheduler",
           (("algorithm_type", "dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint")))),
    (SamplerInfo("DPM++ SDE", ("k_dpmpp_sde",), {"scheduler": "karras", "second_order": True, "brownian_noise": True}),
     SamplerSpec("DPMSolverSDEScheduler", needs="torchsde", eta_ignored=True)),
    (SamplerInfo("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), {"scheduler": "exponential", "brownian_noise": True}),
     SamplerSpec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint")), eta_ignored=True)),
    (SamplerInfo("DPM++ 2M SDE Heun", ("k_dpmpp_2m_sde_heun",),
                 {"scheduler": "exponential", "brownian_noise": True, "solver_type": "heun"}),
     SamplerSpec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "heun")), eta_ignored=True)),
    (SamplerInfo("DPM++ 2S a", ("k_dpmpp_2s_a",), {"scheduler": "karras", "uses_ensd": True, "second_order": True}),
     SamplerSpec("DPMSolverSinglestepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 2), ("solver_type", "midpoint"),
            ("lower_order_final", True)), eta_ignored=True)),
    (SamplerInfo("DPM++ 3M SDE", ("k_dpmpp_3m_sde",),
                 {"scheduler": "exponential", "discard_next_to_last_sigma": True, "brownian_noise": True}),
     SamplerSpec("DPMSolverMultistepScheduler",
           (("algorithm_type", "sde-dpmsolver++"), ("solver_order", 3), ("solver_type", "heun")), eta_ignored=True)),
    (SamplerInfo("Euler a", ("k_euler_a", "k_euler_ancestral"), {"uses_ensd": True}),
     SamplerSpec("EulerAncestralDiscreteScheduler", eta=1.0)),
    (SamplerInfo("Euler", ("k_euler",), {}), SamplerSpec("EulerDiscreteScheduler")),
    (SamplerInfo("LMS", ("k_lms",), {}), SamplerSpec("LMSDiscreteScheduler", needs="scipy")),
    (SamplerInfo("Heun", ("k_heun",), {"second_order": True}), SamplerSpec("HeunDiscreteScheduler")),
    (SamplerInfo("DPM2", ("k_dpm_2",), {"scheduler": "karras", "discard_next_to_last_sigma": True, "second_order": True}),
     SamplerSpec("KDPM2DiscreteScheduler")),
    (SamplerInfo("DPM2 a", ("k_dpm_2_a",),
                 {"scheduler": "karras", "discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True}),
     SamplerSpec("KDPM2AncestralDiscreteScheduler", eta_ignored=True)),
    (SamplerInfo("DPM fast", ("k_dpm_fast",), {"uses_ensd": True}), None),
    (SamplerInfo("DPM adaptive", ("k_dpm_ad",), {"uses_ensd": True}), None),
    (SamplerInfo("Restart", ("restart",), {"scheduler": "karras", "second_order": True}), None),
    (SamplerInfo("DDIM", ("ddim",), {}),
     SamplerSpec("DDIMScheduler", defaults=(("clip_sample", False), ("set_alpha_to_one", False)), kind="timesteps",
           eta=0.0)),
    (SamplerInfo("DDIM CFG++", ("ddim_cfgpp",), {}), None),
    (SamplerInfo("PLMS", ("plms",), {}), SamplerSpec("PNDMScheduler", (("skip_prk_steps", True),), kind="timesteps")),
    (SamplerInfo("UniPC", ("unipc",), {}),
     SamplerSpec("UniPCMultistepScheduler",
           (("solver_order", 3), ("solver_type", "bh1"), ("predict_x0", True), ("lower_order_final", True),
            ("timestep_spacing", "linspace"), ("final_sigmas_type", "sigma_min")), kind="timesteps")),
    (SamplerInfo("LCM", ("k_lcm",), {}), SamplerSpec("LCMScheduler", kind="lcm")),
)

# A1111's schedule types, in its order; the value says how we realise it (None: not offered).
ALL_SCHEDULERS: tuple[tuple[SchedulerInfo, bool], ...] = (
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


def _dependency_ok(needs: str | None) -> bool:
    if needs == "scipy":
        return is_scipy_available()
    if needs == "torchsde":
        return is_torchsde_available() and is_scipy_available()
    return True


SPECS: dict[str, SamplerSpec] = {}
UNAVAILABLE: dict[str, str] = {}  # A1111 sampler name -> why it is not offered
for _info, _spec in ALL_SAMPLERS:
    if _spec is None:
        UNAVAILABLE[_info.name] = "it is not supported by the diffusers backend"
    elif not _dependency_ok(_spec.needs):
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
    """Whether the schedule type changes anything for this sampler (False for DDIM, PLMS, UniPC, LCM)."""
    spec = SPECS.get(sampler.name)
    return spec is not None and spec.kind == "k"


def effective_schedule(sampler: SamplerInfo, scheduler: SchedulerInfo) -> str | None:
    """The schedule name really applied (None: the sampler ignores schedule types)."""
    if not schedule_applies(sampler):
        return None
    if scheduler.name == "automatic":
        return sampler.options.get("scheduler") or "uniform"
    return scheduler.name
