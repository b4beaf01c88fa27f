"""pydantic 1 behaviour that A1111 extensions rely on, on pydantic 2 (A1111 1.10 ships pydantic 1.10).

* `Model.__config__`: agent-scheduler subclasses `StableDiffusionTxt2ImgProcessingAPI.__config__` (and
  its own models' `__config__`) in nested `class Config(...)` bodies. pydantic 2 has no `__config__`;
  it still reads a nested `class Config` (deprecated, with a warning), merged over the parent model's
  `model_config`. So `__config__` here is a plain class carrying the model's `model_config` entries as
  attributes: subclassing it gives the configuration pydantic 1 would, and reading an entry works.
* A field annotated `Optional[X]` without a default is optional with the default None in pydantic 1,
  required in pydantic 2. Models defined by extensions (their module's file lies in an extensions
  folder) get pydantic 1's rule, so their requests and records validate as their authors wrote them
  (agent-scheduler's Task has such fields); the project's own models and libraries' are untouched.
"""
from __future__ import annotations

import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sdwebui.services import runtime

logger = logging.getLogger(__name__)


class _ConfigOf:
    """Descriptor: `SomeModel.__config__` -> a class with SomeModel's config entries."""

    def __get__(self, instance: Any, owner: type | None = None) -> type:
        model = owner if owner is not None else type(instance)
        return type("Config", (), dict(getattr(model, "model_config", {}) or {}))


def _allows_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None) or annotation is Any:
        return annotation is not Any
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(a is type(None) for a in typing.get_args(annotation))
    return False


def _from_extension(cls: type) -> bool:
    paths = runtime.paths
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    if paths is None or not filename:
        return False
    file = Path(filename).resolve()
    return any(file.is_relative_to(Path(d).resolve()) for d in (paths.extensions, paths.extensions_builtin))


def _optional_means_default_none(cls: type[BaseModel]) -> None:
    fields = [f for f in cls.model_fields.values() if f.is_required() and _allows_none(f.annotation)]
    if not fields or not _from_extension(cls):
        return
    for f in fields:
        f.default = None
    cls.model_rebuild(force=True)


def install() -> None:
    """Once: `__config__` on every pydantic model (a pydantic that has it keeps its own) and pydantic
    1's Optional rule for the extensions' models."""
    if hasattr(BaseModel, "__config__"):
        return
    BaseModel.__config__ = _ConfigOf()
    original = BaseModel.__dict__["__pydantic_init_subclass__"]

    def init_subclass(cls: type[BaseModel], **kwargs: Any) -> None:
        original.__get__(None, cls)(**kwargs)
        _optional_means_default_none(cls)

    BaseModel.__pydantic_init_subclass__ = classmethod(init_subclass)
