"""Extra-network tags (``<lora:name:0.8>``) taken out of a prompt (A1111's ``extra_networks.parse_prompt``),
and what the generation loop hands them to.

The engine applies LoRA itself (engine/models/lora.py). Every other tag belongs to a handler an
extension registered (``modules.extra_networks.register_extra_network``); the registry is the
services', so the engine reaches it only through the job's context: ``ctx.extra_networks``, an
``ExtraNetworkHandlers`` with A1111's ``activate(p, data)`` / ``deactivate(p, data)``.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any, Protocol

logger = logging.getLogger(__name__)

__all__ = ["ExtraNetworkHandlers", "ExtraNetworkParams", "NO_EXTRA_NETWORKS", "parse_prompt", "parse_prompts",
           "strip_extra_networks"]

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


class ExtraNetworkParams:
    """One tag's arguments (A1111's class): `<name:a:b:k=v>` -> items ["a", "b", "k=v"], positional
    ["a", "b"], named {"k": "v"}. An item with two "=" stays positional, as in A1111."""

    def __init__(self, items: list | None = None) -> None:
        self.items = items or []
        self.positional: list = []
        self.named: dict[str, str] = {}
        for item in self.items:
            parts = item.split("=", 2) if isinstance(item, str) else [item]
            if len(parts) == 2:
                self.named[parts[0]] = parts[1]
            else:
                self.positional.append(item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExtraNetworkParams) and self.items == other.items

    def __repr__(self) -> str:
        return f"ExtraNetworkParams(items={self.items!r})"


def parse_prompt(prompt: str) -> tuple[str, dict[str, list[ExtraNetworkParams]]]:
    """The prompt without its `<name:args>` tags, and the tags' arguments by name."""
    text, found = strip_extra_networks(prompt)
    res: dict[str, list[ExtraNetworkParams]] = defaultdict(list)
    for name, args in found:
        res[name].append(ExtraNetworkParams(items=args))
    return text, res


def parse_prompts(prompts: list[str]) -> tuple[list[str], dict[str, list[ExtraNetworkParams]] | None]:
    """parse_prompt for each prompt; the tags are those of the first prompt, as in A1111 (a batch's
    prompts differ only where scripts made them differ, and handlers act once per batch)."""
    res, extra_data = [], None
    for prompt in prompts:
        updated, parsed = parse_prompt(prompt)
        if extra_data is None:
            extra_data = parsed
        res.append(updated)
    return res, extra_data


class ExtraNetworkHandlers(Protocol):
    """The extensions' tag handlers, as the job's context carries them (the services implement it
    with `modules.extra_networks`' registry)."""

    def activate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        """Give every registered handler its tags of this batch (an empty list when it has none)."""

    def deactivate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        """The end of the job: every registered handler's deactivate."""


class NoExtraNetworks:
    """For engine use without extensions (tests, tools, benchmarks): tags are only removed."""

    def activate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        return None

    def deactivate(self, p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
        return None


NO_EXTRA_NETWORKS = NoExtraNetworks()
