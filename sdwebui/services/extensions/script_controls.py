"""The script controls of one tab and A1111's flat argument list.

`inputs[0]` is the "Script" dropdown (0 = None, i = the i-th selectable script) and every script
owns `inputs[args_from:args_to]`. The UI and the API fill that list the same way
(`script_args_for`): the UI's Generate turns its values into the request fields `script_name` /
`script_args` / `alwayson_scripts`, exactly what an API client sends. ScriptRunner (scripts.py)
adds loading the scripts into a tab and calling their hooks.
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Callable, ContextManager

from sdwebui.services.extensions.script_class import Script, report_script_error

# The UI layer's context for building an extension's controls (set_extension_ui)
_extension_ui: Callable[[], ContextManager[Any]] = contextlib.nullcontext


def set_extension_ui(context: Callable[[], ContextManager[Any]]) -> None:
    """Register the UI layer's context for building an extension's controls: the web UI's
    gradio_compat.install() registers extension_ui(), under which the gradio-3 idioms extensions
    still use work. Without it the controls are built as they are."""
    global _extension_ui
    _extension_ui = context


class ScriptControls:
    """The scripts of one tab and the flat argument list of their controls."""

    def __init__(self, tabname: str):
        self.tabname = tabname
        self.scripts: list[Script] = []
        self.selectable_scripts: list[Script] = []
        self.alwayson_scripts: list[Script] = []
        self.titles: list[str] = []
        self.inputs: list = [None]
        self.defaults: list = [0]
        self.ui_built = False
        self.dropdown = None
        self._placed: set[int] | None = None     # ids of the always-on scripts built in this UI build

    @property
    def is_img2img(self) -> bool:
        return self.tabname == "img2img"

    # UI ---------------------------------------------------------------------------------------
    def _create_script_ui(self, script: Script) -> None:
        script.args_from = script.args_to = len(self.inputs)
        try:
            with _extension_ui():
                controls = script.ui(script.is_img2img)
        except Exception as e:
            report_script_error(script, "ui()", e)
            controls = None
        controls = [c for c in (controls or []) if c is not None]
        script.controls = controls
        for c in controls:
            c.custom_script_source = os.path.basename(script.filename or "")
        self.inputs.extend(controls)
        defaults = [_component_default(c) for c in controls]
        self.defaults.extend(defaults)
        script.args_to = len(self.inputs)
        api = [{"label": getattr(c, "label", None), "value": value, "minimum": getattr(c, "minimum", None),
                "maximum": getattr(c, "maximum", None), "step": getattr(c, "step", None), "choices": _choices(c)}
               for c, value in zip(controls, defaults)]
        script.api_info = {"name": script.name, "is_img2img": script.is_img2img, "is_alwayson": script.alwayson,
                           "args": api}

    def prepare_ui(self) -> None:
        """Start a UI build: the flat list holds only the Script dropdown's place."""
        self.inputs, self.defaults = [None], [0]
        self._placed = set()

    def setup_ui_for_section(self, section: str | None) -> None:
        """The always-on scripts whose `section` is this one, where the tab's layout calls it (A1111:
        "inpaint" scripts such as Soft inpainting come after the inpainting controls)."""
        import gradio as gr

        if self._placed is None:
            self.prepare_ui()
        for script in self.alwayson_scripts:
            if script.section != section or id(script) in self._placed:
                continue
            self._placed.add(id(script))
            with gr.Group(elem_id=f"{self.tabname}_script_{_slug(script.title())}") as group:
                self._create_script_ui(script)
            script.group = group

    def setup_ui(self) -> None:
        """Inside the tab's settings column: the always-on scripts' sections, then the Script
        dropdown and the selectable scripts' groups (each shown when picked). Always-on scripts of a
        section this layout has no place for (all of them off-screen) come last, so each still owns
        its arguments."""
        import gradio as gr

        self.setup_ui_for_section(None)
        with gr.Column(elem_id=f"{self.tabname}_script_container"):
            self.dropdown = gr.Dropdown(label="Script", choices=["None", *self.titles], value="None", type="index",
                                        elem_id=f"{self.tabname}_script_list")
            self.inputs[0] = self.dropdown
            groups = []
            for script in self.selectable_scripts:
                with gr.Group(visible=False, elem_id=f"{self.tabname}_script_{_slug(script.title())}") as group:
                    self._create_script_ui(script)
                script.group = group
                groups.append(group)
        if groups:
            def select(index):
                index = index or 0
                return [gr.update(visible=index == i + 1) for i in range(len(groups))]

            self.dropdown.change(select, [self.dropdown], groups, show_progress="hidden", queue=False)
        for section in dict.fromkeys(s.section for s in self.alwayson_scripts):
            self.setup_ui_for_section(section)
        self._placed = None
        self.ui_built = True

    def ensure_ui(self) -> None:
        """Without the web UI (--nowebui) the script controls are still built, off-screen, to learn
        each script's argument span and defaults (A1111 builds the whole UI for that)."""
        if self.ui_built:
            return
        import gradio as gr

        with gr.Blocks(analytics_enabled=False):
            self.setup_ui()

    # request <-> flat args --------------------------------------------------------------------
    def find(self, title: str, *, alwayson: bool) -> Script | None:
        pool = self.alwayson_scripts if alwayson else self.selectable_scripts
        low = title.lower()
        return next((s for s in pool if s.title().lower() == low), None)

    def request_fields(self, flat: list) -> dict[str, Any]:
        """The UI's flat values as the API request fields (what an API client would send)."""
        index = flat[0] or 0
        out: dict[str, Any] = {"script_name": None, "script_args": [], "alwayson_scripts": {}}
        if 0 < index <= len(self.selectable_scripts):
            s = self.selectable_scripts[index - 1]
            out["script_name"] = s.title()
            out["script_args"] = list(flat[s.args_from:s.args_to])
        for s in self.alwayson_scripts:
            out["alwayson_scripts"][s.title()] = {"args": list(flat[s.args_from:s.args_to])}
        return out

    def script_args_for(self, script_name: str | None, script_args: list | None,
                        alwayson: dict[str, Any] | None) -> list:
        """A1111's flat script_args from the request fields: every control's default, the
        selectable script's index and args, each always-on script's args. Raises ScriptArgsError
        (a 4xx naming the field and the valid choices) for an unknown script or bad args."""
        self.ensure_ui()
        flat = list(self.defaults)
        if script_name:
            script = self.find(script_name, alwayson=False)
            if script is None:
                if self.find(script_name, alwayson=True) is not None:
                    raise ScriptArgsError("script_name", f"Script '{script_name}' is an always-on script; "
                                                         "pass its args in alwayson_scripts")
                raise ScriptArgsError("script_name", f"Script '{script_name}' not found; available: "
                                                     f"{[t.lower() for t in self.titles]}")
            _fill(flat, script, list(script_args or []), "script_args")
            flat[0] = self.selectable_scripts.index(script) + 1
        for title, value in (alwayson or {}).items():
            script = self.find(str(title), alwayson=True)
            if script is None:
                kind = " (a selectable script: use script_name)" if self.find(str(title), alwayson=False) else ""
                raise ScriptArgsError(("alwayson_scripts", str(title)),
                                      f"always on script {title} not found{kind}; available: "
                                      f"{[s.title() for s in self.alwayson_scripts]}")
            if not isinstance(value, dict) or not isinstance(value.get("args", []), (list, tuple)):
                raise ScriptArgsError(("alwayson_scripts", str(title)), 'expected {"args": [ ... ]}')
            _fill(flat, script, list(value.get("args", [])), ("alwayson_scripts", str(title), "args"))
        return flat


class ScriptArgsError(ValueError):
    """Unknown script or bad script args in a request; `field` names the request field ("a.b" or
    a tuple of parts, since script titles may hold dots)."""

    def __init__(self, field: str | tuple[str, ...], message: str, status_code: int = 422):
        super().__init__(message)
        self.field = field
        self.status_code = status_code


def _fill(flat: list, script: Script, args: list, field: str | tuple[str, ...]) -> None:
    span = script.args_to - script.args_from
    if len(args) > span:
        raise ScriptArgsError(field, f"'{script.title()}' takes {span} argument(s), got {len(args)}")
    flat[script.args_from:script.args_from + len(args)] = args


def _component_default(component) -> Any:
    value = getattr(component, "value", None)
    if callable(value):
        try:
            value = value()
        except Exception:
            value = None
    return value


def _choices(component) -> list | None:
    choices = getattr(component, "choices", None)
    if not choices:
        return None
    return [c[1] if isinstance(c, (list, tuple)) and len(c) == 2 else c for c in choices]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z_0-9]", "", re.sub(r"\s", "_", title.lower()))
