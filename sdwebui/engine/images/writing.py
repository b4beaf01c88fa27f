"""Writing images to the output folders, named and numbered as A1111 names them (``modules/images.py``
there: ``save_image``, ``get_next_sequence_number``). Every choice (pattern, folders, format, ...) is
an argument; `sdwebui.services.image_saving.save_image` reads them from the settings.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from sdwebui.engine.atomic_write import atomic_write_text
from sdwebui.engine.hooks import NO_HOOKS, Hooks, ImageSaveParams
from sdwebui.engine.images import filenames, metadata

logger = logging.getLogger(__name__)


def next_sequence_number(folder: Path, basename: str = "") -> int:
    """1 + the largest number a file in `folder` starts with (after `basename-`); 0 for an empty folder.
    Like A1111, any file whose name's first `-`-separated part is an integer counts (`00012.png`,
    `00012-x.png`, also `77.png`)."""
    result = -1
    prefix = f"{basename}-" if basename else ""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        # A1111 also counts folders, so a "2024-07-27" date folder would make the next number 02025;
        # only files count here
        if name.startswith(prefix) and not os.path.isdir(os.path.join(folder, name)):
            first = os.path.splitext(name[len(prefix):])[0].split("-")[0]
            if first.isdigit():
                result = max(result, int(first))
    return result + 1


def _safe_dir(dirname: str) -> str:
    """The directory pattern's result as a relative path inside the output folder: A1111 would follow
    an absolute path or `..`; we drop those components instead."""
    parts = [p for p in re.split(r"[\\/]+", dirname) if p not in ("", ".", "..")]
    return os.path.join(*parts) if parts else ""


def _name_max(folder: Path) -> int:
    try:
        return os.statvfs(folder).f_namemax
    except (AttributeError, OSError):
        return 255


def _write_temp(folder: Path, data: bytes) -> str:
    """The bytes in a hidden temp file next to the target (same file system, so link/rename is atomic),
    flushed to disk so a crash never leaves a torn image under the final name."""
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary user files
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _claim(tmp: str, path: Path) -> bool:
    """Publish `tmp` as `path` only if `path` does not exist, atomically (a hard link fails on an existing
    name, so two writers can never take the same number). Falls back to check-then-rename where the file
    system has no hard links."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        if path.exists():
            return False
        os.replace(tmp, path)
        return True


