"""/sdapi/v1/extensions: installed extensions with their git information (A1111 lists only
those that are git checkouts with a remote)."""
from __future__ import annotations

import logging
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)


def _git(folder: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def list_extensions(dirs: list[Path], disabled: list[str]) -> list[dict]:
    out = []
    for base in dirs:
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (folder / ".git").exists():
                continue
            remote = _git(folder, "config", "--get", "remote.origin.url")
            if not remote:
                continue
            commit = _git(folder, "rev-parse", "HEAD")
            date = _git(folder, "log", "-1", "--format=%ct")
            out.append({
                "name": folder.name, "remote": remote, "branch": _git(folder, "rev-parse", "--abbrev-ref", "HEAD"),
                "commit_hash": commit, "version": commit[:8], "commit_date": int(date) if date.isdigit() else 0,
                "enabled": folder.name not in disabled,
            })
    return out
