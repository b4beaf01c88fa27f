"""The extension index (A1111's "Available" list): loading it from a URL or a local file, and
choosing which entries to show - tag filters, hiding what is installed, sorting, searching.

The index is the JSON that AUTOMATIC1111/stable-diffusion-webui-extensions publishes:
`{"tags": {tag: description}, "extensions": [{name, url, description, tags, added, stars,
commit_time, created_at, ...}]}`. Loading never raises a traceback at the user: every failure is
an IndexLoadError whose message says what went wrong and what to do (offline: give a local file).
"""
from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

DEFAULT_INDEX_URL = ("https://raw.githubusercontent.com/AUTOMATIC1111/stable-diffusion-webui-extensions/"
                     "master/index.json")
INDEX_ENV = "WEBUI_EXTENSIONS_INDEX"
FETCH_TIMEOUT_S = 20
MAX_INDEX_BYTES = 32 * 1024 * 1024      # the real index is ~0.5 MB; anything far bigger is not one

# A1111's tag choices before an index is loaded, and the ones hidden by default
INITIAL_TAGS = ["script", "ads", "localization", "installed"]
DEFAULT_HIDDEN_TAGS = ["ads", "localization", "installed"]
INSTALLED_TAG = "installed"
SHOWING_TYPES = ("hide", "show")
FILTERING_TYPES = ("or", "and")


def _commit_time(entry: dict) -> str:
    return str(entry.get("commit_time") or "")


# A1111's "Order" radio, in its order: (label, newest-first?, key)
SORT_ORDERS: list[tuple[str, bool, Callable[[dict], Any]]] = [
    ("newest first", True, lambda e: str(e.get("added") or "z")),
    ("oldest first", False, lambda e: str(e.get("added") or "z")),
    ("a-z", False, lambda e: str(e.get("name") or "z").lower()),
    ("z-a", True, lambda e: str(e.get("name") or "z").lower()),
    ("internal order", False, lambda e: 0),        # a stable sort on a constant key keeps the file's order
    ("update time", True, _commit_time),
    ("create time", True, lambda e: str(e.get("created_at") or "")),
    ("stars", True, lambda e: _as_int(e.get("stars"))),
]
SORT_LABELS = [label for label, _, _ in SORT_ORDERS]


class IndexLoadError(ValueError):
    """The index could not be loaded; the message is meant for the user as it is."""


def default_index_url() -> str:
    """A1111's index URL, or the `WEBUI_EXTENSIONS_INDEX` environment variable when set."""
    return os.environ.get(INDEX_ENV) or DEFAULT_INDEX_URL


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------
def _local_path(source: str) -> Path | None:
    """The file a source names: a `file://` URL or a plain path (None for http(s) URLs)."""
    if source.startswith("file://"):
        return Path(unquote(urlparse(source).path))
    if "://" in source:
        return None
    return Path(source).expanduser()


def _read_local(path: Path) -> bytes:
    if not path.is_file():
        raise IndexLoadError(f"Extension index file not found: {path}")
    if path.stat().st_size > MAX_INDEX_BYTES:
        raise IndexLoadError(f"{path} is too large to be an extension index")
    return path.read_bytes()


