"""What the page's <head> gets, in A1111's order: `window.localization`, the UI's own scripts (A1111's
JavaScript globals first) and stylesheet inline, then the active extensions' `javascript/*.js`
(classic scripts), `javascript/*.mjs` (modules), `style.css` files and the user's `user.css`, each
loaded from `/file=<path>?<mtime>` as A1111 writes them, so an extension's relative fetches
(`fetch("file=extensions/my-ext/data.csv")`) resolve the same way.

Gradio appends these tags to the document's head itself, scripts with `async = false` (they run in
order, after the inline ones); A1111's globals wait for every tagged script (`data-webui-asset`)
before they run the onUiLoaded callbacks, so an extension's callbacks never miss the UI's start.
"""
from __future__ import annotations

import html
import json
import logging
from pathlib import Path

from sdwebui.interfaces.file_route import web_path
from sdwebui.services import localizations, paths as paths_mod
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent
FIRST_SCRIPT = "a1111_globals.js"   # defines what every other script calls


def localizations_dir() -> Path:
    """The --localizations-dir folder (A1111's default: the webui's `localizations/`)."""
    folder = getattr(shared.cmd_opts, "localizations_dir", None) if shared.cmd_opts is not None else None
    return Path(folder) if folder else paths_mod.SCRIPT_PATH / "localizations"


def list_localizations() -> dict[str, list[Path]]:
    """{name: files} of the --localizations-dir folder, then the extensions' `localizations/`
    (A1111's `localization.localizations`; files with one name are merged, the later wins)."""
    return localizations.list_localizations(localizations_dir())


def localization_data(name: str | None) -> dict:
    """The strings of the localization `name` (A1111's `localization` setting); {} for "None" or a
    file that cannot be read (reported in the log)."""
    return localizations.load(name, localizations_dir())


def _inline_json(value: object) -> str:
    # "<" escaped: a string holding "</script>" must not end the tag
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _inline_script(text: str) -> str:
    safe = text.replace("</script", "<\\/script")     # a literal </script> inside would end the tag early
    return f"<script>\n{safe}\n</script>\n"


def _current_localization() -> str:
    try:
        return str(shared.opts.localization)
    except AttributeError:      # the key is not registered: A1111's default
        return "None"


def head_html() -> str:
    """The tags for the page's <head> (see the module docstring)."""
    from sdwebui.services.extensions import discovery

    parts = [_inline_script(f"window.localization = {_inline_json(localization_data(_current_localization()))};")]
    own = sorted((UI_DIR / "javascript").glob("*.js"), key=lambda p: (p.name != FIRST_SCRIPT, p.name))
    parts += [_inline_script(js.read_text(encoding="utf-8")) for js in own]
    theme = getattr(shared.cmd_opts, "theme", None) if shared.cmd_opts is not None else None
    if theme in ("light", "dark"):
        # --theme: as A1111, the page is opened again with gradio's `__theme` parameter unless the address
        # already names one (set_theme, a1111_ui.js); without the flag it follows the browser's scheme
        parts.append(_inline_script(f"set_theme({_inline_json(theme)});"))
    parts.append(f"<style>\n{(UI_DIR / 'style.css').read_text(encoding='utf-8')}\n</style>\n")

    def src(path: str | Path) -> str:
        return html.escape(web_path(path), quote=True)

    for f in discovery.list_script_files("javascript", ".js"):
        parts.append(f'<script type="text/javascript" src="{src(f.path)}" data-webui-asset="1"></script>\n')
    for f in discovery.list_script_files("javascript", ".mjs"):
        parts.append(f'<script type="module" src="{src(f.path)}" data-webui-asset="1"></script>\n')
    styles = [e.path / "style.css" for e in discovery.active() if (e.path / "style.css").is_file()]
    user_css = shared.paths.data / "user.css"
    if user_css.is_file():
        styles.append(user_css)
    parts += [f'<link rel="stylesheet" property="stylesheet" href="{src(p)}">\n' for p in styles]
    return "".join(parts)
