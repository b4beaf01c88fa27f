"""Seeded noise, one generator per image as A1111's ImageRNG, so image k of a batch is the
same as a single generation with seed+k.

`randn_source` picks where the numbers are drawn: "GPU" draws on the device the model runs
on (torch's CUDA generator, as A1111), "CPU" draws on the CPU and moves the result, which
gives the same start on any device; "NV" draws A1111's Philox numbers (philox.py), the same on any
device. With NV the starting noise (and the variation and resized-seed noise) and the noise A1111's
samplers add at each step (`next`) are A1111's.
"""
from __future__ import annotations

import torch

from sdwebui.engine.sampling.philox import PhiloxGenerator


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)


def noise_device(model_device: torch.device, randn_source: str) -> torch.device:
    if randn_source in ("CPU", "NV") or model_device.type in ("cpu", "mps"):
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
                 subseed_strength: float = 0.0, seed_resize_from_w: int = -1, seed_resize_from_h: int = -1,
                 factor: int = 8, device: torch.device, randn_source: str = "GPU"):
        self.shape = tuple(shape)
        self.seeds = list(seeds)
        self.subseeds = list(subseeds or [])
        self.subseed_strength = subseed_strength
        self.target_device = device
        self.device = noise_device(device, randn_source)
        self.generators = [seeded_generator(s, self.device) for s in self.seeds]
        self.nv = randn_source == "NV"
        # where the first noise comes from: the step generators themselves, or Philox streams
        self._first = [PhiloxGenerator(s) for s in self.seeds] if self.nv else self.generators
        self.noise_shape = self.shape
        if seed_resize_from_w > 0 and seed_resize_from_h > 0:
            self.noise_shape = (self.shape[0], seed_resize_from_h // factor, seed_resize_from_w // factor)

    def _randn(self, seed: int, shape: tuple[int, ...]) -> torch.Tensor:
        if self.nv:
            return torch.from_numpy(PhiloxGenerator(seed).randn(shape))
        return torch.randn(shape, generator=seeded_generator(seed, self.device), device=self.device)

    def _draw(self, generator, shape: tuple[int, ...]) -> torch.Tensor:
        if self.nv:
            return torch.from_numpy(generator.randn(shape))
        return torch.randn(shape, generator=generator, device=self.device)

    def first(self) -> torch.Tensor:
        """The initial noise, drawn in A1111's order: subseed noise, seed noise, their slerp, and with
        "resize seed from" the noise of the old size pasted into the centre of the new size's noise."""
        xs = []
        resized = self.noise_shape != self.shape
        for i, (seed, gen) in enumerate(zip(self.seeds, self._first)):
            sub = None
            if self.subseeds and self.subseed_strength != 0:
                sub = self._randn(self.subseeds[i] if i < len(self.subseeds) else 0, self.noise_shape)
            if resized:
                noise = self._randn(seed, self.noise_shape)
            else:
                noise = self._draw(gen, self.shape)
            if sub is not None:
                noise = slerp(self.subseed_strength, noise, sub)
            if resized:
                x = self._draw(gen, self.shape)
                dx = (self.shape[2] - self.noise_shape[2]) // 2
                dy = (self.shape[1] - self.noise_shape[1]) // 2
                w = self.noise_shape[2] if dx >= 0 else self.noise_shape[2] + 2 * dx
                h = self.noise_shape[1] if dy >= 0 else self.noise_shape[1] + 2 * dy
                tx, ty = max(dx, 0), max(dy, 0)
                sx, sy = max(-dx, 0), max(-dy, 0)
                x[:, ty:ty + h, tx:tx + w] = noise[:, sy:sy + h, sx:sx + w]
                noise = x
            xs.append(noise)
        return torch.stack(xs).to(self.target_device)

    def reseed_for_sampler(self, delta: int) -> None:
        """ENSD: the sampler's own noise comes from seed+delta (A1111's eta_noise_seed_delta)."""
        if delta:
            self.generators = [seeded_generator(s + delta, self.device) for s in self.seeds]
            if self.nv:
                self._first = [PhiloxGenerator(s + delta) for s in self.seeds]

    def next(self) -> torch.Tensor:
        """The noise a sampler adds at a step (A1111's ImageRNG.next): each image's generator goes on
        where the first noise left it (or restarts at seed + ENSD); with NV, its Philox stream."""
        if self.nv:
            xs = [torch.from_numpy(g.randn(self.shape)) for g in self._first]
        else:
            xs = [torch.randn(self.shape, generator=g, device=self.device) for g in self.generators]
        return torch.stack(xs).to(self.target_device)
