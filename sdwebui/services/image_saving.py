"""A1111's `modules.images.save_image`: save an image the way the settings say.

The engine's writer (`sdwebui.engine.images.writing.write_image`) takes every choice as an argument;
this is where those choices are read from the process-wide settings (`opts`, `cmd_opts`) and the
extensions' image callbacks are handed to it. Extensions call it with A1111's signature, and the
generation saves each sample through it (`index` says which image of the job it is), so an
extension that wraps `modules.images.save_image` sees every saved sample, as in A1111.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PIL import Image

from sdwebui.engine.images import writing
from sdwebui.engine.processing.outputs import samples_folder, save_values
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import callbacks

__all__ = ["save_image"]

logger = logging.getLogger(__name__)


def save_image(image: Image.Image, path: str | Path | None, basename: str = "", seed: Any = None,
               prompt: str | None = None, extension: str = "png", info: str | None = None,
               short_filename: bool = False, no_prompt: bool = False, grid: bool = False,
               pnginfo_section_name: str = "parameters", p: Any = None, existing_info: dict | None = None,
               forced_filename: str | None = None, suffix: str = "", save_to_dirs: bool | None = None, *,
               index: int = 0) -> tuple[str, str | None]:
    """Save `image` under `path` (relative paths are inside the data folder; empty means the samples
    folder) and return (file path, txt path or None).

    The file name comes from the options (`samples_filename_pattern`, `save_to_dirs`, ...) filled with
    the values of `p`'s image number `index`; `seed` and `prompt` override those. With the option
    enable_pnginfo off the file gets no metadata, as in A1111, and no txt either (A1111 still writes
    the txt; generation here never did, and saving every sample through this keeps that).
    """
    opts = shared.opts
    values = save_values(p, index, image) if p is not None else {}
    if seed is not None:
        values["seed"] = seed
    if prompt is not None:
        values["prompt"] = prompt
    values.setdefault("image", image)
    if save_to_dirs is None:
        save_to_dirs = (grid and opts.grid_save_to_dirs) or (not grid and opts.save_to_dirs and not no_prompt)
    pattern = "" if no_prompt and not grid else (opts.samples_filename_pattern or "")
    chunks = dict(existing_info or {})
    if not opts.enable_pnginfo:
        info, chunks = None, {}
    if info is not None and pnginfo_section_name != "parameters":
        chunks[pnginfo_section_name] = info
        info = None
    folder = shared.paths.resolve_output(str(path) if path else samples_folder(p, opts))
    saved = writing.write_image(
        image, folder, values=values, infotext=info, fmt=extension, pattern=pattern, save_to_dirs=save_to_dirs,
        dir_pattern=opts.directories_filename_pattern, add_number=opts.save_images_add_number, basename=basename,
        short_filename=short_filename or grid and not opts.grid_extended_filename, forced_filename=forced_filename,
        suffix=suffix, jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless, save_txt=opts.save_txt,
        max_length=getattr(shared.cmd_opts, "filenames_max_length", 128),
        unix_only=bool(getattr(shared.cmd_opts, "unix_filenames_sanitization", False)),
        max_prompt_words=int(opts.directories_max_prompt_words), replace_action=opts.save_images_replace_action,
        existing_pnginfo=chunks or None, p=p, hooks=callbacks)
    txt = saved.with_suffix(".txt")
    return str(saved), str(txt) if opts.save_txt and info is not None else None
