"""The Settings tab, the quicksettings bar, and `apply_settings`, the one place options change.

`apply_settings` follows the rules of POST /sdapi/v1/options: everything is validated before
anything changes, a checkpoint switch and a VAE change run on the generation queue (the
worker owns the model), and the store is saved atomically once. The UI and, later, the API
both call it, so a click and a request can never disagree about what a valid change is.

Every option is one gradio component with A1111's elem_id `setting_<key>`. An option that
the quicksettings bar shows is left out of the Settings tab, as in A1111, so that ids stay
unique; the bar must therefore be built first (modules/ui/app.py does).
"""
from __future__ import annotations

import html
import inspect
import json
import logging
import os
import re
import weakref
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from sdwebui.interfaces.ui import gradio_compat  # noqa: E402
from sdwebui.services import runtime as shared  # noqa: E402
from sdwebui.services.options.registry import builtin_keys  # noqa: E402
from sdwebui.services.options.store import OptionInfo  # noqa: E402
from sdwebui.services.options.apply import (  # noqa: E402
    FROZEN_MESSAGE, apply_settings, current_value, hidden, read_only_reason, run_on_queue)

logger = logging.getLogger(__name__)


# Derived from the loaded model, never typed in: shown read-only and never sent back, or an
# Apply from a page opened before a checkpoint switch would write back the old hash.
READONLY_KEYS = frozenset({"sd_checkpoint_hash"})

# Keys that the quicksettings bar rendered, per Blocks, so the Settings tab in the same
# Blocks skips them (two components with one elem_id would break A1111's JS and tests).
_quick_keys: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------------------
# applying
# ---------------------------------------------------------------------------------------
def result_text(changed: list[str], error: str | None) -> str:
    """The Apply result line: "N settings changed: a, b" or the error."""
    done = f"{len(changed)} setting{'' if len(changed) == 1 else 's'} changed" + (
        f": {', '.join(changed)}" if changed else ".")
    if error is None:
        return done
    return f"Error: {error}" + (f" ({done})" if changed else "")


# ---------------------------------------------------------------------------------------
# components
# ---------------------------------------------------------------------------------------
def _sampler_names() -> list[str]:
    from sdwebui.engine.sampling import samplers

    return [s.name for s in samplers.SAMPLERS]


def _infotext_names() -> list[str]:
    return sorted({i.infotext for i in shared.opts.data_labels.values() if i.infotext})


# List options that declare no choices (any value validates) but have a natural set to pick from.
_EXTRA_CHOICES: dict[str, Callable[[], list[str]]] = {
    "quicksettings_list": lambda: list(shared.opts.data_labels),
    "hide_samplers": _sampler_names,
    "infotext_skip_pasting": _infotext_names,
}


def _choices(key: str, info: OptionInfo) -> list | None:
    """Choices as shown in the UI; callables are evaluated now so lists follow the disk."""
    try:
        if key == "sd_model_checkpoint":
            return [c.title for c in shared.registry.list()] if shared.registry is not None else []
        if key in _EXTRA_CHOICES:
            return list(_EXTRA_CHOICES[key]())
        return info.get_choices()
    except Exception:
        logger.exception("could not list the choices of option %s", key)
        return None


def _is_list(info: OptionInfo) -> bool:
    return info.type is list or isinstance(info.default, list)


def _kind(key: str, info: OptionInfo, choices: list | None) -> str:
    """Which widget an option gets: the declared component where it fits the value's type."""
    comp = info.component
    if comp in ("html", "colorpicker"):   # an explanation row (OptionHTML); a "#rrggbb" color
        return comp
    if info.type is bool:
        return "checkbox"
    if info.type in (int, float):
        if comp == "slider" and info.minimum is not None and info.maximum is not None:
            return "slider"
        if comp in ("radio", "dropdown") and choices:
            return comp
        return "number"  # a slider without bounds cannot be drawn
    if _is_list(info):
        return "checkboxgroup" if comp == "checkboxgroup" and choices is not None else "multiselect"
    if comp == "radio" and choices:
        return "radio"
    if comp == "dropdown" or choices is not None:
        return "dropdown"
    if comp == "textbox" or info.type is str or isinstance(info.default, str):
        return "textbox"
    return "json"  # dicts and untyped values are edited as JSON text


