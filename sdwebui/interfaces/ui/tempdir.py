"""A1111's `modules.ui_tempdir`: where images shown in the UI are written, and telling gradio a file
may be served. On gradio 6 a file may be served when it is in the app's cache folder or one of its
`allowed_paths`; `register_tmp_file` adds that one file to the allowed paths (A1111 added it to
gradio 3's temp file set). gradio 6 already keeps PNG text chunks when it writes an image, which is
what A1111's `pil_to_temp_file` override was for."""
from __future__ import annotations

import logging
import os
import tempfile
from collections import namedtuple
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

Savedfile = namedtuple("Savedfile", ["name"])

# the page's gr.Blocks once the UI is built (A1111's shared.demo), for the functions that register files
demo: Any = None


def _temp_dir_option() -> str:
    return shared.opts.temp_dir if shared.opts is not None and "temp_dir" in shared.opts else ""


def register_tmp_file(gradio: Any, filename: str) -> None:
    """Let the page serve `filename` (gradio 6: one more allowed path; gradio 3: its temp sets)."""
    if gradio is None:
        return
    path = os.path.abspath(filename.split("?", 1)[0])
    allowed = getattr(gradio, "allowed_paths", None)
    if isinstance(allowed, list) and path not in allowed:
        allowed.append(path)
    sets = getattr(gradio, "temp_file_sets", None)
    if isinstance(sets, list) and sets:
        sets[0].add(path)


def check_tmp_file(gradio: Any, filename: str) -> bool:
    if gradio is None:
        return False
    path = os.path.abspath(filename.split("?", 1)[0])
    if any(path in s for s in getattr(gradio, "temp_file_sets", None) or []):
        return True
    return any(path == os.path.abspath(a) or Path(a).resolve() in Path(path).resolve().parents
               for a in getattr(gradio, "allowed_paths", None) or [])


def save_pil_to_file(self: Any, pil_image: Image.Image, dir: str | None = None, format: str = "png") -> str:
    """Write `pil_image` (with its PNG text, the infotext) to the temp folder - the option temp_dir,
    else `dir`, else the system's - and return the path; an image already saved is not written again."""
    saved = getattr(pil_image, "already_saved_as", None)
    if saved and os.path.isfile(saved):
        register_tmp_file(demo, saved)
        return f"{saved}?{os.path.getmtime(saved)}"
    folder = _temp_dir_option() or dir or tempfile.gettempdir()
    os.makedirs(folder, exist_ok=True)
    metadata = PngImagePlugin.PngInfo()
    texts = {k: v for k, v in pil_image.info.items() if isinstance(k, str) and isinstance(v, str)}
    for key, value in texts.items():
        metadata.add_text(key, value)
    with tempfile.NamedTemporaryFile(delete=False, suffix=".png", dir=folder) as f:
        pil_image.save(f, pnginfo=metadata if texts else None)
    register_tmp_file(demo, f.name)
    return f.name


def install_ui_tempdir_override() -> None:
    """Nothing to install: gradio 6 writes PNG text chunks itself (see the module docstring)."""
    logger.debug("ui_tempdir override not needed on gradio 6")


def on_tmpdir_changed() -> None:
    """The option temp_dir changed: create it and let the page serve files from it."""
    folder = _temp_dir_option()
    if not folder or demo is None:
        return
    os.makedirs(folder, exist_ok=True)
    allowed = getattr(demo, "allowed_paths", None)
    if isinstance(allowed, list) and os.path.abspath(folder) not in allowed:
        allowed.append(os.path.abspath(folder))


def cleanup_tmpdr() -> None:
    """Delete the PNG files in the option temp_dir (A1111 does it at start when asked to)."""
    folder = _temp_dir_option()
    if not folder or not os.path.isdir(folder):
        return
    for root, _, files in os.walk(folder, topdown=False):
        for name in files:
            if os.path.splitext(name)[1] == ".png":
                os.remove(os.path.join(root, name))


def is_gradio_temp_path(path: str | os.PathLike) -> bool:
    """Whether `path` is in a folder gradio or the UI writes temporary images to."""
    p = Path(path)
    folders = [_temp_dir_option(), os.environ.get("GRADIO_TEMP_DIR", ""), str(Path(tempfile.gettempdir()) / "gradio")]
    return any(f and p.is_relative_to(f) for f in folders)


__all__ = ["Savedfile", "register_tmp_file", "check_tmp_file", "save_pil_to_file", "install_ui_tempdir_override",
           "on_tmpdir_changed", "cleanup_tmpdr", "is_gradio_temp_path"]
