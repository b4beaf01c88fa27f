"""A1111's "NV" noise source (randn_source=NV): Philox 4x32-10 and the Box-Muller step, checked
against the generator's published known-answer vectors and against its definition written out
word by word with Python integers here."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sdwebui.engine.sampling.philox import PhiloxGenerator, philox4x32
from sdwebui.engine.sampling.rng import ImageRNG
from tests.test_seeds import run

M = (0xD2511F53, 0xCD9E8D57)
W = (0x9E3779B9, 0xBB67AE85)
MASK = 0xFFFFFFFF


def philox_by_hand(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, ...]:
    """Ten rounds: c0' = hi(M1*c2) ^ c1 ^ k0, c1' = lo(M1*c2), c2' = hi(M0*c0) ^ c3 ^ k1, c3' = lo(M0*c0),
    the key bumped by the Weyl constants between rounds."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + W[0]) & MASK, (k1 + W[1]) & MASK
        a, b = M[0] * c0, M[1] * c2
        c0, c1, c2, c3 = ((b >> 32) ^ c1 ^ k0), b & MASK, ((a >> 32) ^ c3 ^ k1), a & MASK
    return c0, c1, c2, c3


def normal_by_hand(seed: int, index: int, offset: int = 0) -> float:
    words = philox_by_hand((offset, 0, index, 0), (seed & MASK, seed >> 32))
    unit = float(np.float32(2.3283064e-10))
    unit_2pi = float(np.float32(2.3283064e-10 * 6.2831855))
    u = words[0] * unit + float(np.float32(unit) / np.float32(2))
    v = words[1] * unit_2pi + float(np.float32(unit_2pi) / np.float32(2))
    return float(np.float32(math.sqrt(-2.0 * math.log(u)) * math.sin(v)))


@pytest.mark.parametrize("counter, key, expected", [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MASK,) * 4, (MASK, MASK), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(counter, key, expected):
    """Random123's known-answer vectors for Philox 4x32-10, vectorised and by hand."""
    got = philox4x32(np.array(counter, np.uint32)[:, None], np.array(key, np.uint32)[:, None])
    assert tuple(int(v) for v in got[:, 0]) == expected == philox_by_hand(counter, key)


def test_normal_numbers_follow_the_definition_and_each_draw_moves_on():
    seed = 123456789012       # over 32 bits: the key's high word matters
    generator = PhiloxGenerator(seed)
    first = generator.randn((2, 3))
    second = generator.randn((6,))
    assert first.dtype == np.float32 and first.shape == (2, 3)
    assert [float(v) for v in first.ravel()] == [normal_by_hand(seed, i) for i in range(6)]
    assert [float(v) for v in second] == [normal_by_hand(seed, i, offset=1) for i in range(6)]
    many = PhiloxGenerator(0).randn((4, 64, 64))
    assert abs(float(many.mean())) < 0.02 and abs(float(many.std()) - 1) < 0.02


def test_nv_noise_for_images_and_variations():
    rng = ImageRNG((4, 8, 8), [5, 6], device=torch.device("cpu"), randn_source="NV")
    noise = rng.first()
    assert torch.equal(noise[1], torch.from_numpy(PhiloxGenerator(6).randn((4, 8, 8))))   # image k: seed+k alone
    varied = ImageRNG((4, 8, 8), [5], subseeds=[9], subseed_strength=0.5, device=torch.device("cpu"),
                      randn_source="NV").first()
    assert not torch.equal(varied[0], noise[0])


def test_randn_source_nv_in_a_generation(api):
    gpu, _ = run(api)
    nv, info = run(api, override_settings={"randn_source": "NV"})
    again, _ = run(api, override_settings={"randn_source": "NV"})
    assert not np.array_equal(gpu, nv) and np.array_equal(nv, again)
    assert "RNG: NV" in info["infotexts"][0]


def test_brownian_trees_draw_their_nodes_from_the_noise_source():
    """A1111 hands torchsde's node sampler its randn_local: with NV a tree's nodes are Philox numbers of the
    node's seed, with GPU/CPU a torch generator on the noise device seeded the same way."""
    import torchsde._brownian.brownian_interval as interval

    from sdwebui.engine.sampling.kdiffusion.noise import brownian_sampler

    x = torch.zeros(1, 4, 8, 8)
    sigmas = torch.tensor([14.6, 1.8, 0.2, 0.03, 0.0])

    def query(**source):
        tree = brownian_sampler(x, sigmas, [1234], **source)
        return tree(torch.tensor(14.6), torch.tensor(1.8))

    plain, cpu, nv = query(), query(device=torch.device("cpu")), query(philox=True)
    assert torch.equal(plain, cpu)          # the CPU generator is torchsde's own
    assert not torch.allclose(plain, nv)
    assert torch.equal(nv, query(philox=True))
    # the same tree built by hand with Philox nodes (torchsde's node sampler swapped for the test's own)
    from diffusers.schedulers.scheduling_dpmsolver_sde import BrownianTreeNoiseSampler

    installed = interval._randn
    interval._randn = lambda size, dtype, device, seed: torch.from_numpy(
        PhiloxGenerator(int(seed)).randn(tuple(size))).to(device=device, dtype=dtype)
    try:
        by_hand = BrownianTreeNoiseSampler(x, 0.03, 14.6, [1234])(torch.tensor(14.6), torch.tensor(1.8))
    finally:
        interval._randn = installed
    assert torch.allclose(nv, by_hand)