def _to_ui(info: OptionInfo, kind: str, value: Any) -> Any:
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if kind == "textbox" and value is None:
        return ""
    if kind in ("multiselect", "checkboxgroup"):
        return list(value or [])
    return value


def _from_ui(info: OptionInfo, kind: str, value: Any) -> Any:
    """A component's value as the option's type; None means "no value, leave it alone"."""
    if value is None:
        return None
    if kind == "json":
        try:
            return json.loads(value) if isinstance(value, str) and value.strip() else None
        except json.JSONDecodeError:
            return value  # validate() names the key and says why it is not a valid value
    if info.type is int and isinstance(value, float) and value.is_integer():
        return int(value)  # sliders and number boxes may hand back 3.0 for 3
    if info.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _with_value(choices: list | None, value: Any) -> list | None:
    """Choices that include the current value(s), so gradio never rejects what is stored."""
    if choices is None:
        return None
    out = list(choices)
    for v in value if isinstance(value, list) else [value]:
        if v is not None and v not in out:
            out.append(v)
    return out


def _info_text(info: OptionInfo) -> str | None:
    # comment_after may hold A1111-style HTML; gradio's info line is plain text
    text = re.sub(r"<[^>]+>", "", info.comment_after or "").strip()
    return text or None


def _component_args(info: OptionInfo) -> dict:
    args = info.component_args
    if callable(args):
        try:
            args = args()
        except Exception:
            logger.exception("component_args of %s failed", info.label)
            args = None
    return dict(args or {})


def _shown(key: str) -> Any:
    """The value a component shows: the stored one, except that before the first model load
    the checkpoint dropdown names the checkpoint that will be loaded rather than nothing."""
    value = current_value(key)
    if key == "sd_model_checkpoint" and value is None and shared.registry is not None:
        try:
            selected = shared.select_checkpoint()
        except Exception:
            logger.exception("could not tell which checkpoint will be loaded")
            selected = None
        value = selected.title if selected is not None else None
    return value


def _ui_state(key: str, info: OptionInfo) -> tuple[str, Any, list | None]:
    choices = _choices(key, info)
    kind = _kind(key, info, choices)
    value = _to_ui(info, kind, _shown(key))
    return kind, value, _with_value(choices, value) if choices is not None else None


def setting_component(key: str, info: OptionInfo, *, elem_id: str | None = None) -> gr.Component:
    """The gradio component for one option, showing its current value."""
    kind, value, choices = _ui_state(key, info)
    # greyed out when the flags freeze it (--freeze-settings*, --hide-ui-dir-config's temp_dir ...)
    interactive = key not in READONLY_KEYS and read_only_reason(key) is None
    kw: dict[str, Any] = dict(label=info.label or key, value=value, info=_info_text(info),
                              elem_id=elem_id or f"setting_{key}", interactive=interactive)
    if kind == "html":   # text, not a value: nothing to edit, label or apply
        return gr.HTML(value=value, elem_id=elem_id or f"setting_{key}", elem_classes="settings-info")
    if kind == "checkbox":
        cls: type[gr.Component] = gr.Checkbox
    elif kind == "colorpicker":
        cls = gr.ColorPicker
    elif kind == "slider":
        cls = gr.Slider
        integer = info.type is int
        kw.update(minimum=info.minimum, maximum=info.maximum, step=1 if integer else 0.01,
                  precision=0 if integer else None)
    elif kind == "number":
        cls = gr.Number
        kw.update(minimum=info.minimum, maximum=info.maximum, precision=0 if info.type is int else None)
    elif kind == "radio":
        cls = gr.Radio
        kw.update(choices=choices)
    elif kind == "checkboxgroup":
        cls = gr.CheckboxGroup
        kw.update(choices=choices)
    elif kind in ("dropdown", "multiselect"):
        cls = gr.Dropdown
        # the checkpoint may be set to a file not scanned yet; free-form lists have no closed set
        kw.update(choices=choices or [], multiselect=kind == "multiselect",
                  allow_custom_value=key == "sd_model_checkpoint" or choices is None)
    else:
        cls = gr.Textbox
        kw.update(lines=1 if kind == "textbox" else 2)
    # an extension's component_args (A1111 style) win, but only those this class accepts
    accepted = inspect.signature(cls.__init__).parameters
    kw.update({k: v for k, v in _component_args(info).items() if k in accepted})
    return cls(**kw)


