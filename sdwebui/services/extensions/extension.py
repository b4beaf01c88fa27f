"""One extension folder (`Extension`): its names and metadata.ini, the errors reported about it
(the Extensions tab shows them), and its git checkout: remote, branch, commit, checking for and
fetching updates."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from sdwebui.services.extensions import git
from sdwebui.services.extensions.git import GitError, RepoInfo, run_git
from sdwebui.services.extensions.metadata import ExtensionMetadata

logger = logging.getLogger(__name__)


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
        self._git: RepoInfo | None = None
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

    def _git_info(self) -> RepoInfo:
        with self._lock:
            if self._git is None:
                self._git = self._read_git_info()
                if self._git.remote is not None and not self.status:
                    self.status = "unknown"
            return self._git

    def _read_git_info(self) -> RepoInfo:
        # `.git` must be in the folder itself: a plain folder inside another checkout (the
        # project's own, by default) must not report that checkout's state
        if not self.is_git:
            return RepoInfo(None, None, "", None)
        try:
            return git.repo_info(self.path)
        except GitError as e:
            self.report_discovery_error(f"could not read its git repository: {e}")
            return RepoInfo(None, None, "", None)

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
        return git.remote_name(self.path)

    def check_updates(self) -> str:
        """Ask the remote for its branch head without fetching anything (`git ls-remote`, a dry
        run: neither the checkout nor its refs change) and compare with HEAD. Sets and returns
        `status` ("latest", "new commits", or "unknown (...)" when the remote cannot be asked),
        and `can_update`."""
        self.can_update = False
        if not self.is_git or self.remote is None:
            self.status = "" if not self.is_git else "unknown (no remote)"
            return self.status
        if self.branch is None:
            self.status = "unknown (detached HEAD)"
            return self.status
        try:
            remote = self.remote_name()
            listed = run_git(["ls-remote", "--heads", remote, f"refs/heads/{self.branch}"], cwd=self.path,
                             timeout=120).split()
            mine = run_git(["rev-parse", "HEAD"], cwd=self.path)
        except GitError as e:
            logger.warning("extension %s: update check failed: %s", self.name, e)
            self.status = f"unknown (remote error: {e})"
            return self.status
        if not listed:
            self.status = f"unknown (the remote has no branch {self.branch})"
            return self.status
        theirs = listed[0]
        # a local checkout ahead of the remote (commits of one's own) has nothing to update to
        ahead = theirs != mine and git.has_commit(self.path, theirs) and self._is_ancestor(theirs, mine)
        self.can_update = theirs != mine and not ahead
        self.status = "new commits" if self.can_update else "latest"
        return self.status

    def _is_ancestor(self, older: str, newer: str) -> bool:
        try:
            run_git(["merge-base", "--is-ancestor", older, newer], cwd=self.path)
        except GitError:
            return False
        return True

    def fetch_and_reset_hard(self, commit: str | None = None) -> None:
        """Update to the remote branch's head (A1111: fetch, then `reset --hard <remote>/<branch>`),
        or, given `commit`, check that commit out (restoring a saved state)."""
        if not self.is_git:
            raise GitError("not a git checkout")
        if commit is not None:
            git.reset_hard(self.path, commit)
        else:
            if self.branch is None:
                raise GitError("the checkout is on a detached HEAD; no branch to update to")
            remote = self.remote_name()
            run_git(["fetch", "--quiet", remote, self.branch], cwd=self.path, timeout=300)
            run_git(["reset", "--hard", "--quiet", "FETCH_HEAD"], cwd=self.path)
        self.refresh_git_info()
        self.can_update = False
        self.status = "latest" if commit is None else "unknown"
