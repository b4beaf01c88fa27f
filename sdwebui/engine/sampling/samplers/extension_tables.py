"""The sampler and schedule type tables in the shapes A1111 extensions read them: `modules.sd_samplers`
(`all_samplers`, `samplers_map`, `find_sampler_config` ...; ADetailer lists sampler names from them)
and `modules.sd_schedulers` (`schedulers`, `schedulers_map`). Built once from the catalog."""
from __future__ import annotations

import logging
from typing import NamedTuple

from sdwebui.engine.sampling.samplers.catalog import SAMPLERS, SCHEDULERS, SchedulerInfo
from sdwebui.engine.sampling.samplers.names import resolve

logger = logging.getLogger(__name__)

# what modules.sd_samplers offers (modules.sd_schedulers names its two tables itself)
__all__ = ["SamplerData", "all_samplers", "all_samplers_map", "find_sampler_config", "get_sampler_and_scheduler",
           "samplers", "samplers_for_img2img", "samplers_map", "visible_sampler_names"]


class SamplerData(NamedTuple):
    name: str
    constructor: object
    aliases: list
    options: dict

    def total_steps(self, steps: int) -> int:
        return steps


all_samplers: list[SamplerData] = [SamplerData(s.name, None, list(s.aliases), dict(s.options)) for s in SAMPLERS]
all_samplers_map = {s.name: s for s in all_samplers}
samplers = all_samplers
samplers_for_img2img = all_samplers
samplers_map = {alias.lower(): s.name for s in all_samplers for alias in [s.name, *s.aliases]}

schedulers: list[SchedulerInfo] = list(SCHEDULERS)
schedulers_map = {**{s.name: s for s in schedulers}, **{s.label: s for s in schedulers}}


def visible_sampler_names() -> list[str]:
    return [s.name for s in all_samplers]


def find_sampler_config(name: str | None) -> SamplerData | None:
    if name is None:
        return all_samplers[0]
    return all_samplers_map.get(samplers_map.get(name.lower(), name))


def get_sampler_and_scheduler(sampler_name: str, scheduler_name: str, *,
                              convert_automatic: bool = True) -> tuple[str, str]:
    sampler, schedule = resolve(sampler_name, scheduler_name)
    return sampler.name, schedule.label
