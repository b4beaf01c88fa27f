"""A1111's `modules.extra_networks` (the `<name:args>` prompt tags and the registry of handlers for
them) and `modules.sd_emphasis` (the emphasis modes' names and descriptions).

LoRA tags are applied by the engine itself (engine/models/lora.py). An extension's own
ExtraNetwork registered here is activated by `activate(p, data)` when the extension calls it (as
A1111's own scripts do), with A1111's arguments; tags no handler claims are logged, not fatal.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sdwebui.engine.prompt.extra_networks import strip_extra_networks

logger = logging.getLogger(__name__)

__all__ = ["ExtraNetwork", "ExtraNetworkParams", "activate", "deactivate", "extra_network_aliases",
           "extra_network_registry", "get_user_metadata", "initialize", "lookup_extra_networks", "parse_prompt",
           "parse_prompts", "register_default_extra_networks", "register_extra_network",
           "register_extra_network_alias", "Emphasis", "EmphasisIgnore", "EmphasisNone", "EmphasisOriginal",
           "EmphasisOriginalNoNorm", "get_current_option", "get_options_descriptions", "options"]

extra_network_registry: dict[str, "ExtraNetwork"] = {}
extra_network_aliases: dict[str, "ExtraNetwork"] = {}


class ExtraNetworkParams:
    """One tag's arguments: `<name:a:b:k=v>` -> items ["a", "b"], named {"k": "v"}."""

    def __init__(self, items: list[str] | None = None) -> None:
        self.items = items or []
        self.positional: list[str] = []
        self.named: dict[str, str] = {}
        for item in self.items:
            key, sep, value = item.partition("=") if isinstance(item, str) else ("", "", item)
            if sep:
                self.named[key] = value
            else:
                self.positional.append(item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExtraNetworkParams) and self.items == other.items


class ExtraNetwork:
    """Base of a handler for `<name:...>` tags; subclasses implement activate and deactivate."""

    def __init__(self, name: str) -> None:
        self.name = name

    def activate(self, p: Any, params_list: list[ExtraNetworkParams]) -> None:
        raise NotImplementedError

    def deactivate(self, p: Any) -> None:
        raise NotImplementedError


def initialize() -> None:
    extra_network_registry.clear()
    extra_network_aliases.clear()


def register_extra_network(extra_network: ExtraNetwork) -> None:
    extra_network_registry[extra_network.name] = extra_network


def register_extra_network_alias(extra_network: ExtraNetwork, alias: str) -> None:
    extra_network_aliases[alias] = extra_network


def register_default_extra_networks() -> None:
    """A1111 registers its hypernetwork handler here; this backend has no hypernetworks and applies
    LoRA in the engine, so there is nothing to register."""


def lookup_extra_networks(extra_network_data: dict[str, list[ExtraNetworkParams]]) -> dict[ExtraNetwork, list]:
    """The handler of each tag name (aliases resolved; an alias never overrides a real name)."""
    res: dict[ExtraNetwork, list] = {}
    for name, params in list(extra_network_data.items()):
        handler = extra_network_registry.get(name)
        alias = extra_network_aliases.get(name)
        if alias is not None and handler is None:
            handler = alias
        if handler is None:
            logger.info("Skipping unknown extra network: %s", name)
            continue
        res.setdefault(handler, []).extend(params)
    return res


def activate(p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
    """Call each registered handler's activate with its tags (and with [] for those not used, as A1111
    does, so they can undo an earlier job's state). A failing handler is logged and skipped."""
    activated = []
    for handler, params in lookup_extra_networks(extra_network_data).items():
        try:
            handler.activate(p, params)
            activated.append(handler)
        except Exception:
            logger.exception("activating extra network %s with arguments %s", handler.name,
                             [x.items for x in params])
    for name, handler in extra_network_registry.items():
        if handler in activated:
            continue
        try:
            handler.activate(p, [])
        except Exception:
            logger.exception("activating extra network %s", name)


def deactivate(p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
    data = lookup_extra_networks(extra_network_data)
    for handler in data:
        try:
            handler.deactivate(p)
        except Exception:
            logger.exception("deactivating extra network %s", handler.name)
    for name, handler in extra_network_registry.items():
        if handler in data:
            continue
        try:
            handler.deactivate(p)
        except Exception:
            logger.exception("deactivating unmentioned extra network %s", name)


def parse_prompt(prompt: str) -> tuple[str, dict[str, list[ExtraNetworkParams]]]:
    """The prompt without its `<name:args>` tags, and the tags' arguments by name."""
    text, found = strip_extra_networks(prompt)
    res: dict[str, list[ExtraNetworkParams]] = defaultdict(list)
    for name, args in found:
        res[name].append(ExtraNetworkParams(items=args))
    return text, res


def parse_prompts(prompts: list[str]) -> tuple[list[str], dict[str, list[ExtraNetworkParams]] | None]:
    """parse_prompt for each prompt; the tags are those of the first prompt, as in A1111."""
    res, extra_data = [], None
    for prompt in prompts:
        updated, parsed = parse_prompt(prompt)
        if extra_data is None:
            extra_data = parsed
        res.append(updated)
    return res, extra_data


def get_user_metadata(filename: str | None, lister: Any = None) -> dict[str, Any]:
    """The user metadata (.json next to a network file) A1111's cards edit; {} when there is none."""
    import json
    import os

    if filename is None:
        return {}
    metadata = os.path.splitext(filename)[0] + ".json"
    exists = lister.exists(metadata) if lister is not None else os.path.isfile(metadata)
    if not exists:
        return {}
    try:
        with open(metadata, encoding="utf8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        logger.error("reading user metadata %s: %s", metadata, e)
        return {}


# --- modules.sd_emphasis: the settings' emphasis modes (the encoder applies them by name) --------

class Emphasis:
    name = "Base"
    description = ""
    tokens: Any = None
    multipliers: Any = None
    z: Any = None

    def after_transformers(self) -> None:
        pass


class EmphasisNone(Emphasis):
    name = "None"
    description = "disable the mechanism entirely and treat (:.1.1) as literal characters"


class EmphasisIgnore(Emphasis):
    name = "Ignore"
    description = "treat all empasised words as if they have no emphasis"


class EmphasisOriginal(Emphasis):
    name = "Original"
    description = "the original emphasis implementation"


class EmphasisOriginalNoNorm(EmphasisOriginal):
    name = "No norm"
    description = "same as original, but without normalization (seems to work better for SDXL)"


options = [EmphasisNone, EmphasisIgnore, EmphasisOriginal, EmphasisOriginalNoNorm]


def get_current_option(emphasis_option_name: str) -> type[Emphasis]:
    return next((x for x in options if x.name == emphasis_option_name), EmphasisOriginal)


def get_options_descriptions() -> str:
    return ", ".join(f"{x.name}: {x.description}" for x in options)
