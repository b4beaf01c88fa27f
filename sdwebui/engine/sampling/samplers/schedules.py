"""A1111's sigma and timestep schedules (own implementations of its formulas), for the schedulers
whose diffusers class lacks one."""
from __future__ import annotations

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)


def a1111_timesteps(kind: str, n: int, num_train: int) -> np.ndarray:
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


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, n)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def exponential_sigmas(n: int, sigma_min: float, sigma_max: float) -> np.ndarray:
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), n))


def sigma_to_t(sigmas: np.ndarray, train_sigmas: np.ndarray) -> np.ndarray:
    """Fractional timesteps for sigmas, interpolating in log-sigma (k-diffusion's ``sigma_to_t``)."""
    return np.interp(np.log(np.maximum(sigmas, 1e-10)), np.log(train_sigmas), np.arange(len(train_sigmas)))
