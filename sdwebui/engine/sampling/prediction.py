"""The UNet's prediction in the variance-preserving space of its input:
x = sqrt(a)*x0 + sqrt(1-a)*noise, with a = alpha_cumprod of the step's noise level. The loop's live
previews and extensions' guidance read x0 from it; ControlNet's colour fix and inpaint_only change x0
and turn it back into the prediction the scheduler expects. A flow model (SD3) is the exception: its
input is x = (1-sigma)*x0 + sigma*noise, unscaled, and it predicts the velocity noise - x0; its `a`
is 1/(1+sigma^2) as for the others, which gives sigma back."""
from __future__ import annotations

import torch


def to_x0(kind: str, a: float, x: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """The UNet's prediction at VP-space input `x` = sqrt(a)·x0 + sqrt(1-a)·noise (every scheduler's
    scaled input) -> its x0."""
    if kind == "epsilon":
        return (x - (1.0 - a) ** 0.5 * prediction) / a ** 0.5
    if kind == "flow":
        return x - _flow_sigma(a) * prediction
    if kind == "v_prediction":
        return a ** 0.5 * x - (1.0 - a) ** 0.5 * prediction
    return prediction


def from_x0(kind: str, a: float | torch.Tensor, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """to_x0's inverse: the prediction (of the scheduler's `prediction_type` kind) that gives `x0`
    at input `x`."""
    if kind == "sample":
        return x0
    if kind == "flow":
        return (x - x0) / _flow_sigma(a)
    noise = (x - a ** 0.5 * x0) / (1.0 - a) ** 0.5
    if kind == "v_prediction":
        return a ** 0.5 * noise - (1.0 - a) ** 0.5 * x0
    return noise


def _flow_sigma(a: float | torch.Tensor) -> float | torch.Tensor:
    return ((1.0 - a) / a) ** 0.5
