"""Process-wide singletons under the names A1111 extensions import:
`shared.opts`, `shared.cmd_opts`, `shared.state`, `shared.sd_model`.

Nothing else in the project is global. initialize() builds them from the flags. Before it runs
there are no flags (`cmd_opts` and `paths` are None): the command line belongs to the interfaces,
which this layer does not import; A1111's facade (modules/shared.py) gives an extension that reads
`shared.cmd_opts` that early the default flags, through set_flags().
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sdwebui.services import paths as paths_mod
from sdwebui.services.extensions import callbacks as script_callbacks, discovery, manager as extension_manager
from sdwebui.services.job_state import State
from sdwebui.services.options import apply as settings_apply
from sdwebui.services.options.store import OptionHTML, OptionInfo, Options, options_section  # noqa: F401  (A1111 re-exports)

if TYPE_CHECKING:   # the classes are imported when initialize() builds them: importing this module stays light
    import torch

    from sdwebui.engine.models.hashes import HashCache
    from sdwebui.engine.models.lora import LoraRegistry
    from sdwebui.engine.models.preview_decoders import PreviewDecoders
    from sdwebui.engine.models.textual_inversion import EmbeddingDatabase
    from sdwebui.engine.upscalers import UpscalerRegistry
    from sdwebui.services.models.checkpoints import CheckpointRegistry, ModelManager
    from sdwebui.services.models.vae_registry import VaeRegistry
    from sdwebui.services.queue import GenerationQueue
    from sdwebui.services.styles import StyleDatabase

logger = logging.getLogger(__name__)

# None until initialize() builds them (cmd_opts and paths: until set_flags())
cmd_opts: argparse.Namespace | None = None
paths: paths_mod.Paths | None = None
opts: Options = None  # type: ignore[assignment]
state: State = State()
queue: GenerationQueue | None = None
registry: CheckpointRegistry | None = None
vae_registry: VaeRegistry | None = None
prompt_styles: StyleDatabase | None = None
upscalers: UpscalerRegistry | None = None
loras: LoraRegistry | None = None
embeddings: EmbeddingDatabase | None = None
preview_decoders: PreviewDecoders | None = None
model_manager: ModelManager | None = None
hash_cache: HashCache | None = None
device: torch.device | None = None
# the cluster client in cluster mode (services/dispatch/ray_cluster.Cluster), else None
cluster: Any = None
# the start-up checkpoint load, queued while the UI is built (interfaces/app.py): (its queue, its Future)
startup_load: tuple[Any, Any] | None = None

DEFAULT_CHECKPOINT = "tiny-default-sd1.safetensors"


class _OptionTemplates(dict):
    """A1111's `shared.options_templates`: extensions add options at import time with
    `shared.options_templates.update(shared.options_section((id, label), {key: OptionInfo(...)}))`."""

    def update(self, other=(), **kwargs) -> None:
        added = dict(other, **kwargs)
        super().update(added)
        if opts is not None:
            for key, info in added.items():
                opts.add_option(key, info)


options_templates = _OptionTemplates()


def __getattr__(name: str) -> Any:
    # `shared.sd_model` is the resident model, as in A1111; on a cluster's front end, which holds none,
    # a view of the selected checkpoint (services/dispatch/model_view.py)
    if name == "sd_model":
        if cluster is not None:
            from sdwebui.services.dispatch.model_view import front_end_model

            return front_end_model(select_checkpoint() if registry is not None else None)
        if model_manager is None:
            return None
        if model_manager.sd_model is None:
            _wait_for_startup_load()
        return model_manager.sd_model
    raise AttributeError(name)


def _wait_for_startup_load() -> None:
    """A1111's `shared.sd_model` loads the model at its first use; here the start-up load runs on the
    queue while the UI and the extensions' scripts are built. An extension reading `shared.sd_model`
    meanwhile (its ui() asking `is_sdxl`) waits for that load instead of getting None. Never from the
    queue's own thread or under queue_lock (the load could not run); after the start-up load, None
    means no model is loaded (unloaded, or the load failed and said why in the log)."""
    if startup_load is None or queue is None:
        return
    on_queue, job = startup_load
    thread = queue.worker_thread
    if on_queue is not queue or job.done() or thread is None or not thread.is_alive() or not queue.can_wait_here():
        return
    try:
        job.result()
    except Exception:   # reported by the load itself
        pass


_server_stop_callbacks: list = []


def request_server_stop() -> None:
    """Ask the running server to shut down (the /server-stop and /server-restart routes)."""
    for cb in list(_server_stop_callbacks):
        cb()


def server_running() -> bool:
    """Whether a running server registered how to stop it (request_server_stop() would)."""
    return bool(_server_stop_callbacks)


def vae_choices() -> list[str]:
    return vae_registry.choices() if vae_registry is not None else ["Automatic", "None"]


def module_dirs() -> list[Path]:
    """Where a Flux / SD3 checkpoint's separate parts live: models/VAE, models/text_encoder, A1111's models/CLIP."""
    return [paths.vae, paths.text_encoders, paths.models / "CLIP"] if paths is not None else []


def module_choices() -> list[str]:
    """`forge_additional_modules`' choices: the .safetensors files of module_dirs(), full paths as Forge's."""
    return [str(p) for folder in module_dirs() if folder.is_dir()
            for p in sorted(folder.iterdir()) if p.suffix.lower() in (".safetensors", ".sft")]


def _load_options() -> dict:
    """What the settings ask of a checkpoint load (ModelManager.load_options)."""
    chosen = [Path(m) for m in (getattr(opts, "forge_additional_modules", None) or [])]
    return {"text_encoder_dirs": [paths.text_encoders, paths.models / "CLIP"], "vae_dirs": [paths.vae],
            "additional_modules": [m for m in chosen if m.is_file()],
            "enable_t5": bool(getattr(opts, "sd3_enable_t5", False))}


def localization_choices() -> list[str]:
    """The `localization` setting's choices: "None" and the files of --localizations-dir and the
    extensions' localizations/ folders, listed again at each call."""
    from sdwebui.services import localizations

    folder = getattr(cmd_opts, "localizations_dir", None) or paths_mod.SCRIPT_PATH / "localizations"
    return localizations.choices(folder)


