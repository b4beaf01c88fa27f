"""Running git as a subprocess (no GitPython): it never prompts for credentials (a prompt would
hang the server), every call has a timeout, and a failure raises GitError with git's own message."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

GIT_TIMEOUT_S = 30


class GitError(RuntimeError):
    """A git command failed or timed out; the message carries git's own error text."""


def git_env() -> dict[str, str]:
    """Environment for git: never prompt for credentials (a prompt would hang the server)."""
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="echo", GCM_INTERACTIVE="never")
    return env


def run_git(args: list[str], cwd: Path | None = None, timeout: float = GIT_TIMEOUT_S) -> str:
    """Run `git <args>`; returns stripped stdout, raises GitError with git's message on failure."""
    cmd = ["git", *args]
    try:
        out = subprocess.run(cmd, cwd=str(cwd) if cwd else None, capture_output=True, text=True,
                             timeout=timeout, env=git_env(), stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from None
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise GitError(f"git {args[0]} failed: {detail[-1] if detail else f'exit code {out.returncode}'}")
    return out.stdout.strip()



class RepoInfo(NamedTuple):
    """What A1111 records of a checkout: remote URL, branch (None on a detached HEAD), commit, date."""
    remote: str | None
    branch: str | None
    commit_hash: str
    commit_date: int | None


def remote_name(repo: Path) -> str:
    """The remote to use: `origin` when there is one, else the first; GitError when there is none."""
    remotes = run_git(["remote"], cwd=repo).split()
    if not remotes:
        raise GitError("the repository has no remote")
    return "origin" if "origin" in remotes else remotes[0]


def repo_info(repo: Path) -> RepoInfo:
    """Remote, branch, HEAD commit and its commit time of the checkout at `repo` (GitError if unreadable)."""
    head = run_git(["log", "-1", "--format=%H %ct"], cwd=repo).split()
    try:
        remote: str | None = run_git(["remote", "get-url", remote_name(repo)], cwd=repo) or None
    except GitError:
        remote = None
    branch = run_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd=repo)
    return RepoInfo(remote, None if branch == "HEAD" else branch,
                    head[0] if head else "", int(head[1]) if len(head) > 1 else None)


def has_commit(repo: Path, commit: str) -> bool:
    """Whether `commit` is present in the checkout's object store (no network)."""
    try:
        run_git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo)
    except GitError:
        return False
    return True


def reset_hard(repo: Path, commit: str, *, fetch_timeout: float = 300) -> None:
    """Check out `commit` (A1111: fetch --all, then reset --hard). The fetch is skipped when the
    commit is already here, so restoring a known state works offline."""
    if not re.fullmatch(r"[0-9a-fA-F]{4,40}", commit or ""):
        raise GitError(f"{commit!r} is not a commit hash")
    if not has_commit(repo, commit):
        run_git(["fetch", "--all", "--quiet"], cwd=repo, timeout=fetch_timeout)
    run_git(["reset", "--hard", "--quiet", commit], cwd=repo)
