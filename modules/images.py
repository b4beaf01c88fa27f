"""Encoding images with their infotext, and saving them to the output folders as A1111 names them."""
from __future__ import annotations

import base64
import datetime
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from modules.atomic_write import atomic_write_bytes

logger = logging.getLogger(__name__)

_USER_COMMENT = 0x9286  # EXIF UserComment, where A1111 puts the infotext of JPEG/WebP files
_INVALID_FILENAME_CHARS = '#<>:"/\\|?*\n\r\t'


def _exif_with_comment(text: str) -> bytes:
    exif = Image.Exif()
    exif[_USER_COMMENT] = b"UNICODE\0" + text.encode("utf-16-be")
    return exif.tobytes()


def encode_image(image: Image.Image, fmt: str = "png", *, infotext: str | None = None,
                 jpeg_quality: int = 80, webp_lossless: bool = False) -> bytes:
    """Image bytes with the infotext in the PNG `parameters` chunk or the EXIF UserComment."""
    fmt = fmt.lower()
    buf = io.BytesIO()
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        if infotext:
            info.add_itxt("parameters", infotext) if not _latin1(infotext) else info.add_text("parameters", infotext)
        image.save(buf, format="PNG", pnginfo=info)
    elif fmt in ("jpg", "jpeg"):
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        kwargs: dict[str, Any] = {"quality": jpeg_quality}
        if infotext:
            kwargs["exif"] = _exif_with_comment(infotext)
        rgb.save(buf, format="JPEG", **kwargs)
    elif fmt in ("webp", "avif"):
        kwargs = {"quality": jpeg_quality}
        if fmt == "webp":
            kwargs["lossless"] = webp_lossless
        if infotext:
            kwargs["exif"] = _exif_with_comment(infotext)
        image.save(buf, format=fmt.upper(), **kwargs)
    else:
        raise ValueError(f"unsupported image format {fmt!r}; use png, jpg, webp or avif")
    return buf.getvalue()


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
        return True
    except UnicodeEncodeError:
        return False


def encode_b64(image: Image.Image, fmt: str = "png", **kwargs: Any) -> str:
    return base64.b64encode(encode_image(image, fmt, **kwargs)).decode("ascii")


def read_infotext(image: Image.Image) -> str | None:
    """The `parameters` text of a PNG, or the EXIF UserComment of a JPEG/WebP."""
    text = image.info.get("parameters")
    if text:
        return text
    raw = image.getexif().get(_USER_COMMENT) if hasattr(image, "getexif") else None
    if isinstance(raw, bytes):
        if raw.startswith(b"UNICODE\0"):
            return raw[8:].decode("utf-16-be", errors="replace")
        return raw.split(b"\0", 1)[-1].decode("utf-8", errors="replace")
    return raw if isinstance(raw, str) else None


def sanitize_filename_part(text: str, max_length: int = 128, unix_only: bool = False) -> str:
    chars = "/" if unix_only else _INVALID_FILENAME_CHARS
    text = text.translate({ord(c): "_" for c in chars}).strip()
    return text[:max_length].rstrip(". ")


class FilenameGenerator:
    """The subset of A1111's filename pattern tokens that the current features define."""

    def __init__(self, values: dict[str, Any], *, max_length: int = 128):
        self.values = values
        self.max_length = max_length

    def apply(self, pattern: str) -> str:
        def repl(m: re.Match) -> str:
            key = m.group(1).lower()
            arg = m.group(2)
            now = datetime.datetime.now()
            if key == "date":
                return now.strftime("%Y-%m-%d")
            if key == "datetime":
                return now.strftime(arg or "%Y%m%d%H%M%S")
            if key == "none":
                return ""
            if key in ("prompt", "prompt_spaces"):
                return sanitize_filename_part(str(self.values.get("prompt", "")), self.max_length)
            if key == "prompt_words":
                words = re.findall(r"\w+", str(self.values.get("prompt", "")))[:8]
                return sanitize_filename_part(" ".join(words), self.max_length)
            if key in self.values and self.values[key] is not None:
                return sanitize_filename_part(str(self.values[key]), self.max_length)
            return m.group(0)

        out = re.sub(r"\[(\w+)(?:<([^>]*)>)?\]", repl, pattern)
        return sanitize_filename_part(out, self.max_length).strip() if "/" not in out else out


def _next_number(folder: Path) -> int:
    best = -1
    if folder.is_dir():
        for name in os.listdir(folder):
            m = re.match(r"^(\d+)-", name)
            if m:
                best = max(best, int(m.group(1)))
    return best + 1


def save_image(image: Image.Image, folder: Path, *, values: dict[str, Any], infotext: str | None,
               fmt: str = "png", pattern: str = "", save_to_dirs: bool = True, dir_pattern: str = "[date]",
               add_number: bool = True, jpeg_quality: int = 80, webp_lossless: bool = False,
               max_length: int = 128) -> Path:
    """Write `NNNNN-<pattern>.<ext>` atomically (temp file, then rename) and return its path."""
    gen = FilenameGenerator(values, max_length=max_length)
    if save_to_dirs:
        folder = folder / gen.apply(dir_pattern)
    folder.mkdir(parents=True, exist_ok=True)
    stem = gen.apply(pattern or ("[seed]" if save_to_dirs else "[seed]-[prompt_spaces]"))
    data = encode_image(image, fmt, infotext=infotext, jpeg_quality=jpeg_quality, webp_lossless=webp_lossless)
    ext = "jpg" if fmt == "jpeg" else fmt
    number = _next_number(folder) if add_number else None
    while True:
        path = folder / (f"{number:05}-{stem}.{ext}" if number is not None else f"{stem}.{ext}")
        if number is None or not path.exists():
            break
        number += 1  # a file with this number appeared meanwhile (another writer); never overwrite it
    atomic_write_bytes(path, data)
    return path
