"""Image bytes with their infotext, and the infotext read back from an image file, where A1111
puts it (``modules/images.py`` there: ``save_image_with_geninfo``, ``read_info_from_image``), so
either program reads the other's files:

* PNG: text chunk ``parameters`` (``tEXt``, or ``iTXt`` when the text is not Latin-1).
* JPEG / WebP / AVIF: EXIF ``UserComment`` in the Exif sub-IFD, ``b"UNICODE\\0"`` + UTF-16 big-endian
  (what piexif's ``UserComment.dump(..., encoding="unicode")`` writes). Little-endian UTF-16 written by
  other tools is detected when reading.
* GIF: the ``comment`` extension (UTF-8).
"""
from __future__ import annotations

import base64
import io
import json
import logging
import numbers
from typing import Any

from PIL import Image, PngImagePlugin

logger = logging.getLogger(__name__)

_EXIF_IFD = 0x8769  # pointer to the Exif sub-IFD, where UserComment belongs (piexif's "Exif" dict)
_USER_COMMENT = 0x9286  # EXIF UserComment, where A1111 puts the infotext of JPEG/WebP/AVIF files
_UC_UNICODE, _UC_ASCII, _UC_JIS = b"UNICODE\0", b"ASCII\0\0\0", b"JIS\0\0\0\0\0"
_JPEG_MAX_EXIF = 65533 - 2  # an APP1 segment holds at most 65533 bytes after its length field

# image.info keys that /png-info leaves out of `items` (A1111's IGNORED_INFO_KEYS): container details, not metadata
IGNORED_INFO_KEYS = {
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "exif", "loop", "background", "timestamp",
    "duration", "progressive", "progression", "icc_profile", "chromaticity", "photoshop",
}

# NovelAI writes k-diffusion style sampler names; A1111 maps them through its lower-cased names/aliases
_NOVELAI_SAMPLERS = {
    "k_dpmpp_2m": "DPM++ 2M", "k_dpmpp_sde": "DPM++ SDE", "k_dpmpp_2m_sde": "DPM++ 2M SDE",
    "k_dpmpp_2m_sde_heun": "DPM++ 2M SDE Heun", "k_dpmpp_2s_a": "DPM++ 2S a", "k_dpmpp_3m_sde": "DPM++ 3M SDE",
    "k_euler_a": "Euler a", "k_euler_ancestral": "Euler a", "k_euler": "Euler", "k_lms": "LMS", "k_heun": "Heun",
    "k_dpm_2": "DPM2", "k_dpm_2_a": "DPM2 a", "k_dpm_fast": "DPM fast", "k_dpm_ad": "DPM adaptive",
    "restart": "Restart", "ddim": "DDIM", "ddim_cfgpp": "DDIM CFG++", "plms": "PLMS", "unipc": "UniPC", "k_lcm": "LCM",
}



# ------------------------------------------------------------------------------------------------
# Encoding
# ------------------------------------------------------------------------------------------------
def user_comment_bytes(text: str) -> bytes:
    """EXIF UserComment value for `text`, byte-identical to piexif's UserComment.dump(text, "unicode")."""
    return _UC_UNICODE + text.encode("utf-16-be", errors="replace")


def _exif_with_comment(text: str) -> bytes:
    exif = Image.Exif()
    # In the Exif sub-IFD, not IFD0: piexif (A1111's reader) only looks there.
    exif.get_ifd(_EXIF_IFD)[_USER_COMMENT] = user_comment_bytes(text)
    return exif.tobytes()