def set_flags(ns: argparse.Namespace) -> None:
    """Take the flags, and the paths they name, without building anything else (initialize() does)."""
    global cmd_opts, paths
    cmd_opts = ns
    paths = paths_mod.from_args(ns)


def initialize(ns: argparse.Namespace, *, face_restorer_choices: Callable[[], list[str]] | None = None,
               persist_settings: bool = True) -> None:
    """Build every singleton from the flags and start the queue. Loads no model: the first
    ensure_model_loaded() does, on the queue. `face_restorer_choices` lists the registered face
    restorers (the list lives in shared_items, which imports this module: the app passes it).
    Without `persist_settings` (a cluster worker) config.json is read but never written: the
    front end owns it, and each job brings the front end's settings along."""
    global opts, state, queue, hash_cache
    from sdwebui.engine.models.hashes import HashCache
    from sdwebui.services.options import registry as shared_options
    from sdwebui.services.queue import GenerationQueue

    set_flags(ns)
    paths_mod.ensure_dirs(paths)
    templates = shared_options.templates(vae_choices=vae_choices, localization_choices=localization_choices,
                                         face_restorer_choices=face_restorer_choices, module_choices=module_choices)
    shared_options.anchor_output_dirs(templates, paths.data, paths_mod.SCRIPT_PATH)
    opts = Options({**templates, **options_templates}, paths.config_file)
    opts.load()
    if persist_settings:
        _write_settings_file_once()
    else:
        opts.path = None
    state = State()
    state.latent_to_image = _latent_preview
    state.preview_period = _preview_period
    queue = GenerationQueue(state, idle_work=_background_work)
    hash_cache = HashCache(paths.cache_file)
    _build_models(ns)
    _build_resources(ns)
    queue.start()


def _write_settings_file_once() -> None:
    """A fresh data folder gets its config.json at first start: extensions read the file itself
    (stable-diffusion-webui-state serves `cmd_opts.ui_settings_file` to its page script, a missing
    file there is a 500 and a console error on every page load)."""
    if paths.config_file.exists():
        return
    try:
        opts.save()
    except OSError as e:   # a read-only data folder still starts; settings then stay in memory
        logger.warning("could not write %s (%s); settings changes will not persist", paths.config_file, e)


def _checkpoint_dirs() -> list[Path]:
    return [paths.checkpoints] + ([paths.extra_checkpoint_dir] if paths.extra_checkpoint_dir else [])


