"""The fast paths of modules.speedups and the engine pieces they rely on, on the CPU: torch.compile
of the UNet and VAE decoder with a warm-up at load (the first request compiles nothing), its disk cache,
channels-last, batched VAE decode and the bf16 VAE for SDXL. On a GPU the same code adds CUDA graphs;
speed is measured by bench/run.py, not here."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from modules import sampling, speedups
from modules.loader.single_file import load_checkpoint


def _opts(**kw) -> argparse.Namespace:
    base = {"compile": False, "compile_mode": "auto", "no_half_vae": False, "opt_channelslast": False}
    return argparse.Namespace(**{**base, **kw})


def _generate(model, *, sampler: str = "Euler", size: int | None = None, batch: int = 1, seed: int = 5,
              steps: int = 4) -> torch.Tensor:
    """A txt2img through the engine's own pieces (no app): images in [0, 1]."""
    from modules import samplers
    from modules.text_encoding import PromptEncoder, ScheduledConditioning

    size = size or 64   # small enough to run quickly; the tiny test models draw at any size
    f = model.vae_scale_factor
    prompts = ["a red circle on a blue background"] * batch
    cond = ScheduledConditioning(PromptEncoder(model), prompts, [""] * batch, steps)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn((batch, model.latent_channels, size // f, size // f), generator=g)
    info, schedule = samplers.resolve(sampler, "Automatic")
    scheduler = samplers.create_scheduler(info, schedule, model.scheduler_config)
    latents, _ = sampling.sample(model, scheduler, noise, cond, steps=steps, cfg_scale=7.0, width=size, height=size,
                                 generators=None)
    return sampling.decode(model, latents)


def test_compile_mode_follows_the_flags():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert speedups.compile_mode(_opts(), cuda) is None
    assert speedups.compile_mode(_opts(compile=True), cuda) == "reduce-overhead"    # CUDA graphs
    assert speedups.compile_mode(_opts(compile=True), cpu) == "default"
    assert speedups.compile_mode(_opts(compile=True, compile_mode="max-autotune"), cpu) == "max-autotune"


def test_channels_last_gives_the_same_image(tiny_files):
    model = load_checkpoint(tiny_files["sd1"])
    before = _generate(model)
    speedups.apply(model, channels_last=True, mode=None)
    assert model.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.vae.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.compiled
    after = _generate(model)
    assert torch.allclose(before, after, atol=2e-3), float((before - after).abs().max())


def test_batched_decode_equals_one_at_a_time(tiny_files, monkeypatch):
    model = load_checkpoint(tiny_files["sd1"])
    g = torch.Generator().manual_seed(0)
    latents = torch.randn((3, 4, 8, 8), generator=g)
    assert sampling.decode_chunk_size(model, 64, 64, 3) == 3          # plenty of RAM: one decoder call
    calls = []
    real = model.vae.decode
    monkeypatch.setattr(model.vae, "decode", lambda z, **k: calls.append(z.shape[0]) or real(z, **k))
    together = sampling.decode(model, latents)
    assert calls == [3]

    import psutil

    class Tight:   # as if only enough memory were free for one image's activations
        available = 64 * 64 * model.vae.config.block_out_channels[0] * 4 * sampling._DECODE_ACTIVATION_COPIES * 2

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight)
    calls.clear()
    apart = sampling.decode(model, latents)
    assert calls == [1, 1, 1]
    assert torch.allclose(together, apart, atol=1e-5)


def test_sdxl_vae_upcasts_to_the_dtype_asked_for(tiny_files):
    """fp16 would overflow in the SDXL VAE: it runs in fp32, or in bf16 where the GPU has it (same
    range as fp32). The SD1 VAE stays in the model dtype."""
    xl = load_checkpoint(tiny_files["sdxl"], dtype=torch.float16, vae_upcast_dtype=torch.bfloat16)
    assert xl.vae_dtype == torch.bfloat16 and next(xl.vae.parameters()).dtype == torch.bfloat16
    assert load_checkpoint(tiny_files["sdxl"], dtype=torch.float16).vae_dtype == torch.float32
    sd1 = load_checkpoint(tiny_files["sd1"], dtype=torch.float16, vae_upcast_dtype=torch.bfloat16)
    assert sd1.vae_dtype == torch.float16
    xl32 = load_checkpoint(tiny_files["sdxl"])
    latents = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(1))
    a, b = sampling.decode(xl, latents), sampling.decode(xl32, latents)
    assert torch.isfinite(a).all() and float((a - b).abs().max()) < 0.05


def test_vae_upcast_dtype_on_this_machine():
    from modules import devices

    assert devices.vae_upcast_dtype(_opts(), torch.device("cpu")) == torch.float32
    assert devices.vae_upcast_dtype(_opts(no_half_vae=True), torch.device("cuda")) == torch.float32


