"""Extension discovery and lifecycle, under the names A1111 extensions and the host use.

An extension is a folder in `extensions-builtin/` (shipped) or `<data-dir>/extensions/` (user
installs), usually a git checkout. What is read from it:

- `metadata.ini`: `[Extension] Name=` (the canonical name; the folder name otherwise) and
  `Requires=`; per script `[scripts/<file>.py]` (or a whole `[scripts]`) `Requires/Before/After`;
  `[callbacks/<ext>/<file>/<category>] Before/After` (see callback_order_rules()).
- `install.py` (run_installers), `preload.py` (preload_extensions), `scripts/*.py`
  (list_script_files), `javascript/*.js` and `style.css` (web_assets).

Enabled state is A1111's: `disabled_extensions` (a list) and `disable_all_extensions`
("none", "extra" = built-ins only, "all") in config.json, and the flags --disable-all-extensions /
--disable-extra-extensions. Before `shared.initialize` has loaded the options, config.json is read
directly (the preload step runs then).

A broken extension never stops the app: errors go to the log and to `Extension.errors`, which the
Extensions tab shows.
"""
from __future__ import annotations

import argparse
import configparser
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple

from sdwebui.services import paths as paths_mod
from sdwebui.services.app_settings import AppSettings, AppSlot
from sdwebui.services.options.store import Options

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.ini"
GIT_TIMEOUT_S = 30
INSTALL_TIMEOUT_S = float(os.environ.get("SD_WEBUI_INSTALL_TIMEOUT", "600"))
DISABLE_MODES = ("none", "extra", "all")


# ---------------------------------------------------------------------------------------
# git (subprocess only; no GitPython)
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# metadata.ini
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallbackOrderRule:
    """One `[callbacks/<name>]` section: callback `name` must run before the callbacks in
    `before` and after those in `after` (all names as `<ext canonical name>/<file>/<category>`)."""
    name: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    extension: str


def parse_list(text: str) -> list[str]:
    """`"ext1 ext2, ext3 "` -> `["ext1", "ext2", "ext3"]` (commas and blanks both separate)."""
    return [x for x in re.split(r"[,\s]+", text.strip()) if x] if text else []


class ExtensionMetadata:
    """The parsed metadata.ini of one extension (empty when there is none)."""

    def __init__(self, path: Path, folder_name: str):
        self.config = configparser.ConfigParser()
        self.error: str | None = None
        try:
            self.config.read(path / METADATA_FILE, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as e:
            self.error = f"could not read {METADATA_FILE}: {e}"
            self.config = configparser.ConfigParser()
        self.name = self.config.get("Extension", "Name", fallback="").strip() or folder_name
        self.canonical_name = self.name.lower().strip()

    @property
    def requires(self) -> list[str]:
        """Canonical names the whole extension needs (`[Extension] Requires`); `a|b` = either."""
        return self.requirements("Requires", "Extension")

    def requirements(self, field: str, section: str, extra_section: str | None = None) -> list[str]:
        """A Requires/Before/After list from `[section]`, plus `[extra_section]` if given (lower case)."""
        text = self.config.get(section, field, fallback="")
        if extra_section:
            text += ", " + self.config.get(extra_section, field, fallback="")
        return parse_list(text.lower())

    def callback_rules(self) -> tuple[list[CallbackOrderRule], list[str]]:
        """The `[callbacks/...]` sections, and errors for sections naming another extension."""
        rules, errors = [], []
        for section in self.config.sections():
            if not section.startswith("callbacks/"):
                continue
            name = section[len("callbacks/"):]
            if not name.lower().startswith(self.canonical_name + "/"):
                errors.append(f"{METADATA_FILE}: section [{section}] names another extension's callback")
                continue
            rules.append(CallbackOrderRule(
                name, tuple(parse_list(self.config.get(section, "Before", fallback=""))),
                tuple(parse_list(self.config.get(section, "After", fallback=""))), self.canonical_name))
        return rules, errors


def resolve_requirement(requirement: str, known: Iterable[str]) -> str:
    """`a|b` -> the first alternative that is known, else the text unchanged."""
    known = set(known)
    return next((alt for alt in requirement.split("|") if alt in known), requirement)


# ---------------------------------------------------------------------------------------
# Extension
# ---------------------------------------------------------------------------------------
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
            self._discovery_error(self.metadata.error)

    def __repr__(self) -> str:
        return f"Extension({self.name!r}, {str(self.path)!r}, builtin={self.is_builtin}, enabled={self.enabled})"

    # errors ---------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        """Record a failure of this extension (a script import, a hook, install.py); logged and
        shown in the Extensions tab. Never raises."""
        logger.error("extension %s: %s", self.name, message)
        self.errors.append(message)
        self._reported.append(message)

    def _discovery_error(self, message: str) -> None:
        logger.error("extension %s: %s", self.name, message)
        self.errors.append(message)

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
            self._discovery_error(f"could not read its git repository: {e}")
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


# ---------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------
extensions: list[Extension] = []
_by_path: dict[Path, Extension] = {}
_disable_mode = "none"      # the effective disable_all_extensions at the last listing


_app: AppSlot[AppSettings] = AppSlot("extension discovery")


def configure(app: AppSettings) -> None:
    """Where list_extensions() reads the app's flags, paths and options when it is given no flags
    (the runtime, at start)."""
    _app.set(app)


def _context(ns: argparse.Namespace | None) -> tuple[argparse.Namespace, paths_mod.Paths, Options | None]:
    """(flags, paths, opts or None): the app's, or those derived from `ns` (preload time)."""
    app = _app.get_or_none()
    if ns is None or (app is not None and ns is app.cmd_opts):
        app = _app.get()
        if app.cmd_opts is None or app.paths is None:
            raise RuntimeError("the app has no flags yet: pass the flags to list the extensions with")
        return app.cmd_opts, app.paths, app.opts
    return ns, paths_mod.from_args(ns), None


def read_enabled_settings(config_file: Path) -> tuple[list[str], str]:
    """(disabled_extensions, disable_all_extensions) from a config.json (defaults if unreadable)."""
    try:
        data = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], "none"
    except (OSError, json.JSONDecodeError) as e:
        logger.warning("could not read %s for the extension settings: %s", config_file, e)
        return [], "none"
    if not isinstance(data, dict):
        return [], "none"
    disabled = data.get("disabled_extensions") or []
    mode = data.get("disable_all_extensions") or "none"
    return ([str(x) for x in disabled] if isinstance(disabled, list) else [],
            mode if mode in DISABLE_MODES else "none")