def _ui_update(key: str, info: OptionInfo, state: tuple[str, Any, list | None] | None = None) -> Any:
    """The stored value (and fresh choices) for a component built by setting_component; `state` is
    its _ui_state when the caller has it already."""
    kind, value, choices = state or _ui_state(key, info)
    if choices is not None and kind in ("radio", "checkboxgroup", "dropdown", "multiselect"):
        return gr.update(value=value, choices=choices)
    return gr.update(value=value)


def _input_events(comp: gr.Component) -> list:
    """The events that mean "the user finished editing" (not every keystroke or drag step)."""
    if isinstance(comp, gr.Slider):
        return [comp.release]
    if isinstance(comp, (gr.Textbox, gr.Number)):
        return [comp.submit, comp.blur]
    return [comp.input]


_REFRESHERS: dict[str, Callable[[], Callable[[], Any] | None]] = {
    "sd_model_checkpoint": lambda: shared.registry.refresh,
    "sd_vae": lambda: shared.vae_registry.refresh if shared.vae_registry is not None else None,
}


# ---------------------------------------------------------------------------------------
# Settings tab
# ---------------------------------------------------------------------------------------
def _sections(keys: list[str]) -> list[tuple[str, str, list[str]]]:
    """(id, label, keys) per section, in registration order; unsectioned options go last."""
    groups: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        section = shared.opts.data_labels[key].section
        sid, label = (section[0], section[1]) if section else ("other", "Other")
        groups.setdefault((sid, label), []).append(key)
    other = groups.pop(("other", "Other"), None)
    out = [(sid, label, ks) for (sid, label), ks in groups.items()]
    if other:
        out.append(("other", "Other", other))
    return out


def _matches(query: str, key: str, info: OptionInfo) -> bool:
    return query in key.lower() or query in (info.label or "").lower()


