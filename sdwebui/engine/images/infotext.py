"""A1111 infotext: the "parameters" text written into every image, and its parser.

Format (A1111 ``create_infotext``)::

    <prompt, may span lines>
    Negative prompt: <negative, may span lines>      (only when the negative prompt is not empty)
    Key: value, Key2: "quoted, value", Bare key, ...

The parser mirrors A1111 1.10's ``parse_generation_parameters``: values stay strings, ``NxM`` values
are split into ``Key-1``/``Key-2``, and the defaults A1111 adds for keys that old infotexts lack are
added the same way (some unconditionally, some only under a condition; see :func:`parse`).
Styles are not extracted from the prompt here: that needs the styles database (A1111 option
``infotext_styles``), which the caller owns.
"""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Iterable

from sdwebui.engine.prompt.attention import is_break, parse_prompt_attention
from sdwebui.version import INFOTEXT_VERSION

logger = logging.getLogger(__name__)

# A1111's `re_param_code`: a key starts with a word character; a value is either a JSON string or
# anything up to the next comma. The same regex decides whether the last line holds parameters.
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")

# A1111 create_infotext's fixed keys, in the order it writes them. `extra_generation_params` follow in
# insertion order, then Version and User. A key of extra_generation_params that is also a fixed key
# (e.g. "Denoising strength") keeps the fixed position, because A1111 builds one dict literal.
KEY_ORDER: list[str] = [
    "Steps", "Sampler", "Schedule type", "CFG scale", "Distilled CFG Scale", "Image CFG scale", "Seed", "Face restoration", "Size",
    "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
    "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip",
    "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling",
]
_TAIL_KEYS = ("Version", "User")


def quote(value: Any) -> str:
    """A1111 quotes values containing `,`, `:` or a newline with JSON (non-ASCII kept as is), so the
    parser's `[^,]*` alternative cannot split them."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    try:
        # A1111 json.dumps the value itself: a list or dict value becomes JSON, not its Python repr
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    """Inverse of :func:`quote`; a value that is not valid JSON is returned unchanged (as A1111 does)."""
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def ordered(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with A1111's fixed keys first (in :data:`KEY_ORDER`), then the other keys in insertion
    order, then `Version` and `User`, which A1111 always writes last."""
    out: dict[str, Any] = {k: params[k] for k in KEY_ORDER if k in params}
    for k, v in params.items():
        if k not in out and k not in _TAIL_KEYS:
            out[k] = v
    for k in _TAIL_KEYS:
        if k in params:
            out[k] = params[k]
    return out


def build(prompt: str, negative_prompt: str, params: dict[str, Any], *, reorder: bool = True) -> str:
    """`<prompt>\\nNegative prompt: <neg>\\n<Key: value, ...>`; None values are left out and a value equal
    to its key is written bare, as A1111 does. With `reorder` the keys follow A1111's order (:func:`ordered`)."""
    if reorder:
        params = ordered(params)
    parts = [k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None]
    neg = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{neg}\n{', '.join(parts)}".strip()


def with_version(params: dict[str, Any], add_version: bool) -> dict[str, Any]:
    if add_version:
        params["Version"] = INFOTEXT_VERSION
    return params


# Emphasis detection: A1111 adds "Emphasis: Original" to a parsed infotext without that key only when the
# prompt changes some token weight, judged by its prompt attention parser (the one the encoder uses).
def uses_emphasis(*prompts: str) -> bool:
    """True when any of `prompts` gives some text a weight other than 1.0 (BREAK does not count)."""
    return any(span.weight != 1.0 and not is_break(span) for p in prompts for span in parse_prompt_attention(p))


# ------------------------------------------------------------------------------------------------
# Version-based back-compat flags (A1111 `infotext_versions.backcompat`, option auto_backcompat=True)
# ------------------------------------------------------------------------------------------------
def _parse_version(text: Any):
    if text is None:
        return None
    from packaging import version  # only needed for infotexts carrying a Version

    m = re.match(r"([^-]+-[^-]+)-.*", str(text))  # "v1.7.0-225-gabcdef" -> "v1.7.0-225" (a post release)
    if m:
        text = m.group(1)
    try:
        return version.parse(str(text))
    except Exception:
        return None


