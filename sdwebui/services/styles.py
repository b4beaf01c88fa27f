"""Prompt styles: A1111's styles.csv files (columns name, prompt, negative_prompt), one or several
(`--styles-file` given more than once, globs allowed), read into one StyleDatabase that generation
applies by name, the API lists and the UI's styles editor changes.

Each style remembers the file it came from and is saved back there; a new style goes to the first
(default) file. A save rewrites only the file concerned, atomically (a temp file, then os.replace),
and keeps what this database does not hold: comment rows (a name starting with '#'), extra columns,
and rows shadowed by a style of the same name in a later file."""
from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Iterable, NamedTuple

from sdwebui.engine.atomic_write import atomic_write_bytes

logger = logging.getLogger(__name__)

CSV_FIELDS = ["name", "prompt", "negative_prompt"]


class PromptStyle(NamedTuple):
    """A1111's tuple (extensions build it positionally and call `_replace` / `_asdict`)."""
    name: str
    prompt: str | None
    negative_prompt: str | None
    path: str | None = None


class StyleError(ValueError):
    """A style that cannot be saved or deleted as asked; the message is meant for the user."""


def merge_prompts(style_prompt: str | None, prompt: str) -> str:
    """A style with `{prompt}` wraps the prompt; otherwise it is appended after a comma (A1111's rule)."""
    style_prompt = style_prompt or ""
    if "{prompt}" in style_prompt:
        return style_prompt.replace("{prompt}", prompt)
    return ", ".join(p for p in (prompt.strip(), style_prompt.strip()) if p)


def apply_styles_to_prompt(prompt: str, styles: Iterable[str | None]) -> str:
    """`prompt` with each style text merged in, in order (A1111's module-level helper)."""
    for style in styles:
        prompt = merge_prompts(style, prompt)
    return prompt


def validate_name(name: str | None) -> str:
    """The name to save a style under, stripped; StyleError says why one cannot be used."""
    name = (name or "").strip()
    if not name:
        raise StyleError("A style needs a name: type one into the style box first.")
    if name.startswith("#"):
        raise StyleError(f"A style name cannot start with '#' ({name!r}): styles.csv reads such rows as comments.")
    return name


def _is_glob(pattern: str | os.PathLike) -> bool:
    name = os.path.basename(str(pattern))
    return "*" in name or "?" in name


def _norm(path: str | os.PathLike) -> str:
    return os.path.normpath(str(path))


def _expand(pattern: str | os.PathLike) -> list[Path]:
    if not _is_glob(pattern):
        return [Path(_norm(pattern))]
    folder, name = os.path.split(str(pattern))
    # sorted: the order styles (and same-named overrides) come in must not depend on the file system
    return sorted(Path(_norm(p)) for p in Path(folder or ".").glob(name))


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    """The file's header and rows (utf-8 with or without BOM, as A1111 reads it)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        rows = list(reader)
        fields = list(reader.fieldnames or [])
    if "name" not in fields:
        raise csv.Error(f"{path}: no 'name' column (expected {', '.join(CSV_FIELDS)})")
    return fields, rows


def _row_prompt(row: dict) -> str:
    # A1111 still reads the old two-column format "name,text"
    return row["prompt"] if "prompt" in row else row.get("text") or ""


def write_csv_atomically(path: Path, fields: list[str], rows: list[dict]) -> None:
    """Write `rows` to `path` so that a reader sees the old file or the new one, never a part
    (engine.atomic_write: a temp file beside it, fsynced, then renamed over it). The previous version
    is kept as `<path>.bak`, as A1111 keeps it. On any failure the old file is left as it was."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    target = Path(os.path.realpath(path))      # through a symlink: replace the file, not the link
    mode = 0o644
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
        try:
            shutil.copy2(target, f"{target}.bak")
        except OSError as e:       # the backup is a courtesy; the atomic replace is what protects
            logger.warning("could not back up %s: %s", target, e)
    atomic_write_bytes(target, buffer.getvalue().encode("utf-8-sig"), mode=mode)


