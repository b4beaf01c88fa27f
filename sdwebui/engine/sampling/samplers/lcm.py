"""LCM: step counts beyond the LCM schedule's own."""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


class LCMMixin:
    """LCM: more steps than the LCM schedule's 50 just use a finer original schedule."""

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      original_inference_steps: int | None = None, *args: Any, **kwargs: Any) -> None:
        if (num_inference_steps is not None and original_inference_steps is None
                and num_inference_steps > self.config.original_inference_steps):  # type: ignore[attr-defined]
            original_inference_steps = int(num_inference_steps)
        super().set_timesteps(num_inference_steps, device, original_inference_steps, *args, **kwargs)  # type: ignore[misc]