def _to_rgb_for_lossy(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG/WebP drop alpha and 16-bit greyscale as A1111 does before saving them."""
    if image.mode == "RGBA":
        return image.convert("RGB")
    if image.mode == "I;16":
        return image.point(lambda p: p * 0.0038910505836576).convert("RGB" if fmt == "webp" else "L")
    if fmt == "jpeg" and image.mode not in ("RGB", "L", "CMYK"):
        return image.convert("RGB")
    return image


def encode_image(image: Image.Image, fmt: str = "png", *, infotext: str | None = None,
                 jpeg_quality: int = 80, webp_lossless: bool = False,
                 existing_pnginfo: dict[str, Any] | None = None) -> bytes:
    """Image bytes with the infotext where A1111 puts it (see the module docstring).

    `existing_pnginfo` are further PNG text chunks (A1111 keeps e.g. extension metadata); ignored for
    other formats. A JPEG whose infotext does not fit in one EXIF segment (~32k characters) is written
    without it, with a warning: A1111 fails to save such a file at all.
    """
    fmt = fmt.lower()
    buf = io.BytesIO()
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        chunks = dict(existing_pnginfo or {})
        if infotext is not None:
            chunks["parameters"] = infotext
        for k, v in chunks.items():
            info.add_text(k, str(v))  # Pillow falls back to iTXt (UTF-8) for text that is not Latin-1
        image.save(buf, format="PNG", pnginfo=info if chunks else None)
    elif fmt in ("jpg", "jpeg"):
        kwargs: dict[str, Any] = {"quality": jpeg_quality}
        if infotext is not None:
            exif = _exif_with_comment(infotext)
            if len(exif) <= _JPEG_MAX_EXIF:
                kwargs["exif"] = exif
            else:
                logger.warning("infotext of %d characters is too long for JPEG EXIF; saving the image without it",
                               len(infotext))
        _to_rgb_for_lossy(image, "jpeg").save(buf, format="JPEG", **kwargs)
    elif fmt == "webp":
        kwargs = {"quality": jpeg_quality, "lossless": webp_lossless}
        if infotext is not None:
            kwargs["exif"] = _exif_with_comment(infotext)
        _to_rgb_for_lossy(image, "webp").save(buf, format="WEBP", **kwargs)
    elif fmt == "avif":
        kwargs = {"quality": jpeg_quality}
        if infotext is not None:
            kwargs["exif"] = _exif_with_comment(infotext)
        image.save(buf, format="AVIF", **kwargs)
    elif fmt == "gif":
        kwargs = {"comment": infotext} if infotext else {}
        image.save(buf, format="GIF", **kwargs)
    else:
        raise ValueError(f"unsupported image format {fmt!r}; use png, jpg, webp, avif or gif")
    return buf.getvalue()


def encode_b64(image: Image.Image, fmt: str = "png", **kwargs: Any) -> str:
    return base64.b64encode(encode_image(image, fmt, **kwargs)).decode("ascii")


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
def _utf16_is_little_endian(body: bytes) -> bool:
    """Guess the byte order of UTF-16 without BOM: text is mostly ASCII, whose high byte is zero,
    so zeros at odd offsets mean little-endian. Ties (e.g. all CJK) go to big-endian, piexif's order."""
    even = body[0::2].count(0)
    odd = body[1::2].count(0)
    return odd > even


def decode_user_comment(raw: bytes | str | None) -> str:
    """Text of an EXIF UserComment: the 8-byte charset header, then the text (piexif's UserComment.load,
    plus UTF-16LE / BOM detection). Without a known header the bytes are read as UTF-8, as A1111 does."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    prefix, body = raw[:8], raw[8:]
    if len(raw) >= 8 and prefix == _UC_UNICODE:
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            enc = "utf-16-be" if body[:2] == b"\xfe\xff" else "utf-16-le"
            body = body[2:]
        else:
            enc = "utf-16-le" if _utf16_is_little_endian(body) else "utf-16-be"
        if len(body) % 2:
            body = body[:-1]
        return body.decode(enc, errors="replace")
    if len(raw) >= 8 and prefix == _UC_ASCII:
        return body.decode("ascii", errors="replace")
    if len(raw) >= 8 and prefix == _UC_JIS:
        return body.decode("shift_jis", errors="replace")
    # undefined/unknown header: A1111 falls back to decoding everything as UTF-8; the NUL padding of
    # an "undefined" header is noise, not text
    return raw.decode("utf-8", errors="ignore").strip("\0")


def _exif_comment(exif: Image.Exif) -> str:
    raw = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    if raw is None:
        raw = exif.get(_USER_COMMENT)  # files from earlier versions of this project put it in IFD0
    return decode_user_comment(raw)


def _json_safe(value: Any) -> Any:
    """A JSON-safe copy of an image.info value, or `_DROP` for binary data with no text meaning."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)  # iTXt is a str subclass carrying language tags; keep just the text
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return _DROP
        # A1111's FastAPI decodes bytes to str; binary blobs (XMP packets excepted) would crash it
        if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
            return _DROP
        return text
    if isinstance(value, numbers.Real):  # e.g. TIFF IFDRational
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_json_safe(v) for v in value]
        return _DROP if any(v is _DROP for v in items) else items
    if isinstance(value, dict):
        out = {str(k): _json_safe(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    return _DROP


_DROP = object()


def read_info(image: Image.Image) -> tuple[str | None, dict[str, Any]]:
    """(infotext or None, the other image.info items) like A1111's read_info_from_image.

    The infotext comes from PNG `parameters`, else a non-empty EXIF UserComment (which wins over
    `parameters` when both exist, as in A1111), else a GIF `comment`. NovelAI PNGs are converted to an
    A1111 infotext. `items` are JSON-safe for /png-info: container details (IGNORED_INFO_KEYS) and
    binary blobs are left out.
    """
    items = dict(image.info or {})
    geninfo = items.pop("parameters", None)
    if geninfo is not None:
        geninfo = str(geninfo)
    if "exif" in items:
        raw = items.pop("exif")
        comment = ""
        try:
            exif = Image.Exif()
            exif.load(raw)
            comment = _exif_comment(exif)
        except Exception as e:  # broken EXIF must not break /png-info
            logger.debug("unreadable EXIF: %s", e)
        if comment:
            geninfo = comment
    elif "comment" in items:  # GIF; A1111 leaves `comment` in items too
        c = items["comment"]
        geninfo = c.decode("utf-8", errors="ignore") if isinstance(c, bytes) else str(c)
    elif geninfo is None and hasattr(image, "getexif"):
        # EXIF that Pillow only exposes through getexif() (e.g. a PNG eXIf chunk after the image data)
        try:
            geninfo = _exif_comment(image.getexif()) or None
        except Exception:
            geninfo = None

    for key in IGNORED_INFO_KEYS:
        items.pop(key, None)

    if items.get("Software") == "NovelAI":
        try:
            meta = json.loads(items["Comment"])
            sampler = _NOVELAI_SAMPLERS.get(str(meta["sampler"]).lower(), "Euler a")
            geninfo = (f"{items['Description']}\nNegative prompt: {meta['uc']}\n"
                       f"Steps: {meta['steps']}, Sampler: {sampler}, CFG scale: {meta['scale']}, "
                       f"Seed: {meta['seed']}, Size: {image.width}x{image.height}, Clip skip: 2, ENSD: 31337")
        except Exception:
            logger.warning("could not parse NovelAI generation parameters", exc_info=True)

    safe = {str(k): _json_safe(v) for k, v in items.items()}
    return geninfo, {k: v for k, v in safe.items() if v is not _DROP}


def read_infotext(image: Image.Image) -> str | None:
    """The infotext of an image (PNG `parameters`, EXIF UserComment, or GIF comment); None if it has none."""
    return read_info(image)[0]

