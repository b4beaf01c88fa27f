"""Saved config states (A1111's Backup/Restore): which extensions were enabled at which commits,
and the web UI's own checkout, as JSON files in `<data>/config_states/`, in A1111's format:

    {"name": ..., "created_at": <unix time>,
     "webui": {"remote", "commit_hash", "commit_date", "branch"},
     "extensions": {<name>: {"name", "path", "enabled", "is_builtin", "remote", "commit_hash",
                             "commit_date", "branch", "have_info_from_repo"}}}

Restoring checks the recorded commits out again (`git reset --hard`, fetching only when a commit
is not already present) and gives back the recorded enabled states; who may do it and persisting
the enabled states is manager.restore_config_state's part.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from sdwebui.engine.atomic_write import atomic_write_text
from sdwebui.services import paths as paths_mod
from sdwebui.services.extensions import git
from sdwebui.services.extensions.extension import Extension
from sdwebui.services.extensions.git import GitError

logger = logging.getLogger(__name__)

FOLDER = "config_states"
RESTORE_TYPES = ("extensions", "webui", "both")
CURRENT = "Current"        # the dropdown's entry for the state as it is now (A1111's label)


def folder_for(data_dir: Path) -> Path:
    """Where the states are kept: `<data>/config_states` (A1111: `<webui>/config_states`)."""
    return Path(data_dir) / FOLDER


# ---------------------------------------------------------------------------------------
# the state now
# ---------------------------------------------------------------------------------------
def webui_config(root: Path | None = None) -> dict:
    """The web UI's own checkout (all None when it is not a git checkout)."""
    root = paths_mod.SCRIPT_PATH if root is None else root
    empty = {"remote": None, "commit_hash": None, "commit_date": None, "branch": None}
    if not (root / ".git").exists():
        return empty
    try:
        info = git.repo_info(root)
    except GitError as e:
        logger.warning("could not read the web UI's git checkout at %s: %s", root, e)
        return empty
    return {"remote": info.remote, "commit_hash": info.commit_hash or None, "commit_date": info.commit_date,
            "branch": info.branch}


def extension_config(exts: Iterable[Extension]) -> dict[str, dict]:
    """Each extension's entry, keyed by name (A1111's keys)."""
    config = {}
    for ext in exts:
        config[ext.name] = {
            "name": ext.name, "path": str(ext.path), "enabled": ext.enabled, "is_builtin": ext.is_builtin,
            "remote": ext.remote, "commit_hash": ext.commit_hash or None, "commit_date": ext.commit_date,
            "branch": ext.branch, "have_info_from_repo": ext.is_git,
        }
    return config


def current_state(exts: Iterable[Extension]) -> dict:
    return {"created_at": time.time(), "webui": webui_config(), "extensions": extension_config(exts)}


# ---------------------------------------------------------------------------------------
# the saved ones
# ---------------------------------------------------------------------------------------
def display_name(state: dict) -> str:
    """A1111's dropdown entry: `<name>: <created, local time>`."""
    created = datetime.fromtimestamp(float(state["created_at"])).strftime("%Y-%m-%d %H:%M:%S")
    return f"{state.get('name', 'Config')}: {created}"


def list_states(folder: Path) -> dict[str, dict]:
    """The saved states, newest first, keyed by display_name(); each carries its `filepath`.
    An unreadable file is logged and left out."""
    states = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(state, dict) or not isinstance(state.get("created_at"), (int, float)):
                    raise ValueError('it has no "created_at" time')
            except (OSError, ValueError) as e:
                logger.error("config state %s is unreadable: %s", path, e)
                continue
            state["filepath"] = str(path)
            states.append(state)
    states.sort(key=lambda s: s["created_at"], reverse=True)
    return {display_name(s): s for s in states}


def _file_name(name: str) -> str:
    """A safe file-name part: the last path part, as A1111 takes it, without leading dots or
    characters some file systems refuse."""
    name = re.split(r"[\\/]", (name or "").strip())[-1]
    name = re.sub(r'[:*?"<>|\0]', "_", name).strip().lstrip(".")
    return name or "Config"