def _enabled_settings(ns: argparse.Namespace, paths: paths_mod.Paths, opts: Options | None) -> tuple[set[str], str]:
    if opts is not None:
        disabled, mode = list(opts.disabled_extensions or []), opts.disable_all_extensions or "none"
    else:
        disabled, mode = read_enabled_settings(paths.config_file)
    if getattr(ns, "disable_all_extensions", False):
        mode = "all"
    elif getattr(ns, "disable_extra_extensions", False) and mode != "all":
        mode = "extra"
    return set(disabled), mode


def list_extensions(ns: argparse.Namespace | None = None) -> list[Extension]:
    """Re-scan `extensions-builtin/` then `<data-dir>/extensions/` (each alphabetically) and
    rebuild the module-level `extensions` list in place. `ns`: flags to use instead of the app's
    (then enabled state comes from that data dir's config.json)."""
    global _disable_mode
    ns, paths, opts = _context(ns)
    disabled, mode = _enabled_settings(ns, paths, opts)
    if mode == "all":
        logger.info("all extensions are disabled (%s)", "--disable-all-extensions"
                    if getattr(ns, "disable_all_extensions", False) else "disable_all_extensions setting")
    elif mode == "extra":
        logger.info("only built-in extensions are enabled")
    previous = {e.path: e for e in extensions}
    found: list[Extension] = []
    by_name: dict[str, Extension] = {}
    for base, builtin in ((paths.extensions_builtin, True), (paths.extensions, False)):
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir(), key=lambda p: p.name):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            ext = Extension(folder.resolve(), is_builtin=builtin)
            ext.enabled = ext.name not in disabled and ext.dirname not in disabled
            old = previous.get(ext.path)
            if old is not None:       # errors reported at run time outlive a re-scan
                ext._reported = list(old._reported)
                ext.errors.extend(old._reported)
            other = by_name.get(ext.canonical_name)
            if other is not None:
                other._discovery_error(f'another extension in {ext.path} has the same name "{ext.name}"; '
                                       "it is ignored")
                continue
            by_name[ext.canonical_name] = ext
            found.append(ext)

    extensions[:] = found
    _by_path.clear()
    _by_path.update({e.path: e for e in found})
    _disable_mode = mode
    _check_requirements()
    return extensions


