"""Entry point: `python launch.py [flags]` (webui.sh calls this after preparing the venv).

Flags come from COMMANDLINE_ARGS (webui-user.sh) followed by the command line.
"""
from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str | None) -> None:
    level = (level or os.environ.get("SD_WEBUI_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s [%(name)s] %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "httpcore", "urllib3", "PIL", "matplotlib", "multipart", "python_multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    from modules import cmd_args

    ns = cmd_args.parse_args(argv)
    setup_logging(ns.loglevel)
    log = logging.getLogger("launch")
    for flag in cmd_args.used_noop_flags(ns):
        log.info("%s has no effect here: %s", flag, cmd_args.NOOP_FLAGS[flag])
    if ns.exit:
        log.info("--exit: environment prepared, exiting")
        return
    import webui

    webui.serve(ns)


if __name__ == "__main__":
    main(sys.argv[1:])
