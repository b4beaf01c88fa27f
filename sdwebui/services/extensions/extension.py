"""One extension folder (`Extension`): its names and metadata.ini, the errors reported about it
(the Extensions tab shows them), and its git checkout: remote, branch, commit, checking for and
fetching updates."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import NamedTuple

from sdwebui.services.extensions.git import GitError, run_git
from sdwebui.services.extensions.metadata import ExtensionMetadata

logger = logging.getLogger(__name__)


class _GitInfo(NamedTuple):
    remote: str | None
    branch: str | None
    commit_hash: str
    commit_date: int | None


class Extension:
    """One extension folder. `name` is metadata.ini's `[Extension] Name` or the folder name;
    `dirname` is always the folder name. Git fields are read on first use and cached
    (refresh_git_info() forgets them); built-ins and folders without `.git` have none."""

    def __init__(self, path: Path, *, is_builtin: bool = False, enabled: bool = True):
        self.path = Path(path)
        self.dirname = self.path.name
        self.is_builtin = is_builtin
        self.enabled = enabled
        self.metadata = ExtensionMetadata(self.path, self.dirname)
        self.name = self.metadata.name
        self.canonical_name = self.metadata.canonical_name
        self.errors: list[str] = []          # everything reported about it, discovery included
        self._reported: list[str] = []       # errors reported after discovery (kept across re-listing)
        self.status = ""                     # update status: "", "unknown", "latest", "new commits", ...
        self.can_update = False
        self._git: _GitInfo | None = None
        self._lock = threading.Lock()
        if self.metadata.error:
            self.report_discovery_error(self.metadata.error)

    def __repr__(self) -> str:
        return f"Extension({self.name!r}, {str(self.path)!r}, builtin={self.is_builtin}, enabled={self.enabled})"

    # errors ---------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        """Record a failure of this extension (a script import, a hook, install.py); logged and
        shown in the Extensions tab. Never raises."""
        logger.error("extension %s: %s", self.name, message)
        self.errors.append(message)
        self._reported.append(message)

    def report_discovery_error(self, message: str) -> None:
        """Record a problem found while listing it (a re-listing finds it again, so it is not kept)."""
        logger.error("extension %s: %s", self.name, message)
        self.errors.append(message)

    def keep_reported_errors(self, previous: Extension) -> None:
        """Take over the errors reported at run time on `previous`, the same folder before a re-listing."""
        self._reported = list(previous._reported)
        self.errors.extend(previous._reported)

    # files ----------------------------------------------------------------------------
    def list_files(self, subdir: str, suffix: str) -> list[Path]:
        """Files `<subdir>/*<suffix>` (suffix compared case-insensitively), sorted by name."""
        folder = self.path / subdir
        if not folder.is_dir():
            return []
        return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix.lower()),
                      key=lambda p: p.name)

    # git ------------------------------------------------------------------------------
    @property
    def is_git(self) -> bool:
        return not self.is_builtin and (self.path / ".git").exists()

    def _git_info(self) -> _GitInfo:
        with self._lock:
            if self._git is None:
                self._git = self._read_git_info()
                if self._git.remote is not None and not self.status:
                    self.status = "unknown"
            return self._git

    def _read_git_info(self) -> _GitInfo:
        # `.git` must be in the folder itself: a plain folder inside another checkout (the
        # project's own, by default) must not report that checkout's state
        if not self.is_git:
            return _GitInfo(None, None, "", None)
        try:
            head = run_git(["log", "-1", "--format=%H %ct"], cwd=self.path).split()
            remotes = run_git(["remote"], cwd=self.path).split()
            remote = None
            if remotes:
                name = "origin" if "origin" in remotes else remotes[0]
                remote = run_git(["remote", "get-url", name], cwd=self.path) or None
            branch = run_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd=self.path)
        except GitError as e:
            self.report_discovery_error(f"could not read its git repository: {e}")
            return _GitInfo(None, None, "", None)
        return _GitInfo(remote, None if branch == "HEAD" else branch,
                        head[0] if head else "", int(head[1]) if len(head) > 1 else None)

    def refresh_git_info(self) -> None:
        with self._lock:
            self._git = None

    @property
    def remote(self) -> str | None:
        return self._git_info().remote

    @property
    def branch(self) -> str | None:
        return self._git_info().branch

    @property
    def commit_hash(self) -> str:
        return self._git_info().commit_hash

    @property
    def commit_date(self) -> int | None:
        return self._git_info().commit_date

    @property
    def version(self) -> str:
        return self.commit_hash[:8]

    def remote_name(self) -> str:
        remotes = run_git(["remote"], cwd=self.path).split()
        if not remotes:
            raise GitError("the repository has no remote")
        return "origin" if "origin" in remotes else remotes[0]

    def check_updates(self) -> str:
        """Fetch the remote branch and compare: sets and returns `status` ("latest", "new commits",
        or "unknown (...)" when the remote cannot be reached), and `can_update`."""
        self.can_update = False
        if not self.is_git or self.remote is None:
            self.status = "" if not self.is_git else "unknown (no remote)"
            return self.status
        if self.branch is None:
            self.status = "unknown (detached HEAD)"
            return self.status
        try:
            remote = self.remote_name()
            run_git(["fetch", "--quiet", remote, self.branch], cwd=self.path, timeout=120)
            theirs = run_git(["rev-parse", "FETCH_HEAD"], cwd=self.path)
            mine = run_git(["rev-parse", "HEAD"], cwd=self.path)
        except GitError as e:
            logger.warning("extension %s: update check failed: %s", self.name, e)
            self.status = f"unknown (remote error: {e})"
            return self.status
        self.can_update = theirs != mine
        self.status = "new commits" if self.can_update else "latest"
        return self.status

    def fetch_and_reset_hard(self) -> None:
        """Update to the remote branch's head (A1111: fetch, then `reset --hard <remote>/<branch>`)."""
        if not self.is_git:
            raise GitError("not a git checkout")
        if self.branch is None:
            raise GitError("the checkout is on a detached HEAD; no branch to update to")
        remote = self.remote_name()
        run_git(["fetch", "--quiet", remote, self.branch], cwd=self.path, timeout=300)
        run_git(["reset", "--hard", "FETCH_HEAD"], cwd=self.path)
        self.refresh_git_info()
        self.can_update = False
        self.status = "latest"

