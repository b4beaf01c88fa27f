"""Brownian-tree noise for the SDE samplers (A1111's ``BrownianTreeNoiseSampler``) and its seeds."""
from __future__ import annotations

import contextvars
import logging
import warnings
from typing import Any

import torch

from sdwebui.engine.sampling.philox import PhiloxGenerator
from sdwebui.engine.sampling.rng import seeded_generator

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


# The noise source the Brownian trees of the running job draw their nodes from: (Philox?, device), or None
# for torchsde's own CPU generator. A1111 replaces torchsde's node sampler with its `randn_local`, so a
# tree follows `randn_source` (Philox with NV, the model's device with GPU); the jobs run one at a time.
_SOURCE: contextvars.ContextVar[tuple[bool, torch.device] | None] = contextvars.ContextVar("brownian_source",
                                                                                          default=None)
_torchsde_randn = None


def _tree_randn(size, dtype, device, seed):
    source = _SOURCE.get()
    if source is None:
        return _torchsde_randn(size, dtype, device, seed)
    philox, gen_device = source
    if philox:
        values = torch.from_numpy(PhiloxGenerator(int(seed)).randn(tuple(size)))
    else:
        values = torch.randn(tuple(size), generator=seeded_generator(int(seed), gen_device), device=gen_device)
    return values.to(device=device, dtype=dtype)


def _install() -> None:
    global _torchsde_randn
    import torchsde._brownian.brownian_interval as interval

    if _torchsde_randn is None:
        _torchsde_randn = interval._randn
        interval._randn = _tree_randn


class _SourcedTree:
    """A Brownian-tree noise sampler whose nodes come from the job's noise source."""

    def __init__(self, make, source: tuple[bool, torch.device] | None):
        self.source = source
        self.tree = self._within(make)

    def _within(self, fn):
        token = _SOURCE.set(self.source)
        try:
            return fn()
        finally:
            _SOURCE.reset(token)

    def __call__(self, sigma, sigma_next):
        return self._within(lambda: self.tree(sigma, sigma_next))


def brownian_sampler(sample: torch.Tensor, sigmas: torch.Tensor, seed: int | list[int] | None, *,
                     philox: bool = False, device: torch.device | None = None):
    """A1111's Brownian-tree noise for a batch (one tree per seed); `philox` / `device`: where the tree's
    nodes are drawn, as the job's `randn_source` says (None: torchsde's CPU generator)."""
    from diffusers.schedulers.scheduling_dpmsolver_sde import BrownianTreeNoiseSampler

    if isinstance(seed, (list, tuple)):
        if len(seed) != sample.shape[0]:
            raise ValueError(f"got {len(seed)} noise seeds for a batch of {sample.shape[0]}")
        seed = [int(s) for s in seed]
    positive = sigmas[sigmas > 0]
    _install()
    source = (philox, device or torch.device("cpu")) if philox or device is not None else None
    return _SourcedTree(lambda: BrownianTreeNoiseSampler(sample, positive.min().item(), sigmas.max().item(), seed),
                        source)
