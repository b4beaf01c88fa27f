"""A1111's process-level modules: `restart`, `sysinfo`, `initialize`/`shared_init`, `logging_config`,
`profiling`, and the per-platform flags (`mac_specific`, `xpu_specific`, `npu_specific`)."""
from __future__ import annotations

import json
import logging
import os
import platform
import sys
from typing import Any

import torch

from sdwebui.services import runtime
from sdwebui.services.paths import SCRIPT_PATH

logger = logging.getLogger(__name__)

__all__ = ["Profiler", "get", "get_dict", "has_mps", "has_npu", "has_xpu", "imports", "initialize",
           "initialize_rest", "is_restartable", "restart_program", "setup_logging", "stop_program", "check_versions"]

# --- restart --------------------------------------------------------------------------------------


def is_restartable() -> bool:
    """Whether a launcher waits to start the server again (webui.sh sets SD_WEBUI_RESTART)."""
    return bool(os.environ.get("SD_WEBUI_RESTART"))


def restart_program() -> None:
    """Leave a restart marker for webui.sh and stop the server (A1111 exits the process at once;
    here the server shuts down cleanly, finishing the job in progress)."""
    tmp = runtime.paths.tmp if runtime.paths is not None else SCRIPT_PATH / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "restart").touch()
    stop_program()


def stop_program() -> None:
    if runtime.server_running():
        runtime.request_server_stop()
    else:
        os._exit(0)


# --- sysinfo --------------------------------------------------------------------------------------

def get_dict() -> dict[str, Any]:
    """A1111's system information report (Settings > Sysinfo), without secrets: the flags as given
    but no environment values beyond A1111's list, and no checksum."""
    from importlib import metadata

    from sdwebui.services import errors
    from sdwebui.version import __version__

    paths = runtime.paths
    extensions: list[dict[str, Any]] = []
    try:
        from sdwebui.services.extensions import discovery

        extensions = [{"name": e.name, "path": str(e.path), "enabled": e.enabled} for e in discovery.list_extensions()]
    except Exception as e:     # the report is for diagnosing problems: never fail for one section
        extensions = [{"error": str(e)}]
    return {
        "Platform": platform.platform(),
        "Python": platform.python_version(),
        "Version": __version__,
        "Script path": str(SCRIPT_PATH),
        "Data path": str(paths.data) if paths else None,
        "Extensions dir": str(paths.extensions) if paths else None,
        "Commandline": sys.argv,
        "Torch": {"version": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()},
        "Exceptions": errors.get_exceptions(),
        "CPU": {"model": platform.machine(), "count logical": os.cpu_count()},
        "Extensions": extensions,
        "Environment": {k: os.environ[k] for k in ("COMMANDLINE_ARGS", "GIT", "INDEX_URL", "WEBUI_LAUNCH_LIVE_OUTPUT",
                                                    "GRADIO_ANALYTICS_ENABLED", "HF_HOME", "PYTHONPATH")
                        if k in os.environ},
        "Config": dict(runtime.opts.data) if runtime.opts is not None else {},
        "Packages": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                           if d.metadata["Name"]),
    }


def get() -> str:
    return json.dumps(get_dict(), ensure_ascii=False, indent=4, default=str)


# --- initialize -------------------------------------------------------------------------------------

def imports() -> None:
    """A1111 imports torch and gradio early here to time them; nothing to do."""


def check_versions() -> None:
    """pip enforces the tested version ranges (pyproject.toml); nothing more to check."""


def initialize() -> None:
    """The app initializes itself at launch (services.runtime.initialize); calling this again would
    build a second set of singletons, so it is refused when the app is running."""
    if runtime.opts is not None:
        return
    raise RuntimeError("initialize(): the app initializes itself when launched (launch.py / webui.py)")


def initialize_rest(*, reload_script_modules: bool = False) -> None:
    """A1111 reloads scripts here; the Extensions tab's Apply and restart does that in this app."""
    initialize()


def setup_logging(loglevel: str | None) -> None:
    """Set the root log level (A1111's --loglevel / SD_WEBUI_LOG_LEVEL); the app configures its
    handlers at launch."""
    level = loglevel or os.environ.get("SD_WEBUI_LOG_LEVEL")
    if level:
        logging.getLogger().setLevel(getattr(logging, level.upper(), logging.INFO))


# --- profiling ----------------------------------------------------------------------------------------

class Profiler:
    """A1111's torch profiler around a job, on when the settings' profiling_enable is."""

    def __init__(self) -> None:
        opts = runtime.opts
        self.enabled = bool(getattr(opts, "profiling_enable", False)) if opts is not None else False
        self.profiler: Any = None

    def __enter__(self) -> "Profiler":
        if self.enabled:
            self.profiler = torch.profiler.profile(record_shapes=True, profile_memory=True, with_stack=True)
            self.profiler.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.profiler is None:
            return
        self.profiler.__exit__(*exc)
        filename = getattr(runtime.opts, "profiling_filename", "trace.json")
        self.profiler.export_chrome_trace(filename)
        logger.info("profile written to %s", filename)


# --- the platforms' flags --------------------------------------------------------------------------

has_mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
has_xpu = bool(hasattr(torch, "xpu") and torch.xpu.is_available())
has_npu = False     # Ascend NPUs need torch_npu, which this backend does not use
