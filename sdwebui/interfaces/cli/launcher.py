"""The launcher's flags: the command line parsed in A1111's launch order, with the extensions'
install.py and preload.py run between the early and the full parse (see flags.parse_args_in_stages).
Extension discovery happens here, so the flags module itself knows nothing of extensions."""
from __future__ import annotations

import argparse
import logging
from typing import Sequence

from sdwebui.interfaces.cli import flags
from sdwebui.services.extensions import discovery as extensions, installers

logger = logging.getLogger(__name__)


def parse_args_with_extensions(argv: Sequence[str] | None = None, *, use_env: bool = True,
                               run_installers: bool = True) -> argparse.Namespace:
    """The flags after each active extension's install.py (unless --skip-install or
    `run_installers=False`) and preload.py, whose `preload(parser)` may add flags, have run."""

    def install(_parser: argparse.ArgumentParser, early: argparse.Namespace) -> None:
        if run_installers and not early.skip_install:
            extensions.list_extensions(early)
            installers.run_installers()

    def preload(parser: argparse.ArgumentParser, early: argparse.Namespace) -> None:
        installers.preload_extensions(parser, ns=early)

    return flags.parse_args_in_stages(argv, use_env=use_env, hooks=(install, preload))