def save_state(folder: Path, name: str, exts: Iterable[Extension]) -> Path:
    """Write the current state as `<folder>/<YYYY_mm_dd-HH_MM_SS>_<name>.json`; returns its path."""
    state = current_state(exts)
    state["name"] = _file_name(name)
    stamp = datetime.fromtimestamp(state["created_at"]).strftime("%Y_%m_%d-%H_%M_%S")
    path = folder / f"{stamp}_{state['name']}.json"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(state, indent=4, ensure_ascii=False))
    logger.info("saved the web UI / extension state to %s", path)
    return path


# ---------------------------------------------------------------------------------------
# restoring
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreResult:
    name: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'+' if self.ok else '!'} {self.name}: {self.text}"


def restore_extensions(state: dict, exts: Iterable[Extension]) -> tuple[list[RestoreResult], list[str]]:
    """Check out each installed extension's recorded commit and take its recorded enabled state;
    an installed extension the state does not know is disabled (A1111). Returns the results and
    the names to disable. Built-ins have no commit; their recorded enabled state is kept (A1111
    enables them all)."""
    recorded = state.get("extensions")
    if not isinstance(recorded, dict):
        raise ValueError("the saved state has no extension data")
    results: list[RestoreResult] = []
    disabled: list[str] = []
    for ext in exts:
        entry = recorded.get(ext.name)
        if not isinstance(entry, dict):
            if ext.is_builtin:
                if not ext.enabled:
                    disabled.append(ext.name)
                continue
            disabled.append(ext.name)
            results.append(RestoreResult(ext.name, False, "not in the saved state; disabled"))
            continue
        if not entry.get("enabled", False):
            disabled.append(ext.name)
        if ext.is_builtin:
            continue
        wanted = entry.get("commit_hash") or ""
        before = ext.commit_hash
        if not wanted:
            results.append(RestoreResult(ext.name, False, "no commit recorded; left as it is"))
        elif not ext.is_git:
            results.append(RestoreResult(ext.name, False, "not a git checkout; left as it is"))
        elif before == wanted:
            results.append(RestoreResult(ext.name, True, f"already at {wanted[:8]}"))
        else:
            try:
                ext.fetch_and_reset_hard(wanted)
                results.append(RestoreResult(ext.name, True, f"{before[:8] or '?'} -> {wanted[:8]}"))
            except GitError as e:
                results.append(RestoreResult(ext.name, False, f"could not check out {wanted[:8]}: {e}"))
    for r in results:
        (logger.info if r.ok else logger.warning)("restoring extension state: %s", r.line())
    return results, disabled


def restore_webui(state: dict, root: Path | None = None) -> RestoreResult:
    """Check the web UI's recorded commit out. Refused when the checkout has uncommitted changes
    to tracked files (A1111 resets them away)."""
    root = paths_mod.SCRIPT_PATH if root is None else root
    wanted = (state.get("webui") or {}).get("commit_hash") if isinstance(state.get("webui"), dict) else None
    if not wanted:
        return RestoreResult("webui", False, "no web UI commit recorded in this state")
    if not (root / ".git").exists():
        return RestoreResult("webui", False, f"{root} is not a git checkout")
    try:
        if git.run_git(["status", "--porcelain", "--untracked-files=no"], cwd=root):
            return RestoreResult("webui", False, f"{root} has uncommitted changes; commit or stash them first")
        if git.repo_info(root).commit_hash == wanted:
            return RestoreResult("webui", True, f"already at {wanted[:8]}")
        git.reset_hard(root, wanted)
    except GitError as e:
        return RestoreResult("webui", False, f"could not check out {wanted[:8]}: {e}")
    logger.info("restored the web UI to commit %s", wanted)
    return RestoreResult("webui", True, f"restored to {wanted[:8]}")
