"""A1111's twelve schedule types as sigma lists (each ends in 0): the noise levels a k-diffusion sampler
steps through. `sigmas_for` picks the schedule, its sigma range and rho as A1111's `get_sigmas` does,
and says which of them differ from the defaults (the infotext's "Schedule min sigma" ...)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sdwebui.engine.sampling.kdiffusion.discrete import DiscreteSchedule, append_zero


def karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022): evenly spaced in sigma^(1/rho)."""
    ramp = torch.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return append_zero((hi + ramp * (lo - hi)) ** rho)


def exponential(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Evenly spaced in log sigma."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp())


def polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """Log sigma along a polynomial ramp of degree rho (rho 1: exponential)."""
    ramp = torch.linspace(1, 0, n) ** rho
    return append_zero(torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)))


def uniform(n: int, model: DiscreteSchedule) -> torch.Tensor:
    return model.uniform_sigmas(n)


def _timestep_spaced(n: int, sigma_min: float, sigma_max: float, model: DiscreteSchedule, *,
                     drop_last: bool) -> torch.Tensor:
    start = model.sigma_to_t(torch.tensor(sigma_max))
    end = model.sigma_to_t(torch.tensor(sigma_min))
    ts = torch.linspace(start, end, n + 1)[:-1] if drop_last else torch.linspace(start, end, n)
    return torch.tensor([float(model.t_to_sigma(t)) for t in ts] + [0.0], dtype=torch.float32)


def sgm_uniform(n: int, sigma_min: float, sigma_max: float, model: DiscreteSchedule) -> torch.Tensor:
    """Timesteps evenly from sigma_max's towards sigma_min's, the last one left out (SGM's)."""
    return _timestep_spaced(n, sigma_min, sigma_max, model, drop_last=True)


def normal(n: int, sigma_min: float, sigma_max: float, model: DiscreteSchedule) -> torch.Tensor:
    """Timesteps evenly from sigma_max's to sigma_min's, both ends included."""
    return _timestep_spaced(n, sigma_min, sigma_max, model, drop_last=False)


def simple(n: int, model: DiscreteSchedule) -> torch.Tensor:
    """Every (len/n)-th trained sigma from the top (ComfyUI's "simple")."""
    stride = len(model.sigmas) / n
    picked = [float(model.sigmas[-(1 + int(k * stride))]) for k in range(n)]
    return torch.tensor(picked + [0.0], dtype=torch.float32)


def ddim(n: int, model: DiscreteSchedule) -> torch.Tensor:
    """The trained sigmas at DDIM's uniform timesteps 1, 1 + s, 1 + 2s ... (s = len // n), top first;
    more than n when n does not divide the schedule's length, as A1111's."""
    stride = max(len(model.sigmas) // n, 1)
    picked = [float(model.sigmas[k]) for k in range(1, len(model.sigmas), stride)]
    return torch.tensor(picked[::-1] + [0.0], dtype=torch.float32)


def kl_optimal(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Sabour et al. (2024): evenly spaced in arctan(sigma). n + 1 values; the last is sigma_min, not 0
    (as A1111's)."""
    lo, hi = torch.arctan(torch.tensor(sigma_min)), torch.arctan(torch.tensor(sigma_max))
    k = torch.arange(n + 1)
    return torch.tan(k / n * lo + (1.0 - k / n) * hi)


# NVIDIA's published 10-step Align Your Steps sigmas (SD1.5 and SDXL), interpolated for other step counts
_AYS_SD15 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029]
_AYS_SDXL = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029]


def align_your_steps(n: int, *, sdxl: bool) -> torch.Tensor:
    """Sabour et al. (2024): optimised sigmas for 10 steps, log-linearly interpolated to n steps."""
    base = _AYS_SDXL if sdxl else _AYS_SD15
    if n == len(base):
        values = list(base)
    else:
        xs = np.linspace(0, 1, len(base))
        ys = np.log(base[::-1])
        values = list(np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1])
    return torch.tensor(values + [0.0], dtype=torch.float32)


