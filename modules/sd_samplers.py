"""A1111's `modules.sd_samplers` names that extensions read (ADetailer lists sampler names)."""
from __future__ import annotations

from typing import NamedTuple

from sdwebui.engine.sampling import samplers as _samplers


class SamplerData(NamedTuple):
    name: str
    constructor: object
    aliases: list
    options: dict

    def total_steps(self, steps: int) -> int:
        return steps


all_samplers: list[SamplerData] = [SamplerData(s.name, None, list(s.aliases), dict(s.options))
                                   for s in _samplers.SAMPLERS]
all_samplers_map = {s.name: s for s in all_samplers}
samplers = all_samplers
samplers_for_img2img = all_samplers
samplers_map = {alias.lower(): s.name for s in all_samplers for alias in [s.name, *s.aliases]}


def visible_sampler_names() -> list[str]:
    return [s.name for s in all_samplers]


def find_sampler_config(name: str | None) -> SamplerData | None:
    if name is None:
        return all_samplers[0]
    return all_samplers_map.get(samplers_map.get(name.lower(), name))


def get_sampler_and_scheduler(sampler_name: str, scheduler_name: str, *, convert_automatic: bool = True):
    sampler, schedule = _samplers.resolve(sampler_name, scheduler_name)
    return sampler.name, schedule.label
