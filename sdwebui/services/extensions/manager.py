"""Managing extensions: install from a git URL, check for updates, update, enable/disable,
uninstall, and "Apply and restart". Called by the Extensions tab (and the API / tests).

Who may do it (access_error): A1111's rule first - nothing when the server is reachable from
other machines (--listen, --share, --server-name, --ngrok) unless
--enable-insecure-extension-access - and also nothing from another machine unless a login
(--gradio-auth / --gradio-auth-path / --api-auth) is configured and the request passed it.
Requests from this machine (127.0.0.0/8, ::1) need no login. The functions below re-check the
flag rule themselves; the caller, who knows the request, checks the rest with access_error().

git runs as a subprocess with a timeout; every failure becomes an ExtensionError (a ValueError
with `field` naming the bad input and an HTTP `status_code`), never a traceback in the UI.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Protocol

from sdwebui.engine.atomic_write import atomic_write_text
from sdwebui.services.app_settings import AppSettings, AppSlot
from sdwebui.services.extensions import config_states, discovery as extensions, installers
from sdwebui.services.extensions.extension import Extension
from sdwebui.services.extensions.git import GitError, run_git
from sdwebui.services.extensions.index import dirname_from_url, normalize_url

logger = logging.getLogger(__name__)

CLONE_TIMEOUT_S = 300
_lock = threading.Lock()      # one management operation at a time


class ExtensionError(ValueError):
    """A management request that cannot be done as given; `field` names the input at fault."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(message)
        self.field = field
        self.status_code = status_code


# ---------------------------------------------------------------------------------------
# access
# ---------------------------------------------------------------------------------------
class ManagedApp(AppSettings, Protocol):
    """The running app as extension management needs it: its flags, paths and options, and
    stopping the server (for "Apply and restart")."""

    def server_running(self) -> bool:
        """Whether a server is running that request_server_stop() would stop."""

    def request_server_stop(self) -> None: ...


_app: AppSlot[ManagedApp] = AppSlot("extension management")


def configure(app: ManagedApp) -> None:
    """The app the management functions act on (the runtime, at start)."""
    _app.set(app)


def _exposing_flags(ns) -> list[str]:
    flags = []
    for attr, flag in (("listen", "--listen"), ("share", "--share"), ("server_name", "--server-name"),
                       ("ngrok", "--ngrok")):
        if getattr(ns, attr, None):
            flags.append(flag)
    return flags


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def flag_access_error() -> str | None:
    """A1111's rule alone: refused while the server is exposed without the insecure flag."""
    ns = _app.get().cmd_opts
    if getattr(ns, "disable_extension_access", False):
        return (f"Extension management is disabled because the server is reachable from other machines "
                f"({', '.join(_exposing_flags(ns)) or '--listen'}). "
                "Restart it with --enable-insecure-extension-access to allow it.")
    return None


def access_error(client_host: str | None, authenticated: bool) -> str | None:
    """Why a request from `client_host` may not manage extensions, or None when it may.
    `authenticated`: the request passed a configured login (gradio auth or API auth)."""
    message = flag_access_error()
    if message is not None:
        return message
    if is_loopback(client_host):
        return None
    ns = _app.get().cmd_opts
    if not (ns.api_auth or ns.gradio_auth or getattr(ns, "gradio_auth_path", None)):
        return (f"Extension management is only allowed from this machine: the request comes from "
                f"{client_host or 'an unknown address'} and no login is configured "
                "(start the server with --gradio-auth or --api-auth to allow it from other machines).")
    if not authenticated:
        return "Extension management from another machine needs a login; this request is not logged in."
    return None


def _check_flags() -> None:
    message = flag_access_error()
    if message is not None:
        raise ExtensionError("access", message, status_code=403)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _validate_dirname(dirname: str) -> str:
    name = dirname.strip()
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ExtensionError("dirname", f"{dirname!r} is not a valid folder name for an extension")
    return name


def _listed() -> list[Extension]:
    return extensions.extensions or extensions.list_extensions()


def _find(name: str) -> Extension:
    ext = extensions.find(name)
    if ext is None:
        extensions.list_extensions()
        ext = extensions.find(name)
    if ext is None:
        raise ExtensionError("name", f"no extension named {name!r} is installed", status_code=404)
    return ext