def _check_requirements() -> None:
    """An active extension whose `[Extension] Requires` names one that is missing or inactive
    is reported (A1111 reports it and loads it anyway; its scripts then usually fail)."""
    act = {e.canonical_name: e for e in active()}
    known = {e.canonical_name: e for e in extensions}
    for ext in act.values():
        for req in ext.metadata.requires:
            name = resolve_requirement(req, act)
            if name in act:
                continue
            ext._discovery_error(f'requires extension "{name}", which is '
                                 f'{"disabled" if name in known else "not installed"}')


def active() -> list[Extension]:
    """Extensions that load: enabled, and not excluded by disable_all_extensions / the flags."""
    if _disable_mode == "all":
        return []
    if _disable_mode == "extra":
        return [e for e in extensions if e.enabled and e.is_builtin]
    return [e for e in extensions if e.enabled]


def disable_mode() -> str:
    """The effective disable_all_extensions ("none", "extra", "all") at the last listing."""
    return _disable_mode


def find(name: str) -> Extension | None:
    """By name, folder name or canonical (lower-case) name."""
    for e in extensions:
        if name in (e.name, e.dirname) or name.lower().strip() == e.canonical_name:
            return e
    return None


def extension_for_path(path: str | os.PathLike) -> Extension | None:
    """The extension a file belongs to (its folder or any sub folder), or None."""
    p = Path(path).resolve()
    for candidate in (p, *p.parents):
        ext = _by_path.get(candidate)
        if ext is not None:
            return ext
    return None


# ---------------------------------------------------------------------------------------
# scripts and web assets, in A1111's load order
# ---------------------------------------------------------------------------------------
class ScriptFile(NamedTuple):
    """A1111's (basedir, filename, path), plus the extension it belongs to (None for the host's)."""
    basedir: str
    filename: str
    path: str
    extension: "Extension | None" = None


@dataclass
class _Node:
    key: str
    file: ScriptFile
    requires: list[str]
    before: list[str]
    after: list[str]


def topological_sort(dependencies: dict[str, list[str]]) -> list[str]:
    """Keys ordered so each comes after the keys it lists (unknown ones ignored); otherwise
    the insertion order is kept. A cycle is broken where it is met, as in A1111."""
    visited: set[str] = set()
    result: list[str] = []

    def visit(name: str) -> None:
        visited.add(name)
        for dep in dependencies.get(name, []):
            if dep in dependencies and dep not in visited:
                visit(dep)
        result.append(name)

    for name in dependencies:
        if name not in visited:
            visit(name)
    return result


def list_script_files(subdir: str = "scripts", suffix: str = ".py", *,
                      include_root: bool = False) -> list[ScriptFile]:
    """`<ext>/<subdir>/*<suffix>` of the active extensions, in A1111's order: built-ins then
    user extensions, each alphabetically, files sorted, then reordered by metadata.ini
    `Before`/`After` (per file in `[<subdir>/<file>]`, or for all in `[<subdir>]`; a name is a
    script `<ext canonical>/<file>` (`builtin/...` for built-ins) or a whole extension).
    A script whose `Requires` names something not loaded is reported on its extension and left
    out. `include_root` adds the host's own `<repo>/<subdir>/` files first (extension None)."""
    nodes: dict[str, _Node] = {}
    act = active()
    by_ext: dict[str, list[_Node]] = {e.canonical_name: [] for e in act}

    root = paths_mod.SCRIPT_PATH / subdir
    if include_root and root.is_dir():
        for f in sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() == suffix.lower()):
            key = "builtin/" + f.name
            nodes[key] = _Node(key, ScriptFile(str(paths_mod.SCRIPT_PATH), f.name, str(f), None), [], [], [])

    known = [e.canonical_name for e in act]
    for ext in act:
        for f in ext.list_files(subdir, suffix):
            key = ("builtin/" if ext.is_builtin else "") + ext.canonical_name + "/" + f.name
            section = f"{subdir}/{f.name}"
            req = [resolve_requirement(r, known) for r in ext.metadata.requirements("Requires", section, subdir)]
            node = _Node(key, ScriptFile(str(ext.path), f.name, str(f), ext), req,
                         [resolve_requirement(r, known) for r in ext.metadata.requirements("Before", section, subdir)],
                         [resolve_requirement(r, known) for r in ext.metadata.requirements("After", section, subdir)])
            nodes[key] = node
            by_ext[ext.canonical_name].append(node)

    # a script whose requirement is not loaded is skipped (reported on its extension)
    for key, node in list(nodes.items()):
        missing = [r for r in node.requires if r not in nodes and r not in by_ext]
        if missing:
            ext = node.file.extension
            message = (f'{subdir}/{node.file.filename} requires "{missing[0]}", which is not loaded; '
                       "the script is skipped")
            if ext is not None and message not in ext.errors:
                ext._discovery_error(message)
            del nodes[key]
            if ext is not None:
                by_ext[ext.canonical_name].remove(node)

    # Before X == X after this one; an extension name stands for all its scripts
    for key, node in nodes.items():
        for target in node.before:
            for other in ([nodes[target]] if target in nodes else by_ext.get(target, [])):
                other.after.append(key)
    dependencies: dict[str, list[str]] = {}
    for key, node in nodes.items():
        after: list[str] = []
        for target in node.after:
            if target in nodes:
                after.append(target)
            else:
                after.extend(n.key for n in by_ext.get(target, []))
        dependencies[key] = after
    return [nodes[k].file for k in topological_sort(dependencies)]


