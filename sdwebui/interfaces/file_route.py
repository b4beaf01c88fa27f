"""`/file=<path>` (and gradio 3's older `/file/<path>`): the files A1111's page and its extensions'
JavaScript fetch by path - extensions' scripts, styles and data, the webui's own web folders, the
output folders and the folders given with --gradio-allowed-path.

What may be served is decided by `check_path`, a pure function of the requested path and a
`FileRules` (the allowed roots and the files never served), so the rules can be tested without a
server; `current_rules()` builds them from the running app. A1111 (gradio 3) served every file under
its working directory that is not a dotfile; here the served folders are named one by one, and
settings, credentials, model weights and program files are never served (docs/compatibility.md,
"`/file=` route").
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from starlette.routing import Mount

from sdwebui.interfaces.api.auth import basic_auth_ok
from sdwebui.services import paths as paths_mod
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

# what A1111's extra-networks thumbnail route serves from the model folders (allowed_preview_extensions)
PREVIEW_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
# never served unless the user named their folder with --gradio-allowed-path: model weights, and
# program files (an extension's Python source, libraries, shell scripts: a page never fetches them)
WEIGHT_SUFFIXES = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx", ".sft", ".pkl",
                             ".pickle", ".vae", ".lora"})
PROGRAM_SUFFIXES = frozenset({".py", ".pyc", ".pyo", ".pyd", ".pyi", ".so", ".dll", ".dylib", ".exe", ".sh", ".bat",
                              ".cmd", ".ps1"})
# set here rather than guessed: a module script is refused by browsers unless it comes as JavaScript,
# and some systems' mimetypes tables map .js wrongly (A1111 patches the same on Windows)
MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".csv": "text/csv",
               ".json": "application/json", ".map": "application/json", ".txt": "text/plain", ".svg": "image/svg+xml",
               ".webp": "image/webp", ".html": "text/html", ".wasm": "application/wasm", ".yaml": "text/yaml",
               ".yml": "text/yaml", ".md": "text/markdown", ".woff2": "font/woff2", ".woff": "font/woff",
               ".ttf": "font/ttf"}
OUTPUT_DIR_KEYS = ("outdir_samples", "outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples",
                   "outdir_grids", "outdir_txt2img_grids", "outdir_img2img_grids", "outdir_save", "outdir_init_images")
WEB_FOLDERS = ("javascript", "html", "localizations")
_SEPARATORS = re.compile(r"[\\/]+")


@dataclass(frozen=True)
class Root:
    """A folder (or one file) whose files are served. `path` is resolved (symlinks followed)."""
    path: Path
    what: str                      # for messages: "extension", "outputs", "models", ...
    previews_only: bool = False    # only PREVIEW_SUFFIXES (the model folders)
    user_named: bool = False       # a --gradio-allowed-path folder: model and program files too


@dataclass(frozen=True)
class FileRules:
    bases: tuple[Path, ...]                 # a relative path is looked up under each, in order
    roots: tuple[Root, ...]
    denied: frozenset[Path] = field(default_factory=frozenset)   # resolved files never served


@dataclass(frozen=True)
class Decision:
    status: int                    # 200, 403 or 404
    message: str
    path: Path | None = None       # the resolved file, when status is 200


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _root_of(real: Path, roots: Iterable[Root]) -> Root | None:
    """The innermost root that holds `real` (a folder the user named inside the models folder
    serves weights; the models folder around it does not)."""
    best = None
    for root in roots:
        if (real == root.path or real.is_relative_to(root.path)) and \
                (best is None or len(root.path.parts) > len(best.path.parts)):
            best = root
    return best


def check_path(requested: str, rules: FileRules) -> Decision:
    """Whether `/file=<requested>` is served: 200 with the resolved file, or 403/404 with the reason.
    A path outside every root answers 403 whether or not it exists, so nothing is learnt about it."""
    shown = requested if len(requested) <= 300 else requested[:300] + "..."
    if not requested.strip():
        return Decision(404, "File not found: the path is empty")
    if "\x00" in requested:      # no file has one; the path functions would raise
        return Decision(403, f"File not allowed: {shown.replace(chr(0), '?')}: the path holds a NUL character")
    if ".." in _SEPARATORS.split(requested):
        return Decision(403, f"File not allowed: {shown}: '..' is not allowed in a file path")
    if os.path.isabs(requested):
        # only what lies below a known folder counts: the install itself may sit under a dot-folder
        candidates = [Path(requested)]
        prefixes = sorted({*rules.bases, *(r.path for r in rules.roots)}, key=lambda p: -len(p.parts))
        under = next((p for p in prefixes if candidates[0].is_relative_to(p)), None)
        parts = candidates[0].relative_to(under).parts if under else candidates[0].parts
    else:
        candidates = [base / requested for base in rules.bases]
        parts = tuple(_SEPARATORS.split(requested))
    if any(p.startswith(".") and p != "." for p in parts):
        return Decision(403, f"File not allowed: {shown}: dotfiles and dot-folders are never served")

    found = [(real, _root_of(real, rules.roots)) for real in map(_real, candidates)]
    served = next(((real, root) for real, root in found if root is not None and os.path.lexists(real)), None)
    if served is None:
        if any(root is not None for _, root in found):
            return Decision(404, f"File not found: {shown}")
        return Decision(403, f"File not allowed: {shown}: not in a folder the web UI serves (extensions, "
                             "the web UI's javascript/html/localizations folders, the output folders, "
                             "model preview images, --gradio-allowed-path)")
    real, root = served
    inside = real.relative_to(root.path).parts
    if any(p.startswith(".") for p in inside):
        return Decision(403, f"File not allowed: {shown}: it leads to a dotfile or dot-folder")
    if real in rules.denied:
        return Decision(403, f"File not allowed: {shown}: it holds settings or credentials")
    if real.is_dir():
        return Decision(403, f"File not allowed: {shown}: it is a folder")
    suffix = real.suffix.lower()
    if root.previews_only and suffix not in PREVIEW_SUFFIXES:
        return Decision(403, f"File not allowed: {shown}: from the {root.what} folders only preview images "
                             f"({', '.join(sorted(PREVIEW_SUFFIXES))}) are served")
    if suffix in WEIGHT_SUFFIXES and not root.user_named:
        return Decision(403, f"File not allowed: {shown}: model files are not served "
                             "(name their folder with --gradio-allowed-path to serve them)")
    if suffix in PROGRAM_SUFFIXES and not root.user_named:
        return Decision(403, f"File not allowed: {shown}: program files ({suffix}) are not served")
    return Decision(200, "", real)


def _option(key: str) -> str:
    try:
        value = getattr(shared.opts, key)
    except AttributeError:
        return ""
    return value if isinstance(value, str) else ""


def current_rules() -> FileRules:
    """The rules of the running app, read at each request: the output folders follow the settings,
    the extension folders the installed extensions."""
    from sdwebui.services.extensions import discovery

    paths, ns = shared.paths, shared.cmd_opts
    script = paths_mod.SCRIPT_PATH
    install = [_real(p) for p in (paths.data, script)]
    # A1111's default --gradio-allowed-path entry is the data folder itself: left out without a word
    given = [Path(p) for p in getattr(ns, "gradio_allowed_path", None) or [] if _real(p) != install[0]]
    roots = [Root(real, "allowed", user_named=True) for real in _folders(given, install, "--gradio-allowed-path")]
    for base in dict.fromkeys((script, paths.data)):
        roots += [Root(_real(base / name), "web UI") for name in WEB_FOLDERS]
    roots.append(Root(_real(paths.data / "user.css"), "web UI"))
    roots += [Root(_real(p), "extension") for p in (paths.extensions, paths.extensions_builtin)]
    roots += [Root(_real(e.path), "extension") for e in discovery.extensions]   # also those linked in from elsewhere
    models = (paths.models, paths.checkpoints, paths.extra_checkpoint_dir, paths.vae, paths.lora, paths.embeddings)
    roots += [Root(_real(p), "models", previews_only=True) for p in models if p]
    outputs = [paths.resolve_output(c) for c in dict.fromkeys(["outputs", *(_option(k) for k in OUTPUT_DIR_KEYS)])
               if c.strip()]
    roots += [Root(real, "outputs") for real in _folders(outputs, [*install, _real(paths.models)], "output folder")]

    denied = [paths.config_file, paths.cache_file, getattr(ns, "ui_config_file", None) or paths.data / "ui-config.json",
              getattr(ns, "gradio_auth_path", None), getattr(ns, "tls_keyfile", None),
              getattr(ns, "tls_certfile", None)]
    return FileRules(bases=tuple(dict.fromkeys((paths.data, script))), roots=tuple(roots),
                     denied=frozenset(_real(p) for p in denied if p))


_warned: set[Path] = set()


def _folders(folders: list[Path], install: list[Path], what: str) -> list[Path]:
    """The folders, resolved, less any that is or holds one of the install's own folders (an output
    folder set to "." or to the data folder would serve config.json, the models, everything)."""
    out = []
    for real in map(_real, folders):
        if any(w == real or w.is_relative_to(real) for w in install):
            if real not in _warned:
                _warned.add(real)
                logger.warning("/file= does not serve the %s %s as a whole: it holds the web UI's own files; "
                               "name the sub folders to serve instead", what, real)
            continue
        out.append(real)
    return out


def web_path(path: Path | str, bases: Iterable[Path] | None = None) -> str:
    """The URL (relative to the page) under which /file= serves `path`, with its modification time as
    the query (a new version is fetched when the file changes): `file=extensions/x/javascript/a.js?1712345678.9`.
    Relative to the data folder or the webui's folder when inside one, as A1111 writes it."""
    path = Path(path).absolute()
    shown = str(path)
    for base in bases if bases is not None else (shared.paths.data, paths_mod.SCRIPT_PATH):
        if path.is_relative_to(base.absolute()):
            shown = path.relative_to(base.absolute()).as_posix()
            break
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        mtime = 0
    return f"file={quote(shown.replace(os.sep, '/'), safe='/:')}?{mtime}"


