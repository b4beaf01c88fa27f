"""The values A1111 keeps on `modules.shared` besides the runtime's singletons, and its
`modules.shared_items` functions (the choices of settings dropdowns): what extensions read and, for
the lists, fill (`shared.face_restorers.append(...)`, `shared.tab_names`)."""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Iterator

from sdwebui.services import runtime
from sdwebui.services.options.sections.postprocessing import BUILTIN_FACE_RESTORERS

logger = logging.getLogger(__name__)

batch_cond_uncond = True            # A1111's old flag; the cond and uncond rows always run as one batch here
parallel_processing_allowed = True
demo: Any = None                    # the Gradio Blocks, once the UI is built
weight_load_location: str | None = None
xformers_available = False          # attention goes through PyTorch's scaled_dot_product_attention here
hypernetworks: dict[str, str] = {}
loaded_hypernetworks: list[Any] = []
face_restorers: list[Any] = []
settings_components: dict[str, Any] | None = None
tab_names: list[str] = []
clip_model: Any = None
progress_print_out = sys.stdout
hf_endpoint = os.getenv("HF_ENDPOINT", "https://huggingface.co")

latent_upscale_default_mode = "Latent"
latent_upscale_modes: dict[str, dict[str, Any]] = {
    "Latent": {"mode": "bilinear", "antialias": False},
    "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
    "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
    "Latent (bicubic antialiased)": {"mode": "bicubic", "antialias": True},
    "Latent (nearest)": {"mode": "nearest", "antialias": False},
    "Latent (nearest-exact)": {"mode": "nearest-exact", "antialias": False},
}


class Interrogator:
    """A1111's `shared.interrogator` (CLIP and DeepBooru captions). This backend has no caption
    models: using it raises an error that says so; /sdapi/v1/interrogate answers the same way."""

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"shared.interrogator.{name}: this server has no CLIP/DeepBooru interrogator "
                                  "(A1111's BLIP and DeepBooru models are not part of this backend)")


interrogator = Interrogator()

ui_reorder_categories_builtin_items = ["prompt", "image", "inpaint", "sampler", "accordions", "checkboxes",
                                       "dimensions", "cfg", "denoising", "seed", "batch", "override_settings"]


def sd_vae_items() -> list[str]:
    return runtime.vae_choices()


def refresh_vae_list() -> None:
    if runtime.vae_registry is not None:
        runtime.vae_registry.refresh()


def cross_attention_optimizations() -> list[str]:
    # attention runs through diffusers' processors (PyTorch SDPA); there is one choice to make
    return ["Automatic", "None"]


def sd_unet_items() -> list[str]:
    from sdwebui.services.legacy import unet

    return ["Automatic"] + [option.label for option in unet.unet_options] + ["None"]


def refresh_unet_list() -> None:
    from sdwebui.services.legacy import unet

    unet.list_unets()


def list_checkpoint_tiles(use_short: bool = False) -> list[str]:
    if runtime.registry is None:
        return []
    return [info.short_title if use_short else info.title for info in runtime.registry.list()]


def refresh_checkpoints() -> None:
    if runtime.registry is not None:
        runtime.registry.refresh()


def list_samplers() -> list[Any]:
    from sdwebui.engine.sampling.samplers.extension_tables import all_samplers

    return all_samplers


def reload_hypernetworks() -> None:
    from sdwebui.services.legacy import hypernetworks as hn

    global hypernetworks
    hypernetworks = hn.list_hypernetworks(str(runtime.paths.models / "hypernetworks")) if runtime.paths else {}


def realesrgan_models_names() -> list[str]:
    return _upscaler_names("RealESRGAN")


def dat_models_names() -> list[str]:
    return _upscaler_names("DAT")


def _upscaler_names(folder: str) -> list[str]:
    if runtime.upscalers is None:
        return []
    return [i.name for i in runtime.upscalers.list() if i.model_path and f"{os.sep}{folder}{os.sep}" in i.model_path]


def postprocessing_scripts() -> list[Any]:
    from sdwebui.services.extensions.postprocessing_runner import scripts_postproc

    return scripts_postproc.all_scripts()


def get_infotext_names() -> list[str]:
    """Every infotext field name the settings know (A1111 adds the paste fields of the UI)."""
    if runtime.opts is None:
        return []
    names = dict.fromkeys(getattr(info, "infotext", None) for info in runtime.opts.data_labels.values())
    return [n for n in names if n]


def ui_reorder_categories() -> Iterator[str]:
    from sdwebui.services.extensions import scripts

    yield from ui_reorder_categories_builtin_items
    sections: dict[str, int] = {}
    for runner in (getattr(scripts, "scripts_txt2img", None), getattr(scripts, "scripts_img2img", None)):
        for script in getattr(runner, "scripts", []) or []:
            section = getattr(script, "section", None)
            if isinstance(section, str) and section not in ui_reorder_categories_builtin_items:
                sections[section] = 1
    yield from sections
    yield "scripts"


class FaceRestoration:
    """A1111's base class for a face restorer (`modules.face_restoration`); an extension subclasses
    it and appends an instance to `shared.face_restorers`."""

    def name(self) -> str:
        return "None"

    def restore(self, np_image: Any) -> Any:
        return np_image


def face_restorer_names() -> list[str]:
    """The `face_restoration_model` setting's choices (A1111 lists `shared.face_restorers`' names, so
    a restorer an extension appends can be chosen). A1111's two are named even before the app has
    registered them, so the default stays a valid choice."""
    return list(dict.fromkeys([*BUILTIN_FACE_RESTORERS, *(r.name() for r in face_restorers)]))


def restore_faces(np_image: Any) -> Any:
    """Run the face restorer the settings choose (face_restoration_model) over `np_image`; unchanged
    when there is none. GFPGAN and CodeFormer are registered at start (services/face_restorers.py);
    extensions may register more."""
    wanted = getattr(runtime.opts, "face_restoration_model", None) if runtime.opts is not None else None
    chosen = [r for r in face_restorers if wanted is None or r.name() == wanted]
    return chosen[0].restore(np_image) if chosen else np_image


# --- modules.cache and hashes.sha256_from_cache: the app's cache.json ----------------------------

def cache(subsection: str) -> dict:
    """One table of the app's cache file (cache.json); call dump_cache() after changing it."""
    if runtime.hash_cache is None:
        raise RuntimeError("the app has not started: there is no cache file yet")
    return runtime.hash_cache.section(subsection)


def dump_cache() -> None:
    if runtime.hash_cache is not None:
        runtime.hash_cache.save()


def cached_data_for_file(subsection: str, title: str, filename: str, func: Any) -> Any:
    if runtime.hash_cache is None:
        return func()
    return runtime.hash_cache.cached_data_for_file(subsection, title, filename, func)


def sha256_from_cache(filename: str, title: str, use_addnet_hash: bool = False) -> str | None:
    """The file's sha256 if the cache has it for the file as it is now, else None (nothing is hashed)."""
    if runtime.hash_cache is None:
        return None
    return runtime.hash_cache.cached_sha256(filename, title, addnet=use_addnet_hash)
