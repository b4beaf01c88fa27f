"""The fast paths of modules.speedups and the engine pieces they rely on, on the CPU: torch.compile
of the UNet and VAE decoder with a warm-up at load (the first request compiles nothing), its disk cache,
channels-last, batched VAE decode and the bf16 VAE for SDXL. On a GPU the same code adds CUDA graphs;
speed is measured by bench/run.py, not here."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from sdwebui.engine.sampling import loop as sampling
from sdwebui.services.models import speedups
from sdwebui.engine.models.single_file import load_checkpoint


def _opts(**kw) -> argparse.Namespace:
    base = {"compile": False, "compile_mode": "auto", "no_half_vae": False, "opt_channelslast": False}
    return argparse.Namespace(**{**base, **kw})


def _generate(model, *, sampler: str = "Euler", size: int | None = None, batch: int = 1, seed: int = 5,
              steps: int = 4) -> torch.Tensor:
    """A txt2img through the engine's own pieces (no app): images in [0, 1]."""
    from sdwebui.engine.sampling import samplers
    from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning

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


def test_precision_flags_choose_the_dtypes(monkeypatch):
    """fp16 on a GPU unless --no-half / --precision full; fp32 on the CPU (as A1111), but bf16 with
    --precision half on a CPU with bf16 instructions (fp16 has no fast CPU kernels)."""
    from sdwebui.services.models import devices

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    f32, f16, bf16 = torch.float32, torch.float16, torch.bfloat16

    def dtypes(device, **kw):
        return devices.select_dtypes(_opts(**{"no_half": False, "precision": "autocast", **kw}), device)

    assert dtypes(cuda) == (f16, f16)
    assert dtypes(cuda, no_half_vae=True) == (f16, f32)
    assert dtypes(cuda, no_half=True) == dtypes(cuda, precision="full") == (f32, f32)
    for has_bf16 in (True, False):
        monkeypatch.setattr(devices, "cpu_computes_bf16", lambda: has_bf16)
        assert dtypes(cpu) == (f32, f32)
        assert dtypes(cpu, precision="half") == ((bf16, bf16) if has_bf16 else (f32, f32))
        assert dtypes(cpu, precision="half", no_half_vae=True) == ((bf16, f32) if has_bf16 else (f32, f32))
        assert dtypes(cpu, precision="half", no_half=True) == (f32, f32)


def test_bf16_on_the_cpu_draws_the_same_picture():
    """The embedded default model in bf16 (what --precision half gives on a CPU with bf16
    instructions; bf16 works, slowly, on any CPU, so this runs everywhere) against fp32."""
    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE

    full = load_checkpoint(DEFAULT_MODEL_FILE)
    half = load_checkpoint(DEFAULT_MODEL_FILE, dtype=torch.bfloat16, vae_dtype=torch.bfloat16)
    assert next(half.unet.parameters()).dtype == torch.bfloat16 and half.vae_dtype == torch.bfloat16
    a = _generate(full, steps=12, size=64)
    b = _generate(half, steps=12, size=64)
    assert torch.isfinite(b).all()
    diff = (a - b).abs()
    assert float(diff.mean()) < 0.01, float(diff.mean())     # another seed differs by 0.04


def test_vae_upcast_dtype_on_this_machine():
    from sdwebui.services.models import devices

    assert devices.vae_upcast_dtype(_opts(), torch.device("cpu")) == torch.float32
    assert devices.vae_upcast_dtype(_opts(no_half_vae=True), torch.device("cuda")) == torch.float32


class CountingBackend:
    """A torch.compile backend that runs each traced graph as it is and counts graphs and runs, so a
    test can tell compiled code from eager code."""

    def __init__(self):
        self.graphs = 0
        self.runs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1

        def run(*args):
            self.runs += 1
            return gm.forward(*args)
        return run


def _compiled(model, backend) -> None:
    speedups.apply(model, channels_last=False, mode="default", backend=backend)


@pytest.fixture(scope="module")
def compiled_model(tiny_files):
    """The tiny SD1 model compiled and warmed up as the model manager does at load. Which shapes get
    traced and when a call recompiles is decided by dynamo's guards, whatever the backend: these tests
    use a backend that runs the traced graphs as they are, to skip inductor's minutes of kernel
    building on a 2-core CPU (the server test below compiles for real)."""
    import torch._dynamo

    speedups.raise_recompile_limit()   # (not the cache dirs: environment variables would leak into servers)
    torch._dynamo.reset()
    eager = load_checkpoint(tiny_files["sd1"])
    model = load_checkpoint(tiny_files["sd1"])
    eager.default_size = model.default_size = 64   # the tiny test model's "native" size: quick to run
    backend = CountingBackend()
    _compiled(model, backend)
    speedups.warm_up(model)
    assert backend.graphs > 0, "the warm-up traced the UNet and the VAE decoder"
    yield model, eager, backend
    torch._dynamo.reset()


