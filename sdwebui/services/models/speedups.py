"""Optional fast paths applied to a model when it is loaded: channels-last memory format
(`--opt-channelslast`) and `torch.compile` of the UNet and the VAE decoder (`--compile`), with CUDA
graphs on a GPU, warmed up at load time so no user request pays for compiling the common size.

Why each piece:
* compile fuses the UNet's many small kernels; with CUDA graphs ("reduce-overhead") the per-kernel
  launch cost disappears too, which is most of an SD1.5 step at 512 px on a large GPU.
* shapes are static (`dynamic=False`): each (batch, size, prompt length) compiles once and is kept,
  up to `RECOMPILE_LIMIT` shapes per model part; a shape beyond that runs eagerly, never slower than
  without --compile. Dynamic shapes would recompile less but rule out CUDA graphs.
* a request never compiles: a shape not compiled yet runs eagerly and is compiled afterwards while
  the queue is idle (modules.compiled_shapes), and the shapes seen are remembered on disk, so after
  a restart they are compiled again before they are asked for.
* inductor's caches live under `<data-dir>/cache/torch-compile`, so a restart re-traces (seconds)
  instead of re-generating and re-building kernels.
* the warm-up runs a 2-step generation at the checkpoint's native size through the same sampling
  loop and VAE decode the engine uses, so the compiled graphs it leaves match a real request's.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Callable

import torch

from sdwebui.services.models.compiled_shapes import ShapeBook, ShapeRecorder, ShapeStore, fx_cache_counts
from sdwebui.services.models.compiled_shapes import compile_next as _compile_next

logger = logging.getLogger(__name__)

RECOMPILE_LIMIT = 16      # compiled shapes kept per model part before new shapes run eagerly

_shape_store: ShapeStore | None = None     # the shapes seen, remembered across restarts (set with the cache dir)


def compile_mode(cmd_opts: argparse.Namespace, device: torch.device) -> str | None:
    """The torch.compile mode for `device`, or None without --compile. "auto" (the default) is
    "reduce-overhead" (CUDA graphs) on a GPU and "default" elsewhere."""
    if not getattr(cmd_opts, "compile", False):
        return None
    mode = getattr(cmd_opts, "compile_mode", None) or "auto"
    if mode == "auto":
        return "reduce-overhead" if device.type == "cuda" else "default"
    return mode


def configure_compile_cache(cache_dir: Path) -> None:
    """Point inductor's on-disk caches at the data dir unless the user set them already; the shapes
    seen are remembered there too."""
    global _shape_store
    cache_dir.mkdir(parents=True, exist_ok=True)
    _shape_store = ShapeStore(cache_dir / "shapes.json")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir))
    os.environ.setdefault("TRITON_CACHE_DIR", str(cache_dir / "triton"))
    import torch._inductor.config as inductor

    inductor.fx_graph_cache = True
    if hasattr(inductor, "autotune_local_cache"):
        inductor.autotune_local_cache = True
    raise_recompile_limit()


def raise_recompile_limit() -> None:
    """Let dynamo keep `RECOMPILE_LIMIT` compiled shapes per function (its default is 8)."""
    import torch._dynamo

    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))


def is_compiled(module: torch.nn.Module | None) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def runs_as_cuda_graphs(model) -> bool:
    """Whether the model's compiled UNet replays CUDA graphs (SDModel.runs_as_cuda_graphs)."""
    return model.runs_as_cuda_graphs()


def compiled_parts(model) -> dict[str, torch.nn.Module]:
    """The modules --compile compiles, by the names the shape book uses."""
    return {"unet": model.unet, "decoder": model.vae.decoder}


def uncompile(model) -> None:
    """Back to eager execution (after a failed compile): the modules run as if never compiled."""
    for module in compiled_parts(model).values():
        module._compiled_call_impl = None
    model.compiled = None
    model.compiled_shapes = None


