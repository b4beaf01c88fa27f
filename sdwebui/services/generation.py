"""Running a generation job: the services layer builds the job's context (engine.context) from the
process-wide objects, and the engine does the rest.

`process_images` keeps A1111's name and signature (`modules.processing.process_images`): extensions
call it from their scripts and some replace it with a wrapper, so callers look it up on this module
at call time.
"""
from __future__ import annotations

from typing import Any, Callable

from sdwebui.engine.context import GenerationContext
from sdwebui.engine.processing import generate as engine_generate
from sdwebui.engine.processing.base import StableDiffusionProcessing
from sdwebui.engine.processing.processed import Processed
from sdwebui.services import image_saving, runtime
from sdwebui.services.extensions import callbacks
from sdwebui.services.legacy import networks as extra_networks

__all__ = ["make_context", "process_images"]


def _save_image(*args: Any, **kwargs: Any) -> tuple[str, str | None]:
    # looked up at call time: extensions replace modules.images.save_image with a wrapper
    return image_saving.save_image(*args, **kwargs)


# restore_faces' restorer for a job (GenerationContext.face_restorer): the app sets it at start to
# services.face_restorers.prepare_restore_faces (which imports the shared items that import this module)
face_restorer_factory: Callable[[], Callable[[Any], Any]] | None = None


def make_context() -> GenerationContext:
    """A job's context: the current settings, job state, models and registries, the extensions'
    callbacks and extra-network handlers, and A1111's save_image. The runtime must be initialised
    (runtime.initialize)."""
    cmd_opts = runtime.cmd_opts
    return GenerationContext(
        opts=runtime.opts, state=runtime.state, model_manager=runtime.model_manager, registry=runtime.registry,
        ensure_model_loaded=runtime.ensure_model_loaded, apply_vae_setting=runtime.apply_vae_setting,
        vae_registry=runtime.vae_registry, upscalers=runtime.upscalers, loras=runtime.loras,
        embeddings=runtime.embeddings, prompt_styles=runtime.prompt_styles, preview_decoders=runtime.preview_decoders,
        resolve_output=lambda folder: runtime.paths.resolve_output(folder),
        max_image_pixels=cmd_opts.max_image_pixels,
        filenames_max_length=getattr(cmd_opts, "filenames_max_length", 128),
        unix_filenames_sanitization=bool(getattr(cmd_opts, "unix_filenames_sanitization", False)),
        # the module itself: an extension that replaces modules.extra_networks.activate is called
        hooks=callbacks, extra_networks=extra_networks, save_image=_save_image,
        face_restorer=face_restorer_factory)


def process_images(p: StableDiffusionProcessing) -> Processed:
    """Run a txt2img or img2img job (A1111's process_images) and return its Processed. Gives `p` a
    context first when it has none. Call it on the queue worker."""
    if getattr(p, "ctx", None) is None:
        p.ctx = make_context()
    return engine_generate.process_images_inner(p)
