"""`KSampler`: one of A1111's samplers as the job will run it (its solver, schedule, options, noise
seeds) and the infotext entries its options add, as A1111's `initialize`/`get_sigmas` write them.
`create_scheduler` (samplers/factory.py) makes it; `driver.run_ksampler` runs it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sdwebui.engine.sampling.kdiffusion import dpm_solver, dpmpp, lcm, restart, solvers
from sdwebui.engine.sampling.kdiffusion.discrete import DiscreteSchedule, model_alphas_cumprod
from sdwebui.engine.sampling.kdiffusion.schedules import ScheduleOptions, schedule_range, sigmas_for
from sdwebui.engine.sampling.kdiffusion.timestep_samplers import a1111_timesteps

# solver name -> (function, how it is called: "sigmas", "range" (DPM fast/adaptive), "timesteps")
SOLVERS: dict[str, tuple[Any, str]] = {
    "euler": (solvers.euler, "sigmas"),
    "euler_ancestral": (solvers.euler_ancestral, "sigmas"),
    "heun": (solvers.heun, "sigmas"),
    "dpm_2": (solvers.dpm_2, "sigmas"),
    "dpm_2_ancestral": (solvers.dpm_2_ancestral, "sigmas"),
    "lms": (solvers.lms, "sigmas"),
    "dpmpp_2s_ancestral": (dpmpp.dpmpp_2s_ancestral, "sigmas"),
    "dpmpp_sde": (dpmpp.dpmpp_sde, "sigmas"),
    "dpmpp_2m": (dpmpp.dpmpp_2m, "sigmas"),
    "dpmpp_2m_sde": (dpmpp.dpmpp_2m_sde, "sigmas"),
    "dpmpp_3m_sde": (dpmpp.dpmpp_3m_sde, "sigmas"),
    "dpm_fast": (dpm_solver.dpm_fast, "range"),
    "dpm_adaptive": (dpm_solver.dpm_adaptive, "range"),
    "restart": (restart.restart, "sigmas"),
    "lcm": (lcm.lcm, "sigmas"),
    "ddim": (None, "timesteps"),
    "ddim_cfgpp": (None, "timesteps"),
    "plms": (None, "timesteps"),
    "unipc": (None, "timesteps"),
}

# which of the churn/noise options each solver takes (A1111's sampler_extra_params)
_CHURN = ("s_churn", "s_tmin", "s_tmax", "s_noise")
EXTRA_PARAMS: dict[str, tuple[str, ...]] = {
    "euler": _CHURN, "heun": _CHURN, "dpm_2": _CHURN,
    "dpm_fast": ("s_noise",), "dpm_2_ancestral": ("s_noise",), "dpmpp_2s_ancestral": ("s_noise",),
    "dpmpp_sde": ("s_noise",), "dpmpp_2m_sde": ("s_noise",), "dpmpp_3m_sde": ("s_noise",),
}
# the solvers with an eta (A1111 gives them `eta_ancestral`, DDIM's `eta_ddim`)
TAKES_ETA = {"euler_ancestral", "dpm_2_ancestral", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_sde",
             "dpmpp_2m_sde", "dpmpp_3m_sde", "ddim", "ddim_cfgpp"}
_DEFAULTS = {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": float("inf"), "s_noise": 1.0}
_INFOTEXT = {"s_churn": "Sigma churn", "s_tmin": "Sigma tmin", "s_tmax": "Sigma tmax", "s_noise": "Sigma noise"}


@dataclass
class SamplerOptions:
    """A1111's sampler settings (its option keys in brackets). s_tmax 0 means infinity."""

    s_churn: float = 0.0            # s_churn
    s_tmin: float = 0.0             # s_tmin
    s_tmax: float = 0.0             # s_tmax
    s_noise: float = 1.0            # s_noise
    always_discard_penultimate: bool = False   # always_discard_next_to_last_sigma
    sgm_noise_multiplier: bool = False          # sgm_noise_multiplier
    quantize: bool = False          # enable_quantization
    uni_pc_variant: str = "bh1"     # uni_pc_variant
    uni_pc_skip_type: str = "time_uniform"     # uni_pc_skip_type
    uni_pc_order: int = 3           # uni_pc_order
    uni_pc_lower_order_final: bool = True      # uni_pc_lower_order_final
    extra_noise: float = 0.0        # img2img_extra_noise: more of the start noise in img2img and hires
    s_min_uncond: float = 0.0       # s_min_uncond: below this sigma, every other evaluation skips the negative
    s_min_uncond_all: bool = False  # s_min_uncond_all: ... every evaluation
    schedule: ScheduleOptions = field(default_factory=ScheduleOptions)


