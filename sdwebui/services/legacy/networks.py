"""A1111's `modules.extra_networks` (the `<name:args>` prompt tags and the registry of handlers for
them) and `modules.sd_emphasis` (the emphasis modes' names and descriptions).

Generation calls `activate(p, data)` once per batch and `deactivate(p, data)` at the end of the job,
as A1111's processing does: the job's context carries this module as `ctx.extra_networks`
(services/generation.py). LoRA weights are merged by the engine itself (engine/models/lora.py), so
`<lora>`/`<lyco>` tags act with or without a registered handler, and the built-in Lora extension's
handler only mirrors them for extensions. Hypernetworks cannot act on this backend: their tags are
reported once per job. A handler that raises is logged and skipped, as in A1111: the job goes on.
"""
from __future__ import annotations

import logging
from typing import Any

from sdwebui.engine.prompt.extra_networks import ExtraNetworkParams, parse_prompt, parse_prompts

logger = logging.getLogger(__name__)

__all__ = ["ExtraNetwork", "ExtraNetworkParams", "activate", "deactivate", "extra_network_aliases",
           "extra_network_registry", "get_user_metadata", "initialize", "lookup_extra_networks", "parse_prompt",
           "parse_prompts", "register_default_extra_networks", "register_extra_network",
           "register_extra_network_alias", "Emphasis", "EmphasisIgnore", "EmphasisNone", "EmphasisOriginal",
           "EmphasisOriginalNoNorm", "get_current_option", "get_options_descriptions", "options"]

extra_network_registry: dict[str, "ExtraNetwork"] = {}
extra_network_aliases: dict[str, "ExtraNetwork"] = {}

# tags the engine applies itself: without a registered handler they are not "unknown"
ENGINE_APPLIED = frozenset({"lora", "lyco"})
# tags this backend cannot apply at all, with what the user is told (once per job)
NOT_APPLIED = {"hypernet": "hypernetworks are not applied on this backend; use a LoRA (<lora:name:weight>) "
                           "instead"}


class ExtraNetwork:
    """Base of a handler for `<name:...>` tags; subclasses implement activate and deactivate.

    activate(p, params_list) is called once per batch, with this handler's tags of the batch's
    first prompt, or with [] when the prompt has none (then it should undo its effect); deactivate(p)
    once at the end of a job whose prompt had tags."""

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
    """A1111 registers its hypernetwork handler here; this backend has no hypernetworks (their tags
    are reported by activate) and applies LoRA in the engine, so there is nothing to register."""


def _resolve(extra_network_data: dict[str, list[ExtraNetworkParams]]) -> tuple[dict[ExtraNetwork, list], list[str]]:
    """The handler of each tag name (aliases resolved; an alias never overrides a real name), and
    the names no handler claims."""
    res: dict[ExtraNetwork, list] = {}
    unknown = []
    for name, params in list(extra_network_data.items()):
        handler = extra_network_registry.get(name)
        alias = extra_network_aliases.get(name)
        if alias is not None and handler is None:
            handler = alias
        if handler is None:
            unknown.append(name)
            continue
        res.setdefault(handler, []).extend(params)
    return res, unknown


def lookup_extra_networks(extra_network_data: dict[str, list[ExtraNetworkParams]]) -> dict[ExtraNetwork, list]:
    """A1111's: the handlers of the tags and their arguments; unknown names are logged and left out."""
    res, unknown = _resolve(extra_network_data)
    for name in unknown:
        logger.info("Skipping unknown extra network: %s", name)
    return res


def _warn_once(p: Any, key: str, message: str, user_visible: bool) -> None:
    """Log `message` once per job (p), not once per batch; `user_visible` also puts it in the job's
    warnings (the response's info)."""
    warned = getattr(p, "_extra_network_warnings", None)
    if warned is None:
        warned = set()
        try:
            p._extra_network_warnings = warned
        except AttributeError:      # p is None or not ours: log every time
            pass
    if key in warned:
        return
    warned.add(key)
    logger.warning("%s", message)
    if user_visible and isinstance(getattr(p, "warnings", None), list):
        p.warnings.append(message)


def activate(p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
    """Call each registered handler's activate with its tags, then those with no tags with [] (as
    A1111 does, so they can undo an earlier batch's state), then the Scripts'
    after_extra_networks_activate. A failing handler is logged and skipped (A1111 does the same);
    an exception in a Script hook fails the job, as in every Script hook."""
    extra_network_data = extra_network_data or {}
    handlers, unknown = _resolve(extra_network_data)
    for name in unknown:
        if name in NOT_APPLIED:
            _warn_once(p, name, f"<{name}:...>: {NOT_APPLIED[name]}", user_visible=True)
        elif name not in ENGINE_APPLIED:
            _warn_once(p, name, f"Skipping unknown extra network: {name} (no extension registered a handler "
                                f"for <{name}:...>; registered: {sorted(extra_network_registry)})", user_visible=False)
    activated = []
    for handler, params in handlers.items():
        try:
            handler.activate(p, params)
            activated.append(handler)
        except Exception as e:
            _handler_failed(p, f"activating extra network {handler.name} with arguments "
                               f"{[x.items for x in params]}", e)
    for name, handler in list(extra_network_registry.items()):
        if handler in activated:
            continue
        try:
            handler.activate(p, [])
        except Exception as e:
            _handler_failed(p, f"activating extra network {name}", e)
    scripts = getattr(p, "scripts", None)
    if scripts is not None:
        scripts.after_extra_networks_activate(p, batch_number=p.iteration, prompts=p.prompts, seeds=p.seeds,
                                              subseeds=p.subseeds, extra_network_data=extra_network_data)


def deactivate(p: Any, extra_network_data: dict[str, list[ExtraNetworkParams]]) -> None:
    """Each registered handler's deactivate: those with tags first, then the rest (A1111's order)."""
    data, _unknown = _resolve(extra_network_data or {})
    for handler in data:
        try:
            handler.deactivate(p)
        except Exception as e:
            _handler_failed(p, f"deactivating extra network {handler.name}", e)
    for name, handler in list(extra_network_registry.items()):
        if handler in data:
            continue
        try:
            handler.deactivate(p)
        except Exception as e:
            _handler_failed(p, f"deactivating unmentioned extra network {name}", e)


def _handler_failed(p: Any, what: str, e: Exception) -> None:
    # A1111 prints the traceback and goes on; the job's warnings also say it, so an API user sees
    # why the tag did nothing
    logger.error("%s", what, exc_info=e)
    if isinstance(getattr(p, "warnings", None), list):
        p.warnings.append(f"{what}: {type(e).__name__}: {e}")


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
