"""The one object through which a job reaches the rest of the process.

The engine reads no process-wide state. The services layer builds a `GenerationContext` for each
job (`services.generation.make_context`) and the processing object carries it as `p.ctx`; the
sampling loop, the image writer and the upscalers get the parts they need as arguments. What it
holds are the services' own objects (the options store with the job's `override_settings` applied,
the job state, the model manager, the registries), seen only through the few methods the engine
calls on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sdwebui.engine.hooks import NO_HOOKS, Hooks
from sdwebui.engine.prompt.extra_networks import NO_EXTRA_NETWORKS, ExtraNetworkHandlers


def _not_saving(*args: Any, **kwargs: Any) -> tuple[str, str | None]:
    raise RuntimeError("this job's context has no save_image: it cannot save samples")


@dataclass
class GenerationContext:
    opts: Any                   # settings: attribute reads (opts.eta_ddim ...), override(dict), set(key, value)
    state: Any                  # job state: sampling_step(s), job_count, interrupted, skipped, nextjob() ...
    model_manager: Any          # sd_model, checkpoint_info, load(info), apply_vae(info)
    registry: Any               # checkpoints: match(name) -> info | None, list()
    ensure_model_loaded: Callable[[], Any]      # the resident model, loading the selected checkpoint first
    apply_vae_setting: Callable[[], None]       # make the resident model use the VAE `sd_vae` names
    vae_registry: Any = None    # shorthash(vae)
    upscalers: Any = None       # names(), upscale_to_size(...)
    loras: Any = None           # LoRA files by name
    embeddings: Any = None      # textual-inversion database: refresh(model), loaded, shorthash(...)
    prompt_styles: Any = None   # styles: check(names), apply(prompt, negative, names)
    preview_decoders: Any = None    # models.preview_decoders.PreviewDecoders: Approx NN / TAESD weights
    resolve_output: Callable[[str], Path] = Path    # an output folder option -> an absolute folder
    max_image_pixels: int = 4096 * 4096             # --max-image-pixels: the largest hires size allowed
    filenames_max_length: int = 128                 # --filenames-max-length
    unix_filenames_sanitization: bool = False       # --unix-filenames-sanitization
    hooks: Hooks = field(default=NO_HOOKS)          # the extensions' callbacks
    # the extensions' `<name:...>` tag handlers (modules.extra_networks), activated once per batch
    extra_networks: ExtraNetworkHandlers = field(default=NO_EXTRA_NETWORKS)
    # saves one sample with A1111's `modules.images.save_image` signature plus `index=` (which image
    # of the job, for the file name's values); extensions that wrap that function see every sample
    save_image: Callable[..., tuple[str, str | None]] = _not_saving
    # restore_faces: called once per job, reads the face_restoration_model setting's restorer (its
    # model file is read then, so a missing one fails before sampling) and returns the function that
    # restores the faces in a uint8 RGB array; None: no face restoration available
    face_restorer: Callable[[], Callable[[Any], Any]] | None = None

    def __deepcopy__(self, memo: dict) -> GenerationContext:
        # extensions deep-copy processing objects (`copy.deepcopy(p)`); the copy is the same job and
        # must share its services (settings, job state, resident model), never duplicate them
        return self