def _rmtree(path: Path) -> None:
    def on_error(func, p, _exc):   # git's object files are read-only
        os.chmod(p, stat.S_IWRITE)
        func(p)

    shutil.rmtree(path, onerror=on_error)


# ---------------------------------------------------------------------------------------
# install / update / uninstall
# ---------------------------------------------------------------------------------------
def _clone(url: str, branch: str | None, target: Path) -> None:
    base = ["clone", "--quiet"] + (["--branch", branch] if branch else [])
    try:
        run_git([*base, "--filter=blob:none", "--", url, str(target)], timeout=CLONE_TIMEOUT_S)
    except GitError as first:
        # partial clone is not offered by every server (or file:// remote); try a full clone
        if target.exists():
            _rmtree(target)
        try:
            run_git([*base, "--", url, str(target)], timeout=CLONE_TIMEOUT_S)
        except GitError as e:
            raise ExtensionError("branch" if branch and "branch" in str(e).lower() else "url",
                                 f"could not clone {url}: {e}", status_code=400) from first
    if (target / ".gitmodules").is_file():
        try:
            run_git(["submodule", "update", "--init", "--recursive", "--depth=1"], cwd=target,
                    timeout=CLONE_TIMEOUT_S)
        except GitError as e:
            raise ExtensionError("url", f"could not fetch the submodules of {url}: {e}", status_code=400) from None


def install_from_url(url: str, branch: str | None = None, dirname: str | None = None) -> str:
    """git clone `url` (optionally `branch`) into `<data>/extensions/<dirname>` (default: the
    URL's last part without .git), via `<data>/tmp`, then run its install.py (unless
    --skip-install) and re-list. Its scripts load at the next restart. Returns a message."""
    _check_flags()
    url = (url or "").strip()
    branch = (branch or "").strip() or None
    if not url:
        raise ExtensionError("url", "no URL given")
    if url.startswith("-") or (branch or "").startswith("-"):
        raise ExtensionError("url" if url.startswith("-") else "branch", "a URL or branch may not start with '-'")
    name = _validate_dirname(dirname if dirname and dirname.strip() else dirname_from_url(url))
    paths = _app.get().paths
    with _lock:
        target = paths.extensions / name
        if target.exists():
            raise ExtensionError("dirname", f"Extension directory already exists: {target}", status_code=409)
        wanted = normalize_url(url)
        for ext in extensions.list_extensions():
            if ext.remote and normalize_url(ext.remote) == wanted:
                raise ExtensionError("url", f"Extension with this URL is already installed: {url} (as {ext.name}, "
                                           f"in {ext.path})", status_code=409)
        tmp = paths.tmp / name
        if tmp.exists():
            _rmtree(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            _clone(url, branch, tmp)
            paths.extensions.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, target)
            except OSError:          # another file system
                shutil.move(str(tmp), str(target))
        finally:
            if tmp.exists():
                _rmtree(tmp)
        logger.info("installed extension %s from %s into %s", name, url, target)
        extensions.list_extensions()
        ext = extensions.extension_for_path(target)
        note = ""
        if ext is not None and not _app.get().cmd_opts.skip_install:
            if not installers.run_installer(ext):
                note = f" Its install.py failed: {ext.errors[-1]}"
        return f"Installed into {target}.{note} Use Installed tab to restart."


def check_for_updates(names: list[str] | None = None) -> dict[str, str]:
    """Fetch each (or each named) git extension's branch; returns {name: status} where status
    is "latest", "new commits" or "unknown (...)". Built-ins and plain folders are skipped."""
    _check_flags()
    with _lock:
        exts = _listed() if names is None else [_find(n) for n in names]
        result = {}
        for ext in exts:
            if ext.is_builtin or not ext.is_git:
                continue
            result[ext.name] = ext.check_updates()
        return result


