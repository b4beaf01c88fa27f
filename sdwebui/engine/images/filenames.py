"""File names from A1111's pattern tokens (``[seed]``, ``[prompt_words]``, ``[datetime<%Y>]`` ...)
and the sanitising of their parts (``modules/images.py`` there: ``FilenameGenerator``,
``sanitize_filename_part``).
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import string
from typing import Any, Callable

from PIL import Image

logger = logging.getLogger(__name__)

_INVALID_FILENAME_CHARS = '#<>:"/\\|?*\n\r\t'

# the scheduler a sampler uses under "Automatic" (A1111 sampler option `scheduler`), for [scheduler] tokens
_SAMPLER_DEFAULT_SCHEDULER = {
    "DPM++ 2M": "karras", "DPM++ SDE": "karras", "DPM++ 2M SDE": "exponential", "DPM++ 2M SDE Heun": "exponential",
    "DPM++ 2S a": "karras", "DPM++ 3M SDE": "exponential", "DPM2": "karras", "DPM2 a": "karras", "Restart": "karras",
}


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

