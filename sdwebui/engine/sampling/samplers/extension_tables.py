"""The sampler and schedule type tables in the shapes A1111 extensions read them: `modules.sd_samplers`
(`all_samplers`, `samplers_map`, `find_sampler_config` ...; ADetailer lists sampler names from them)
and `modules.sd_schedulers` (`schedulers`, `schedulers_map`). Built once from the catalog."""
from __future__ import annotations

import logging
from typing import NamedTuple

from sdwebui.engine.sampling.denoiser import Sampler, builtin_constructor
from sdwebui.engine.sampling.samplers.catalog import SAMPLERS, SCHEDULERS, SchedulerInfo
from sdwebui.engine.sampling.samplers.names import resolve

logger = logging.getLogger(__name__)

# what modules.sd_samplers offers (modules.sd_schedulers names its two tables itself)
__all__ = ["SamplerData", "all_samplers", "all_samplers_map", "create_sampler", "find_sampler_config",
           "get_sampler_and_scheduler",
           "samplers", "samplers_for_img2img", "samplers_map", "visible_sampler_names"]


class SamplerData(NamedTuple):
    name: str
    constructor: object
    aliases: list
    options: dict

    def total_steps(self, steps: int) -> int:
        return steps


# each constructor makes A1111's sampler object (model -> Sampler), which extensions wrap to install
# their own denoiser (sd-dynamic-thresholding registers a SamplerData calling the original one)
all_samplers: list[SamplerData] = [SamplerData(s.name, builtin_constructor(s), list(s.aliases), dict(s.options))
                                   for s in SAMPLERS]
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


def create_sampler(name: str, model) -> Sampler:
    """A1111's `sd_samplers.create_sampler`: the sampler object of the table entry `name` (an
    extension's entry included), with `config` set to that entry. The processing uses it as `p.sampler`:
    it runs the catalog sampler the object names, with the object's `model_wrap_cfg` as denoiser."""
    config = find_sampler_config(name)
    if config is None:
        raise ValueError(f"bad sampler name: {name!r}; valid: {', '.join(all_samplers_map)}")
    if getattr(model, "is_sdxl", False) and config.options.get("no_sdxl", False):
        raise ValueError(f"Sampler {config.name} is not supported for SDXL")
    sampler = config.constructor(model)
    sampler.config = config
    return sampler


def get_sampler_and_scheduler(sampler_name: str, scheduler_name: str, *,
                              convert_automatic: bool = True) -> tuple[str, str]:
    sampler, schedule = resolve(sampler_name, scheduler_name)
    return sampler.name, schedule.label