def write_image(image: Image.Image, folder: Path, *, values: dict[str, Any], infotext: str | None,
               fmt: str = "png", pattern: str = "", save_to_dirs: bool = True, dir_pattern: str = "[date]",
               add_number: bool = True, jpeg_quality: int = 80, webp_lossless: bool = False,
               max_length: int = 128, save_txt: bool = False, basename: str = "", short_filename: bool = False,
               forced_filename: str | None = None, suffix: str = "", unix_only: bool = False,
               max_prompt_words: int = 8, replace_action: str = "Replace",
               existing_pnginfo: dict[str, Any] | None = None, p: Any = None, hooks: Hooks = NO_HOOKS) -> Path:
    """Save as A1111 does and return the file's path.

    * Folder: `folder/<dir_pattern>` when `save_to_dirs` (an empty dir_pattern means `[prompt_words]`).
    * Name: `NNNNN-<pattern>.<fmt>` (or `<basename>-NNNN-...` e.g. for grids). `pattern` empty means `[seed]`
      with save_to_dirs, else `[seed]-[prompt_spaces]`; with `short_filename` or no seed there is no
      pattern part. Numbers are forced when the pattern part is empty.
    * The next number is one past the largest in the folder; a number taken meanwhile (another process)
      is skipped, so a numbered save never overwrites. Without numbers, `replace_action` "Replace"
      (A1111 option save_images_replace_action) overwrites and "Add number suffix" writes `name-1.ext`.
    * The file appears atomically (hidden temp file, fsync, then link/rename); no temp file is left.
    * JPEG beyond 65535 px or WebP beyond 16383 px is saved as PNG (those formats cannot hold it).
    * `save_txt` writes the infotext to `<same name>.txt` (A1111 option save_txt).
    * `hooks`' before_image_saved callbacks (the extensions') may change the image, the text chunks or
      the file name (`p` is passed to them); image_saved callbacks see the final file.
    """
    folder = Path(folder)
    fmt = fmt.lower()
    too_big_jpeg = fmt in ("jpg", "jpeg") and max(image.size) > 65535
    too_big_webp = fmt == "webp" and max(image.size) > 16383
    if too_big_jpeg or too_big_webp:
        logger.warning("image of %dx%d is too large for %s; saving as PNG", image.width, image.height, fmt)
        fmt = "png"

    gen = filenames.FilenameGenerator(values, max_length=max_length, unix_only=unix_only, max_prompt_words=max_prompt_words)
    if save_to_dirs:
        dirname = gen.apply(dir_pattern or "[prompt_words]").lstrip(" ").rstrip("\\ /")
        folder = folder / _safe_dir(dirname)
    folder.mkdir(parents=True, exist_ok=True)

    seps = r"[/\0]" if unix_only else r"[\\/\0]"  # "\\" is an ordinary character on Unix file systems
    if forced_filename is None:
        if short_filename or values.get("seed") is None:
            decoration = ""
        else:
            decoration = pattern or ("[seed]" if save_to_dirs else "[seed]-[prompt_spaces]")
        # literal separators in the pattern would point outside this folder; token values are already clean
        decoration = re.sub(seps, "_", gen.apply(decoration) + suffix)
        numbered = add_number or decoration == ""
        if decoration and numbered:
            decoration = f"-{decoration}"
    else:
        numbered, decoration = False, re.sub(seps, "_", forced_filename)

    ext = f".{fmt}"
    # the whole name must fit the file system's limit (A1111 cuts the name, keeping the extension)
    # (the 8 spare characters leave room for more digits and an "-N" suffix)
    room = _name_max(folder) - max(4, len(ext)) - (len(basename) + 6 if numbered else 0) - 8
    decoration = decoration[:max(room, 0)]

    forced_path = None
    hooked = hooks.has("before_image_saved") or hooks.has("image_saved")
    if hooked:
        planned = folder / (f"{_planned_stem(folder, basename)}{decoration}{ext}" if numbered else f"{decoration}{ext}")
        params = ImageSaveParams(image, p, str(planned), {**(existing_pnginfo or {}), "parameters": infotext})
        hooks.call("before_image_saved", params)
        image = params.image
        chunks = dict(params.pnginfo or {})
        infotext = chunks.pop("parameters", None)
        existing_pnginfo = chunks
        if params.filename != str(planned):
            forced_path = Path(params.filename)
            forced_path.parent.mkdir(parents=True, exist_ok=True)

    data = metadata.encode_image(image, fmt, infotext=infotext, jpeg_quality=jpeg_quality, webp_lossless=webp_lossless,
                        existing_pnginfo=existing_pnginfo)
    tmp = _write_temp(forced_path.parent if forced_path else folder, data)
    try:
        if forced_path is not None:
            path = forced_path
            os.replace(tmp, path)
        elif numbered:
            number = next_sequence_number(folder, basename)
            for _ in range(100_000):
                stem = f"{number:05}" if basename == "" else f"{basename}-{number:04}"
                path = folder / f"{stem}{decoration}{ext}"
                if _claim(tmp, path):
                    break
                number += 1  # taken meanwhile by another writer: never overwrite it
            else:
                raise FileExistsError(f"no free file number in {folder}")
        else:
            path = folder / f"{decoration}{ext}"
            if replace_action == "Replace":
                os.replace(tmp, path)
            else:
                n = 0
                while not _claim(tmp, path):
                    n += 1
                    path = folder / f"{decoration}-{n}{ext}"
    finally:
        _unlink(tmp)  # after a link the temp name is a second name for the same file; after a rename it is gone

    if save_txt and infotext is not None:
        atomic_write_text(path.with_suffix(".txt"), f"{infotext}\n")
    logger.debug("saved %s", path)
    if hooked:
        params.image, params.filename = image, str(path)
        hooks.call("image_saved", params)
    return path


def _planned_stem(folder: Path, basename: str) -> str:
    number = next_sequence_number(folder, basename)
    return f"{number:05}" if basename == "" else f"{basename}-{number:04}"


def save_grid(grid: Image.Image, folder: Path, *, values: dict[str, Any], infotext: str | None,
              fmt: str = "png", save_to_dirs: bool = True, dir_pattern: str = "[date]",
              extended_filename: bool = False, pattern: str = "", hooks: Hooks = NO_HOOKS, **kwargs: Any) -> Path:
    """Save a grid as A1111 does: `grid-NNNN.<fmt>`, or `grid-NNNN-<pattern>` with `extended_filename`
    (option grid_extended_filename). `save_to_dirs` is A1111's grid_save_to_dirs."""
    return write_image(grid, folder, values=values, infotext=infotext, fmt=fmt, pattern=pattern,
                      save_to_dirs=save_to_dirs, dir_pattern=dir_pattern, basename="grid",
                      short_filename=not extended_filename, hooks=hooks, **kwargs)
