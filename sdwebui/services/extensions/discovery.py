"""Extension discovery, under the names A1111 extensions and the host use: which extension folders
there are, which of them are active, and what they load in which order.

An extension is a folder in `extensions-builtin/` (shipped) or `<data-dir>/extensions/` (user
installs), usually a git checkout. What is read from it:

- `metadata.ini` (metadata.py): its name, what it requires, and the order of its scripts and
  callbacks (list_script_files(), callback_order_rules());
- `scripts/*.py` (list_script_files), `javascript/*.js` and `style.css` (web_assets);
- `install.py` and `preload.py`, run at launch (installers.py).

Each folder is an `Extension` (extension.py).

Enabled state is A1111's: `disabled_extensions` (a list) and `disable_all_extensions`
("none", "extra" = built-ins only, "all") in config.json, and the flags --disable-all-extensions /
--disable-extra-extensions. Before the runtime has loaded the options, config.json is read
directly (the preload step runs then).

A broken extension never stops the app: errors go to the log and to `Extension.errors`, which the
Extensions tab shows.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sdwebui.services import paths as paths_mod
from sdwebui.services.app_settings import AppSettings, AppSlot
from sdwebui.services.extensions.extension import Extension
from sdwebui.services.extensions.metadata import resolve_requirement
from sdwebui.services.options.store import Options

logger = logging.getLogger(__name__)

DISABLE_MODES = ("none", "extra", "all")


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
                ext.keep_reported_errors(old)
            other = by_name.get(ext.canonical_name)
            if other is not None and other.is_builtin and not builtin:
                # a user's clone of an extension built in here (sd-webui-controlnet): the built-in one
                # answers for it; the clone's folder stays (its models are still read from there)
                other.report_discovery_error(f'"{ext.name}" is built in here; the built-in one is used and the '
                                           f"copy in {ext.path} is not loaded")
                continue
            if other is not None:
                other.report_discovery_error(f'another extension in {ext.path} has the same name "{ext.name}"; '
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
            ext.report_discovery_error(f'requires extension "{name}", which is '
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
                ext.report_discovery_error(message)
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
                ext.report_discovery_error(message)
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
# API
# ---------------------------------------------------------------------------------------
def api_list() -> list[dict]:
    """GET /sdapi/v1/extensions: every extension (built-ins and non-git folders too, with empty
    git fields), re-scanned, in A1111's item shape plus `errors`: what went wrong loading it
    (a script's import, a callback, install.py), empty when nothing did. A1111's clients read
    the fields they know and ignore the extra one."""
    list_extensions()
    return [{
        "name": e.name, "remote": e.remote or "", "branch": e.branch or "", "commit_hash": e.commit_hash,
        "version": e.version, "commit_date": e.commit_date or 0, "enabled": e.enabled, "errors": list(e.errors),
    } for e in extensions]
