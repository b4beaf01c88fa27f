"""Benchmarks, printed as one JSON object per line.

    python bench/run.py --quick     # CPU, tiny models: API overhead, ready time, model switch
    python bench/run.py             # CUDA: full-size random-weight SD1.5 512² and SDXL 1024², 20 steps,
                                    # batch 1 and 4: our server over HTTP, our engine direct, plain
                                    # diffusers on the same weights; then our server with --compile
                                    # (compile + warm-up time), and again after a restart (disk cache)
    python bench/run.py --tiny      # the same code path with tiny models (runs on a CPU)
    python bench/run.py --cpu-precision   # full-size SD1.5 on the CPU: fp32 against --precision half (bf16)
    bench/gpu.sh [--family sd1]     # on a CUDA machine without internet: installs the wheels in .whl/
                                    # first, writes the JSON lines to $OUT/bench-<families>.jsonl

Every comparison is made in one process and one run, so the ratios hold on a shared machine
where absolute times do not.
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.pop("COMMANDLINE_ARGS", None)


def emit(metric: str, value: float, **extra) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), **extra}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# --- in-process server -------------------------------------------------------------------------

class InProcessServer:
    """Our app on a real uvicorn server in a thread of this process."""

    def __init__(self, args: list[str]):
        import uvicorn

        from sdwebui.interfaces import app as webui
        from sdwebui.interfaces.cli import flags as cmd_args

        self.port = free_port()
        ns = cmd_args.parse_args([*args, "--port", str(self.port)], use_env=False)
        self.app = webui.create_app(ns)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"
        import httpx

        self.client = httpx.Client(base_url=self.base, timeout=600)
        while True:
            try:
                if self.client.get("/sdapi/v1/samplers").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)

    def stop(self) -> None:
        from sdwebui.services import runtime as shared

        self.server.should_exit = True
        self.thread.join(10)
        shared.queue.stop()


def direct_txt2img(payload: dict, *, encode: bool = True) -> list:
    """The same generation without HTTP: processing on the queue worker, then (with `encode`)
    the same PNG + base64 encoding the API does."""
    from sdwebui.services import runtime as shared
    from sdwebui.interfaces.api.generation import encode_for_response
    from sdwebui.engine.processing.txt2img import StableDiffusionProcessingTxt2Img
    from sdwebui.services.generation import process_images

    p = StableDiffusionProcessingTxt2Img(**payload)
    p.do_not_save_samples = True
    processed = shared.queue.run(lambda: process_images(p), name="bench")
    if not encode:
        return processed.images
    return [encode_for_response(im, t) for im, t in zip(processed.images, processed.infotexts)]


def compare_http_direct(server: InProcessServer, payload: dict, runs: int) -> dict:
    """Median seconds of: HTTP request, direct call with encoding, engine alone (images as PIL,
    like plain diffusers' output_type="pil")."""
    times: dict[str, list[float]] = {"http_s": [], "direct_s": [], "engine_s": []}
    server.client.post("/sdapi/v1/txt2img", json=payload)   # warm-up, every path
    direct_txt2img(payload)
    for _ in range(runs):   # interleaved so drift on a shared machine hits every path alike
        t = time.perf_counter()
        r = server.client.post("/sdapi/v1/txt2img", json=payload)
        times["http_s"].append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
        t = time.perf_counter()
        direct_txt2img(payload)
        times["direct_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        direct_txt2img(payload, encode=False)
        times["engine_s"].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


# --- quick (CPU) ---------------------------------------------------------------------------------

def measure_ready(data_dir: Path) -> tuple[float, float]:
    """Launch `launch.py --api` as a user would; seconds until /internal/ping answers and until the
    first txt2img is served."""
    import httpx

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "launch.py", "--api", "--data-dir", str(data_dir), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    ping_s = None
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("server exited during start")
            try:
                if httpx.get(base + "/internal/ping", timeout=1).status_code == 200:
                    ping_s = time.perf_counter() - start
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        r = httpx.post(base + "/sdapi/v1/txt2img", json={"prompt": "a red circle", "width": 64, "height": 64,
                                                          "steps": 20}, timeout=300)
        assert r.status_code == 200, r.text
        return ping_s, time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)


def quick(runs: int) -> None:
    import shutil

    from sdwebui.engine.models.tiny import write_tiny_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ping_s, ready_s = measure_ready(tmp / "fresh")       # includes writing the embedded default
        emit("ping_s", ping_s, note="launch.py --api on a fresh data dir until /internal/ping answers")
        emit("ready_s", ready_s, target=20.0, note="launch until the first txt2img is served")
        ping2, ready2 = measure_ready(tmp / "fresh")
        emit("ready_s_second_launch", ready2, target=20.0)

        data = tmp / "data"
        ckpts = data / "models" / "Stable-diffusion"
        ckpts.mkdir(parents=True)
        write_tiny_checkpoint(ckpts / "a.safetensors", "sd1", seed=0)
        write_tiny_checkpoint(ckpts / "b.safetensors", "sd1", seed=1)
        from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_controlnet
        write_tiny_controlnet(data / "models" / "ControlNet" / "control_tiny_canny.pth",
                              build_tiny_components("sd1", seed=0).unet, seed=1)
        server = InProcessServer(["--nowebui", "--data-dir", str(data)])
        try:
            payload = {"prompt": "a red circle on a blue background", "width": 64, "height": 64, "steps": 20,
                       "seed": 1}
            res = compare_http_direct(server, payload, runs)
            emit("txt2img_64px_20steps_http_s", res["http_s"], target=1.0)
            emit("txt2img_64px_20steps_direct_s", res["direct_s"])
            emit("api_overhead_ratio", res["http_s"] / res["direct_s"], target=1.05)

            names = ["a", "b"]
            times = []
            gc.collect()
            rss_start = None
            for i in range(21):
                t = time.perf_counter()
                r = server.client.post("/sdapi/v1/options", json={"sd_model_checkpoint": names[i % 2]})
                assert r.status_code == 200, r.text
                times.append(time.perf_counter() - t)
                if i == 0:
                    gc.collect()
                    rss_start = rss_mb()
            gc.collect()
            emit("switch_s", statistics.median(times[1:]), target=2.0, note="POST /options sd_model_checkpoint, tiny SD1")
            emit("switch_rss_growth_mb", rss_mb() - rss_start, note="RSS after 20 switches minus after the first")

            # the same with sd_checkpoint_cache=1: switching back is a move from RAM, not a file load
            assert server.client.post("/sdapi/v1/options", json={"sd_checkpoint_cache": 1}).status_code == 200
            cached = []
            for i in range(21):
                t = time.perf_counter()
                r = server.client.post("/sdapi/v1/options", json={"sd_model_checkpoint": names[i % 2]})
                assert r.status_code == 200, r.text
                cached.append(time.perf_counter() - t)
            emit("switch_cached_s", statistics.median(cached[2:]), note="same, sd_checkpoint_cache=1")
            emit("switch_cached_ratio", statistics.median(cached[2:]) / statistics.median(times[1:]),
                 note="cached switch / file switch, same run")
            emit("controlnet_canny_unit_ratio", controlnet_cost(server, payload, runs),
                 note="txt2img with one canny ControlNet unit / the same without, tiny SD1, same run")
        finally:
            server.stop()
        shutil.rmtree(data, ignore_errors=True)


def controlnet_cost(server: InProcessServer, payload: dict, runs: int) -> float:
    """Median time with one canny unit (its map, the ControlNet forward in every step's CFG batch)
    over the median time of the same job without it."""
    import base64
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((12, 12, 52, 52), outline="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    unit = {"enabled": True, "module": "canny", "model": "control_tiny_canny",
            "image": base64.b64encode(buffer.getvalue()).decode()}
    with_unit = {**payload, "alwayson_scripts": {"ControlNet": {"args": [unit]}}}
    times: dict[str, list[float]] = {"plain": [], "unit": []}
    for i in range(runs + 1):       # the first of each loads what it needs: not counted
        for name, body in (("plain", payload), ("unit", with_unit)):
            t = time.perf_counter()
            r = server.client.post("/sdapi/v1/txt2img", json=body)
            assert r.status_code == 200, r.text
            if i:
                times[name].append(time.perf_counter() - t)
    return statistics.median(times["unit"]) / statistics.median(times["plain"])


# --- full (CUDA) ---------------------------------------------------------------------------------

def write_random_checkpoint(path: Path, family: str, *, tiny: bool) -> None:
    """A random-weight checkpoint of the real architecture in A1111 layout (or a tiny one to
    exercise this code path on a CPU)."""
    import torch

    from sdwebui.engine.models.ldm_export import components_to_ldm, save_checkpoint

    if tiny:
        from sdwebui.engine.models.tiny import write_tiny_checkpoint

        write_tiny_checkpoint(path, family)
        return
    import transformers
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from sdwebui.engine.models.configs import load_family_config

    fam = load_family_config(family)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        unet = UNet2DConditionModel.from_config(fam.unet).half()
        vae = AutoencoderKL.from_config(fam.vae).half()
        te = transformers.CLIPTextModel(transformers.CLIPTextConfig.from_dict(fam.text_encoder)).half()
        te2 = None
        if fam.text_encoder_2:
            te2 = transformers.CLIPTextModelWithProjection(
                transformers.CLIPTextConfig.from_dict(fam.text_encoder_2)).half()
    sd = components_to_ldm(unet, vae, te, te2, family="sdxl" if te2 is not None else family)
    save_checkpoint({k: v.cpu() for k, v in sd.items()}, path)
    del unet, vae, te, te2, sd


def plain_diffusers_pipeline(model):
    """diffusers' own pipeline over the very same components (eager, its default path)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    sched = EulerDiscreteScheduler.from_config(model.scheduler_config)
    if model.is_sdxl:
        # plain diffusers keeps the SDXL VAE in the model dtype and upcasts it per decode (force_upcast)
        vae = copy.deepcopy(model.vae).to(model.dtype)
        return StableDiffusionXLPipeline(vae=vae, text_encoder=model.text_encoder,
                                         text_encoder_2=model.text_encoder_2, tokenizer=model.tokenizer,
                                         tokenizer_2=model.tokenizer_2, unet=model.unet, scheduler=sched)
    return StableDiffusionPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                                   unet=model.unet, scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def count_host_syncs(payload: dict) -> int:
    """CUDA's sync debug mode warns at every call that waits for the GPU: count them over one job
    (live previews off, so only the loop's own syncs and the final read-back remain)."""
    import warnings

    import torch

    from sdwebui.services import runtime as shared

    with shared.opts.override({"live_previews_enable": False}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            direct_txt2img(payload, encode=False)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def payload_for(size: int, batch: int, steps: int = 20) -> dict:
    return {"prompt": "a photo of a cat", "width": size, "height": size, "steps": steps, "cfg_scale": 7,
            "batch_size": batch, "sampler_name": "Euler", "seed": 1}


def wait_for_background_compile(model) -> float:
    """Seconds until the queue has compiled every shape `model` was asked for (see --compile)."""
    from sdwebui.services.models import speedups

    start = time.perf_counter()
    while speedups.pending_shapes(model):
        time.sleep(0.05)
    return time.perf_counter() - start


def measure_case(server: InProcessServer, model, pipe, family: str, size: int, batch: int, runs: int, sync,
                 variant: str) -> dict:
    """One (family, size, batch) through our server, our engine and (with `pipe`) plain diffusers."""
    import torch

    cuda = torch.cuda.is_available()
    payload = payload_for(size, batch)
    tags = {"family": family, "size": size, "batch": batch, "steps": 20, "variant": variant}
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    r = server.client.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 200, r.text
    first_s = time.perf_counter() - t
    emit("first_request_s", first_s, **tags,
         note="first request of this shape (under --compile a new shape runs eagerly, then compiles when idle)")
    if model.compiled:
        emit("background_compile_s", wait_for_background_compile(model), **tags,
             note="after the first request: compiling its new shapes while the queue is idle")
    res = compare_http_direct(server, payload, runs)
    ours_peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    emit("engine_s_per_image", res["engine_s"] / batch, **tags)
    emit("http_s_per_image", res["http_s"] / batch, **tags, note="includes PNG + base64 encoding of the response")
    emit("engine_it_per_s", 20 / res["engine_s"], **tags, note="sampling steps per second of the batch")
    emit("api_overhead_ratio", res["http_s"] / res["direct_s"], **tags)
    emit("peak_vram_gib_ours", ours_peak, **tags)
    if cuda and batch == 1:
        emit("host_syncs_per_job", count_host_syncs(payload), **tags,
             note="synchronising CUDA calls in one engine job (20 steps); the step loop itself should add none")
    out = {"engine_s": res["engine_s"], "http_s": res["http_s"], "first_s": first_s}
    if pipe is None:
        return out

    def run_plain():
        g = torch.Generator(model.device).manual_seed(1)
        pipe(prompt=["a photo of a cat"] * batch, width=size, height=size, num_inference_steps=20,
             guidance_scale=7, generator=g, output_type="pil")
        sync()

    t = time.perf_counter()
    run_plain()
    out["plain_first_s"] = time.perf_counter() - t
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    plain = []
    for _ in range(runs):
        t = time.perf_counter()
        run_plain()
        plain.append(time.perf_counter() - t)
    plain_s = out["plain_s"] = statistics.median(plain)
    tags = {**tags, "variant": "plain diffusers, eager"}
    emit("plain_diffusers_s_per_image", plain_s / batch, **tags)
    emit("peak_vram_gib_plain", torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0, **tags)
    return out


# the server variants of the full benchmark, in the order they run (each a fresh server on the same data dir)
VARIANTS = {
    "eager": [],                              # + plain diffusers on the same weights
    "compiled": ["--compile"],                # compile + warm-up at load, new shapes in the idle queue
    "compiled, restarted": ["--compile"],     # again: inductor's disk cache, the remembered shapes
    "medvram": ["--medvram"],                 # model CPU offload: speed and peak VRAM, batch 1
    "lowvram": ["--lowvram"],                 # sequential offload, likewise
}


def measure_offload(server: InProcessServer, family: str, size: int, runs: int, variant: str,
                    eager_s: float | None) -> None:
    """--medvram / --lowvram: seconds per image (batch 1, engine direct) and peak VRAM."""
    import torch

    cuda = torch.cuda.is_available()
    payload = payload_for(size, 1)
    tags = {"family": family, "size": size, "batch": 1, "steps": 20, "variant": variant}
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    r = server.client.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 200, r.text
    times = []
    for _ in range(max(1, min(runs, 2))):     # offloaded runs are slow; two are enough to see the figure
        t = time.perf_counter()
        direct_txt2img(payload, encode=False)
        times.append(time.perf_counter() - t)
    engine_s = statistics.median(times)
    emit("engine_s_per_image", engine_s, **tags)
    emit("peak_vram_gib_ours", torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0, **tags)
    if eager_s:
        emit("offload_vs_eager_ratio", engine_s / eager_s, **tags, note="same job without offload, same run")


def full(runs: int, tiny: bool, variants: list[str], families: list[str]) -> None:
    """Per family, each variant in VARIANTS order on a fresh in-process server: our server over HTTP,
    our engine direct and (eager) plain diffusers on the same weights."""
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not tiny:
        print(json.dumps({"skipped": "full benchmark needs CUDA; use --quick, or --tiny to test this path"}))
        return
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    cases = [("sd1", 512), ("sdxl", 1024)] if not tiny else [("sd1", 64), ("sdxl", 64)]
    cases = [(family, size) for family, size in cases if family in families]
    with tempfile.TemporaryDirectory() as tmp:
        for family, size in cases:
            data = Path(tmp) / family
            ckpts = data / "models" / "Stable-diffusion"
            ckpts.mkdir(parents=True)
            t = time.perf_counter()
            write_random_checkpoint(ckpts / f"random-{family}.safetensors", family, tiny=tiny)
            emit("write_checkpoint_s", time.perf_counter() - t, family=family)
            plain: dict[int, float] = {}
            eager: dict[int, float] = {}
            for variant in [v for v in VARIANTS if v in variants]:
                flags = VARIANTS[variant]
                if variant == "compiled, restarted":
                    torch._dynamo.reset()    # a new process would start with no compiled code in memory
                server = InProcessServer(["--nowebui", "--data-dir", str(data), "--skip-load-model-at-start", *flags])
                try:
                    from sdwebui.services import runtime as shared

                    t = time.perf_counter()
                    model = shared.queue.run(shared.ensure_model_loaded)
                    sync()
                    emit("load_s", time.perf_counter() - t, family=family, variant=variant,
                         note="checkpoint load" + (" + compile and warm-up at the native size" if model.compiled else ""))
                    if model.compiled:
                        emit("background_compile_after_load_s", wait_for_background_compile(model), family=family,
                             variant=variant, note="the shapes remembered from earlier runs, compiled when idle")
                    if variant in ("medvram", "lowvram"):
                        measure_offload(server, family, size, runs, variant, eager.get(1))
                        continue
                    pipe = plain_diffusers_pipeline(model) if variant == "eager" else None
                    for batch in (1, 4):
                        res = measure_case(server, model, pipe, family, size, batch, runs, sync, variant)
                        tags = {"family": family, "size": size, "batch": batch, "variant": variant}
                        if pipe is not None:
                            plain[batch], eager[batch] = res["plain_s"], res["engine_s"]
                            emit("first_image_after_load_vs_plain_ratio", res["first_s"] / res["plain_s"], **tags,
                                 target=1.2 if batch == 1 else None,
                                 note="our first request after the load, without compile, over plain diffusers' median")
                            emit("first_image_after_load_vs_plain_first_ratio", res["first_s"] / res["plain_first_s"],
                                 **tags, note="the same over plain diffusers' own first call on these weights")
                        if batch in plain:
                            emit("engine_vs_plain_ratio", res["engine_s"] / plain[batch], **tags)
                            emit("http_vs_plain_ratio", res["http_s"] / plain[batch], **tags,
                                 target={("sd1", 1): 0.2, ("sdxl", 1): 0.6}.get((family, batch))
                                 if variant != "eager" else None)
                    pipe = model = None  # free before the next variant
                finally:
                    server.stop()
                    from sdwebui.services import runtime as shared

                    shared.model_manager.unload()
                    gc.collect()
                    if cuda:
                        torch.cuda.empty_cache()


def cpu_precision(runs: int) -> None:
    """Full-size SD1.5 (random weights) on the CPU, 512², 4 steps, our engine end to end: fp32 (the
    default) against `--precision half` (bf16 on a CPU with bf16 instructions)."""
    from sdwebui.services.models import devices

    payload = payload_for(512, 1, steps=4)
    emit("cpu_has_bf16", float(devices.cpu_computes_bf16()), note="AVX512-BF16 or AMX: --precision half uses bf16")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        ckpts = data / "models" / "Stable-diffusion"
        ckpts.mkdir(parents=True)
        write_random_checkpoint(ckpts / "random-sd1.safetensors", "sd1", tiny=False)
        seconds = {}
        for name, flags in (("fp32", []), ("--precision half", ["--precision", "half"])):
            server = InProcessServer(["--nowebui", "--data-dir", str(data), "--use-cpu", "all", *flags])
            try:
                direct_txt2img(payload, encode=False)      # loads the model
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    direct_txt2img(payload, encode=False)
                    times.append(time.perf_counter() - t)
                seconds[name] = statistics.median(times)
                emit("cpu_sd15_512px_4steps_s", seconds[name], variant=name)
            finally:
                server.stop()
                from sdwebui.services import runtime as shared

                shared.model_manager.unload()
                gc.collect()
        emit("cpu_half_vs_full_ratio", seconds["--precision half"] / seconds["fp32"],
             note="time with --precision half over fp32, same run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CPU tiny-model subset")
    ap.add_argument("--tiny", action="store_true", help="run the full benchmark's code path with tiny models")
    ap.add_argument("--cpu-precision", action="store_true", help="full-size SD1.5 on the CPU: fp32 vs bf16")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip the --compile variants of the full benchmark")
    ap.add_argument("--variant", choices=list(VARIANTS), action="append",
                    help="only this server variant in the full benchmark (repeatable; default all)")
    ap.add_argument("--family", choices=["sd1", "sdxl"], action="append",
                    help="only this model family in the full benchmark (repeatable; default both)")
    args = ap.parse_args()
    # our modules' log lines (model loads, compiles) on stderr; the JSON lines stay alone on stdout
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)     # not a line per benchmark request
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.quick:
        quick(args.runs)
    elif args.cpu_precision:
        cpu_precision(args.runs)
    else:
        variants = args.variant or [v for v in VARIANTS if not (args.no_compile and v.startswith("compiled"))]
        full(args.runs, args.tiny, variants, families=args.family or ["sd1", "sdxl"])


if __name__ == "__main__":
    main()