def _gradio_app(app: FastAPI):
    """The mounted Gradio app, which holds the UI's login tokens."""
    for route in app.routes:
        if isinstance(route, Mount) and hasattr(route.app, "tokens") and hasattr(route.app, "cookie_id"):
            return route.app
    return None


def _ui_login_ok(request: Request, credentials: dict[str, str]) -> bool:
    """With --gradio-auth, the files are the UI's: its login cookie, or the same login as HTTP Basic."""
    if basic_auth_ok(request.headers.get("authorization"), credentials):
        return True
    gradio = _gradio_app(request.app)
    if gradio is None:
        return False
    for name in (f"access-token-{gradio.cookie_id}", f"access-token-unsecure-{gradio.cookie_id}"):
        token = request.cookies.get(name)
        if token and token in gradio.tokens:
            return True
    return False


def ui_login_required(ui_credentials: Iterable[tuple[str, str]] | None) -> Callable[[Request], None]:
    """A route dependency: with --gradio-auth, the request must carry the UI's login (its other
    routes that serve the page's data, e.g. the Extra Networks previews, are behind it like /file=)."""
    credentials = dict(ui_credentials or [])

    def check(request: Request) -> None:
        if credentials and not _ui_login_ok(request, credentials):
            raise HTTPException(401, "Not authenticated: log in to the web UI first")

    return check


def register(app: FastAPI, *, ui_credentials: Iterable[tuple[str, str]] | None = None,
             rules: Callable[[], FileRules] = current_rules) -> None:
    """Add `/file=<path>` and `/file/<path>` (GET and HEAD; Range requests are answered) to `app`.
    Call it before the Gradio app is mounted at "/": a route added after the mount is never reached."""
    credentials = dict(ui_credentials or [])

    async def serve_file(path: str, request: Request) -> FileResponse:
        if credentials and not _ui_login_ok(request, credentials):
            raise HTTPException(401, "Not authenticated: log in to the web UI first")
        decision = check_path(path, rules())
        if decision.status != 200:
            raise HTTPException(decision.status, decision.message)
        media_type = MEDIA_TYPES.get(decision.path.suffix.lower())
        return FileResponse(decision.path, media_type=media_type,
                            headers={"Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff"})

    for pattern in ("/file={path:path}", "/file/{path:path}"):
        app.add_api_route(pattern, serve_file, methods=["GET", "HEAD"], include_in_schema=False)
