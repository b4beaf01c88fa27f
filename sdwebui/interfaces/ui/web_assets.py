"""A1111's `modules.ui_gradio_extensions` and `modules.shared_gradio_themes`: the page's JavaScript
and CSS as HTML, a `file=` link for a file, and gradio theme variables.

The page's head is made once, when the UI is mounted (`app.head_html`); `javascript_html()` and
`css_html()` are its script and style parts, so what they return is what the page carries."""
from __future__ import annotations

import logging
import os
import re
from typing import Any

import gradio as gr

from sdwebui.services.util import truncate_path

logger = logging.getLogger(__name__)

_SCRIPT = re.compile(r"<script\b.*?</script>\s*", re.S | re.I)
_STYLE = re.compile(r"<style\b.*?</style>\s*|<link\b[^>]*rel=[\"']?stylesheet[^>]*>\s*", re.S | re.I)


def webpath(fn: str) -> str:
    """A1111's `file=` URL of a file, with its modification time against stale caches."""
    return f"file={truncate_path(fn)}?{os.path.getmtime(fn)}"


def _head() -> str:
    from sdwebui.interfaces.ui.app import head_html

    return head_html()


def javascript_html() -> str:
    """The `<script>` elements of the page's head: A1111's globals, the UI's and the extensions' JavaScript."""
    return "".join(_SCRIPT.findall(_head()))


def css_html() -> str:
    """The style sheets of the page's head: the UI's and the extensions' style.css."""
    return "".join(_STYLE.findall(_head()))


def reload_javascript() -> None:
    """A1111 patches gradio's page template here; this UI gives gradio its head when it mounts the
    page, so there is nothing to patch (the extensions' JavaScript is in it)."""
    logger.debug("reload_javascript: the page head is set when the UI is mounted")


# --- themes (modules.shared_gradio_themes) ---------------------------------------------------------
# the themes A1111 offers in the option gradio_theme (from the Hugging Face hub; offline here)
gradio_hf_hub_themes = [
    "gradio/base", "gradio/glass", "gradio/monochrome", "gradio/seafoam", "gradio/soft", "gradio/dracula_test",
    "abidlabs/dracula_test", "abidlabs/Lime", "abidlabs/pakistan", "Ama434/neutral-barlow",
    "dawood/microsoft_windows", "finlaymacklon/smooth_slate", "Franklisi/darkmode", "freddyaboulton/dracula_revamped",
    "freddyaboulton/test-blue", "gstaff/xkcd", "Insuz/Mocha", "Insuz/SimpleIndigo", "JohnSmith9982/small_and_pretty",
    "nota-ai/theme", "nuttea/Softblue", "ParityError/Anime", "reilnuud/polite", "remilia/Ghostly",
    "rottenlittlecreature/Moon_Goblin", "step-3-profit/Midnight-Deep", "Taithrah/Minimal", "ysharma/huggingface",
    "ysharma/steampunk", "NoCrypt/miku",
]

gradio_theme: Any = None


def reload_gradio_theme(theme_name: str | None = None) -> Any:
    """The theme the page uses: gradio's default one. Hub themes would be downloaded, which this
    app does not do; a name other than "Default" is logged and the default kept."""
    global gradio_theme
    if theme_name and theme_name != "Default":
        logger.warning("gradio theme %r: themes from the Hugging Face hub are not loaded (offline); using "
                       "the default theme", theme_name)
    gradio_theme = gr.themes.Default(font=["Source Sans Pro", "ui-sans-serif", "system-ui", "sans-serif"],
                                     font_mono=["IBM Plex Mono", "ui-monospace", "Consolas", "monospace"])
    return gradio_theme


def resolve_var(name: str, gradio_theme_: Any = None, history: list[str] | None = None) -> str:
    """A theme variable's value, following `*other_variable` references ("#ffffff" / "#000000"
    for a dark variable when it cannot be resolved)."""
    history = history or []
    theme = gradio_theme_ or gradio_theme or reload_gradio_theme()
    name = name.strip().removeprefix("*")
    if name in history:
        logger.error("theme variable %s refers to itself through %s", history[0], history)
        return "#000000" if history[0].endswith("_dark") else "#ffffff"
    value = getattr(theme, name, None)
    if value:
        return resolve_var(str(value), theme, history + [name])
    return name


__all__ = ["webpath", "javascript_html", "css_html", "reload_javascript", "gradio_hf_hub_themes", "gradio_theme",
           "reload_gradio_theme", "resolve_var"]
