"""Helpers for the extension tests: a throw-away data dir and built-in dir wired into `shared`,
extension folders, and local git repositories (file:// URLs; nothing touches the network)."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
                "GIT_CONFIG_NOSYSTEM": "1"}


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def make_ext(base: Path, folder: str, files: dict[str, str] | None = None) -> Path:
    d = base / folder
    d.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        write(d / rel, text)
    return d


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                         env={**os.environ, **GIT_IDENTITY}, check=True)
    return out.stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> str:
    """A git repository with one commit on `main`; returns its file:// URL."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit(path, files, "first")
    return path.as_uri()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        write(repo / rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def ext_env(tmp_path, monkeypatch):
    """`configure(*flags, opts_loaded=True)` points shared.cmd_opts/paths/opts at a fresh data dir
    whose built-in dir is `root/extensions-builtin`; everything is restored afterwards."""
    from sdwebui.interfaces.cli import flags as cmd_args
    from sdwebui.services.extensions import discovery as extensions
    from sdwebui.services import runtime as shared
    from sdwebui.services.options import registry as shared_options
    from sdwebui.services import paths as paths_mod
    from sdwebui.services.options.store import Options

    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SD_WEBUI_RESTART", raising=False)
    root = tmp_path / "root"
    builtin = root / "extensions-builtin"
    builtin.mkdir(parents=True)
    data = tmp_path / "data"
    (data / "extensions").mkdir(parents=True)
    monkeypatch.setattr(paths_mod, "SCRIPT_PATH", root)

    def configure(*flags: str, opts_loaded: bool = True):
        ns = cmd_args.parse_args(["--data-dir", str(data), *flags], use_env=False)
        p = paths_mod.from_args(ns)
        monkeypatch.setattr(shared, "cmd_opts", ns)
        monkeypatch.setattr(shared, "paths", p)
        opts = None
        if opts_loaded:
            opts = Options(shared_options.templates(vae_choices=lambda: ["Automatic", "None"]), p.config_file)
            opts.load()
        monkeypatch.setattr(shared, "opts", opts)
        monkeypatch.setattr(shared, "_server_stop_callbacks", [])
        return ns

    saved = (list(extensions.extensions), dict(extensions._by_path), extensions._disable_mode)
    configure()
    try:
        yield SimpleNamespace(root=root, builtin=builtin, data=data, user=data / "extensions",
                              config=data / "config.json", configure=configure)
    finally:
        extensions.extensions[:] = saved[0]
        extensions._by_path.clear()
        extensions._by_path.update(saved[1])
        extensions._disable_mode = saved[2]