def update(name: str) -> str:
    """Reset a git extension to its remote branch's newest commit (A1111: fetch + reset --hard)."""
    _check_flags()
    with _lock:
        ext = _find(name)
        if ext.is_builtin:
            raise ExtensionError("name", f"{ext.name} is built in; it is updated with the program", status_code=403)
        if not ext.is_git:
            raise ExtensionError("name", f"{ext.name} is not a git checkout; it cannot be updated")
        before = ext.version
        try:
            ext.fetch_and_reset_hard()
        except GitError as e:
            raise ExtensionError("name", f"could not update {ext.name}: {e}", status_code=400) from None
        logger.info("updated extension %s from %s to %s", ext.name, before or "?", ext.version)
        if ext.version == before:
            return f"{ext.name} is already at the newest commit ({ext.version})."
        return f"Updated {ext.name} from {before} to {ext.version}. Restart to load the new code."


def uninstall(name: str) -> str:
    """Delete a user extension's folder (never a built-in; nothing outside `extensions/`)."""
    _check_flags()
    paths = _app.get().paths
    with _lock:
        ext = _find(name)
        if ext.is_builtin:
            raise ExtensionError("name", f"{ext.name} is built in and cannot be uninstalled", status_code=403)
        root = paths.extensions.resolve()
        location = paths.extensions / ext.dirname
        if location.is_symlink():
            location.unlink()         # a linked folder: remove the link, never what it points to
        else:
            real = location.resolve()
            if real.parent != root or real != ext.path:
                raise ExtensionError("name", f"{ext.path} is not inside {root}; refusing to delete it", status_code=403)
            _rmtree(real)
        logger.info("uninstalled extension %s (%s)", ext.name, location)
        extensions.list_extensions()
        return f"Uninstalled {ext.name}. Restart to unload its scripts."


# ---------------------------------------------------------------------------------------
# enable / disable, restart
# ---------------------------------------------------------------------------------------
def set_enabled(disabled: list[str], disable_all: str = "none") -> None:
    """Persist A1111's `disabled_extensions` (folder names, as A1111 stores them) and
    `disable_all_extensions` through the app's options and an atomic config.json save (or straight
    into config.json before the options are loaded), then re-list. Takes effect for scripts at
    the next restart."""
    if disable_all not in extensions.DISABLE_MODES:
        raise ExtensionError("disable_all", f"disable_all must be one of {list(extensions.DISABLE_MODES)}, "
                                            f"not {disable_all!r}")
    if not isinstance(disabled, (list, tuple)) or not all(isinstance(x, str) for x in disabled):
        raise ExtensionError("disabled", "disabled must be a list of extension names")
    names: list[str] = []
    for item in disabled:
        ext = extensions.find(item)
        folder = ext.dirname if ext is not None else item
        if folder not in names:
            names.append(folder)
    app = _app.get()
    with _lock:
        if app.opts is not None:
            app.opts.set("disabled_extensions", names)
            app.opts.set("disable_all_extensions", disable_all)
            app.opts.save()
        else:
            _write_config(app.paths.config_file,
                          {"disabled_extensions": names, "disable_all_extensions": disable_all})
        logger.info("extensions: disabled %s, disable_all_extensions=%s", names, disable_all)
        extensions.list_extensions()


def configured_disable_mode() -> str:
    """disable_all_extensions as saved (not as the flags override it for this run)."""
    app = _app.get()
    if app.opts is not None:
        mode = app.opts.disable_all_extensions or "none"
        return mode if mode in extensions.DISABLE_MODES else "none"
    return extensions.read_enabled_settings(app.paths.config_file)[1]


def _write_config(path: Path, values: dict) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.update(values)
    atomic_write_text(path, json.dumps(data, indent=4, ensure_ascii=False))


def is_restartable() -> bool:
    """Started by webui.sh's loop, which starts launch.py again while `<data>/tmp/restart` exists."""
    return os.environ.get("SD_WEBUI_RESTART") == "1"


def restart_server(force_after_s: float | None = 15.0) -> str:
    """Stop the server; under webui.sh's loop first leave `<data>/tmp/restart` so it starts again
    (A1111: without a launcher loop it just stops). The stop is asked for shortly after this
    returns, so the caller's response still goes out; if the server has not exited after
    `force_after_s` (an open connection keeps it), the process exits anyway."""
    app = _app.get()
    if not app.server_running():
        logger.warning("no running server registered a stop callback; nothing to stop")
        return "Settings saved; no running server to restart here."
    restart = is_restartable()
    if restart:
        marker = app.paths.tmp / "restart"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    logger.info("%s the server", "restarting" if restart else "stopping (no launcher loop to restart it)")

    def stop() -> None:
        app.request_server_stop()
        if force_after_s is not None:
            timer = threading.Timer(force_after_s, os._exit, args=(0,))
            timer.daemon = True
            timer.start()

    threading.Timer(0.5, stop).start()
    return "Restarting the server..." if restart else \
        "Stopping the server (it was not started by webui.sh, so start it again by hand)..."