@dataclass
class KSampler:
    """A1111's sampler `name` running `solver` over `schedule` (None for the timestep samplers)."""

    name: str
    solver: str
    schedule: str | None
    config: dict                     # the model's scheduler config (prediction_type, betas)
    options: SamplerOptions
    discard_penultimate: bool = False
    eta: float | None = None
    solver_type: str | None = None   # DPM++ 2M SDE: "midpoint" / "heun"
    brownian: bool = False
    seeds: int | list[int] | None = None   # Brownian-tree seeds, one per image (an int: one tree for all)
    infotext: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.alphas_cumprod, own_sigmas = model_alphas_cumprod(self.config)
        self.discrete = (lcm.LCMSchedule(self.alphas_cumprod) if self.solver == "lcm"
                         else DiscreteSchedule(self.alphas_cumprod, quantize=self.options.quantize, sigmas=own_sigmas))
        self.call_kind = SOLVERS[self.solver][1]
        if self.options.always_discard_penultimate and not self.discard_penultimate:
            self.discard_penultimate = True
            self.infotext["Discard penultimate sigma"] = True
        if self.schedule is not None:
            self.infotext.update(schedule_range(self.schedule, self.discrete, self.options.schedule)[3])
        if self.options.sgm_noise_multiplier and self.call_kind != "timesteps":
            self.infotext["SGM noise multiplier"] = True
        self.extra = self._extra_params()

    @property
    def prediction_type(self) -> str:
        return self.config.get("prediction_type") or "epsilon"

    def _extra_params(self) -> dict[str, Any]:
        """The solver's keyword arguments from the options; those that differ from the solver's
        defaults are recorded in the infotext under A1111's names."""
        extra: dict[str, Any] = {}
        opts = self.options
        for key in EXTRA_PARAMS.get(self.solver, ()):
            value = float(getattr(opts, key))
            if key == "s_tmax" and value == 0:
                value = float("inf")
            extra[key] = value
            if value != _DEFAULTS[key]:
                self.infotext[_INFOTEXT[key]] = value
        if self.solver in TAKES_ETA:
            timestep = self.call_kind == "timesteps"
            eta = self.eta if self.eta is not None else (0.0 if timestep else 1.0)
            extra["eta"] = float(eta)
            if eta != (0.0 if timestep else 1.0):
                self.infotext["Eta DDIM" if timestep else "Eta"] = eta
        if self.solver_type is not None:
            extra["solver_type"] = self.solver_type
        if self.solver == "unipc":
            extra.update(variant=opts.uni_pc_variant, skip_type=opts.uni_pc_skip_type, order=int(opts.uni_pc_order),
                         lower_order_final=bool(opts.uni_pc_lower_order_final))
        return extra

    def sigmas(self, steps: int) -> torch.Tensor:
        """The schedule of a `steps`-step run (ends in 0)."""
        return sigmas_for(self.schedule or "uniform", steps, self.discrete, self.options.schedule,
                          discard_penultimate=self.discard_penultimate)

    def timesteps(self, steps: int) -> torch.Tensor:
        return a1111_timesteps(steps, self.discard_penultimate)

    def clamp_t_enc(self, steps: int, t_enc: int) -> int:
        """A1111's img2img `t_enc` within what a `steps` schedule has (it can be at most one step short of it)."""
        last = len(self.timesteps(steps)) - 1 if self.call_kind == "timesteps" else steps - 1
        return max(0, min(int(t_enc), last))

    def start_sigma(self, steps: int, t_enc: int) -> float:
        """The noise level an img2img run of A1111's `t_enc` out of `steps` starts at."""
        t_enc = self.clamp_t_enc(steps, t_enc)
        if self.call_kind == "timesteps":
            a = float(self.alphas_cumprod[int(self.timesteps(steps)[t_enc])])
            return ((1 - a) / a) ** 0.5
        return float(self.sigmas(steps)[steps - t_enc - 1])
