"""Entry point: `python launch.py [flags]` (webui.sh calls this after preparing the venv).

Flags come from COMMANDLINE_ARGS (webui-user.sh) followed by the command line.
"""
from __future__ import annotations

import logging
import os
import sys

# A1111's helpers that extensions' install.py files call as `launch.<name>`
from sdwebui.services.extensions.launch_utils import commit_hash, git_tag, index_url, is_installed, python, run, run_pip, script_path


def setup_logging(level: str | None) -> None:
    level = (level or os.environ.get("SD_WEBUI_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s [%(name)s] %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "httpcore", "urllib3", "PIL", "matplotlib", "multipart", "python_multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    from sdwebui.interfaces.cli import flags as cmd_args, launcher

    # logging first (from the flags known before extensions add theirs), so that install.py
    # and preload.py failures are shown; then install.py, preload.py and the full parse
    setup_logging(cmd_args.parse_early(cmd_args.collect_args(argv)).loglevel)
    ns = launcher.parse_args_with_extensions(argv)
    log = logging.getLogger("launch")
    launcher.warn_inert_flags(argv)   # one line for each given flag that cannot act here
    if ns.exit:
        log.info("--exit: environment prepared, exiting")
        return
    from sdwebui.interfaces import app as webui

    webui.serve(ns)


if __name__ == "__main__":
    main(sys.argv[1:])