def _fetch(url: str, timeout: float) -> bytes:
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise IndexLoadError(f"Cannot load an extension index from {url!r}: give an http(s) URL or a local file path")
    request = urllib.request.Request(url, headers={"User-Agent": "sd-webui-extension-index"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:   # noqa: S310 - scheme checked above
            data = response.read(MAX_INDEX_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise IndexLoadError(f"Could not load the extension index from {url}: the server answered "
                             f"HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise IndexLoadError(f"Could not reach {url} ({reason}). This computer may be offline: download "
                             "index.json elsewhere and enter its local file path instead.") from None
    if len(data) > MAX_INDEX_BYTES:
        raise IndexLoadError(f"The answer from {url} is too large to be an extension index")
    return data


def parse_index(data: bytes | str, source: str = "the index") -> dict:
    """Check the JSON's shape: a dict with an `extensions` list of dicts (`tags` optional)."""
    try:
        index = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexLoadError(f"{source} is not valid JSON: {e}") from None
    if not isinstance(index, dict) or not isinstance(index.get("extensions"), list):
        raise IndexLoadError(f'{source} is not an extension index: it needs an "extensions" list')
    tags = index.get("tags")
    index["tags"] = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
    index["extensions"] = [e for e in index["extensions"] if isinstance(e, dict)]
    return index


def load_index(source: str, timeout: float = FETCH_TIMEOUT_S) -> dict:
    """The index from an http(s) URL, a `file://` URL or a local path (default: default_index_url())."""
    source = (source or "").strip() or default_index_url()
    path = _local_path(source)
    data = _read_local(path) if path is not None else _fetch(source, timeout)
    index = parse_index(data, str(path) if path is not None else source)
    logger.info("loaded %d extensions from the index at %s", len(index["extensions"]), source)
    return index


# ---------------------------------------------------------------------------------------
# choosing what to show
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AvailableEntry:
    """One index entry as the Available list shows it."""
    name: str
    url: str
    description: str
    tags: tuple[str, ...]          # with "installed" added when it is
    installed: bool
    added: str
    update_time: str               # commit_time as a local date, "" if unknown
    create_time: str               # created_at as a local date
    stars: int


@dataclass
class Selection:
    """What filter_index() chose: the entries to show, how many were hidden, and every tag known
    (the index's own, those entries use, and "installed") for the tag checkboxes."""
    entries: list[AvailableEntry] = field(default_factory=list)
    hidden: int = 0
    tags: dict[str, str] = field(default_factory=dict)


def _date(value: Any) -> str:
    """GitHub's `2023-11-23T10:00:00Z` as a local `2023-11-23`; "" when absent or malformed."""
    try:
        parsed = datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return ""
    return parsed.astimezone().strftime("%Y-%m-%d")


def normalize_url(url: str) -> str:
    """For comparing git remotes: no trailing slash or `.git`, case-insensitive."""
    u = url.strip().rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    return u.lower()


def dirname_from_url(url: str) -> str:
    """The folder a clone of `url` gets by default: its last path part without `.git`."""
    path = urlparse(url).path if "://" in url else url.split(":")[-1]
    name = path.rstrip("/").split("/")[-1]
    return name[:-4] if name.endswith(".git") else name


def sort_index(sort: int | str) -> int:
    """A sort choice (A1111's index into SORT_LABELS, or the label) as an index; unknown -> 0."""
    if isinstance(sort, str):
        return SORT_LABELS.index(sort) if sort in SORT_LABELS else 0
    return sort if isinstance(sort, int) and 0 <= sort < len(SORT_ORDERS) else 0


def filter_index(index: dict, installed_names: Iterable[str], installed_remotes: Iterable[str],
                 selected_tags: Iterable[str] = (), showing_type: str = "hide", filtering_type: str = "or",
                 sort: int | str = 0, search: str = "") -> Selection:
    """A1111's rules: an entry counts as installed when a folder with its default name or a
    checkout of its URL is installed (tagged "installed"). With tags selected, "hide" hides the
    entries that have any ("or") / all ("and") of them and "show" shows only those; the search
    text must then occur in the name or description (case-insensitive)."""
    if showing_type not in SHOWING_TYPES:
        raise ValueError(f"showing_type must be one of {list(SHOWING_TYPES)}, not {showing_type!r}")
    if filtering_type not in FILTERING_TYPES:
        raise ValueError(f"filtering_type must be one of {list(FILTERING_TYPES)}, not {filtering_type!r}")
    names = {n.lower() for n in installed_names}
    remotes = {normalize_url(r) for r in installed_remotes if r}
    selected = set(selected_tags or ())
    needle = (search or "").strip().lower()
    _, reverse, key = SORT_ORDERS[sort_index(sort)]
    result = Selection(tags=dict(index.get("tags") or {}))

    for raw in sorted(index.get("extensions", []), key=key, reverse=reverse):
        url = raw.get("url")
        if not isinstance(url, str) or not url:
            continue
        name = str(raw.get("name") or dirname_from_url(url))
        description = str(raw.get("description") or "")
        tags = [str(t) for t in raw.get("tags") or [] if isinstance(t, (str, int))]
        installed = dirname_from_url(url).lower() in names or normalize_url(url) in remotes
        if installed:
            tags.append(INSTALLED_TAG)
        for tag in tags:
            result.tags.setdefault(tag, tag)
        if selected:
            matched = [t for t in tags if t in selected]
            hit = bool(matched) if filtering_type == "or" else len(set(matched)) == len(selected)
            if hit == (showing_type == "hide"):
                result.hidden += 1
                continue
        if needle and needle not in name.lower() and needle not in description.lower():
            result.hidden += 1
            continue
        result.entries.append(AvailableEntry(
            name=name, url=url, description=description, tags=tuple(tags), installed=installed,
            added=str(raw.get("added") or "unknown"), update_time=_date(raw.get("commit_time")),
            create_time=_date(raw.get("created_at")), stars=_as_int(raw.get("stars"))))
    result.tags.setdefault(INSTALLED_TAG, INSTALLED_TAG)
    return result