def test_compiled_model_matches_eager_and_first_request_compiles_nothing(compiled_model):
    model, eager, backend = compiled_model
    assert model.compiled == "default" and speedups.is_compiled(model.unet)
    assert speedups.is_compiled(model.vae.decoder)
    graphs, runs = backend.graphs, backend.runs
    for sampler in ("Euler", "DPM++ 2M", "DDIM"):      # float and integer timesteps alike
        out = _generate(model, sampler=sampler)
        ref = _generate(eager, sampler=sampler)
        assert torch.allclose(out, ref, atol=1e-5), (sampler, float((out - ref).abs().max()))
    assert backend.graphs == graphs, "the warm-up compiled the native size; a request there compiles nothing"
    # 4 UNet steps and a decode per image; A1111's DDIM evaluates at 3 of its 4 timesteps
    assert backend.runs >= runs + 2 * 5 + 4, "... and runs the compiled code"
    assert speedups.pending_shapes(model) == 0


def test_a_new_shape_runs_eagerly_and_compiles_when_the_queue_is_idle(compiled_model):
    model, eager, backend = compiled_model
    size = model.default_size * 2
    graphs, runs = backend.graphs, backend.runs
    out = _generate(model, size=size, batch=2)
    assert (backend.graphs, backend.runs) == (graphs, runs), "a request never compiles; the new shape ran eagerly"
    assert speedups.pending_shapes(model) == 2               # the UNet's and the decoder's input
    ref = _generate(eager, size=size, batch=2)
    assert torch.allclose(out, ref, atol=1e-5)

    assert speedups.compile_next(model) and speedups.compile_next(model)   # what the idle queue does
    assert not speedups.compile_next(model) and speedups.pending_shapes(model) == 0
    assert backend.graphs > graphs
    graphs, runs = backend.graphs, backend.runs
    again = _generate(model, size=size, batch=2)
    assert backend.graphs == graphs and backend.runs >= runs + 5, "now it runs compiled, compiling nothing"
    assert torch.allclose(again, out, atol=1e-5)


def test_one_off_shapes_run_eagerly_without_booking_a_compiled_slot(compiled_model):
    """VAE tiles of a huge image and the fp32 retry of an overflowing VAE are not worth compiling."""
    model, eager, backend = compiled_model
    graphs, runs = backend.graphs, backend.runs
    latents = torch.randn((1, 4, 12, 12), generator=torch.Generator().manual_seed(2))
    tiled = sampling.decode(model, latents, tile_above=64)          # 96 px > 64: the tiled path
    assert (backend.graphs, backend.runs) == (graphs, runs) and speedups.pending_shapes(model) == 0
    assert torch.allclose(tiled, sampling.decode(eager, latents, tile_above=64), atol=1e-5)
    with speedups.eager_only(model):
        _generate(model, size=96)
    assert (backend.graphs, backend.runs) == (graphs, runs) and speedups.pending_shapes(model) == 0


def test_a_swapped_in_vae_gets_its_decoder_compiled_in_the_background(compiled_model, tiny_files):
    model, _, backend = compiled_model
    own = model.vae
    other = load_checkpoint(tiny_files["sd1"]).vae
    try:
        model.vae = other
        speedups.apply(model, channels_last=False, mode=model.compiled)     # what the model manager does
        assert speedups.is_compiled(other.decoder)
        assert speedups.pending_shapes(model) >= 1, "the decoder shapes compiled for the previous VAE"
        while speedups.compile_next(model):
            pass
        graphs = backend.graphs
        _generate(model)
        assert backend.graphs == graphs
    finally:
        model.vae = own
        speedups.apply(model, channels_last=False, mode=model.compiled)
        while speedups.compile_next(model):     # its shapes are compiled already: cache hits, no new graphs
            pass


def test_the_shapes_seen_are_remembered_across_restarts(tiny_files, tmp_path, monkeypatch):
    """A restart (here: a new model object, compiled afresh) finds the shapes the last run was asked
    for and compiles them in the idle queue before they are asked for again."""
    from sdwebui.services.models.compiled_shapes import ShapeStore

    monkeypatch.setattr(speedups, "_shape_store", ShapeStore(tmp_path / "shapes.json"))
    first = load_checkpoint(tiny_files["sd1"])
    first.default_size = 64
    _compiled(first, CountingBackend())
    speedups.warm_up(first)
    _generate(first, size=96)
    assert speedups.pending_shapes(first) == 2
    assert "sd1/float32/float32/cpu" in (tmp_path / "shapes.json").read_text()

    backend = CountingBackend()
    second = load_checkpoint(tiny_files["sd1"])
    second.default_size = 64
    _compiled(second, backend)
    assert speedups.pending_shapes(second) == 4        # native size and 96 px, UNet and decoder
    speedups.warm_up(second)
    assert speedups.pending_shapes(second) == 2
    while speedups.compile_next(second):
        pass
    graphs, runs = backend.graphs, backend.runs
    _generate(second, size=96)
    assert backend.graphs == graphs and backend.runs > runs

    # a damaged or hand-edited file costs the memory, nothing else
    for damaged in ("{not json", '{"sd1/float32/float32/cpu": {"unet": [[{"a": 1}, 2], "x", [["L", []], ["D", []]]]}}'):
        (tmp_path / "shapes.json").write_text(damaged)
        third = load_checkpoint(tiny_files["sd1"])
        third.default_size = 64
        _compiled(third, CountingBackend())
        while speedups.compile_next(third):     # the one well-formed entry fails its compile, logged
            pass
        speedups.warm_up(third)
        assert speedups.pending_shapes(third) == 0
        assert np.isfinite(_generate(third).numpy()).all()