class StyleDatabase:
    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.paths = list(paths)         # as given (`modules.shared.styles_filename`)
        self.no_style = PromptStyle("None", "", "", None)
        self.styles: dict[str, PromptStyle] = {}
        self.prompt_fields = list(CSV_FIELDS)
        self.all_styles_files: list[Path] = []
        self.default_path: Path | None = self._default_path()
        self._lock = threading.RLock()
        self.reload()

    def _default_path(self) -> Path | None:
        """Where new styles go: the first file given; for a glob, its first match, or styles.csv in its
        folder when nothing matches (A1111's rule)."""
        if not self.paths:
            return None
        first = self.paths[0]
        if not _is_glob(first):
            return Path(_norm(first))
        matches = _expand(first)
        return matches[0] if matches else Path(_norm(os.path.join(os.path.dirname(str(first)), "styles.csv")))

    def reload(self) -> None:
        """Read every styles file again. `self.styles` stays the same dict object (extensions and the UI
        hold it). A style named in several files: the later file's wins, as in A1111."""
        with self._lock:
            files: list[Path] = []
            for path in ([self.default_path] if self.default_path else []) + \
                    [p for pattern in self.paths for p in _expand(pattern)]:
                if path not in files:
                    files.append(path)
            styles: dict[str, PromptStyle] = {}
            for path in files:
                if path.is_file():
                    self._load(path, styles)
            self.all_styles_files = files
            self.styles.clear()
            self.styles.update(styles)

    def _load(self, path: Path, into: dict[str, PromptStyle]) -> None:
        try:
            _, rows = _read_rows(path)
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            logger.error("could not read styles from %s: %s", path, e)
            return
        for row in rows:
            name = (row.get("name") or "").strip()
            if name and not name.startswith("#"):
                into[name] = PromptStyle(name, _row_prompt(row), row.get("negative_prompt") or "", str(path))

    # --- changes -----------------------------------------------------------------------------------
    def save_style(self, name: str, prompt: str | None, negative_prompt: str | None) -> PromptStyle:
        """Create or replace a style and write its file (the file it came from; a new style: the
        default file). Raises StyleError for a bad name, OSError when the file cannot be written (then
        nothing has changed)."""
        name = validate_name(name)
        with self._lock:
            existing = self.styles.get(name)
            path = existing.path if existing is not None and existing.path else self.default_path
            if path is None:
                raise StyleError("No styles file is configured (--styles-file), so the style cannot be saved.")
            style = PromptStyle(name, prompt or "", negative_prompt or "", str(path))
            self._write(Path(path), {**self.styles, name: style})
            self.styles[name] = style
            return style

    def delete_style(self, name: str) -> PromptStyle:
        """Remove a style from its file; returns it. StyleError when there is no such style."""
        with self._lock:
            style = self.styles.get(name or "")
            if style is None:
                raise StyleError(f"There is no style named {name!r}.")
            if style.path:
                self._write(Path(style.path), {n: s for n, s in self.styles.items() if n != style.name})
            del self.styles[style.name]
            return style

    def save_styles(self, path: str | None = None) -> None:
        """A1111's way for extensions: write every styles file from `self.styles` (a style with no
        path goes to the default file). `path` is ignored, as in A1111 (deprecated there)."""
        with self._lock:
            for name, style in list(self.styles.items()):
                if not style.path:
                    self.styles[name] = style._replace(path=str(self.default_path))
            for file in sorted(self.get_style_paths()):
                self._write(Path(file), self.styles)

    def get_style_paths(self) -> set[str]:
        paths = {s.path for s in self.styles.values() if s.path}
        return paths | ({str(self.default_path)} if self.default_path else set())

    def _write(self, path: Path, styles: dict[str, PromptStyle]) -> None:
        """Rewrite `path` so that it holds the styles of `styles` whose file it is, in the file's
        order (new ones at the end), keeping comment rows, extra columns and rows shadowed by a
        same-named style of another file."""
        mine = {n: s for n, s in styles.items() if s.path and _norm(s.path) == _norm(path)}
        elsewhere = {n for n in styles if n not in mine}
        try:
            fields, rows = _read_rows(path) if path.exists() else (list(CSV_FIELDS), [])
        except (UnicodeDecodeError, csv.Error) as e:   # never overwrite what could not be read
            raise StyleError(f"{path} could not be read ({e}); fix or move it, then try again.") from e
        fields = CSV_FIELDS + [f for f in fields if f and f not in CSV_FIELDS and f != "text"]
        out: list[dict] = []
        written: set[str] = set()
        for row in rows:
            name = (row.get("name") or "").strip()
            row = {**row, "prompt": _row_prompt(row)}
            if name in mine:
                if name not in written:     # a duplicate row further down would override the edit
                    out.append({**row, **self._csv_row(mine[name])})
                    written.add(name)
            elif not name or name.startswith("#") or name in elsewhere:
                out.append(row)
            # else: the style was deleted
        out.extend(self._csv_row(s) for n, s in mine.items() if n not in written)
        write_csv_atomically(path, fields, out)

    @staticmethod
    def _csv_row(style: PromptStyle) -> dict:
        return {"name": style.name, "prompt": style.prompt or "", "negative_prompt": style.negative_prompt or ""}

    # --- reading and applying ----------------------------------------------------------------------
    def check(self, names: list[str]) -> list[str]:
        """Names that do not exist (the API answers 422 listing the valid ones)."""
        return [n for n in names if n not in self.styles]

    def apply(self, prompt: str, negative: str, names: list[str]) -> tuple[str, str]:
        for name in names:
            style = self.styles[name]
            prompt = merge_prompts(style.prompt, prompt)
            negative = merge_prompts(style.negative_prompt, negative)
        return prompt, negative

    # A1111's names, for extensions that apply styles to prompts of their own (unknown names: no text)
    def get_style_prompts(self, styles: list[str]) -> list[str | None]:
        return [self.styles.get(x, self.no_style).prompt for x in styles]

    def get_negative_style_prompts(self, styles: list[str]) -> list[str | None]:
        return [self.styles.get(x, self.no_style).negative_prompt for x in styles]

    def apply_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        return apply_styles_to_prompt(prompt, self.get_style_prompts(styles))

    def apply_negative_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        return apply_styles_to_prompt(prompt, self.get_negative_style_prompts(styles))

    def extract_styles_from_prompt(self, prompt: str, negative_prompt: str) -> tuple[list[str], str, str]:
        from sdwebui.engine.images.infotext import extract_styles

        return extract_styles(self.styles.values(), prompt, negative_prompt)

    def api_list(self) -> list[dict]:
        return [{"name": s.name, "prompt": s.prompt, "negative_prompt": s.negative_prompt}
                for s in self.styles.values()]


__all__ = ["PromptStyle", "StyleDatabase", "StyleError", "merge_prompts", "apply_styles_to_prompt", "validate_name",
           "write_csv_atomically", "CSV_FIELDS"]