@pytest.fixture(scope="module")
def compiled_model(tiny_files):
    """The tiny SD1 model compiled and warmed up as the model manager does at load. Which shapes get
    traced and when a call recompiles is decided by dynamo's guards, whatever the backend: these tests
    use the "eager" backend to skip inductor's minutes of kernel building on a 2-core CPU (the server
    test below compiles for real)."""
    import torch._dynamo

    speedups.raise_recompile_limit()   # (not the cache dirs: environment variables would leak into servers)
    torch._dynamo.reset()
    eager = load_checkpoint(tiny_files["sd1"])
    model = load_checkpoint(tiny_files["sd1"])
    eager.default_size = model.default_size = 64   # the tiny test model's "native" size: quick to run
    before = _compiles()
    speedups.apply(model, channels_last=False, mode="default", backend="eager")
    seconds = speedups.warm_up(model)
    assert _compiles() > before, "the warm-up traced the UNet and the VAE decoder"
    yield model, eager, seconds
    torch._dynamo.reset()


def _compiles() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def test_compiled_model_matches_eager_and_first_request_compiles_nothing(compiled_model):
    model, eager, _ = compiled_model
    assert model.compiled == "default" and speedups.is_compiled(model.unet)
    assert speedups.is_compiled(model.vae.decoder)
    before = _compiles()
    for sampler in ("Euler", "DPM++ 2M", "DDIM"):      # float and integer timesteps alike
        out = _generate(model, sampler=sampler)
        ref = _generate(eager, sampler=sampler)
        assert torch.allclose(out, ref, atol=1e-5), (sampler, float((out - ref).abs().max()))
    assert _compiles() == before, "the warm-up compiled the native size; a request there compiles nothing"


def test_compiled_model_new_shape_compiles_once(compiled_model):
    model, eager, _ = compiled_model
    before = _compiles()
    out = _generate(model, size=model.default_size * 2, batch=2)
    after_first = _compiles()
    assert after_first > before
    again = _generate(model, size=model.default_size * 2, batch=2)
    assert _compiles() == after_first
    assert torch.equal(out, again)
    ref = _generate(eager, size=model.default_size * 2, batch=2)
    assert torch.allclose(out, ref, atol=2e-3)


def test_offloaded_model_is_not_compiled(tiny_files):
    model = load_checkpoint(tiny_files["sd1"])
    model.offload = "model"
    speedups.apply(model, channels_last=False, mode="default")
    assert model.compiled is None and not speedups.is_compiled(model.unet)
    assert np.isfinite(_generate(model).numpy()).all()


def test_a_failing_compile_leaves_a_working_eager_model(tiny_files, monkeypatch):
    """No compiler toolchain, an op inductor cannot handle ...: the load still succeeds, uncompiled."""
    from modules import shared

    monkeypatch.setattr(shared, "cmd_opts", _opts(compile=True))

    def broken(model, **kw):
        raise RuntimeError("simulated compiler failure")

    monkeypatch.setattr(speedups, "warm_up", broken)
    model = load_checkpoint(tiny_files["sd1"])
    reference = _generate(load_checkpoint(tiny_files["sd1"]))
    shared._prepare_model(model)
    assert model.compiled is None and not speedups.is_compiled(model.unet)
    assert not speedups.is_compiled(model.vae.decoder)
    assert torch.equal(_generate(model), reference)


def test_server_with_compile_warms_up_at_load_and_reuses_the_disk_cache(tmp_path, monkeypatch):
    """As a user: `launch.py --api --compile` on the embedded default model. The model is compiled and
    warmed up while it loads (the log says so before any request), the image matches an uncompiled
    server's, and a restart on the same data dir finds the compiled graphs in the disk cache (that a
    request at the native size compiles nothing is checked in-process above)."""
    import base64
    import io
    import re
    import time

    import httpx
    from PIL import Image

    from tests.server_process import running_server

    payload = {"prompt": "a red circle on a blue background", "width": 64, "height": 64, "steps": 20, "seed": 3}
    for var in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):   # a user's own setting would win
        monkeypatch.delenv(var, raising=False)

    def image(server) -> np.ndarray:
        r = httpx.post(server.base + "/sdapi/v1/txt2img", json=payload, timeout=600)
        assert r.status_code == 200, r.text
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))), dtype=np.int16)

    def compiled_line(server) -> re.Match:
        deadline = time.time() + 600
        while time.time() < deadline:
            m = re.search(r"Compiled sd1 for 64x64, batch 1 \(mode default\) in [\d.]+s; "
                          r"compiler cache: (\d+) hits, (\d+) misses", server.log_tail(100_000))
            if m:
                return m
            assert server.proc.poll() is None, server.log_tail()
            time.sleep(0.5)
        raise AssertionError(server.log_tail())

    data = tmp_path / "data"
    data.mkdir()
    with running_server(data, ["--api", "--nowebui"]) as server:
        eager = image(server)
    with running_server(data, ["--api", "--nowebui", "--compile"]) as server:
        first = compiled_line(server)
        assert int(first.group(2)) > 0                  # a fresh cache: graphs were built
        compiled = image(server)
    assert any((data / "cache" / "torch-compile").rglob("*")), "inductor's cache lives in the data dir"
    assert np.abs(compiled - eager).max() <= 3
    with running_server(data, ["--api", "--nowebui", "--compile"]) as server:
        again = compiled_line(server)
        assert int(again.group(1)) > 0 and int(again.group(2)) == 0, again.group(0)   # all from the disk cache
        assert np.array_equal(image(server), compiled)
