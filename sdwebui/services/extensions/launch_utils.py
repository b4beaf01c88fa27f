"""Helpers that extensions' install.py files call as `launch.<name>` (A1111's launch_utils names):
is_installed, run, run_pip, git_tag, commit_hash. launch.py re-exports them.

pip never changes a package that is already installed: every pip run gets a constraints file
pinning each installed distribution at its version (also passed to install.py as PIP_CONSTRAINT, so
a direct `pip install` obeys it too). An extension may add packages, but one that asks for another
version of torch, transformers, gradio ... fails to install, with pip's reason, instead of breaking
the app (sd-dynamic-prompts' install.py once replaced transformers 5 with 4 and the app no longer
started).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

python = sys.executable
script_path = str(Path(__file__).resolve().parents[3])
index_url = os.environ.get("INDEX_URL", "")


def is_installed(package: str) -> bool:
    """Whether a distribution (pip name) or an importable module of that name is present."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def run(command: str | list[str], desc: str | None = None, errdesc: str | None = None,
        custom_env: dict[str, str] | None = None, live: bool = False) -> str:
    """Run a shell command (A1111: `launch.run`); returns its output, raises RuntimeError with
    `errdesc` and the output when it fails."""
    if desc:
        print(desc, flush=True)
    shell = isinstance(command, str)
    result = subprocess.run(command, shell=shell, env=custom_env or os.environ, text=True,
                            capture_output=not live, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        text = command if shell else shlex.join(command)
        parts = [f"{errdesc or 'Error running command'}.", f"Command: {text}",
                 f"Error code: {result.returncode}"]
        if result.stdout:
            parts.append(f"stdout: {result.stdout}")
        if result.stderr:
            parts.append(f"stderr: {result.stderr}")
        raise RuntimeError("\n".join(parts))
    return result.stdout or ""


def constraints_file() -> Path | None:
    """A pip constraints file pinning every installed distribution at its installed version.

    The file is named after a hash of its content: apps running from different environments at the
    same time (tests, a second install) never overwrite each other's pins, and an unchanged
    environment reuses its file."""
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if d.metadata and d.metadata["Name"]})
    if not pins:
        return None
    text = "\n".join(pins) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"sd-webui-constraints-{digest}.txt"
    try:
        if not path.is_file() or path.read_text() != text:
            # written aside and renamed, so a concurrent pip never reads a half-written file
            fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent, text=True)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
    except OSError as e:
        logger.warning("could not write the pip constraints file %s: %s", path, e)
        return None
    return path


def run_pip(command: str, desc: str | None = None, live: bool = False) -> str:
    """`python -m pip <command> --prefer-binary`, with every installed package pinned."""
    args = [python, "-m", "pip", *shlex.split(command), "--prefer-binary"]
    constraint = constraints_file()
    if constraint is not None and args[3:4] == ["install"]:
        args += ["-c", str(constraint)]
    if index_url:
        args += ["--index-url", index_url]
    return run(args, desc=f"Installing {desc}" if desc else None,
               errdesc=f"Couldn't install {desc or command}", live=live)


def _git_out(*args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", script_path, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "<none>"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "<none>"


def commit_hash() -> str:
    """The project checkout's commit ("<none>" outside a git checkout)."""
    return _git_out("rev-parse", "HEAD")


def git_tag() -> str:
    """The project's version tag (`git describe --tags`), else its version string."""
    tag = _git_out("describe", "--tags")
    if tag != "<none>":
        return tag
    try:
        from sdwebui.version import __version__ as version  # type: ignore[attr-defined]
        return str(version)
    except Exception:  # noqa: BLE001
        return "<none>"