def _backcompat(res: dict[str, Any]) -> None:
    ver = _parse_version(res.get("Version"))
    if ver is None:
        return
    from packaging import version

    if ver < version.parse("1.6.0") and "[" in res.get("Prompt", ""):
        res["Old prompt editing timelines"] = True
    if ver < version.parse("1.6.0") and res.get("Sampler", "") in ("DDIM", "PLMS"):
        res["Pad conds v0"] = True
    if ver < version.parse("v1.7.0-225"):
        res["Downcast alphas_cumprod"] = True
    if ver < version.parse("1.8.0") and res.get("Refiner"):
        res["Refiner switch by sampling steps"] = True


def _old_first_pass_size(width: int, height: int) -> tuple[int, int]:
    """A1111's pre-1.0 automatic hires first pass size: ~512*512 pixels, rounded up to multiples of 64."""
    scale = math.sqrt(512 * 512 / (width * height))
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


def _restore_old_hires_fix_params(res: dict[str, Any], use_old_hires_fix_width_height: bool) -> None:
    """Old infotexts wrote `First pass size` (the small size) and `Size` (the final size); newer ones
    write `Size` (the first pass) and `Hires resize`. Convert the old form, as A1111 does."""
    fw, fh = res.get("First pass size-1"), res.get("First pass size-2")
    if use_old_hires_fix_width_height:
        hw, hh = int(res.get("Hires resize-1", 0)), int(res.get("Hires resize-2", 0))
        if hw and hh:
            res["Size-1"], res["Size-2"] = hw, hh
            return
    if fw is None or fh is None:
        return
    fw, fh = int(fw), int(fh)
    width, height = int(res.get("Size-1", 512)), int(res.get("Size-2", 512))
    if fw == 0 or fh == 0:
        fw, fh = _old_first_pass_size(width, height)
    res["Size-1"], res["Size-2"] = fw, fh
    res["Hires resize-1"], res["Hires resize-2"] = width, height


# ------------------------------------------------------------------------------------------------
# Styles found in a prompt (A1111 StyleDatabase.extract_styles_from_prompt)
# ------------------------------------------------------------------------------------------------
def _extract_style_text(style_text: str, prompt: str) -> tuple[bool, str]:
    stripped_prompt, stripped_style = prompt.strip(), style_text.strip()
    if "{prompt}" in stripped_style:
        left, _, right = stripped_style.partition("{prompt}")
        if stripped_prompt.startswith(left) and stripped_prompt.endswith(right):
            return True, stripped_prompt[len(left):len(stripped_prompt) - len(right)]
    elif stripped_prompt.endswith(stripped_style):
        prompt = stripped_prompt[:len(stripped_prompt) - len(stripped_style)]
        if prompt.endswith(", "):  # the ", " that applying an appended style put in
            prompt = prompt[:-2]
        return True, prompt
    return False, prompt


def extract_styles(styles: Iterable[Any], prompt: str, negative: str) -> tuple[list[str], str, str]:
    """(names of the styles whose text wraps/ends the prompts, prompt and negative without them).
    `styles` are objects with `name`, `prompt`, `negative_prompt` (modules.styles.PromptStyle)."""
    found: list[str] = []
    remaining = list(styles)
    while True:
        match = None
        for style in remaining:
            if not style.prompt and not style.negative_prompt:
                continue
            ok_pos, new_prompt = _extract_style_text(style.prompt, prompt)
            if not ok_pos:
                continue
            ok_neg, new_negative = _extract_style_text(style.negative_prompt, negative)
            if not ok_neg:
                continue
            match, prompt, negative = style, new_prompt, new_negative
            break
        if match is None:
            break
        remaining.remove(match)
        found.append(match.name)
    # styles are applied first-to-last, so they come off last-to-first
    return list(reversed(found)), prompt, negative


