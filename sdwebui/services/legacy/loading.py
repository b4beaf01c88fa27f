"""A1111's `modules.script_loading` (load a Python file as a module) and `modules.modelloader`'s
file listing, for extensions that load their own files or list their model folders."""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import types
from typing import Any, Iterable

from sdwebui.services.util import load_file_from_url, walk_files
from sdwebui.services.legacy import unsupported

logger = logging.getLogger(__name__)

__all__ = ["cleanup_models", "friendly_name", "list_scripts", "load_models", "load_module", "load_spandrel_model",
           "loaded_scripts",
           "move_files", "preload_extensions"]

loaded_scripts: dict[str, types.ModuleType] = {}


def load_module(path: str) -> types.ModuleType:
    """Run the Python file at `path` as a module named after its file, and keep it in loaded_scripts."""
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    loaded_scripts[path] = module
    return module


def preload_extensions(extensions_dir: str, parser: argparse.ArgumentParser,
                       extension_list: Iterable[str] | None = None) -> None:
    """Run each extension's preload.py `preload(parser)` under `extensions_dir` (the app does this
    itself at launch; an extension calling it gets the same)."""
    if not os.path.isdir(extensions_dir):
        return
    names = extension_list if extension_list is not None else sorted(os.listdir(extensions_dir))
    for dirname in names:
        script = os.path.join(extensions_dir, dirname, "preload.py")
        if not os.path.isfile(script):
            continue
        try:
            module = load_module(script)
            if hasattr(module, "preload"):
                module.preload(parser)
        except Exception:
            logger.exception("Error running preload() for %s", script)


def load_models(model_path: str, model_url: str | None = None, command_path: str | None = None,
                ext_filter: list[str] | None = None, download_name: str | None = None,
                ext_blacklist: list[str] | None = None, hash_prefix: str | None = None) -> list[str]:
    """Model files in `model_path` and `command_path` with the given extensions; when there are
    none and `model_url` names one, the file where A1111 would download it (this server does not
    download: that raises FileNotFoundError saying where to put it)."""
    found: list[str] = []
    for folder in (model_path, command_path):
        if not folder or not os.path.isdir(folder):
            continue
        for path in walk_files(folder, ext_filter):
            if ext_blacklist and any(path.endswith(e) for e in ext_blacklist):
                continue
            if path not in found:
                found.append(path)
    if model_url is not None and not found:
        found.append(load_file_from_url(model_url, model_dir=model_path, file_name=download_name,
                                        hash_prefix=hash_prefix))
    return found


def friendly_name(file: str) -> str:
    """A model's name from its file or URL: the file name without extension."""
    if file.startswith("http"):
        file = file.split("?", 1)[0]
    return os.path.splitext(os.path.basename(file))[0]


def load_spandrel_model(path: str, *, device: Any = None, prefer_half: bool = False, dtype: Any = None,
                        expected_architecture: str | None = None) -> Any:
    """The model file as a spandrel ImageModelDescriptor on `device`, as A1111's upscalers get theirs."""
    import spandrel

    descriptor = spandrel.ModelLoader(device=device or "cpu").load_from_file(str(path))
    if expected_architecture and descriptor.architecture.name != expected_architecture:
        logger.warning("model %s is %s, not %s", path, descriptor.architecture.name, expected_architecture)
    if prefer_half and descriptor.supports_half:
        descriptor.model.half()
    elif dtype is not None:
        descriptor.model.to(dtype=dtype)
    descriptor.model.eval()
    return descriptor


cleanup_models = unsupported("modelloader.cleanup_models", "model folders are not rearranged here")
move_files = unsupported("modelloader.move_files", "model folders are not rearranged here")


def list_scripts(scriptdirname: str, extension: str, *, include_extensions: bool = True) -> list[Any]:
    """A1111's scripts.list_scripts: the ScriptFile entries (basedir, filename, path) of `scriptdirname`
    in the webui folder and the enabled extensions, with the given file extension."""
    from sdwebui.services.extensions import discovery

    return discovery.list_script_files(scriptdirname, extension)
