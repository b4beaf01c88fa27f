"""DDIM: A1111's eta (``eta_ddim``) on every step."""
from __future__ import annotations

import logging
from typing import Any

import torch

logger = logging.getLogger(__name__)


class DDIMEtaMixin:
    """DDIM: the eta given to create_scheduler is used by every step."""

    _a1111_eta: float = 0.0

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not args:
            kwargs.setdefault("eta", float(self._a1111_eta))
        return super().step(model_output, timestep, sample, *args, **kwargs)  # type: ignore[misc]