def create_settings_tab() -> None:
    """Build the Settings tab body; call inside the open `gr.Tab("Settings")` block, after
    create_quicksettings() in the same Blocks."""
    opts = shared.opts
    frozen = bool(shared.cmd_opts.freeze_settings)
    root = gr.context.Context.root_block
    skip = _quick_keys.get(root, set()) if root is not None else set()
    # A1111 leaves the hidden section (id None: state such as the disabled extensions) out of the tab,
    # and the path settings with --hide-ui-dir-config (not even sent to the page)
    keys = [k for k, info in opts.data_labels.items()
            if k not in skip and not (info.section and info.section[0] is None) and not hidden(k)]

    with gr.Row(elem_id="settings_top"):
        search = gr.Textbox(label="Search", show_label=False, placeholder="Search settings by name or label",
                            elem_id="settings_search", scale=4)
        submit = gr.Button("Apply settings", variant="primary", elem_id="settings_submit", interactive=not frozen,
                           scale=1)
        reload = gr.Button("Reload UI values", elem_id="settings_reload_values", scale=1)
    result = gr.HTML(FROZEN_MESSAGE if frozen else "", elem_id="settings_result")

    items: list[tuple[str, OptionInfo, gr.Component]] = []
    sections: list[tuple[gr.Accordion, list[str]]] = []
    builtin = builtin_keys()
    for sid, label, section_keys in _sections(keys):
        with gr.Accordion(label, open=False, elem_id=f"settings_{sid}") as acc:
            if any(key not in builtin for key in section_keys):
                # A1111's page has every setting at load and extensions' scripts read theirs then
                # (agent-scheduler its Enqueue shortcut): a section with an extension's options is
                # in the page from the start, closed (this UI's own sections fill in when opened)
                gradio_compat.render_eagerly(acc)
            for key in section_keys:
                info = opts.data_labels[key]
                items.append((key, info, setting_component(key, info)))
        sections.append((acc, section_keys))
    components = [c for _, _, c in items]

    # What each component showed when the page (or the last Apply/Reload/section opening) filled it
    # in: only a value the user edited is applied, so an Apply never reverts a change made meanwhile
    # through the API or the quicksettings bar. One snapshot per section, as each section re-reads
    # its own values when it is opened.
    def snapshot_now(section_keys: list[str]) -> dict[str, Any]:
        return {key: _ui_state(key, opts.data_labels[key])[1] for key in section_keys}

    snapshots = [gr.State(snapshot_now(section_keys)) for _, section_keys in sections]

    def reload_values() -> list:
        return [*[snapshot_now(ks) for _, ks in sections], *[_ui_update(key, info) for key, info, _ in items]]

    built = {key: _ui_state(key, info) for key, info, _ in items}   # what the page's config carries

    def section_loader(section_keys: list[str]) -> Callable[[], list]:
        def load_values() -> list:
            """Only the settings changed since the UI was built are sent: an update per component
            costs the page (gradio re-walks its tree for each) and every later event in it."""
            states = {key: _ui_state(key, opts.data_labels[key]) for key in section_keys}
            updates = [gr.skip() if states[key] == built[key] else _ui_update(key, opts.data_labels[key], states[key])
                       for key in section_keys]
            return [{key: state[1] for key, state in states.items()}, *updates]
        return load_values

    async def apply_click(*args: Any) -> list:
        shown: dict[str, Any] = {}
        for snap in args[:len(sections)]:
            shown.update(snap or {})
        ui_values = args[len(sections):]
        pending: dict[str, Any] = {}
        for (key, info, _), raw in zip(items, ui_values):
            if key in READONLY_KEYS or (key in shown and raw == shown[key]):
                continue
            value = _from_ui(info, _ui_state(key, info)[0], raw)
            if value is None or value == current_value(key):
                continue
            pending[key] = value
        changed, error = await apply_settings(pending)
        message = html.escape(result_text(changed, error))
        if error is not None:
            # keep the user's edits on screen so the bad one can be fixed and applied again
            return [message, *[gr.skip() for _ in sections], *[gr.skip() for _ in items]]
        return [message, *reload_values()]

    def filter_settings(query: str) -> list:
        q = (query or "").strip().lower()
        if not q:
            return [gr.update(visible=True) for _ in items] + [gr.update(visible=True) for _ in sections]
        # "hidden" keeps the element in the page, so its value still reaches Apply
        comp_updates = [gr.update(visible=True if _matches(q, key, info) else "hidden") for key, info, _ in items]
        sec_updates = [gr.update(visible=True, open=True)
                       if any(_matches(q, k, opts.data_labels[k]) for k in ks) else gr.update(visible="hidden")
                       for _, ks in sections]
        return comp_updates + sec_updates

    common = dict(concurrency_limit=None, api_visibility="undocumented")  # never wait behind generation
    submit.click(apply_click, [*snapshots, *components], [result, *snapshots, *components], **common)
    reload.click(reload_values, [], [*snapshots, *components], **common)
    # A page opened after an API change shows the stored values, not those from server start. A
    # section re-reads its values when it is opened (a click, or a search that opens it). Sent at
    # page load (as A1111 does) or all at once when the tab is shown, they cost every page seconds
    # of browser CPU: gradio keeps a loading status per output of every event it ran and re-sets
    # them all at each later event's every step (~330 settings outputs: ~9 s on 2 cores at load).
    by_key = {key: comp for key, _, comp in items}
    for (acc, section_keys), snap in zip(sections, snapshots):
        acc.expand(section_loader(section_keys), None, [snap, *[by_key[k] for k in section_keys]],
                   show_progress="hidden", **common)
    search.change(filter_settings, [search], [*components, *[acc for acc, _ in sections]],
                  show_progress="hidden", trigger_mode="always_last", **common)


