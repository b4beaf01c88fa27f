"""A1111's small helpers that extensions import from `modules.util` (and `modules.shared`, which
re-exports some), and its `modules.timer`: sorting and listing files, the project's html/ snippets,
ordering by dependencies, opening a folder, timing start-up."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from sdwebui.services.paths import SCRIPT_PATH

logger = logging.getLogger(__name__)

__all__ = ["MassFileLister", "Timer", "TimerSubcategory", "cwd", "html", "html_path", "ldm_print", "listfiles",
           "load_file_from_url", "natural_sort_key", "open_folder", "startup_record", "startup_timer",
           "topological_sort", "truncate_path", "walk_files"]

cwd = os.getcwd()
_DIGITS = re.compile(r"([0-9]+)")


def natural_sort_key(s: str, regex: re.Pattern = _DIGITS) -> list:
    """Sort key under which "img2" comes before "img10", case-insensitively."""
    return [int(part) if part.isdigit() else part.lower() for part in regex.split(s)]


def listfiles(dirname: str) -> list[str]:
    """The files (not folders, not dotfiles) directly in `dirname`, naturally sorted; [] if it is missing."""
    if not os.path.isdir(dirname):
        return []
    names = sorted(os.listdir(dirname), key=natural_sort_key)
    return [os.path.join(dirname, n) for n in names if os.path.isfile(os.path.join(dirname, n)) and not n.startswith(".")]


def html_path(filename: str) -> str:
    return str(SCRIPT_PATH / "html" / filename)


def html(filename: str) -> str:
    """The text of html/<filename>, or "" when there is no such file."""
    path = html_path(filename)
    try:
        with open(path, encoding="utf8") as f:
            return f.read()
    except OSError:
        return ""


def walk_files(path: str, allowed_extensions: Iterable[str] | None = None) -> Iterator[str]:
    """Every file under `path` (recursively, following links, skipping dot folders), filtered by
    extension (".png", case-insensitive) when given."""
    if not os.path.exists(path):
        return
    allowed = {e.lower() for e in allowed_extensions} if allowed_extensions is not None else None
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=natural_sort_key)
        for name in sorted(files, key=natural_sort_key):
            if allowed is not None and os.path.splitext(name)[1].lower() not in allowed:
                continue
            yield os.path.join(root, name)


def ldm_print(*args: Any, **kwargs: Any) -> None:
    """A1111 prints its LDM model's messages with this (hidden by an option); here they are logged."""
    logger.info(" ".join(str(a) for a in args))


def truncate_path(target_path: str, base_path: str = cwd) -> str:
    """`target_path` relative to `base_path` when inside it, else unchanged."""
    abs_target, abs_base = os.path.abspath(target_path), os.path.abspath(base_path)
    try:
        if os.path.commonpath([abs_target, abs_base]) == abs_base:
            return os.path.relpath(abs_target, abs_base)
    except ValueError:
        pass
    return abs_target


class MassFileLister:
    """Answers "does this file exist, and when was it changed" for many files of few folders with
    one listing per folder (A1111 uses it for the extra networks' preview images)."""

    def __init__(self) -> None:
        self.cached_dirs: dict[str, dict[str, tuple[str, float, float]]] = {}

    def _listing(self, dirname: str) -> dict[str, tuple[str, float, float]]:
        if dirname not in self.cached_dirs:
            entries: dict[str, tuple[str, float, float]] = {}
            if os.path.isdir(dirname):
                for entry in os.scandir(dirname):
                    st = entry.stat()
                    entries[entry.name.lower()] = (entry.name, st.st_ctime, st.st_mtime)
            self.cached_dirs[dirname] = entries
        return self.cached_dirs[dirname]

    def find(self, path: str) -> tuple[str, float, float] | None:
        dirname, filename = os.path.split(path)
        return self._listing(dirname).get(filename.lower())

    def exists(self, path: str) -> bool:
        return self.find(path) is not None

    def mctime(self, path: str) -> tuple[float, float]:
        found = self.find(path)
        return (found[2], found[1]) if found else (0, 0)

    def reset(self) -> None:
        self.cached_dirs.clear()


