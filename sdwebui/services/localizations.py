"""UI localizations (A1111's `modules.localization`): `<name>.json` files mapping the page's English
texts to another language, from the `--localizations-dir` folder and then the active extensions'
`localizations/` folders. Files with the same name make one localization, read in that order (a
later file's strings win, as in A1111). The `localization` setting picks one by name; the page gets
its strings as `window.localization`."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from sdwebui.services.extensions import discovery

logger = logging.getLogger(__name__)

NONE = "None"   # A1111's choice for "no localization"


def list_localizations(folder: str | Path | None) -> dict[str, list[Path]]:
    """{name: files}: `folder/*.json` (the --localizations-dir), then the active extensions'."""
    found: dict[str, list[Path]] = {}
    if folder is not None and Path(folder).is_dir():
        for p in sorted(Path(folder).iterdir()):
            if p.suffix.lower() == ".json" and p.is_file():
                found[p.stem] = [p]
    try:
        extension_files = discovery.list_script_files("localizations", ".json")
    except Exception:   # the extensions are not known yet (the app is starting): the folder's files only
        logger.debug("extensions not listed yet; localizations from %s only", folder, exc_info=True)
        extension_files = []
    for f in extension_files:
        found.setdefault(Path(f.path).stem, []).append(Path(f.path))
    return found


def choices(folder: str | Path | None) -> list[str]:
    """The `localization` setting's choices: "None", then each localization's name, sorted."""
    return [NONE, *sorted(list_localizations(folder))]


def load(name: str | None, folder: str | Path | None) -> dict:
    """The strings of localization `name`; {} for "None", an unknown name or a file that cannot be
    read (reported in the log, so the page still opens, in English)."""
    files = list_localizations(folder).get(name or NONE)
    if files is None:
        if name and name != NONE:
            logger.warning("localization %r not found (choices: %s)", name, ", ".join(choices(folder)))
        return {}
    data: dict = {}
    for path in files:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            logger.error("could not load the localization %s from %s: %s", name, path, e)
            continue
        if isinstance(loaded, dict):
            data.update(loaded)
        else:
            logger.error("localization file %s does not hold a JSON object", path)
    return data
