"""Brownian-tree noise for the SDE samplers (A1111's ``BrownianTreeNoiseSampler``) and its seeds."""
from __future__ import annotations

import logging
import warnings
from typing import Any

import torch

logger = logging.getLogger(__name__)

# torchsde warns when a sigma is a float32 rounding error outside the Brownian tree's range (k-diffusion
# in A1111 prints the same); the noise is still right.
warnings.filterwarnings("ignore", message=r"Should have (ta>=t0|tb<=t1)", category=UserWarning)


def _seed_from_generator(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device).item())


def seeds_from_generators(generator: Any, batch: int) -> int | list[int] | None:
    if generator is None:
        return None
    if isinstance(generator, (list, tuple)):
        if len(generator) != batch:
            raise ValueError(f"got {len(generator)} generators for a batch of {batch}")
        return [_seed_from_generator(g) for g in generator]
    return _seed_from_generator(generator)


def brownian_sampler(sample: torch.Tensor, sigmas: torch.Tensor, seed: int | list[int] | None):
    from diffusers.schedulers.scheduling_dpmsolver_sde import BrownianTreeNoiseSampler

    if isinstance(seed, (list, tuple)):
        if len(seed) != sample.shape[0]:
            raise ValueError(f"got {len(seed)} noise seeds for a batch of {sample.shape[0]}")
        seed = [int(s) for s in seed]
    positive = sigmas[sigmas > 0]
    return BrownianTreeNoiseSampler(sample, positive.min().item(), sigmas.max().item(), seed)
