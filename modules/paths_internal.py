"""A1111's `modules.paths_internal` names, for extensions that import them from there."""
from __future__ import annotations


def __getattr__(name: str):
    from sdwebui.services import paths

    return getattr(paths, name)
