"""Sampler and schedule type names as requests spell them (names, aliases, legacy combined names such
as ``DPM++ 2M Karras``), the labels written to the infotext, and the ``/sdapi/v1`` lists."""
from __future__ import annotations

import logging
import re

from sdwebui.engine.sampling.samplers.catalog import (ALL_SAMPLERS, ALL_SCHEDULERS, ALL_SCHEDULERS_BY_NAME,
                                                      AUTOMATIC, SAMPLERS, SCHEDULERS, SCHEDULERS_BY_NAME, SPECS,
                                                      UNAVAILABLE, SamplerError, SamplerInfo, SchedulerInfo,
                                                      schedule_applies)

logger = logging.getLogger(__name__)

# Legacy (pre-1.9) alias suffixes: "k_dpmpp_2m_ka" = DPM++ 2M Karras, "k_dpmpp_2m_sde_exp" = ... Exponential.
_LEGACY_ALIAS_SUFFIXES = {"_ka": "karras", "_exp": "exponential"}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).casefold()


def _squash(text: str) -> str:
    """Scheduler lookup key: case, spaces, underscores and dashes do not matter ('SGM Uniform' == 'sgm_uniform')."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _sampler_lookup() -> dict[str, SamplerInfo]:
    table: dict[str, SamplerInfo] = {}
    for info, _ in ALL_SAMPLERS:
        for key in (info.name, *info.aliases):
            table.setdefault(_norm(key), info)
    return table


def _scheduler_lookup() -> dict[str, SchedulerInfo]:
    table: dict[str, SchedulerInfo] = {}
    for info, _ in ALL_SCHEDULERS:
        for key in (info.name, info.label, *(info.aliases or ())):
            table.setdefault(_squash(key), info)
    return table


_SAMPLER_KEYS = _sampler_lookup()
_SCHEDULER_KEYS = _scheduler_lookup()


def sampler_choices() -> str:
    return ", ".join(s.name for s in SAMPLERS)


def scheduler_choices() -> str:
    return ", ".join(s.label for s in SCHEDULERS)


def _find_sampler(name: str) -> SamplerInfo | None:
    return _SAMPLER_KEYS.get(_norm(name))


def _find_scheduler(name: str) -> SchedulerInfo | None:
    return _SCHEDULER_KEYS.get(_squash(name))


def _available_sampler(info: SamplerInfo, requested: str) -> SamplerInfo:
    if info.name not in SPECS:
        raise SamplerError("sampler_name", f"Sampler '{requested}' is not available: {UNAVAILABLE[info.name]}. "
                                           f"Valid samplers: {sampler_choices()}")
    return info


def _available_scheduler(info: SchedulerInfo, requested: str) -> SchedulerInfo:
    if info.name not in SCHEDULERS_BY_NAME:
        raise SamplerError("scheduler", f"Schedule type '{requested}' is not supported by the diffusers backend. "
                                        f"Valid schedule types: {scheduler_choices()}")
    return info


def _split_legacy(name: str) -> tuple[SamplerInfo, SchedulerInfo] | None:
    """'DPM++ 2M Karras' -> (DPM++ 2M, Karras); 'k_dpmpp_2m_ka' -> (DPM++ 2M, Karras)."""
    norm = _norm(name)
    candidates: list[tuple[int, SamplerInfo, SchedulerInfo]] = []
    for sched, _ in ALL_SCHEDULERS:
        if sched.name == "automatic":
            continue
        for suffix in {sched.label, sched.name, *(sched.aliases or ())}:
            suffix_n = _norm(suffix)
            if norm.endswith(" " + suffix_n):
                sampler = _SAMPLER_KEYS.get(norm[: -len(suffix_n) - 1].rstrip())
                if sampler is not None:
                    candidates.append((len(suffix_n), sampler, sched))
    for suffix, sched_name in _LEGACY_ALIAS_SUFFIXES.items():
        if norm.endswith(suffix):
            sampler = _SAMPLER_KEYS.get(norm[: -len(suffix)])
            if sampler is not None:
                candidates.append((len(suffix), sampler, ALL_SCHEDULERS_BY_NAME[sched_name]))
    if not candidates:
        return None
    _, sampler, sched = max(candidates, key=lambda c: c[0])  # longest suffix wins
    return sampler, sched


def resolve(sampler_name: str | None, scheduler: str | None) -> tuple[SamplerInfo, SchedulerInfo]:
    """Find the sampler and schedule type for a request, like A1111's ``get_sampler_and_scheduler``.

    Names and aliases match case-insensitively (``"Euler a"``, ``"k_euler_a"``); schedule types by name,
    label or alias (``"karras"``, ``"Karras"``, ``"SGM Uniform"``, ``"sgm_uniform"``). An empty or
    ``None`` sampler is ``Euler`` (A1111's effective API default); an empty or ``None`` schedule type is
    ``Automatic``. Legacy combined names (``"DPM++ 2M Karras"``) are split when the schedule type is
    Automatic/None. A schedule type equal to the sampler's own default becomes ``Automatic``.
    Raises :class:`SamplerError` for unknown or unsupported names.
    """
    sched_info = AUTOMATIC
    if scheduler is not None and str(scheduler).strip():
        found = _find_scheduler(str(scheduler))
        if found is None:
            raise SamplerError("scheduler", f"Schedule type '{scheduler}' not found. "
                                            f"Valid schedule types: {scheduler_choices()}")
        sched_info = _available_scheduler(found, str(scheduler))

    name = str(sampler_name).strip() if sampler_name is not None else ""
    if not name:
        name = "Euler"
    sampler = _find_sampler(name)
    if sampler is None and sched_info.name == "automatic":
        split = _split_legacy(name)
        if split is not None:
            sampler, legacy_sched = split
            sched_info = _available_scheduler(legacy_sched, legacy_sched.label)
    if sampler is None:
        hint = ""
        if _split_legacy(name) is not None:
            hint = " (a combined name such as 'DPM++ 2M Karras' is only split when the schedule type is Automatic)"
        raise SamplerError("sampler_name", f"Sampler '{name}' not found{hint}. Valid samplers: {sampler_choices()}")
    sampler = _available_sampler(sampler, name)

    if sched_info.name == sampler.options.get("scheduler"):
        sched_info = AUTOMATIC
    return sampler, sched_info


def schedule_type_label(sampler: SamplerInfo, scheduler: SchedulerInfo) -> str:
    """The "Schedule type" written to the infotext: the label actually used.

    ``Karras`` for DPM++ 2M + Automatic; ``Automatic`` for samplers without a default (Euler a); the
    requested one for the samplers that ignore schedule types (DDIM, DDIM CFG++, PLMS, UniPC), as A1111
    writes it.
    """
    if not schedule_applies(sampler):
        return scheduler.label
    if scheduler.name == "automatic":
        default = sampler.options.get("scheduler")
        return ALL_SCHEDULERS_BY_NAME[default].label if default else AUTOMATIC.label
    return scheduler.label


def sampler_api_list() -> list[dict]:
    """``GET /sdapi/v1/samplers``: ``[{name, aliases, options: {str: str}}]`` in A1111's order."""
    return [{"name": s.name, "aliases": list(s.aliases), "options": {k: str(v) for k, v in s.options.items()}}
            for s in SAMPLERS]


def scheduler_api_list() -> list[dict]:
    """``GET /sdapi/v1/schedulers``: ``[{name, label, aliases|null, default_rho, need_inner_model}]``."""
    return [{"name": s.name, "label": s.label, "aliases": list(s.aliases) if s.aliases is not None else None,
             "default_rho": s.default_rho, "need_inner_model": s.need_inner_model} for s in SCHEDULERS]