def test_offloaded_model_is_not_compiled(tiny_files):
    model = load_checkpoint(tiny_files["sd1"])
    model.offload = "model"
    speedups.apply(model, channels_last=False, mode="default")
    assert model.compiled is None and not speedups.is_compiled(model.unet)
    assert np.isfinite(_generate(model).numpy()).all()


def test_a_failing_compile_leaves_a_working_eager_model(tiny_files, monkeypatch):
    """No compiler toolchain, an op inductor cannot handle ...: the load still succeeds, uncompiled."""
    from sdwebui.services import runtime as shared

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


def _server_with_compile(tmp: Path, env: dict[str, str]) -> None:
    """The scenario of the test below, run early (see tests/conftest.py): three servers, one after the
    other, on one data dir; the asserts fail the test."""
    import base64
    import io
    import re
    import time

    import httpx
    from PIL import Image

    from tests.server_process import running_server

    payload = {"prompt": "a red circle on a blue background", "width": 64, "height": 64, "steps": 20, "seed": 3}
    for var in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):   # a user's own setting would win
        env.pop(var, None)

    def images(server, batch: int = 1) -> list[np.ndarray]:
        r = httpx.post(server.base + "/sdapi/v1/txt2img", json={**payload, "batch_size": batch}, timeout=600)
        assert r.status_code == 200, r.text
        return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))), dtype=np.int16) for b in r.json()["images"]]

    def wait_for(server, pattern: str) -> re.Match:
        deadline = time.time() + 600
        while time.time() < deadline:
            m = re.search(pattern, server.log_tail(100_000))
            if m:
                return m
            assert server.proc.poll() is None, server.log_tail()
            time.sleep(0.5)
        raise AssertionError(server.log_tail())

    warm_up = r"Compiled sd1 for 64x64, batch 1 \(mode default\) in [\d.]+s; compiler cache: (\d+) hits, (\d+) misses"
    batch2 = [rf"Compiled sd1 {part} for input {shape} while the queue was idle in [\d.]+s; "
              r"compiler cache: (\d+) hits, (\d+) misses"
              for part, shape in (("unet", "4x4x8x8"), ("decoder", "2x4x8x8"))]
    data = tmp / "data"
    data.mkdir()
    with running_server(data, ["--api", "--nowebui"], env=env) as server:
        eager, eager2 = images(server), images(server, 2)
    with running_server(data, ["--api", "--nowebui", "--compile"], env=env) as server:
        first = wait_for(server, warm_up)
        assert int(first.group(2)) > 0                  # a fresh cache: graphs were built
        compiled = images(server)
        compiled2 = images(server, 2)
        answered = wait_for(server, r"txt2img: 2 image\(s\) in")
        for pattern in batch2:
            assert wait_for(server, pattern).start() > answered.start(), "compiled after the answer, not in it"
        now_compiled2 = images(server, 2)
        assert all(np.abs(a - b).max() <= 3 for a, b in zip(now_compiled2, compiled2))
    assert any((data / "cache" / "torch-compile").rglob("*")), "inductor's cache lives in the data dir"
    assert np.abs(compiled[0] - eager[0]).max() <= 3
    assert all(np.abs(a - b).max() <= 3 for a, b in zip(compiled2, eager2))
    with running_server(data, ["--api", "--nowebui", "--compile"], env=env) as server:
        again = wait_for(server, warm_up)
        assert int(again.group(1)) > 0 and int(again.group(2)) == 0, again.group(0)   # all from the disk cache
        for pattern in batch2:       # remembered from the last run, compiled before anyone asks
            assert int(wait_for(server, pattern).group(2)) == 0, "from the disk cache"
        assert np.array_equal(images(server)[0], compiled[0])
        assert all(np.array_equal(a, b) for a, b in zip(images(server, 2), now_compiled2))


@pytest.mark.early(scenario=_server_with_compile)
def test_server_with_compile_warms_up_at_load_and_reuses_the_disk_cache(early_result):
    """As a user: `launch.py --api --compile` on the embedded default model. The model is compiled and
    warmed up while it loads (the log says so before any request), the image matches an uncompiled
    server's; a request of another shape (batch 2) is answered first and its shape compiled after it,
    while the queue is idle. A restart on the same data dir finds the compiled graphs in the disk cache
    and compiles the remembered batch-2 shape again before it is asked for. (That a request of a
    compiled shape compiles nothing and runs the compiled code is checked in-process above.)
    Compiling into a fresh cache takes minutes on 2 CPU cores, mostly in the compiler's own processes:
    the scenario starts early and runs while the other tests do."""
    early_result()