def topological_sort(dependencies: dict[str, list[str]]) -> list[str]:
    """The keys of `dependencies` ordered so each comes after what it depends on (unknown names are
    ignored; a cycle is broken where it is met, as in A1111)."""
    visited: set[str] = set()
    result: list[str] = []

    def visit(name: str) -> None:
        if name in visited or name not in dependencies:
            return
        visited.add(name)
        for dep in dependencies[name]:
            visit(dep)
        result.append(name)

    for name in dependencies:
        visit(name)
    return result


def open_folder(path: str) -> None:
    """Open `path` in the desktop's file manager (the server's desktop: A1111's "open folder" buttons)."""
    if not os.path.exists(path):
        logger.warning('Folder "%s" does not exist', path)
        return
    if not os.path.isdir(path):
        logger.warning('"%s" is not a folder', path)
        return
    if sys.platform == "win32":
        os.startfile(os.path.normpath(path))    # type: ignore[attr-defined]
    elif sys.platform == "darwin":
        subprocess.Popen(["open", path])
    else:
        subprocess.Popen(["xdg-open", path])


def load_file_from_url(url: str, *, model_dir: str, progress: bool = True, file_name: str | None = None,
                       hash_prefix: str | None = None) -> str:
    """A1111 downloads a missing model file here. This project works offline: a file already in
    `model_dir` is returned; a missing one is an error that says where to put it."""
    name = file_name or os.path.basename(url.split("?", 1)[0])
    target = Path(model_dir) / name
    if target.is_file():
        return str(target)
    raise FileNotFoundError(f"{target} is missing and this server does not download models; "
                            f"download {url} yourself and place it there")


class TimerSubcategory:
    def __init__(self, timer: "Timer", category: str) -> None:
        self.timer, self.category = timer, category
        self.start = 0.0
        self.original_base_category = timer.base_category

    def __enter__(self) -> None:
        self.start = time.time()
        self.timer.base_category = self.original_base_category + self.category + "/"
        self.timer.subcategory_level += 1
        if self.timer.print_log:
            logger.info("%s>>> %s", "  " * self.timer.subcategory_level, self.category)

    def __exit__(self, *exc: Any) -> None:
        elapsed = time.time() - self.start
        self.timer.base_category = self.original_base_category
        self.timer.add_time_to_record(self.original_base_category + self.category, elapsed)
        self.timer.subcategory_level -= 1
        if self.timer.print_log:
            logger.info("%s<<< %s: %.2fs", "  " * self.timer.subcategory_level, self.category, elapsed)


class Timer:
    """A1111's start-up timer: `record(name)` books the time since the last record under `name`,
    `summary()` lists the slow ones."""

    def __init__(self, print_log: bool = False) -> None:
        self.start = time.time()
        self.records: dict[str, float] = {}
        self.total = 0.0
        self.base_category = ""
        self.print_log = print_log
        self.subcategory_level = 0

    def elapsed(self) -> float:
        end = time.time()
        res, self.start = end - self.start, end
        return res

    def add_time_to_record(self, category: str, amount: float) -> None:
        self.records[category] = self.records.get(category, 0.0) + amount

    def record(self, category: str, extra_time: float = 0, disable_log: bool = False) -> None:
        e = self.elapsed()
        self.add_time_to_record(self.base_category + category, e + extra_time)
        self.total += e + extra_time
        if self.print_log and not disable_log:
            logger.info("%s%s: done in %.3fs", "  " * self.subcategory_level, category, e + extra_time)

    def subcategory(self, name: str) -> TimerSubcategory:
        self.elapsed()
        return TimerSubcategory(self, name)

    def summary(self) -> str:
        res = f"{self.total:.1f}s"
        additions = [(k, v) for k, v in self.records.items() if v >= 0.1 and "/" not in k]
        if additions:
            res += " (" + ", ".join(f"{k}: {v:.1f}s" for k, v in additions) + ")"
        return res

    def dump(self) -> dict[str, Any]:
        return {"total": self.total, "records": self.records}

    def reset(self) -> None:
        self.__init__(self.print_log)


startup_timer = Timer()
startup_record: dict[str, Any] | None = None