def apply_and_restart(disabled: list[str], disable_all: str = "none", update_names: list[str] | None = None,
                      *, restart: bool = True) -> str:
    """The Installed tab's "Apply and restart UI": persist the enabled state, update the checked
    extensions (failures are reported, the rest goes on), then restart_server()."""
    _check_flags()
    set_enabled(disabled, disable_all)
    if update_names:        # A1111 keeps a state to go back to before updating anything
        save_config_state("Backup (pre-update)")
    problems = []
    for name in update_names or []:
        try:
            update(name)
        except ExtensionError as e:
            problems.append(str(e))
    message = restart_server() if restart else "Settings saved."
    return " ".join([*problems, message])


# ---------------------------------------------------------------------------------------
# config states (Backup/Restore)
# ---------------------------------------------------------------------------------------
def config_states_dir() -> Path:
    return config_states.folder_for(_app.get().paths.data)


def list_config_states() -> dict[str, dict]:
    """The saved states, newest first, keyed by their display name ("<name>: <date time>")."""
    return config_states.list_states(config_states_dir())


def save_config_state(name: str) -> Path:
    """Save which extensions are enabled at which commits (and the web UI's commit) now."""
    with _lock:
        return config_states.save_state(config_states_dir(), name, _listed())


def restore_config_state(key: str, restore_type: str = "extensions") -> str:
    """Restore a saved state as A1111 does: "extensions" checks each recorded commit out and sets
    the recorded enabled states, "webui" checks the web UI's commit out, "both" does both.
    Returns the results, one line each; a restart loads the restored code."""
    _check_flags()
    if restore_type not in config_states.RESTORE_TYPES:
        raise ExtensionError("restore_type", f"restore_type must be one of {list(config_states.RESTORE_TYPES)}, "
                                             f"not {restore_type!r}")
    states = list_config_states()
    state = states.get(key)
    if state is None:
        raise ExtensionError("config_state", f"no saved config state named {key!r}; saved: {list(states) or 'none'}",
                             status_code=404)
    lines = []
    with _lock:
        if restore_type in ("extensions", "both"):
            try:
                results, disabled = config_states.restore_extensions(state, _listed())
            except ValueError as e:
                raise ExtensionError("config_state", f"{key}: {e}") from None
            lines += [r.line() for r in results]
        if restore_type in ("webui", "both"):
            lines.append(config_states.restore_webui(state).line())
    if restore_type in ("extensions", "both"):
        set_enabled(disabled, configured_disable_mode())
    logger.info("restored config state %s (%s)", key, restore_type)
    return "\n".join([f"Restored {restore_type} from {key}.", *lines])


def restore_pending_config_state() -> list[str]:
    """A1111's `restore_config_state_file` setting, at start, before the extensions load: when it
    names a saved state (a path, or a file in config_states/), the setting is cleared (so a failed
    restore is not retried at every start) and the extensions are restored from it. Returns the
    result lines ([] when nothing was pending)."""
    opts = _app.get().opts
    pending = str(getattr(opts, "restore_config_state_file", "") or "")
    if not pending:
        return []
    opts.set("restore_config_state_file", "")
    opts.save()
    path = Path(pending)
    if not path.is_absolute() and not path.is_file():
        path = config_states_dir() / pending
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        with _lock:
            # listed afresh: the folders on disk now, not a list kept from before
            results, disabled = config_states.restore_extensions(state, extensions.list_extensions())
    except (OSError, ValueError) as e:
        logger.error("restore_config_state_file: could not restore extensions from %s: %s", path, e)
        return [f"! {path}: {e}"]
    set_enabled(disabled, configured_disable_mode())
    logger.info("restored the extensions from config state %s", path)
    return [r.line() for r in results]