def _build_models(ns: argparse.Namespace) -> None:
    """The checkpoint and VAE lists, the device and precisions, and the model manager."""
    global registry, vae_registry, model_manager, device
    from sdwebui.services.models import devices, offload, speedups
    from sdwebui.services.models.checkpoints import CheckpointRegistry, ModelManager
    from sdwebui.services.models.vae_registry import VaeRegistry

    dirs = _checkpoint_dirs()
    extra = [Path(ns.ckpt)] if ns.ckpt else []
    registry = CheckpointRegistry(dirs, hash_cache, extra_files=extra)
    device = devices.select_device(ns)
    dtype, vae_dtype = devices.select_dtypes(ns, device)
    model_manager = ModelManager(registry, device, dtype, vae_dtype,
                                 vae_upcast_dtype=devices.vae_upcast_dtype(ns, device), hashing=not ns.no_hashing,
                                 cache_size=_checkpoints_kept_in_ram,
                                 offload_mode=lambda model: offload.offload_mode(cmd_opts, model.family, device),
                                 prepare=_prepare_model, prepare_vae=_prepare_vae,
                                 load_options=_load_options)
    if speedups.compile_mode(ns, device):
        speedups.configure_compile_cache(paths.data / "cache" / "torch-compile")
    if device.type == "cpu" and (ns.medvram or ns.medvram_sdxl or ns.lowvram):
        logger.info("--medvram / --lowvram have no effect on the CPU (the model is already in RAM)")
    model_manager.on_loaded.append(_record_loaded)
    model_manager.on_loaded.append(_model_loaded_callbacks)
    vae_dirs = [paths.vae] + ([Path(ns.vae_path).parent] if ns.vae_path else [])
    vae_registry = VaeRegistry(vae_dirs, dirs, hash_cache)
    ensure_default_checkpoint()
    registry.refresh()
    vae_registry.refresh()


def _build_resources(ns: argparse.Namespace) -> None:
    """Prompt styles, upscalers, LoRAs and embeddings."""
    global prompt_styles, upscalers, loras, embeddings, preview_decoders
    from sdwebui.engine.models.lora import LoraRegistry
    from sdwebui.engine.models.preview_decoders import PreviewDecoders
    from sdwebui.engine.models.textual_inversion import EmbeddingDatabase
    from sdwebui.engine.upscalers import UpscalerRegistry
    from sdwebui.services.styles import StyleDatabase

    prompt_styles = StyleDatabase(ns.styles_file or [paths.data / "styles.csv"])     # reads the files
    upscalers = UpscalerRegistry(paths.models, device, model_manager.dtype, dirs=paths.upscalers)
    upscalers.refresh()
    loras = LoraRegistry([paths.lora, paths.lyco or paths.models / "LyCORIS"], hash_cache)
    loras.refresh()
    embeddings = EmbeddingDatabase(paths.embeddings, hash_cache)
    # A1111's folders for its VAE approximation and TAESD weights (either file in either folder)
    approx = [paths.models / "VAE-approx", paths.models / "VAE-taesd"]
    preview_decoders = PreviewDecoders(approx, approx[::-1])


def _preview_period() -> int | None:
    """Steps between live previews (-1: one per finished image), None while they are off."""
    return int(opts.show_progress_every_n_steps) if opts.live_previews_enable else None


def _latent_preview(latent):
    """The live preview of `latent` (the job state's current_latent): by `show_progress_type`, every
    image of the batch in a grid with `show_progress_grid`, else the first, at the image's size."""
    from sdwebui.engine.images.grids import image_grid
    from sdwebui.engine.sampling import previews

    model = model_manager.sd_model if model_manager is not None else None
    if model is None:
        return None
    x = latent if latent.dim() == 4 else latent[None]
    if not opts.show_progress_grid:
        x = x[:1]
    method = previews.effective_method(model, opts.show_progress_type,
                                       allow_offloaded_full=opts.live_preview_allow_lowvram_full)
    f = model.vae_scale_factor
    images = previews.to_images(previews.latents_to_rgb(model, x, method, preview_decoders),
                                (x.shape[-1] * f, x.shape[-2] * f))
    return images[0] if len(images) == 1 else image_grid(images)


def _record_loaded(model) -> None:
    info = model.sd_checkpoint_info
    opts.data["sd_model_checkpoint"] = info.title
    opts.data["sd_checkpoint_hash"] = info.sha256 or ""


def _prepare_model(model) -> None:
    """The fast paths the flags ask for; with --compile, compile now (at load) for the native size."""
    from sdwebui.services.models import speedups

    mode = speedups.compile_mode(cmd_opts, model.device)
    speedups.apply(model, channels_last=bool(cmd_opts.opt_channelslast), mode=mode)
    if model.compiled:
        try:
            speedups.warm_up(model)
        except Exception:   # no compiler toolchain, an unsupported op ...: the model still works eagerly
            logger.exception("--compile failed for %s; running it uncompiled", model.filename)
            speedups.uncompile(model)
    if speedups.pending_shapes(model):   # shapes remembered from earlier runs: compile them when idle
        queue.poke()


def _prepare_vae(model) -> None:
    """A separate VAE replaced the model's: the same fast paths for it (its decoder compiles in the
    background, for the shapes the previous one was compiled for)."""
    from sdwebui.services.models import speedups

    speedups.apply(model, channels_last=bool(cmd_opts.opt_channelslast), mode=model.compiled)
    if speedups.pending_shapes(model):
        queue.poke()


