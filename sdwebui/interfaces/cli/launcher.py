"""The launcher's flags: the command line parsed in A1111's launch order, with the extensions'
install.py and preload.py run between the early and the full parse (see flags.parse_args_in_stages).
Extension discovery happens here, so the flags module itself knows nothing of extensions."""
from __future__ import annotations

import argparse
import logging
from typing import Sequence

from sdwebui.interfaces.cli import flags
from sdwebui.services import runtime
from sdwebui.services.extensions import discovery as extensions, installers

logger = logging.getLogger(__name__)


def parse_args_with_extensions(argv: Sequence[str] | None = None, *, use_env: bool = True,
                               run_installers: bool = True) -> argparse.Namespace:
    """The flags after each active extension's install.py (unless --skip-install,
    --skip-prepare-environment or `run_installers=False`) and preload.py, whose `preload(parser)`
    may add flags, have run."""

    def install(_parser: argparse.ArgumentParser, early: argparse.Namespace) -> None:
        if run_installers and not (early.skip_install or early.skip_prepare_environment):
            extensions.list_extensions(early)
            installers.run_installers()

    def preload(parser: argparse.ArgumentParser, early: argparse.Namespace) -> None:
        # A1111 knows --data-dir before preload.py runs: `modules.paths.models_path`, which preload.py
        # files use for their defaults, must follow it. Until the app has flags, the early ones are
        # its flags (the full ones replace them at start).
        if runtime.cmd_opts is None:
            runtime.set_flags(early)
        installers.preload_extensions(parser, ns=early)

    return flags.parse_args_in_stages(argv, use_env=use_env, hooks=(install, preload))


def warn_inert_flags(argv: Sequence[str] | None = None, *, use_env: bool = True) -> list[str]:
    """One warning line for each flag on the command line that has no effect here, naming it and
    why; returns those flags. Called once, at start."""
    given = flags.inert_flags_given(flags.collect_args(argv, use_env=use_env))
    for flag, why in given:
        logger.warning("%s has no effect here: %s", flag, why)
    return [flag for flag, _why in given]
