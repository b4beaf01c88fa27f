"""Encoding images with their infotext, reading it back, grids, and saving images to the output folders
the way A1111 names them (``modules/images.py`` there: ``save_image``, ``FilenameGenerator``, ``image_grid``).

Where the infotext lives (as A1111 writes it, so either program reads the other's files):

* PNG: text chunk ``parameters`` (``tEXt``, or ``iTXt`` when the text is not Latin-1).
* JPEG / WebP / AVIF: EXIF ``UserComment`` in the Exif sub-IFD, ``b"UNICODE\\0"`` + UTF-16 big-endian
  (what piexif's ``UserComment.dump(..., encoding="unicode")`` writes). Little-endian UTF-16 written by
  other tools is detected when reading.
* GIF: the ``comment`` extension (UTF-8).
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import logging
import math
import numbers
import os
import re
import string
import tempfile
from pathlib import Path
from typing import Any, Callable

from PIL import Image, ImageColor, PngImagePlugin

from sdwebui.engine.atomic_write import atomic_write_text
from sdwebui.engine.hooks import NO_HOOKS, Hooks, ImageGridLoopParams, ImageSaveParams

logger = logging.getLogger(__name__)

_EXIF_IFD = 0x8769  # pointer to the Exif sub-IFD, where UserComment belongs (piexif's "Exif" dict)
_USER_COMMENT = 0x9286  # EXIF UserComment, where A1111 puts the infotext of JPEG/WebP/AVIF files
_UC_UNICODE, _UC_ASCII, _UC_JIS = b"UNICODE\0", b"ASCII\0\0\0", b"JIS\0\0\0\0\0"
_INVALID_FILENAME_CHARS = '#<>:"/\\|?*\n\r\t'
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

# the scheduler a sampler uses under "Automatic" (A1111 sampler option `scheduler`), for [scheduler] tokens
_SAMPLER_DEFAULT_SCHEDULER = {
    "DPM++ 2M": "karras", "DPM++ SDE": "karras", "DPM++ 2M SDE": "exponential", "DPM++ 2M SDE Heun": "exponential",
    "DPM++ 2S a": "karras", "DPM++ 3M SDE": "exponential", "DPM2": "karras", "DPM2 a": "karras", "Restart": "karras",
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


# ------------------------------------------------------------------------------------------------
# File names
# ------------------------------------------------------------------------------------------------
def sanitize_filename_part(text: str | None, max_length: int = 128, unix_only: bool = False, *,
                           replace_spaces: bool = True) -> str | None:
    """A1111's sanitize_filename_part: spaces -> `_` (unless `replace_spaces` is False), each of
    ``#<>:"/\\|?*`` and CR/LF/TAB -> `_` (only `/` with `unix_only`, i.e. --unix-filenames-sanitization),
    leading spaces removed, cut to `max_length`, then trailing spaces and dots removed (Windows drops them)."""
    if text is None:
        return None
    text = str(text)
    if replace_spaces:
        text = text.replace(" ", "_")
    chars = "/" if unix_only else _INVALID_FILENAME_CHARS
    text = text.translate({ord(c): "_" for c in chars})
    text = text.lstrip(" ")[:max_length]
    return text.rstrip(" .")


class _Skip:
    """A token value meaning "write nothing, and drop the literal text before the token too"
    (A1111's NOTHING_AND_SKIP_PREVIOUS_TEXT), so `[seed]-[seed_last]` reads `123` for one image."""


SKIP = _Skip()
_PATTERN_RE = re.compile(r"(.*?)(?:\[([^\[\]]+)\]|$)")
_PATTERN_ARG_RE = re.compile(r"(.*)<([^>]*)>$")
_NONLETTERS_RE = re.compile(r"[\s" + re.escape(string.punctuation) + r"]+")


class FilenameGenerator:
    """A1111's file name pattern tokens, filled from `values`.

    Keys read from `values` (all optional; a token whose value is missing stays in the name as
    `[token]`, like A1111 does for tokens it cannot fill):

    ``seed``, ``all_seeds`` (list), ``prompt`` (this image's prompt), ``negative_prompt``, ``styles``
    (list of style names), ``style_prompts`` (their prompt texts, for [prompt_no_styles]), ``steps``,
    ``cfg`` (cfg_scale, written with str(): 7.0 -> "7.0"), ``width``/``height`` (used only when no
    ``image`` is given; A1111 uses the image size), ``sampler``, ``scheduler`` (label; "Automatic"
    resolves to the sampler's default), ``model_hash``, ``model_name`` (checkpoint file stem, A1111's
    name_for_extra), ``job_timestamp``, ``batch_number`` (1-based index in the batch), ``batch_size``,
    ``n_iter``, ``generation_number`` (1-based index in the job), ``clip_skip``, ``denoising``,
    ``user``, ``vae_filename`` (path or file name of the loaded VAE; None -> "NoneType"),
    ``basename``, ``image`` (PIL image, for [width] [height] [image_hash]).
    """

    default_time_format = "%Y%m%d%H%M%S"

    def __init__(self, values: dict[str, Any], *, max_length: int = 128, unix_only: bool = False,
                 max_prompt_words: int = 8, now: Callable[[], datetime.datetime] | None = None):
        self.values = values
        self.max_length = max_length
        self.unix_only = unix_only
        self.max_prompt_words = max_prompt_words  # A1111 option directories_max_prompt_words
        self._now = now or datetime.datetime.now  # injectable for tests
        self.replacements: dict[str, Callable[..., Any]] = {
            "basename": lambda: self.values.get("basename") or "img",
            "seed": lambda: self._get("seed", ""),
            "seed_first": lambda: self._get("seed") if self._batch_size == 1 else self._seeds()[0],
            "seed_last": lambda: SKIP if self._batch_size == 1 else self._seeds()[-1],
            "steps": lambda: self._get("steps"),
            "cfg": lambda: self._get("cfg"),
            "width": lambda: self._image.width if self._image is not None else self._get("width"),
            "height": lambda: self._image.height if self._image is not None else self._get("height"),
            "styles": self._styles,
            "sampler": lambda: self._clean(self._get("sampler"), spaces=False),
            "sampler_scheduler": lambda: self._sampler_scheduler(True),
            "scheduler": lambda: self._sampler_scheduler(False),
            "model_hash": lambda: self._clean(self._get("model_hash"), spaces=False),
            "model_name": lambda: self._clean(self._get("model_name"), spaces=False),
            "date": lambda: self._now().strftime("%Y-%m-%d"),
            "datetime": self._datetime,
            "job_timestamp": lambda: self._clean(self._get("job_timestamp"), spaces=False),
            "prompt_hash": lambda *a: self._string_hash(self._prompt, *a),
            "negative_prompt_hash": lambda *a: self._string_hash(self._get("negative_prompt", ""), *a),
            # a space between the two so "ab"+"" and "a"+"b" differ
            "full_prompt_hash": lambda *a: self._string_hash(f"{self._prompt} {self._get('negative_prompt', '')}", *a),
            "prompt": lambda: self._clean(self._prompt),
            "prompt_no_styles": self._prompt_no_styles,
            "prompt_spaces": lambda: self._clean(self._prompt, spaces=False),
            "prompt_words": self._prompt_words,
            "batch_number": lambda: SKIP if self._batch_size == 1 else self._get("batch_number", SKIP),
            "batch_size": lambda: self._batch_size,
            "generation_number": lambda: (SKIP if self._n_iter == 1 and self._batch_size == 1
                                          else self._get("generation_number", SKIP)),
            "hasprompt": self._hasprompt,
            "clip_skip": lambda: self._get("clip_skip"),
            "denoising": lambda: self._get("denoising") or SKIP,
            # A1111 writes the user name raw; a name with "/" would then make folders, so clean it
            "user": lambda: self._clean(self._get("user"), spaces=False),
            "vae_filename": self._vae_filename,
            "none": lambda: "",  # an empty file decoration: just the sequence number
            "image_hash": self._image_hash,
        }

    # -- helpers ---------------------------------------------------------------------------------
    def _get(self, key: str, default: Any = None) -> Any:
        v = self.values.get(key)
        return default if v is None else v

    @property
    def _prompt(self) -> str:
        return str(self._get("prompt", ""))

    @property
    def _image(self) -> Image.Image | None:
        return self.values.get("image")

    @property
    def _batch_size(self) -> int:
        return int(self._get("batch_size", 1))

    @property
    def _n_iter(self) -> int:
        return int(self._get("n_iter", 1))

    def _seeds(self) -> list[Any]:
        return list(self._get("all_seeds") or [self._get("seed")])

    def _clean(self, text: Any, *, spaces: bool = True) -> str | None:
        if text is None:
            return None
        return sanitize_filename_part(str(text), self.max_length, self.unix_only, replace_spaces=spaces)

    def _styles(self) -> str | None:
        styles = [s for s in (self._get("styles") or []) if s != "None"]
        return self._clean(", ".join(styles) or "None", spaces=False)

    def _sampler_scheduler(self, with_sampler: bool) -> Any:
        sampler = self._get("sampler")
        if sampler is None:
            return SKIP
        scheduler = str(self._get("scheduler", "Automatic"))
        if scheduler == "Automatic":
            scheduler = _SAMPLER_DEFAULT_SCHEDULER.get(str(sampler), "Automatic")
        scheduler = scheduler.capitalize()  # A1111 writes "Karras", "Sgm uniform"
        return self._clean(f"{sampler} {scheduler}" if with_sampler else scheduler, spaces=False)

    def _datetime(self, *args: str) -> str | None:
        fmt = args[0] if args and args[0] != "" else self.default_time_format
        tz = None
        if len(args) > 1:
            try:
                from zoneinfo import ZoneInfo

                tz = ZoneInfo(args[1])
            except Exception:  # unknown zone: local time, as A1111 does
                tz = None
        now = self._now().astimezone(tz)
        try:
            text = now.strftime(fmt)
        except (ValueError, TypeError):
            text = now.strftime(self.default_time_format)
        return self._clean(text, spaces=False)

    @staticmethod
    def _string_hash(text: str, *args: str) -> str:
        length = int(args[0]) if args and args[0] != "" else 8
        return hashlib.sha256(text.encode()).hexdigest()[0:length]

    def _image_hash(self, *args: str) -> str | None:
        if self._image is None:
            return None
        length = int(args[0]) if args and args[0] != "" else None  # default: the full hash
        return hashlib.sha256(self._image.tobytes()).hexdigest()[0:length]

    def _prompt_no_styles(self) -> str | None:
        prompt = self._prompt
        for style in self._get("style_prompts") or []:
            if style:
                for part in str(style).split("{prompt}"):
                    prompt = prompt.replace(part, "").replace(", ,", ",").strip().strip(",")
                prompt = prompt.replace(str(style), "").strip().strip(",").strip()
        return self._clean(prompt, spaces=False)

    def _prompt_words(self) -> str | None:
        words = [w for w in _NONLETTERS_RE.split(self._prompt) if w] or ["empty"]
        return self._clean(" ".join(words[0:self.max_prompt_words]), spaces=False)

    def _hasprompt(self, *args: str) -> str | None:
        """[hasprompt<cat|nocat><dog>]: each argument `text|default` adds `text` (lower-cased) when the
        prompt contains it, else `default`."""
        lower = self._prompt.lower()
        out = ""
        for arg in args:
            if arg != "":
                expected, _, default = arg.partition("|")
                expected = expected.lower()
                if lower.find(expected) >= 0:
                    out += expected
                elif default:
                    out += default
        return self._clean(out)

    def _vae_filename(self) -> str:
        vae = self._get("vae_filename")
        if vae is None:
            return "NoneType"  # A1111 writes str(None)'s type name when no separate VAE is loaded
        parts = os.path.basename(str(vae)).split(".")
        # the part before the first dot; for ".hidden.pt" files the part after it
        return parts[1] if len(parts) > 1 and parts[0] == "" else parts[0]

    # -- main ------------------------------------------------------------------------------------
    def apply(self, pattern: str) -> str:
        """`pattern` with its tokens replaced. Literal text is kept as written; token values are sanitised
        where A1111 sanitises them. Unknown tokens, and tokens that cannot be filled, stay as `[token]`."""
        res = ""
        for m in _PATTERN_RE.finditer(pattern):
            text, token = m.groups()
            if token is None:
                res += text
                continue
            args: list[str] = []
            while True:  # `name<a><b>` -> name, [a, b]
                am = _PATTERN_ARG_RE.match(token)
                if am is None:
                    break
                token, arg = am.groups()
                args.insert(0, arg)
            fun = self.replacements.get(token.lower())
            if fun is not None:
                try:
                    value = fun(*args)
                except Exception:
                    logger.warning("could not fill [%s] in a file name", token, exc_info=True)
                    value = None
                if value is SKIP:
                    continue
                if value is not None:
                    res += text + str(value)
                    continue
            res += f"{text}[{token}]"
        return res


# ------------------------------------------------------------------------------------------------
# Grids
# ------------------------------------------------------------------------------------------------
def grid_rows(count: int, batch_size: int = 1, n_rows: int = -1, prevent_empty_spots: bool = False) -> int:
    """A1111's row count for a grid of `count` images (option n_rows): >0 fixed, 0 = batch_size,
    -1 = round(sqrt(count)) (Python rounding), or the largest divisor <= sqrt with prevent_empty_spots."""
    if n_rows > 0:
        rows = n_rows
    elif n_rows == 0:
        rows = batch_size
    elif prevent_empty_spots:
        rows = math.floor(math.sqrt(count))
        while count % rows != 0:
            rows -= 1
    else:
        rows = round(math.sqrt(count))
    return max(1, min(rows, count))


def image_grid(imgs: list[Image.Image], rows: int | None = None, batch_size: int = 1, n_rows: int = -1, *,
               prevent_empty_spots: bool = False, background: str = "#ffffff", hooks: Hooks = NO_HOOKS) -> Image.Image:
    """Images laid out row by row in cells the size of the largest image; smaller images are centred.
    `rows` None uses A1111's rule (:func:`grid_rows`); columns = ceil(count / rows). `hooks`' image_grid
    callbacks may change the images and the layout."""
    if not imgs:
        raise ValueError("image_grid needs at least one image")
    if rows is None:
        rows = grid_rows(len(imgs), batch_size, n_rows, prevent_empty_spots)
    rows = max(1, min(rows, len(imgs)))
    cols = math.ceil(len(imgs) / rows)
    if hooks.has("image_grid"):     # extensions may change the layout (A1111's image_grid callback)
        params = ImageGridLoopParams(imgs, cols, rows)
        hooks.call("image_grid", params)
        imgs, cols, rows = params.imgs, max(1, int(params.cols)), max(1, int(params.rows))
    w, h = map(max, zip(*(img.size for img in imgs)))
    grid = Image.new("RGB", size=(cols * w, rows * h), color=ImageColor.getcolor(background, "RGB"))
    for i, img in enumerate(imgs):
        img_w, img_h = img.size
        grid.paste(img, box=(i % cols * w + (w - img_w) // 2, i // cols * h + (h - img_h) // 2))
    return grid


# ------------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------------
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

    gen = FilenameGenerator(values, max_length=max_length, unix_only=unix_only, max_prompt_words=max_prompt_words)
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

    data = encode_image(image, fmt, infotext=infotext, jpeg_quality=jpeg_quality, webp_lossless=webp_lossless,
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


def save_image(image: Image.Image, path: str | Path, basename: str = "", seed: Any = None, prompt: str | None = None,
               extension: str = "png", info: str | None = None, short_filename: bool = False, no_prompt: bool = False,
               grid: bool = False, pnginfo_section_name: str = "parameters", p: Any = None,
               existing_info: dict | None = None, forced_filename: str | None = None, suffix: str = "",
               save_to_dirs: bool | None = None) -> tuple[str, str | None]:
    """A1111's `modules.images.save_image`, as extensions call it: the file name comes from the
    options (`samples_filename_pattern`, `save_to_dirs`, ...) and `p`'s values; returns
    (file path, txt path or None)."""
    from sdwebui.services import runtime as shared
    from sdwebui.services.extensions import callbacks

    opts = shared.opts
    if p is not None:
        from sdwebui.engine.processing.txt2img import save_values

        values = save_values(p, 0, image)
    else:
        values = {}
    if seed is not None:
        values["seed"] = seed
    if prompt is not None:
        values["prompt"] = prompt
    values.setdefault("image", image)
    if save_to_dirs is None:
        save_to_dirs = (grid and opts.grid_save_to_dirs) or (not grid and opts.save_to_dirs and not no_prompt)
    pattern = "" if no_prompt and not grid else (opts.samples_filename_pattern or "")
    chunks = dict(existing_info or {})
    if info is not None and pnginfo_section_name != "parameters":
        chunks[pnginfo_section_name] = info
        info = None
    saved = write_image(
        image, Path(path), values=values, infotext=info, fmt=extension, pattern=pattern, save_to_dirs=save_to_dirs,
        dir_pattern=opts.directories_filename_pattern, add_number=opts.save_images_add_number, basename=basename,
        short_filename=short_filename or grid and not opts.grid_extended_filename, forced_filename=forced_filename,
        suffix=suffix, jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless, save_txt=opts.save_txt,
        max_length=getattr(shared.cmd_opts, "filenames_max_length", 128),
        unix_only=bool(getattr(shared.cmd_opts, "unix_filenames_sanitization", False)),
        max_prompt_words=int(opts.directories_max_prompt_words), replace_action=opts.save_images_replace_action,
        existing_pnginfo=chunks or None, p=p, hooks=callbacks)
    txt = saved.with_suffix(".txt")
    return str(saved), str(txt) if opts.save_txt and info is not None else None


def save_grid(grid: Image.Image, folder: Path, *, values: dict[str, Any], infotext: str | None,
              fmt: str = "png", save_to_dirs: bool = True, dir_pattern: str = "[date]",
              extended_filename: bool = False, pattern: str = "", hooks: Hooks = NO_HOOKS, **kwargs: Any) -> Path:
    """Save a grid as A1111 does: `grid-NNNN.<fmt>`, or `grid-NNNN-<pattern>` with `extended_filename`
    (option grid_extended_filename). `save_to_dirs` is A1111's grid_save_to_dirs."""
    return write_image(grid, folder, values=values, infotext=infotext, fmt=fmt, pattern=pattern,
                      save_to_dirs=save_to_dirs, dir_pattern=dir_pattern, basename="grid",
                      short_filename=not extended_filename, hooks=hooks, **kwargs)