def parse(text: str, *, skip_fields: Iterable[str] | None = None, auto_backcompat: bool = True,
          use_old_hires_fix_width_height: bool = False, styles: Iterable[Any] | None = None,
          infotext_styles: str = "Apply if any") -> dict[str, Any]:
    """Parse an infotext into a dict as A1111's parse_generation_parameters does.

    Parsed values are strings; the defaults added for missing keys keep A1111's types (ints 0/32,
    False), because A1111 clients compare against exactly those. `skip_fields` is A1111's option
    `infotext_skip_pasting`; `auto_backcompat`, `use_old_hires_fix_width_height` and `infotext_styles`
    ("Ignore" | "Apply" | "Discard" | "Apply if any") are the options of the same names. `styles` is
    the style database's styles (None = no styles): styles found in the prompt are removed from it and,
    per `infotext_styles`, listed in "Styles array".
    """
    res: dict[str, Any] = {}
    prompt, negative = "", ""
    done_with_prompt = False
    *lines, last = text.strip().split("\n")
    if len(_PARAM_RE.findall(last)) < 3:
        # fewer than 3 "key: value" pairs: a prompt line that happens to contain a colon
        lines.append(last)
        last = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line

    for k, v in _PARAM_RE.findall(last):
        if not v:
            # A1111 indexes v[0] inside a try block, so an empty value is reported and the key dropped
            logger.debug("infotext: empty value for %r ignored", k)
            continue
        if v[0] == '"' and v[-1] == '"':
            v = unquote(v)
        m = _SIZE_RE.match(v)
        if m is not None:
            res[f"{k}-1"], res[f"{k}-2"] = m.group(1), m.group(2)
        else:
            res[k] = v

    if infotext_styles != "Ignore":
        style_list = list(styles or ())
        found, prompt_no_styles, negative_no_styles = extract_styles(style_list, prompt, negative)
        same_hr_styles = True
        ver = _parse_version(res.get("Version")) if "Version" in res else None
        if ("Hires prompt" in res or "Hires negative prompt" in res) and (
                ver is None or ver > _parse_version("1.8.0-139")):
            # since 1.8.0-139 the hires prompts carry the styles too; strip them the same way
            hr_found, hr_prompt, hr_negative = extract_styles(
                style_list, res.get("Hires prompt", prompt), res.get("Hires negative prompt", negative))
            same_hr_styles = found == hr_found
            if same_hr_styles:
                res["Hires prompt"] = "" if hr_prompt == prompt_no_styles else hr_prompt
                res["Hires negative prompt"] = "" if hr_negative == negative_no_styles else hr_negative
        if same_hr_styles:
            prompt, negative = prompt_no_styles, negative_no_styles
            if (infotext_styles == "Apply if any" and found) or infotext_styles == "Apply":
                res["Styles array"] = found

    # A1111 sets these after the parameters, so they follow them in the dict (and in /png-info JSON)
    res["Prompt"] = prompt
    res["Negative prompt"] = negative

    # Defaults for keys that older infotexts (or default settings) leave out.
    res.setdefault("Clip skip", "1")  # a missing Clip skip means 1
    hypernet = res.get("Hypernet")
    if hypernet is not None:  # pre-1.0 infotexts named the hypernetwork in a key; move it into the prompt
        res["Prompt"] += f"<hypernet:{hypernet}:{res.get('Hypernet strength', '1.0')}>"
    if "Hires resize-1" not in res:
        res["Hires resize-1"] = 0
        res["Hires resize-2"] = 0
    res.setdefault("Hires sampler", "Use same sampler")
    res.setdefault("Hires schedule type", "Use same scheduler")
    res.setdefault("Hires checkpoint", "Use same checkpoint")
    res.setdefault("Hires prompt", "")
    res.setdefault("Hires negative prompt", "")
    res.setdefault("Mask mode", "Inpaint masked")
    res.setdefault("Masked content", "original")
    res.setdefault("Inpaint area", "Whole picture")
    res.setdefault("Masked area padding", 32)
    _restore_old_hires_fix_params(res, use_old_hires_fix_width_height)
    res.setdefault("RNG", "GPU")  # a missing RNG means the default, GPU
    res.setdefault("Schedule type", "Automatic")
    res.setdefault("Schedule max sigma", 0)
    res.setdefault("Schedule min sigma", 0)
    res.setdefault("Schedule rho", 0)
    res.setdefault("VAE Encoder", "Full")
    res.setdefault("VAE Decoder", "Full")
    res.setdefault("FP8 weight", "Disable")
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    # conditional: only a prompt with weights needs the emphasis mode pinned (A1111 uses the prompts
    # before the hypernet suffix is appended, i.e. the text lines themselves)
    if "Emphasis" not in res and uses_emphasis(prompt, negative):
        res["Emphasis"] = "Original"
    res.setdefault("Refiner switch by sampling steps", False)

    if auto_backcompat:
        _backcompat(res)
    for key in skip_fields or ():
        res.pop(key, None)
    return res
