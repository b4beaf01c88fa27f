"""A1111's names tied to its own backend (the LDM model classes, k-diffusion samplers, attention
hijacks, hypernetworks), kept so that extensions importing them load. Each carries what has a
meaning on this diffusers backend; what cannot work is an `unsupported(...)` callable that raises
NotImplementedError saying what differs and what to use instead (docs/compatibility.md lists them)."""
from __future__ import annotations

import functools
from typing import Any, Callable

BACKEND = "this backend runs diffusers models, not A1111's LDM classes"


def unsupported(name: str, instead: str = "") -> Callable[..., Any]:
    """A stand-in for A1111's `name`: importing it works, calling it raises NotImplementedError."""

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name}: {BACKEND}" + (f"; {instead}" if instead else ""))

    stand_in.__name__ = stand_in.__qualname__ = name.rsplit(".", 1)[-1]
    stand_in.__doc__ = f"Not available: {BACKEND}. {instead}".strip()
    return stand_in


class UnsupportedClass:
    """Base of stand-ins for A1111 classes bound to its LDM backend: subclassing works (extensions
    define subclasses at import), creating an instance raises NotImplementedError."""

    a1111_name = "?"
    instead = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{self.a1111_name}: {BACKEND}" + (f"; {self.instead}" if self.instead else ""))


@functools.cache
def unsupported_class(name: str, instead: str = "") -> type:
    return type(name.rsplit(".", 1)[-1], (UnsupportedClass,), {"a1111_name": name, "instead": instead,
                                                              "__doc__": f"Not available: {BACKEND}. {instead}"})
