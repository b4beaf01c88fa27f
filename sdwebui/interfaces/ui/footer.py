"""The page's footer, as A1111's html/footer.html: API docs, the project's repository, Gradio, the
start-up profile, Reload UI, then the versions line (A1111's `modules.ui.versions_html`)."""
from __future__ import annotations

import html
import logging
import sys

import gradio as gr

from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)

A1111_REPOSITORY = "https://github.com/AUTOMATIC1111/stable-diffusion-webui"
A1111_API_WIKI = "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/API"
DISTRIBUTION = "sd-webui-diffusers"


def repository_url() -> str:
    """The project's repository as its package metadata names it (pyproject.toml's [project.urls]),
    else A1111's, whose behaviour this project follows."""
    from importlib import metadata

    try:
        urls = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:            # "Repository, https://..."
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("repository", "source", "github", "homepage") and url.strip():
            return url.strip()
    return A1111_REPOSITORY


def versions_html() -> str:
    """A1111's versions line; diffusers takes xformers' place (this app's attention comes from
    diffusers and torch). The checkpoint's hash is filled in by the page (javascript/footer.js)."""
    import diffusers
    import torch

    from sdwebui.version import __version__

    python_version = ".".join(str(x) for x in sys.version_info[:3])
    sep = "\n&#x2000;•&#x2000;\n"
    return sep.join([f"version: {__version__}", f"python: <span title=\"{html.escape(sys.version, quote=True)}\">"
                     f"{python_version}</span>", f"torch: {getattr(torch, '__long_version__', torch.__version__)}",
                     f"diffusers: {diffusers.__version__}", f"gradio: {gr.__version__}",
                     'checkpoint: <a id="sd_checkpoint_hash">N/A</a>'])


def footer_html() -> str:
    # A1111 links to its wiki's API page when the routes are off; /docs exists only with --api
    api_docs = "./docs" if getattr(shared.cmd_opts, "api", False) else A1111_API_WIKI
    sep = "\n&#x2000;•&#x2000;\n"
    links = sep.join([
        f'<a href="{html.escape(api_docs, quote=True)}" target="_blank" id="footer_api">API</a>',
        f'<a href="{html.escape(repository_url(), quote=True)}" target="_blank" id="footer_github">Github</a>',
        '<a href="https://gradio.app" target="_blank" id="footer_gradio">Gradio</a>',
        '<a href="#" id="footer_profile" onclick="showProfile(\'./internal/profile-startup\'); return false;">'
        'Startup profile</a>',
        # A1111's Reload UI rebuilds the UI in its process; this app builds it once per start, so the
        # link loads the page again (a restart is Extensions > "Apply and restart UI")
        '<a href="./" id="footer_reload" title="Load the page again">Reload UI</a>',
    ])
    return f'<div class="footer-links">{links}</div>\n<br />\n<div class="versions">\n{versions_html()}\n</div>'


def create_footer() -> gr.HTML:
    return gr.HTML(footer_html(), elem_id="footer")
