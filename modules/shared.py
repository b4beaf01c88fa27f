"""A1111's `modules.shared`: `sdwebui.services.runtime` (the singletons), plus the values A1111 keeps
beside them (`sdwebui.services.shared_items`), its file helpers (`sdwebui.services.util`) and names
computed from the running app at each read (`sd_upscalers`, `total_tqdm`, the path names ...).

A1111 parses the command line when `modules.shared` is first imported, so an extension imported
before the app has started (its preload.py, a script a test loads) finds `shared.cmd_opts`. Here the
runtime gets its flags from the app assembly; until then the facade gives it A1111's defaults at
the first read, as the runtime did itself before it stopped importing the command line."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from modules._facade import expose
from sdwebui.interfaces.cli import flags
from sdwebui.services import paths as paths_mod, runtime
from sdwebui.services.job_state import TotalTQDM
from sdwebui.services.memory import MemUsageMonitor
from sdwebui.services.models import upscalers


def flags_or_defaults() -> argparse.Namespace:
    """The app's flags; before the app has set them, this process's command line parsed as A1111
    does at import (unknown arguments ignored: it may be a test runner's), then kept by the runtime."""
    if runtime.cmd_opts is None:
        runtime.set_flags(flags.parse_process_args())
    return runtime.cmd_opts


def app_paths() -> paths_mod.Paths:
    """The app's paths, following its flags (the defaults' before the app has set them)."""
    flags_or_defaults()
    return runtime.paths


_per_state: dict[str, Any] = {}


def _total_tqdm() -> TotalTQDM:
    # one bar per State object (initialize() builds a new State)
    bar = _per_state.get("total_tqdm")
    if bar is None or bar.state is not runtime.state:
        def enabled() -> bool:
            opts = runtime.opts
            return bool(getattr(opts, "multiple_tqdm", True)) and not getattr(runtime.cmd_opts,
                                                                           "disable_console_progressbars", False)
        bar = _per_state["total_tqdm"] = TotalTQDM(runtime.state, enabled)
    return bar


def _mem_mon() -> MemUsageMonitor:
    monitor = _per_state.get("mem_mon")
    if monitor is None or monitor.device != runtime.device:
        monitor = _per_state["mem_mon"] = MemUsageMonitor("MemMon", runtime.device, runtime.opts)
        if not monitor.disabled:
            monitor.start()
    monitor.opts = runtime.opts
    return monitor


def _path(attr: str) -> Callable[[], str]:
    return lambda: str(getattr(app_paths(), attr))


_ITEMS = "sdwebui.services.shared_items"
_UTIL = "sdwebui.services.util"
expose(__name__, 'sdwebui.services.runtime', extra=[
    ("sd_model", "sdwebui.services.runtime"),
    *[(name, _ITEMS) for name in (
        "batch_cond_uncond", "parallel_processing_allowed", "weight_load_location", "xformers_available",
        "hypernetworks", "loaded_hypernetworks", "face_restorers", "settings_components", "tab_names", "clip_model",
        "progress_print_out", "hf_endpoint", "latent_upscale_default_mode", "latent_upscale_modes", "interrogator",
        "list_checkpoint_tiles", "refresh_checkpoints", "list_samplers", "reload_hypernetworks")],
    *[(name, _UTIL) for name in ("natural_sort_key", "listfiles", "html_path", "html", "walk_files", "ldm_print")],
    ("demo", "sdwebui.interfaces.ui.tempdir"),
    ("gradio_theme", "sdwebui.interfaces.ui.web_assets"), ("reload_gradio_theme", "sdwebui.interfaces.ui.web_assets"),
], computed={
    "cmd_opts": flags_or_defaults, "parser": flags.get_parser, "paths": app_paths,
    "sd_upscalers": upscalers.sd_upscalers, "total_tqdm": _total_tqdm, "mem_mon": _mem_mon,
    "styles_filename": lambda: [str(p) for p in runtime.prompt_styles.paths] if runtime.prompt_styles is not None
    else [str(app_paths().data / "styles.csv")],
    "config_filename": lambda: str(app_paths().config_file),
    "hide_dirs": lambda: {"visible": not getattr(flags_or_defaults(), "hide_ui_dir_config", False)},
    "script_path": lambda: str(paths_mod.SCRIPT_PATH), "data_path": _path("data"), "models_path": _path("models"),
    "extensions_dir": _path("extensions"), "extensions_builtin_dir": _path("extensions_builtin"),
    "sd_model_file": lambda: str(paths_mod.DEFAULT_CKPT),      # A1111's <webui>/model.ckpt
    "default_sd_model_file": lambda: str(paths_mod.DEFAULT_CKPT),
    "sd_configs_path": lambda: str(paths_mod.SCRIPT_PATH / "configs"),
    "sd_default_config": lambda: str(paths_mod.SCRIPT_PATH / "configs" / "v1-inference.yaml"),
})
