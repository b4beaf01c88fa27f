"""Extra-network tags (``<lora:name:0.8>``) taken out of a prompt (A1111's ``extra_networks.parse_prompt``)."""
from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

__all__ = ["strip_extra_networks"]

_EXTRA_NETWORK_RE = re.compile(r"<(\w+):([^>]+)>")


def strip_extra_networks(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """Remove ``<name:arg1:arg2...>`` tags and return ``(prompt, [(name, [args])])``.

    ``name`` is word characters, the arguments are everything up to ``>`` split on
    ``:`` (``<lora:x:0.8>`` -> ``("lora", ["x", "0.8"])``). The tag is replaced by
    nothing, surrounding whitespace is kept. Tags are listed in prompt order.
    """
    found: list[tuple[str, list[str]]] = []

    def take(m: re.Match[str]) -> str:
        found.append((m.group(1), m.group(2).split(":")))
        return ""

    return _EXTRA_NETWORK_RE.sub(take, text), found
