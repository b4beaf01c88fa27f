"""What the Extensions tab's sub-tabs share: who may manage extensions (from the gradio request),
result messages, and the event settings of their handlers."""
from __future__ import annotations

import html
import json
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.services.extensions import manager as mgr  # noqa: E402

# the handlers manage files and git, not the model: no queue slot, kept out of the API page
EVENT_ARGS = dict(concurrency_limit=None, api_visibility="undocumented")

# after "Apply and restart" or a restore: wait for the server to go away and come back, then reload
RELOAD_JS = """(message) => {
  if (!message || !message.includes('Restarting')) return;
  let tries = 0;
  const poll = () => fetch('./config', {cache: 'no-store', credentials: 'same-origin'})
    .then((r) => { if (r.ok) location.reload(); else throw new Error(); })
    .catch(() => { if (++tries < 120) setTimeout(poll, 1000); });
  setTimeout(poll, 3000);
}"""


def request_access_error(request: gr.Request | None) -> str | None:
    """mgr.access_error() for a gradio request: its client address, and its gradio login if any."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return mgr.access_error(host, bool(getattr(request, "username", None)))


def message_html(text: str, error: bool = False) -> str:
    """A result line; several lines of text keep their breaks."""
    if not text:
        return ""
    cls = "extensions-error" if error else "extensions-message"
    style = ' style="color: var(--error-text-color, #c00)"' if error else ""
    body = "<br>".join(html.escape(line) for line in text.splitlines())
    return f'<div class="{cls}"{style}>{body}</div>'


def names_from_json(text: str | None, field: str) -> list[str]:
    """A JSON list of names, as the page's JavaScript sends it (extensions_apply)."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise mgr.ExtensionError(field, f"{field} must be a JSON list of extension names, not {text!r}")
    return value


def github_commit_link(commit_hash: str, remote: str | None, text: str | None = None) -> str:
    """The commit as a link when the remote is on GitHub (as A1111 shows it), else plain text."""
    text = html.escape(text if text is not None else commit_hash[:8])
    remote = (remote or "").strip()
    if commit_hash and remote.startswith("https://github.com/"):
        base = remote[:-4] if remote.endswith(".git") else remote
        href = html.escape(f"{base.rstrip('/')}/commit/{commit_hash}")
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{text}</a>'
    return text


def remote_link(remote: str | None, label: str | None = None) -> str:
    remote = remote or ""
    text = html.escape(label if label is not None else remote)
    if remote.startswith(("http://", "https://")):
        return f'<a href="{html.escape(remote)}" target="_blank" rel="noopener noreferrer">{text}</a>'
    return text
