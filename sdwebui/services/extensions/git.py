"""Running git as a subprocess (no GitPython): it never prompts for credentials (a prompt would
hang the server), every call has a timeout, and a failure raises GitError with git's own message."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

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

