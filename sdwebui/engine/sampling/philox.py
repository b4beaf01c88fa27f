"""A1111's "NV" noise source: normal numbers from the Philox 4x32-10 counter-based generator, the
one NVIDIA's cuRAND uses, computed here on the CPU so that a seed gives the same noise on any
device (and A1111's NV noise bit for bit).

A draw of n numbers uses n counters (offset, 0, index, 0) under the key (seed low 32 bits, seed high
32 bits); of the four words each counter gives, the first two become one normal number by the
Box-Muller transform. Each draw bumps the offset, so a generator's second draw differs from its first.
"""
from __future__ import annotations

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)     # the round multipliers
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)     # the key's per-round increments (Weyl)
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
# 2^-32 as float32, and 2^-32 * 2*pi: uniform numbers strictly inside (0, 1) and (0, 2*pi)
_UNIT = np.float32(2.3283064e-10)
_UNIT_2PI = np.float32(2.3283064e-10 * 6.2831855)


def philox4x32(counter: np.ndarray, key: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Philox 4x32: `counter` (4, n) uint32 and `key` (2, n) uint32 -> (4, n) uint32 random words."""
    c = counter.astype(np.uint32).copy()
    k = key.astype(np.uint32).copy()
    with np.errstate(over="ignore"):
        for r in range(rounds):
            if r:
                k[0] += W0
                k[1] += W1
            p0 = c[0].astype(np.uint64) * M0
            p1 = c[2].astype(np.uint64) * M1
            c = np.stack([((p1 >> _SHIFT) ^ c[1] ^ k[0]).astype(np.uint32), (p1 & _LOW).astype(np.uint32),
                          ((p0 >> _SHIFT) ^ c[3] ^ k[1]).astype(np.uint32), (p0 & _LOW).astype(np.uint32)])
    return c


def box_muller(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two uint32 words -> one standard normal number (float32). The arithmetic is float64 with the
    float32 constants, as numpy computes A1111's uint32 * float32 array, rounded to float32 at the end."""
    u = x.astype(np.float64) * np.float64(_UNIT) + np.float64(_UNIT / 2)
    v = y.astype(np.float64) * np.float64(_UNIT_2PI) + np.float64(_UNIT_2PI / 2)
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


class PhiloxGenerator:
    """A seeded stream of normal numbers; each `randn` is one draw (one offset)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.offset = 0

    def randn(self, shape: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(shape))
        counter = np.zeros((4, n), dtype=np.uint32)
        counter[0] = self.offset
        counter[2] = np.arange(n, dtype=np.uint32)
        self.offset += 1
        key = np.empty((2, n), dtype=np.uint32)
        key[0] = self.seed & 0xFFFFFFFF
        key[1] = self.seed >> 32
        words = philox4x32(counter, key)
        return box_muller(words[0], words[1]).reshape(shape)
