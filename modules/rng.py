"""Seeded noise, one generator per image as A1111's ImageRNG, so image k of a batch is the
same as a single generation with seed+k.

`randn_source` picks where the numbers are drawn: "GPU" draws on the device the model runs
on (torch's CUDA generator, as A1111), "CPU" draws on the CPU and moves the result, which
gives the same start on any device.
"""
from __future__ import annotations

import torch


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)


def noise_device(model_device: torch.device, randn_source: str) -> torch.device:
    if randn_source == "CPU" or model_device.type in ("cpu", "mps"):
        return torch.device("cpu")
    return model_device


def slerp(val: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two noise tensors (variation seeds)."""
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    if dot.mean() > 0.9995:
        return low * (1 - val) + high * val
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high


class ImageRNG:
    """Initial noise for a batch plus the per-image generators the sampler keeps drawing from."""

    def __init__(self, shape: tuple[int, ...], seeds: list[int], *, subseeds: list[int] | None = None,
                 subseed_strength: float = 0.0, device: torch.device, randn_source: str = "GPU"):
        self.shape = tuple(shape)
        self.seeds = list(seeds)
        self.subseeds = list(subseeds or [])
        self.subseed_strength = subseed_strength
        self.target_device = device
        self.device = noise_device(device, randn_source)
        self.generators = [_generator(s, self.device) for s in self.seeds]

    def first(self) -> torch.Tensor:
        xs = []
        for i, gen in enumerate(self.generators):
            noise = torch.randn(self.shape, generator=gen, device=self.device)
            if self.subseeds and self.subseed_strength > 0:
                sub = torch.randn(self.shape, generator=_generator(self.subseeds[i], self.device), device=self.device)
                noise = slerp(self.subseed_strength, noise, sub)
            xs.append(noise)
        return torch.stack(xs).to(self.target_device)

    def reseed_for_sampler(self, delta: int) -> None:
        """ENSD: the sampler's own noise comes from seed+delta (A1111's eta_noise_seed_delta)."""
        if delta:
            self.generators = [_generator(s + delta, self.device) for s in self.seeds]