# ---------------------------------------------------------------------------------------
# quicksettings
# ---------------------------------------------------------------------------------------
def _change_checkpoint_button(quick: dict[str, gr.Component]) -> None:
    """A1111's hidden `change_checkpoint` button: a checkpoint card of the Extra Networks panel names
    the checkpoint (`selectCheckpoint` in javascript/extra_networks.js), which is then loaded as if
    chosen in the quicksettings; the quicksettings dropdown (when shown) follows."""
    key = "sd_model_checkpoint"
    info = shared.opts.data_labels[key]
    target = quick.get(key)
    name_box = gr.Textbox(visible="hidden", elem_id="change_checkpoint_name")
    button = gr.Button("Change checkpoint", visible="hidden", elem_id="change_checkpoint")

    async def change(name: str) -> Any:
        if name and name != current_value(key):
            _, error = await apply_settings({key: name})
            if error is not None:
                gr.Warning(error)
        return _ui_update(key, info) if target is not None else None

    button.click(change, [name_box], [target] if target is not None else [], concurrency_limit=None,
                 js="(v) => { const name = desiredCheckpointName || ''; desiredCheckpointName = null; return [name]; }",
                 api_visibility="undocumented")


def create_quicksettings() -> list[gr.Component]:
    """One component per `opts.quicksettings_list` key, each applied as soon as it is edited;
    call inside `gr.Row(elem_id="quicksettings")`, before create_settings_tab()."""
    opts = shared.opts
    frozen = bool(shared.cmd_opts.freeze_settings)
    keys: list[str] = []
    for key in opts.quicksettings_list or []:
        if key not in opts.data_labels:
            logger.warning("quicksettings: no option named %r", key)
        elif hidden(key):
            logger.warning("quicksettings: %s is hidden (--hide-ui-dir-config), so it is not shown", key)
        elif key not in keys:
            keys.append(key)
    root = gr.context.Context.root_block
    if root is not None:
        _quick_keys.setdefault(root, set()).update(keys)

    components: list[gr.Component] = []
    for key in keys:
        info = opts.data_labels[key]
        comp = setting_component(key, info)
        comp.min_width = 240 if key != "sd_model_checkpoint" else 320
        components.append(comp)

        async def on_edit(raw: Any, key: str = key, info: OptionInfo = info) -> Any:
            value = _from_ui(info, _ui_state(key, info)[0], raw)
            if value is not None and value != current_value(key):
                _, error = await apply_settings({key: value})
                if error is not None:
                    gr.Warning(error)
            return _ui_update(key, info)  # what is stored, so a refused value springs back

        gr.on(_input_events(comp), on_edit, [comp], [comp], concurrency_limit=None, api_visibility="undocumented")

        refresher = _REFRESHERS.get(key, lambda info=info: info.refresh)()
        if refresher is not None:
            button = gr.Button("\U0001f504", elem_id=f"refresh_{key}", scale=0, min_width=40)

            async def on_refresh(key: str = key, info: OptionInfo = info,
                                 refresher: Callable[[], Any] = refresher) -> Any:
                try:
                    # the registries are also read by the worker, so they are rescanned there
                    await run_on_queue(refresher, f"refresh-{key}")
                except Exception as e:
                    logger.warning("refreshing %s failed: %s", key, e)
                    gr.Warning(f"{key}: refresh failed: {e}")
                return _ui_update(key, info)

            button.click(on_refresh, [], [comp], concurrency_limit=None, api_visibility="undocumented")
    _change_checkpoint_button(dict(zip(keys, components)))
    if components:
        # a page opened after an API change shows the stored values
        def stored_values():
            updates = [_ui_update(k, opts.data_labels[k]) for k in keys]
            # one output takes the bare update: a one-item list would be shown as the value itself
            return updates[0] if len(updates) == 1 else updates

        gr.on(None, stored_values, inputs=None, outputs=components, show_progress="hidden",
              concurrency_limit=None, api_visibility="undocumented")
    if frozen:
        logger.info("quicksettings are read-only (--freeze-settings)")
    return components
