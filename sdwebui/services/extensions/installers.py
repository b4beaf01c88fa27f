"""Running extensions' code at launch, before the app starts: each active extension's `install.py`
in a subprocess (pip may add packages but never replace an installed one, see launch_utils), and
its `preload.py`, whose `preload(parser)` may add flags before the command line is parsed.
A failure is reported on the extension, never raised."""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import subprocess

from sdwebui.services.extensions import discovery, launch_utils
from sdwebui.services.extensions.extension import Extension

logger = logging.getLogger(__name__)

INSTALL_TIMEOUT_S = float(os.environ.get("SD_WEBUI_INSTALL_TIMEOUT", "600"))


def installer_env() -> dict[str, str]:
    """Environment for install.py: `import launch` works, and pip may never replace torch."""
    env = dict(os.environ)
    root = launch_utils.script_path
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    constraint = launch_utils.constraints_file()
    if constraint is not None:
        env["PIP_CONSTRAINT"] = str(constraint)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


def run_installer(ext: Extension, timeout: float | None = None) -> bool:
    """Run `<ext>/install.py` in a subprocess; returns success. A failure is reported, never raised."""
    script = ext.path / "install.py"
    if not script.is_file():
        return True
    timeout = INSTALL_TIMEOUT_S if timeout is None else timeout
    logger.info("running install.py of extension %s", ext.name)
    try:
        # launch_utils.python: the interpreter whose packages the constraints pin (this one)
        out = subprocess.run([launch_utils.python, str(script)], cwd=str(ext.path), env=installer_env(),
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        ext.report_error(f"install.py did not finish within {timeout:.0f}s and was stopped")
        return False
    except OSError as e:
        ext.report_error(f"install.py could not be started: {e}")
        return False
    for line in (out.stdout or "").splitlines():
        logger.info("[%s install.py] %s", ext.name, line)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout or "").strip().splitlines()[-5:]
        ext.report_error(f"install.py failed (exit code {out.returncode})" + (": " + " / ".join(tail) if tail else ""))
        return False
    return True


def run_installers(exts: list[Extension] | None = None) -> None:
    """install.py of each given (default: active) extension, one after the other."""
    for ext in (discovery.active() if exts is None else exts):
        run_installer(ext)


def preload_extensions(parser: argparse.ArgumentParser, data_dir: str | os.PathLike | None = None, *,
                       ns: argparse.Namespace | None = None) -> list[Extension]:
    """List the extensions of `ns` (or of `data_dir` with default flags) and call each active
    one's `preload.py: preload(parser)`, which may add flags before the command line is parsed.
    Errors are reported on the extension, never raised. Returns the active extensions."""
    if ns is None:   # parsed with the data dir, so the path defaults that follow it (config.json ...) do
        ns, _ = parser.parse_known_args([] if data_dir is None else ["--data-dir", str(data_dir)])
    discovery.list_extensions(ns)
    for ext in discovery.active():
        script = ext.path / "preload.py"
        if not script.is_file():
            continue
        try:
            module_name = "preload_" + re.sub(r"\W", "_", ext.dirname)
            spec = importlib.util.spec_from_file_location(module_name, script)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            preload = getattr(module, "preload", None)
            if callable(preload):
                preload(parser)
        except Exception as e:   # noqa: BLE001 - an extension's bug must not stop the launch
            logger.debug("preload.py of %s failed", ext.name, exc_info=True)
            ext.report_error(f"preload.py failed: {type(e).__name__}: {e}")
    return discovery.active()