def beta(n: int, sigma_min: float, sigma_max: float, alpha: float = 0.6, beta_: float = 0.6) -> torch.Tensor:
    """Lee et al. (2024): sigmas at the Beta(alpha, beta) distribution's quantiles, linear in sigma."""
    from scipy import stats

    quantiles = [float(stats.beta.ppf(x, alpha, beta_)) for x in 1 - np.linspace(0, 1, n)]
    return torch.tensor([sigma_min + q * (sigma_max - sigma_min) for q in quantiles] + [0.0], dtype=torch.float32)


# the schedules that take a sigma range (the others have their own)
_TAKES_RANGE = {"karras", "exponential", "polyexponential", "sgm_uniform", "normal", "kl_optimal", "beta"}
# A1111's default rho per schedule type (the others have none)
DEFAULT_RHO = {"karras": 7.0, "polyexponential": 1.0}


@dataclass
class ScheduleOptions:
    """The options A1111 reads for a schedule: `sigma_min`/`sigma_max`/`rho` (0: the model's / the
    schedule's default), `beta_dist_alpha`/`beta_dist_beta`, `use_old_karras_scheduler_sigmas`."""

    sigma_min: float = 0.0
    sigma_max: float = 0.0
    rho: float = 0.0
    beta_alpha: float = 0.6
    beta_beta: float = 0.6
    old_karras: bool = False
    sdxl: bool = False


def schedule_range(schedule: str, model: DiscreteSchedule, options: ScheduleOptions
                   ) -> tuple[float, float, float | None, dict]:
    """(sigma_min, sigma_max, rho, infotext) for a schedule: the model's range unless the options
    override it (or ask for the pre-1.6 Karras range 0.1-10), and which overrides the infotext records."""
    m_min, m_max = float(model.sigma_min), float(model.sigma_max)
    lo, hi = (0.1, 10.0) if options.old_karras else (m_min, m_max)
    info: dict = {}
    if schedule in _TAKES_RANGE:
        if options.sigma_min != 0 and options.sigma_min != m_min:
            lo = options.sigma_min
            info["Schedule min sigma"] = options.sigma_min
        if options.sigma_max != 0 and options.sigma_max != m_max:
            hi = options.sigma_max
            info["Schedule max sigma"] = options.sigma_max
    rho = DEFAULT_RHO.get(schedule)
    if rho is not None and options.rho != 0 and options.rho != rho:
        rho = options.rho
        info["Schedule rho"] = options.rho
    if schedule == "beta":
        info["Beta schedule alpha"] = options.beta_alpha
        info["Beta schedule beta"] = options.beta_beta
    return lo, hi, rho, info


def sigmas_for(schedule: str, n: int, model: DiscreteSchedule, options: ScheduleOptions, *,
               discard_penultimate: bool = False) -> torch.Tensor:
    """A1111's get_sigmas: `schedule` is a schedule name ("uniform" for the model's own); with
    `discard_penultimate` one more step is made and the next-to-last sigma dropped (DPM2's fix)."""
    steps = n + 1 if discard_penultimate else n
    lo, hi, rho, _ = schedule_range(schedule, model, options)
    if schedule == "uniform":
        sigmas = uniform(steps, model)
    elif schedule == "karras":
        sigmas = karras(steps, lo, hi, rho)
    elif schedule == "exponential":
        sigmas = exponential(steps, lo, hi)
    elif schedule == "polyexponential":
        sigmas = polyexponential(steps, lo, hi, rho)
    elif schedule == "sgm_uniform":
        sigmas = sgm_uniform(steps, lo, hi, model)
    elif schedule == "normal":
        sigmas = normal(steps, lo, hi, model)
    elif schedule == "simple":
        sigmas = simple(steps, model)
    elif schedule == "ddim":
        sigmas = ddim(steps, model)
    elif schedule == "kl_optimal":
        sigmas = kl_optimal(steps, lo, hi)
    elif schedule == "align_your_steps":
        sigmas = align_your_steps(steps, sdxl=options.sdxl)
    elif schedule == "beta":
        sigmas = beta(steps, lo, hi, options.beta_alpha, options.beta_beta)
    else:
        raise ValueError(f"unknown schedule type {schedule!r}")
    if discard_penultimate:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas.to(torch.float32)