def _background_work():
    """The queue's idle work: compile a shape the resident model was asked for (--compile)."""
    from sdwebui.services.models import speedups

    model = model_manager.sd_model
    if not speedups.pending_shapes(model):
        return None
    return lambda: speedups.compile_next(model)


def _checkpoints_kept_in_ram() -> int:
    """Models kept in RAM besides the resident one: A1111's `sd_checkpoint_cache`, or
    `sd_checkpoints_limit` - 1 (here one model is on the device, the others wait in RAM)."""
    return max(int(opts.sd_checkpoint_cache), int(opts.sd_checkpoints_limit) - 1)


def _model_loaded_callbacks(model) -> None:
    script_callbacks.model_loaded_callback(model)


def ensure_default_checkpoint() -> Path | None:
    """With no checkpoint anywhere, write the embedded tiny default so a first launch works offline."""
    for d in _checkpoint_dirs():
        if d.is_dir() and any(p.suffix.lower() in (".safetensors", ".ckpt") for p in d.rglob("*")):
            return None
    if cmd_opts.ckpt and Path(cmd_opts.ckpt).is_file():
        return None
    target = paths.checkpoints / DEFAULT_CHECKPOINT
    logger.info("No checkpoint found; copying the embedded default model to %s", target)
    install_default_checkpoint(target)
    return target


def install_default_checkpoint(target: Path) -> Path:
    """Copy the shipped trained tiny model (modules/loader/data/default-sd1.safetensors, see
    docs/default-model.md) to `target`, atomically. Without that file (a stripped install), write
    the seeded random tiny SD1 model instead, so a first launch still works."""
    import os
    import shutil
    import tempfile

    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE, write_tiny_checkpoint

    target.parent.mkdir(parents=True, exist_ok=True)
    if not DEFAULT_MODEL_FILE.is_file():
        logger.warning("%s is missing; writing a random-weight tiny model instead", DEFAULT_MODEL_FILE)
        return write_tiny_checkpoint(target, "sd1")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(DEFAULT_MODEL_FILE, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def select_checkpoint():
    """The checkpoint to load: --ckpt, else the one in settings, else the first listed."""
    # A1111's default --ckpt (<webui>/model.ckpt) counts only when that file is there
    if cmd_opts.ckpt and (Path(cmd_opts.ckpt) != paths_mod.DEFAULT_CKPT or Path(cmd_opts.ckpt).is_file()):
        info = registry.match(cmd_opts.ckpt) or registry.match(Path(cmd_opts.ckpt).name)
        if info is not None:
            return info
        logger.warning("--ckpt %s not found; using the settings' checkpoint", cmd_opts.ckpt)
    info = registry.match(opts.sd_model_checkpoint)
    if info is None:
        items = registry.list()
        if not items:
            return None
        if opts.sd_model_checkpoint:
            logger.warning("checkpoint %s not found; loading %s instead", opts.sd_model_checkpoint, items[0].title)
        info = items[0]
    return info


def ensure_model_loaded():
    """The resident model, loading the selected checkpoint on first use. Queue worker only."""
    if model_manager.sd_model is not None:
        if model_manager.stale():      # built with other load options (sd3_enable_t5): load it again
            return model_manager.load(model_manager.checkpoint_info)
        return model_manager.sd_model
    info = select_checkpoint()
    if info is None:
        from sdwebui.engine.errors import ProcessingError

        raise ProcessingError("sd_model_checkpoint", f"no checkpoint found in {paths.checkpoints}", status_code=503)
    return model_manager.load(info)


def apply_vae_setting(choice: str | None = None) -> None:
    """Make the resident model use the VAE that `sd_vae` (or `choice`) names. Queue worker only."""
    from sdwebui.engine.errors import ProcessingError
    from sdwebui.services.models.vae_registry import resolve_choice

    model = model_manager.sd_model
    if model is None:
        return
    choice = opts.sd_vae if choice is None else choice
    if cmd_opts.vae_path and choice == "Automatic":
        choice = str(Path(cmd_opts.vae_path).resolve())
    try:
        info = resolve_choice(vae_registry, choice, model.sd_checkpoint_info.filename)
    except ValueError as e:
        raise ProcessingError("sd_vae", str(e)) from None
    model_manager.apply_vae(info)


def _wire_services() -> None:
    """Hand this module to the services that read the app's flags, paths and options (they cannot
    import it: it imports them), and give the extension callbacks discovery's ordering rules and
    error reporting. Done once, at import rather than in initialize(): the services read the values
    at each use, and extensions and tests use them before the app has started."""
    this = sys.modules[__name__]
    discovery.configure(this)
    extension_manager.configure(this)
    settings_apply.configure(this)
    script_callbacks.configure(this, order_rules=discovery.callback_order_rules,
                               extension_for_path=discovery.extension_for_path)


_wire_services()
