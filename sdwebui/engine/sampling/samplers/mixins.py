"""A1111 behaviour that several scheduler families share: ``generator=`` on every ``step``, a cheap
``__init__`` schedule, and k-diffusion's initial noise scale. The factory adds these to the
diffusers classes together with each family's own mixins."""
from __future__ import annotations

import functools
import inspect
import logging
import math
from typing import Any

import torch

logger = logging.getLogger(__name__)


class CompatMixin:
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
    for klass in mro[mro.index(CompatMixin) + 1:]:
        if "step" in klass.__dict__:
            return "generator" in inspect.signature(klass.__dict__["step"]).parameters
    return False


class FastInitMixin:
    """KDPM2 / DPMSolverSDE build a 1000-step schedule in ``__init__`` (0.1-0.25 s of Python loops) that
    every user replaces with ``set_timesteps(steps)``; build a 2-step one instead (same sigma range)."""

    def set_timesteps(self, num_inference_steps: int, device: Any = None, num_train_timesteps: int | None = None,
                      *args: Any, **kwargs: Any) -> None:
        if "_step_index" not in self.__dict__ and num_train_timesteps is not None \
                and num_inference_steps == num_train_timesteps:
            num_inference_steps = 2  # called from __init__
        super().set_timesteps(num_inference_steps, device, num_train_timesteps, *args, **kwargs)  # type: ignore[misc]


class VEInitNoise:
    """k-diffusion start: x = noise * sigmas[0] (sample kept in sigma/'VE' space)."""

    @property
    def init_noise_sigma(self) -> float:
        return float(self.sigmas.max())  # type: ignore[attr-defined]


class VPInitNoise:
    """k-diffusion start for schedulers that keep the sample in 'VP' space: noise * s / sqrt(s^2 + 1)."""

    @property
    def init_noise_sigma(self) -> float:
        sigma = float(self.sigmas.max())  # type: ignore[attr-defined]
        return sigma / math.sqrt(sigma * sigma + 1.0)

    @init_noise_sigma.setter
    def init_noise_sigma(self, _value: float) -> None:  # diffusers' __init__ assigns 1.0
        pass
