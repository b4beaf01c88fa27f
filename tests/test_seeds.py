"""Seeds as A1111: variations (subseeds), seed resize, ENSD, the RNG source; plus tiling and the
restore_faces note."""
from __future__ import annotations

import json

import numpy as np
import torch

from sdwebui.engine.sampling.rng import ImageRNG
from tests.test_api import pixels, txt2img

BASE = {"prompt": "a cat", "seed": 11, "steps": 5, "sampler_name": "Euler"}


def run(api, **kw):
    out = txt2img(api, **{**BASE, **kw})
    return pixels(out["images"][0]), json.loads(out["info"])


def test_variation_strength_zero_and_one(api):
    plain, _ = run(api)
    zero, info = run(api, subseed=99, subseed_strength=0)
    assert np.array_equal(plain, zero) and "Variation seed" not in info["infotexts"][0]
    one, info = run(api, subseed=99, subseed_strength=1)
    as_subseed, _ = run(api, seed=99)
    assert np.abs(one - as_subseed).max() <= 1
    half, info = run(api, subseed=99, subseed_strength=0.5, batch_size=2)
    assert info["all_seeds"] == [11, 11] and info["all_subseeds"] == [99, 100]
    assert "Variation seed: 99, Variation seed strength: 0.5" in info["infotexts"][0]


def test_seed_resize_from():
    small = ImageRNG((4, 4, 4), [5], device=torch.device("cpu")).first()
    big = ImageRNG((4, 8, 8), [5], seed_resize_from_w=32, seed_resize_from_h=32, device=torch.device("cpu")).first()
    assert torch.equal(big[0, :, 2:6, 2:6], small[0])       # the old noise sits in the centre
    same = ImageRNG((4, 8, 8), [5], seed_resize_from_w=64, seed_resize_from_h=64, device=torch.device("cpu")).first()
    assert torch.equal(same, ImageRNG((4, 8, 8), [5], device=torch.device("cpu")).first())


def test_seed_resize_from_in_generation(api):
    plain, _ = run(api)
    resized, info = run(api, seed_resize_from_w=32, seed_resize_from_h=32)
    assert not np.array_equal(plain, resized)
    assert "Seed resize from: 32x32" in info["infotexts"][0]


def test_rng_source_cpu(api):
    gpu, _ = run(api)
    cpu, info = run(api, override_settings={"randn_source": "CPU"})
    assert np.array_equal(gpu, cpu)        # on a CPU machine both draw on the CPU
    assert "RNG: CPU" in info["infotexts"][0]


def test_eta_noise_seed_delta(api):
    ancestral, _ = run(api, sampler_name="Euler a")
    ensd, info = run(api, sampler_name="Euler a", override_settings={"eta_noise_seed_delta": 31337})
    assert not np.array_equal(ancestral, ensd) and "ENSD: 31337" in info["infotexts"][0]
    plain, _ = run(api)
    deterministic, info = run(api, override_settings={"eta_noise_seed_delta": 31337})
    assert np.array_equal(plain, deterministic) and "ENSD" not in info["infotexts"][0]


def test_tiling_and_restore_faces_without_weights(api):
    plain, _ = run(api)
    tiled, info = run(api, tiling=True)
    assert not np.array_equal(plain, tiled) and "Tiling: True" in info["infotexts"][0]
    again, info = run(api)
    assert np.array_equal(plain, again) and "Tiling" not in info["infotexts"][0]
    # the face restorer's weights are the user's file: without them the request is refused before
    # sampling, naming the file and the folder (tests/test_extras_postprocessing.py runs one with weights)
    r = api.post("/sdapi/v1/txt2img", json={**BASE, "width": 64, "height": 64, "restore_faces": True})
    assert r.status_code == 422 and "restore_faces" in r.text
    assert "codeformer-v0.1.0.pth" in r.text and "Codeformer" in r.text
