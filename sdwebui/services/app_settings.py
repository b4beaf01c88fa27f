"""What services read of the running app: its flags, paths and options.

The runtime (sdwebui.services.runtime) imports the services, so they cannot import it back. It hands
itself to the services that need these values when it is imported (runtime._wire_services), and
they read them at each use: a value that initialize() sets later, or that a test swaps in, is the
one they see.
"""
from __future__ import annotations

import argparse
from typing import Generic, Protocol, TypeVar

from sdwebui.services.options.store import Options
from sdwebui.services.paths import Paths


class AppSettings(Protocol):
    """The running app's flags, paths and options (the runtime module is one)."""
    cmd_opts: argparse.Namespace | None     # the flags; None until the app (or A1111's facade) sets them
    paths: Paths | None                     # derived from the flags
    opts: Options | None                    # the settings; None until initialize() has loaded config.json


App = TypeVar("App", bound=AppSettings)


class AppSlot(Generic[App]):
    """Where a service keeps the app the runtime gave it at start (its configure()), so that using
    the service before then fails with a message that says so."""

    def __init__(self, service: str):
        self._service = service
        self._app: App | None = None

    def set(self, app: App) -> None:
        self._app = app

    def get(self) -> App:
        if self._app is None:
            raise RuntimeError(f"{self._service} is not configured: sdwebui.services.runtime configures it "
                               "when it is imported")
        return self._app

    def get_or_none(self) -> App | None:
        return self._app