def web_assets() -> tuple[list[Path], list[Path]]:
    """(javascript/*.js files, style.css files) of the active extensions, in load order."""
    js = [Path(f.path) for f in list_script_files("javascript", ".js")]
    css = [e.path / "style.css" for e in active() if (e.path / "style.css").is_file()]
    return js, css


def callback_order_rules() -> dict[str, dict[str, tuple[str, ...]]]:
    """metadata.ini `[callbacks/<callback name>]` rules of all listed extensions:
    `{callback name: {"before": (names...), "after": (names...)}}`, several sections for one
    name merged. Names are A1111's callback names, `<ext canonical name>/<file>/<category>[/<name>]`
    (e.g. "lora/lora_script.py/model_loaded"), exactly as written in the section header and in
    the Before/After lists. A section naming another extension's callback is reported and ignored.
    order_callbacks() applies them to a list of names."""
    rules: dict[str, dict[str, tuple[str, ...]]] = {}
    for ext in extensions:
        found, errors = ext.metadata.callback_rules()
        for message in errors:
            if message not in ext.errors:
                ext._discovery_error(message)
        for rule in found:
            entry = rules.setdefault(rule.name, {"before": (), "after": ()})
            entry["before"] += rule.before
            entry["after"] += rule.after
    return rules


def order_callbacks(names: list[str]) -> list[str]:
    """Callback names of one category, reordered by callback_order_rules() as A1111 does
    (registration order otherwise; rules naming callbacks not in `names` are ignored)."""
    rules = callback_order_rules()
    if not any(n in rules for n in names):
        return list(names)
    deps: dict[str, list[str]] = {n: [] for n in names}
    for n in names:
        rule = rules.get(n, {})
        deps[n].extend(a for a in rule.get("after", ()) if a in deps)
        for b in rule.get("before", ()):
            if b in deps:
                deps[b].append(n)
    return topological_sort(deps)


# ---------------------------------------------------------------------------------------
# install.py and preload.py
# ---------------------------------------------------------------------------------------
def installer_env() -> dict[str, str]:
    """Environment for install.py: `import launch` works, and pip may never replace torch."""
    from sdwebui.services.extensions import launch_utils

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
        out = subprocess.run([sys.executable, str(script)], cwd=str(ext.path), env=installer_env(),
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
    for ext in (active() if exts is None else exts):
        run_installer(ext)


def preload_extensions(parser: argparse.ArgumentParser, data_dir: str | os.PathLike | None = None, *,
                       ns: argparse.Namespace | None = None) -> list[Extension]:
    """List the extensions of `ns` (or of `data_dir` with default flags) and call each active
    one's `preload.py: preload(parser)`, which may add flags before the command line is parsed.
    Errors are reported on the extension, never raised. Returns the active extensions."""
    if ns is None:
        ns, _ = parser.parse_known_args([])
        if data_dir is not None:
            ns.data_dir = str(data_dir)
    list_extensions(ns)
    for ext in active():
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
    return active()


# ---------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------
def api_list() -> list[dict]:
    """GET /sdapi/v1/extensions: every extension (built-ins and non-git folders too, with empty
    git fields), re-scanned, in A1111's item shape."""
    list_extensions()
    return [{
        "name": e.name, "remote": e.remote or "", "branch": e.branch or "", "commit_hash": e.commit_hash,
        "version": e.version, "commit_date": e.commit_date or 0, "enabled": e.enabled,
    } for e in extensions]
