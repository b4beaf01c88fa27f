"""A1111's `modules.gitpython_hack`: its workaround for GitPython's object lookups. `Repo` here is
GitPython's own (git operations of the extensions manager go through `sdwebui.services.extensions.git`)."""
from __future__ import annotations

try:
    from git import Git, Repo  # noqa: F401
except ImportError:     # GitPython is optional (the `compat` extra)
    Git = Repo = None
