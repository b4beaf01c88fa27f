"""How each file of `modules/` stands for A1111's module of the same name.

A facade module holds no object of its own: reading `modules.shared.opts` reads the implementation's
current `opts` (so a value the implementation replaces later, at start-up, is what extensions see),
and assigning `modules.processing.process_images = wrapper` assigns it in the implementation module
that owns the name, whose callers look the name up there at call time. That is how extensions'
run-time monkeypatches keep working although the implementation never imports `modules`.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable, Iterable, Mapping

# names every implementation module has that are not part of what it offers
_NOT_EXPORTED = {"annotations", "logger", "log"}


class FacadeModule(types.ModuleType):
    """A module whose public names live in implementation modules (see module docstring)."""

    def _owner(self, name: str) -> str | None:
        return self.__dict__.get("_facade_owners", {}).get(name)

    def __getattr__(self, name: str) -> Any:
        computed = self.__dict__.get("_facade_computed", {}).get(name)
        if computed is not None:
            return computed()
        owner = self._owner(name)
        if owner is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(owner), name)

    def __setattr__(self, name: str, value: Any) -> None:
        owner = self._owner(name)
        if owner is None:
            super().__setattr__(name, value)
        else:
            setattr(importlib.import_module(owner), name, value)

    def __delattr__(self, name: str) -> None:
        owner = self._owner(name)
        if owner is None:
            super().__delattr__(name)
        else:
            delattr(importlib.import_module(owner), name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_facade_owners", {}))
                      | set(self.__dict__.get("_facade_computed", {})))


class _Forwarded:
    """A forwarded name as a data descriptor on its facade's own class. A plain `__getattr__` name
    looks, to tools that save and restore attributes, like one the module lacks: pytest's monkeypatch
    (9.x) then "restores" it with delattr, which the facade forwards, deleting the owner's value for
    every later reader. As a data descriptor it is read back and assigned again, in the owner."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, module: FacadeModule | None, cls: type | None = None) -> Any:
        if module is None:
            return self
        if self.name in module.__dict__:        # a name the facade file itself defines wins, as before
            return module.__dict__[self.name]
        return module.__getattr__(self.name)

    def __set__(self, module: FacadeModule, value: Any) -> None:
        FacadeModule.__setattr__(module, self.name, value)

    def __delete__(self, module: FacadeModule) -> None:
        FacadeModule.__delattr__(module, self.name)


def _public_names(module: types.ModuleType) -> list[str]:
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return list(declared)
    return [n for n, v in vars(module).items()
            if not n.startswith("_") and n not in _NOT_EXPORTED and not isinstance(v, types.ModuleType)]


def expose(facade: str, *implementations: str, extra: Iterable[tuple[str, str]] = (),
           computed: Mapping[str, Callable[[], Any]] | None = None) -> None:
    """Make module `facade` stand for the public names of `implementations` (the first one that
    has a name owns it). `extra`: (name, module) pairs for names a module serves lazily through its
    own `__getattr__` (`shared.sd_model`). `computed`: names whose value the facade derives from the
    running app at each read (`devices.device`, `paths.models_path`); assigning one of them still
    assigns it in its owner, if it has one."""
    owners: dict[str, str] = {}
    for impl in implementations:
        for name in _public_names(importlib.import_module(impl)):
            owners.setdefault(name, impl)
    owners.update(dict(extra))
    module = sys.modules[facade]
    # a class of its own per facade, holding its forwarded names (see _Forwarded)
    forwarded = {name: _Forwarded(name) for name in owners if name not in module.__dict__}
    module.__class__ = type("FacadeModule", (FacadeModule,), {"__module__": __name__, **forwarded})
    module.__dict__["_facade_owners"] = owners
    module.__dict__["_facade_computed"] = dict(computed or {})
    module.__dict__["__all__"] = sorted(set(owners) | set(computed or {}))
