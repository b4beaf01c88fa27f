"""A1111's `modules.paths`: `sdwebui.services.paths`, plus A1111's module-level path names
(`models_path`, `data_path` ...), which extensions read; they follow the flags of the running app."""
from __future__ import annotations

from typing import Callable

from modules._facade import expose
from modules.shared import app_paths
from sdwebui.services import paths as paths_mod

A1111_PATH_NAMES: dict[str, Callable[[], str]] = {
    "script_path": lambda: str(paths_mod.SCRIPT_PATH),
    "data_path": lambda: str(app_paths().data),
    "models_path": lambda: str(app_paths().models),
    "extensions_dir": lambda: str(app_paths().extensions),
    "extensions_builtin_dir": lambda: str(app_paths().extensions_builtin),
    "sd_model_file": lambda: str(paths_mod.DEFAULT_CKPT),        # A1111's <webui>/model.ckpt
    "default_sd_model_file": lambda: str(paths_mod.DEFAULT_CKPT),
}

expose(__name__, 'sdwebui.services.paths', computed=A1111_PATH_NAMES)
