"""What the diffusers schedulers that still run here (UniPC, LCM) share: ``generator=`` on every ``step``."""
from __future__ import annotations

import functools
import inspect
import logging
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
