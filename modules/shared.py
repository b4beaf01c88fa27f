"""A1111's `modules.shared`: `sdwebui.services.runtime`.

A1111 parses the command line when `modules.shared` is first imported, so an extension imported
before the app has started (its preload.py, a script a test loads) finds `shared.cmd_opts`. Here the
runtime gets its flags from the app assembly; until then the facade gives it A1111's defaults at
the first read, as the runtime did itself before it stopped importing the command line."""
from __future__ import annotations

import argparse

from modules._facade import expose
from sdwebui.interfaces.cli import flags
from sdwebui.services import paths as paths_mod, runtime


def flags_or_defaults() -> argparse.Namespace:
    """The app's flags; before the app has set them, A1111's defaults (then kept by the runtime)."""
    if runtime.cmd_opts is None:
        runtime.set_flags(flags.parse_args([], use_env=False))
    return runtime.cmd_opts


def app_paths() -> paths_mod.Paths:
    """The app's paths, following its flags (the defaults' before the app has set them)."""
    flags_or_defaults()
    return runtime.paths


expose(__name__, 'sdwebui.services.runtime', extra=[("sd_model", "sdwebui.services.runtime")],
       computed={"cmd_opts": flags_or_defaults, "paths": app_paths})
