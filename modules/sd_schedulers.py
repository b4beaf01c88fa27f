"""A1111's `modules.sd_schedulers` names that extensions read."""
from __future__ import annotations

from sdwebui.engine.sampling import samplers as _samplers

schedulers = list(_samplers.SCHEDULERS)
schedulers_map = {**{s.name: s for s in schedulers}, **{s.label: s for s in schedulers}}
