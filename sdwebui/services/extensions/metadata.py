"""An extension's `metadata.ini`, as A1111 reads it: `[Extension] Name=` (the canonical name; the
folder name otherwise) and `Requires=`; per script `[scripts/<file>.py]` (or a whole `[scripts]`)
`Requires/Before/After`; `[callbacks/<ext>/<file>/<category>] Before/After` (how discovery's
callback_order_rules() orders the extensions' callbacks)."""
from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

METADATA_FILE = "metadata.ini"


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