def compile_next(model) -> bool:
    """Compile one shape `model` has been asked for but not compiled yet (run by the queue when it is
    idle); False when there is none."""
    if model is None or not getattr(model, "compiled", None):
        return False
    return _compile_next(model, compiled_parts(model), cuda_graphs=runs_as_cuda_graphs(model))


def eager_only(model):
    """A context within which `model`'s compiled parts run eagerly and book no shapes (see
    ShapeBook.eager_only); a no-op for a model that is not compiled (SDModel.eager_only)."""
    return model.eager_only()


def pending_shapes(model) -> int:
    book = getattr(model, "compiled_shapes", None)
    return len(book.pending()) if book is not None and model.compiled else 0


def apply(model, *, channels_last: bool, mode: str | None, backend: str | Callable = "inductor") -> None:
    """Apply the chosen fast paths to `model` (an SDModel already on its device), in place: the
    module objects stay the same, so LoRA patching and extensions keep working on them. Calling it
    again after a part was replaced (another VAE) compiles the new part. (`backend` other than
    inductor is for tests of the tracing and guards, which do not depend on it.)"""
    if getattr(model, "offload", None):
        if mode:
            logger.warning("--compile is not used with --medvram / --lowvram (offload hooks move weights per call)")
        mode = None
    if channels_last:
        model.unet.to(memory_format=torch.channels_last)
        model.vae.to(memory_format=torch.channels_last)
    if not mode:
        return
    book = getattr(model, "compiled_shapes", None)
    if book is None:
        kind = "/".join([model.family, str(model.dtype), str(model.vae_dtype), str(model.device)]).replace("torch.", "")
        book = model.compiled_shapes = ShapeBook(kind, limit=RECOMPILE_LIMIT, store=_shape_store)
        book.restore()
    options = {"mode": mode} if backend == "inductor" else {}
    for part, module in compiled_parts(model).items():
        if not is_compiled(module):
            module.compile(backend=backend, dynamic=False, fullgraph=False, **options)
            module._compiled_call_impl = ShapeRecorder(module, part, book, module._compiled_call_impl)
        book.use_module(part, module)
    model.compiled = mode


def warm_up(model, *, batch_size: int = 1, steps: int = 2) -> float:
    """Run a short generation at the model's native size so compiling happens now, at load time,
    not in the first request. Returns the seconds it took."""
    start = time.perf_counter()
    with model.compiled_shapes.compiling_now():
        _warm_up_run(model, batch_size, steps)
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    seconds = time.perf_counter() - start
    hits, misses = fx_cache_counts()
    size = int(model.default_size)
    logger.info("Compiled %s for %dx%d, batch %d (mode %s) in %.1fs; compiler cache: %d hits, %d misses so far",
                model.family, size, size, batch_size, model.compiled, seconds, hits, misses)
    return seconds


def _warm_up_run(model, batch_size: int, steps: int) -> None:
    from sdwebui.engine.sampling import samplers, loop as sampling
    from sdwebui.engine.prompt.encoding import ScheduledConditioning
    from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for

    graphs = runs_as_cuda_graphs(model)
    runs = 2 if graphs else 1     # CUDA graphs record on the second call of a shape, replay from the third
    steps = steps + 1 if graphs else steps
    size = int(model.default_size)
    f = model.vae_scale_factor
    prompts = [""] * batch_size
    conditioning = ScheduledConditioning(prompt_encoder_for(model), prompts, prompts, steps)
    noise = torch.zeros((batch_size, model.latent_channels, size // f, size // f))
    image_cond = None
    if model.unet.config.in_channels != model.latent_channels:   # inpainting UNets
        image_cond = sampling.txt2img_image_conditioning(model, batch_size, size, size)
    sampler, schedule = samplers.resolve("Euler", "Automatic")
    scheduler = samplers.create_scheduler(sampler, schedule, model.scheduler_config)
    latents, _ = sampling.sample(model, scheduler, noise, conditioning, steps=steps, cfg_scale=7.0, width=size,
                                 height=size, generators=None, desc="Warm-up", image_cond=image_cond)
    for _ in range(runs):
        sampling.decode(model, latents)
