"""File hashes cached in cache.json, in A1111's layout ({"hashes": {"checkpoint/<name>": {mtime, sha256}}})
so a user's existing cache.json is reused and hashing a multi-GB file happens once."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sdwebui.engine.atomic_write import atomic_write_text

logger = logging.getLogger(__name__)

_BLOCK = 1 << 20


class HashCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict | None = None

    def _load(self) -> dict:
        if self._data is None:
            try:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(self._data, dict):
                    raise ValueError("not an object")
            except FileNotFoundError:
                self._data = {}
            except (OSError, ValueError) as e:
                logger.warning("ignoring unreadable %s: %s", self.path, e)
                self._data = {}
        return self._data

    def section(self, name: str) -> dict:
        """One named table of the cache file (A1111's `cache.cache(subsection)`); save() writes it."""
        with self._lock:
            return self._load().setdefault(name, {})

    def save(self) -> None:
        with self._lock:
            data = self._load()
            try:
                atomic_write_text(self.path, json.dumps(data, indent=4))
            except OSError as e:
                logger.warning("could not write %s: %s", self.path, e)

    def cached_data_for_file(self, subsection: str, title: str, filename: str | Path, func) -> Any:
        """A1111's `cache.cached_data_for_file`: `func()`'s value for `filename`, computed again only
        when the file changed since it was stored under `title`."""
        try:
            mtime = os.path.getmtime(filename)
        except OSError:
            return None
        table = self.section(subsection)
        entry = table.get(title)
        if entry and entry.get("mtime", 0) >= mtime and "value" in entry:
            return entry["value"]
        value = func()
        if value is None:
            return None
        with self._lock:
            table[title] = {"mtime": mtime, "value": value}
        self.save()
        return value

    def cached_sha256(self, filename: Path, title: str, *, addnet: bool = False) -> str | None:
        """The cached hash if the file has not changed since it was computed (`addnet`: the tensor-data
        hash of a .safetensors file, kept apart as A1111 keeps it)."""
        with self._lock:
            entry = self._load().get(_section(addnet), {}).get(title)
        try:
            mtime = os.path.getmtime(filename)
        except OSError:
            return None
        if entry and entry.get("mtime", 0) >= mtime and entry.get("sha256"):
            return entry["sha256"]
        return None

    def sha256(self, filename: Path, title: str, *, addnet: bool = False) -> str:
        """The file's sha256 (`addnet`: of a .safetensors file's tensor data only, A1111's hash of networks)."""
        cached = self.cached_sha256(filename, title, addnet=addnet)
        if cached:
            return cached
        digest = (addnet_sha256(filename) if addnet
                  else sha256_file(filename, desc=f"Calculating sha256 for {Path(filename).name}"))
        self.remember_sha256(filename, title, digest, addnet=addnet)
        return digest

    def remember_sha256(self, filename: Path, title: str, digest: str, *, addnet: bool = False) -> None:
        """Store a hash computed elsewhere (a file hashed while it was written) for the file as it is now."""
        with self._lock:
            data = self._load()
            data.setdefault(_section(addnet), {})[title] = {"mtime": os.path.getmtime(filename), "sha256": digest}
            try:
                atomic_write_text(self.path, json.dumps(data, indent=4))
            except OSError as e:
                logger.warning("could not write %s: %s", self.path, e)


def _section(addnet: bool) -> str:
    return "hashes-addnet" if addnet else "hashes"


def addnet_sha256(filename: Path) -> str:
    """The sha256 of a .safetensors file's tensor data (everything after its JSON header): the hash A1111
    writes for networks (`Lora hashes`), the same whatever the file's metadata says."""
    digest = hashlib.sha256()
    with open(filename, "rb") as f:
        header = int.from_bytes(f.read(8), "little")
        f.seek(header + 8)
        while chunk := f.read(_BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(filename: Path, desc: str | None = None) -> str:
    h = hashlib.sha256()
    size = os.path.getsize(filename)
    show = size > 256 * _BLOCK  # a progress bar only where hashing takes a noticeable time
    with open(filename, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, desc=desc, disable=not show) as bar:
        while chunk := f.read(_BLOCK):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def model_hash(filename: Path) -> str:
    """A1111's legacy 8-hex hash: sha256 of the 64 KiB at offset 1 MiB."""
    try:
        with open(filename, "rb") as f:
            f.seek(0x100000)
            return hashlib.sha256(f.read(0x10000)).hexdigest()[:8]
    except OSError:
        return "NOFILE"
