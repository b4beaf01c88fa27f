"""A1111 infotext: the "parameters" text written into every image, and its parser."""
from __future__ import annotations

import json
import re
from typing import Any

from modules.version import INFOTEXT_VERSION

_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")


def quote(value: Any) -> str:
    """A1111 quotes values containing `,`, `:` or a newline with JSON."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def build(prompt: str, negative_prompt: str, params: dict[str, Any]) -> str:
    """`<prompt>\\nNegative prompt: <neg>\\n<Key: value, ...>`; None values are left out and a
    value equal to its key is written bare, as A1111 does."""
    parts = []
    for k, v in params.items():
        if v is None:
            continue
        parts.append(k if k == v else f"{k}: {quote(v)}")
    neg = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{neg}\n{', '.join(parts)}".strip()


def with_version(params: dict[str, Any], add_version: bool) -> dict[str, Any]:
    if add_version:
        params["Version"] = INFOTEXT_VERSION
    return params


def parse(text: str) -> dict[str, Any]:
    """Parse an infotext into a dict of strings (A1111's parse_generation_parameters core)."""
    res: dict[str, Any] = {}
    prompt, negative = "", ""
    done_with_prompt = False
    *lines, last = text.strip().split("\n")
    if len(_PARAM_RE.findall(last)) < 3:
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
    res["Prompt"] = prompt
    res["Negative prompt"] = negative
    for k, v in _PARAM_RE.findall(last):
        try:
            if v and v[0] == '"' and v[-1] == '"':
                v = json.loads(v)
            m = _SIZE_RE.match(v)
            if m is not None:
                res[f"{k}-1"], res[f"{k}-2"] = m.group(1), m.group(2)
            else:
                res[k] = v
        except Exception:
            res[k] = v
    res.setdefault("Clip skip", "1")
    res.setdefault("Schedule type", "Automatic")
    res.setdefault("RNG", "GPU")
    return res
