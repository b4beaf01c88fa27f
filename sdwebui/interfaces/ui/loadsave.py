"""A1111's `modules.ui_loadsave.UiLoadsave`: default values of UI components kept in a JSON file
(A1111's ui-config.json, keyed "<tab>/<label>/<field>"). Components added with add_component /
add_block take the saved values; the ones the file does not have yet are recorded so
dump_defaults() can write them; ui_view / ui_apply compare and write the current values."""
from __future__ import annotations

import html
import json
import logging
import os
from typing import Any, Callable, Iterator

import gradio as gr

from sdwebui.interfaces.ui.components import InputAccordion, ToolButton

logger = logging.getLogger(__name__)


def radio_choices(comp: Any) -> list:
    """A component's choices as values (gradio 4+ keeps (label, value) pairs)."""
    return [x[0] if isinstance(x, tuple) else x for x in getattr(comp, "choices", None) or []]


class UiLoadsave:
    """Saving and restoring default values of gradio components (see the module docstring)."""

    def __init__(self, filename: str | os.PathLike):
        self.filename = str(filename)
        self.ui_settings: dict[str, Any] = {}
        self.component_mapping: dict[str, Any] = {}
        self.error_loading = False
        self.finalized_ui = False
        self.ui_defaults_view = self.ui_defaults_apply = self.ui_defaults_review = None
        try:
            self.ui_settings = self.read_from_file()
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            self.error_loading = True
            logger.error("could not read the UI defaults from %s: %s", self.filename, e)

    def _apply_field(self, path: str, obj: Any, field: str, condition: Callable[[Any], bool] | None = None) -> None:
        key = f"{path}/{field}"
        if getattr(obj, "custom_script_source", None) is not None:
            key = f"customscript/{obj.custom_script_source}/{key}"
        if getattr(obj, "do_not_save_to_config", False):
            return
        attribute = "open" if isinstance(obj, gr.Accordion) and field == "value" else field
        saved = self.ui_settings.get(key)
        if saved is None:
            self.ui_settings[key] = getattr(obj, attribute, None)
        elif condition is None or condition(saved):
            if isinstance(obj, gr.Textbox) and field == "value":
                saved = str(saved)
            elif isinstance(obj, gr.Number) and field == "value":
                try:
                    saved = float(saved)
                except (TypeError, ValueError):
                    return
            setattr(obj, attribute, saved)
        if field == "value" and key not in self.component_mapping:
            self.component_mapping[key] = obj

    def add_component(self, path: str, x: Any) -> None:
        """Track component `x` under `path`: it takes the saved values of the fields A1111 saves."""
        if self.finalized_ui:
            raise RuntimeError("UiLoadsave: add_component after setup_ui")
        kind = type(x)
        if kind in (gr.Slider, gr.Radio, gr.Checkbox, gr.Textbox, gr.Number, gr.Dropdown, ToolButton, gr.Button) \
                and x.visible is True:
            self._apply_field(path, x, "visible")
        if kind is gr.Slider:
            for field in ("value", "minimum", "maximum", "step"):
                self._apply_field(path, x, field)
        elif kind is gr.Radio:
            self._apply_field(path, x, "value", lambda v: v in radio_choices(x))
        elif kind in (gr.Checkbox, gr.Textbox, gr.Number):
            self._apply_field(path, x, "value")
        elif kind is gr.Dropdown:
            def fits(v: Any) -> bool:
                choices = radio_choices(x)
                return all(i in choices for i in v) if getattr(x, "multiselect", False) else v in choices
            self._apply_field(path, x, "value", fits)
        elif kind is InputAccordion:
            if hasattr(x, "custom_script_source"):
                x.accordion.custom_script_source = x.custom_script_source
            self._apply_field(path, x, "value")
            self._apply_field(path, x.accordion, "value")
        elif kind is gr.Tabs:
            def tab_exists(tab_id: Any) -> bool:
                tabs = [c for c in x.children if isinstance(c, gr.Tab)]
                return tab_id in [t.id for t in tabs] if isinstance(tab_id, str) else \
                    isinstance(tab_id, int) and 0 <= tab_id < len(tabs)
            self._apply_field(path, x, "selected", tab_exists)

    def add_block(self, x: Any, path: str = "") -> None:
        """Track every component inside block `x` (by label, a button by its text, tabs by elem_id)."""
        if hasattr(x, "children"):
            if isinstance(x, gr.Tabs) and x.elem_id is not None:
                self.add_component(f"{path}/Tabs@{x.elem_id}", x)
            for child in x.children:
                self.add_block(child, path)
        elif getattr(x, "label", None) is not None:
            self.add_component(f"{path}/{x.label}", x)
        elif isinstance(x, gr.Button) and x.value is not None:
            self.add_component(f"{path}/{x.value}", x)

    def read_from_file(self) -> dict:
        with open(self.filename, encoding="utf8") as f:
            return json.load(f)

    def write_to_file(self, current_ui_settings: dict) -> None:
        with open(self.filename, "w", encoding="utf8") as f:
            json.dump(current_ui_settings, f, indent=4, ensure_ascii=False)

    def dump_defaults(self) -> None:
        """Write the defaults, unless the file exists and could not be read (it is kept as it is)."""
        if self.error_loading and os.path.exists(self.filename):
            return
        self.write_to_file(self.ui_settings)

    def iter_changes(self, current_ui_settings: dict, values: tuple) -> Iterator[tuple[str, Any, Any]]:
        """(path, saved value, current value) for each tracked value that differs from the file."""
        for (path, component), new_value in zip(self.component_mapping.items(), values):
            old_value = current_ui_settings.get(path)
            choices = radio_choices(component)
            if isinstance(new_value, int) and not isinstance(new_value, bool) and choices:
                if new_value >= len(choices):
                    continue
                new_value = choices[new_value]
            # an empty field reads as None, "" or [] depending on the component and on whether the page
            # has sent it yet (an untouched multiselect dropdown: None here, [] in the file)
            if new_value == old_value or new_value in (None, "", []) and old_value in (None, "", []) \
                    or new_value == []:
                continue
            yield path, old_value, new_value

    def ui_view(self, *values: Any) -> str:
        rows = [f"<tr><td>{html.escape(p)}</td><td>{'None' if o is None else html.escape(str(o))}</td>"
                f"<td>{html.escape(str(n))}</td></tr>" for p, o, n in self.iter_changes(self.read_from_file(), values)]
        body = "".join(rows) or "<tr><td colspan=3>No changes</td></tr>"
        return f"<table><thead><tr><th>Path</th><th>Old value</th><th>New value</th></tr></thead><tbody>{body}</tbody></table>"

    def ui_apply(self, *values: Any) -> str:
        current = self.read_from_file()
        changes = list(self.iter_changes(dict(current), values))
        if not changes:
            return "No changes."
        for path, _, new_value in changes:
            current[path] = new_value
        self.write_to_file(current)
        return f"Wrote {len(changes)} changes."

    def create_ui(self) -> None:
        gr.HTML("This page allows you to change default values in UI elements on other tabs.<br />Make your changes, "
                "press 'View changes' to review the changed default values,<br />then press 'Apply' to write them "
                f"to {html.escape(self.filename)}.<br />New defaults will apply after you restart the UI.<br />")
        with gr.Row():
            self.ui_defaults_view = gr.Button(value="View changes", elem_id="ui_defaults_view", variant="secondary")
            self.ui_defaults_apply = gr.Button(value="Apply", elem_id="ui_defaults_apply", variant="primary")
        self.ui_defaults_review = gr.HTML("")

    def setup_ui(self) -> None:
        if self.finalized_ui:
            raise RuntimeError("UiLoadsave: setup_ui called twice")
        self.finalized_ui = True
        inputs = list(self.component_mapping.values())
        self.ui_defaults_view.click(fn=self.ui_view, inputs=inputs, outputs=[self.ui_defaults_review])
        self.ui_defaults_apply.click(fn=self.ui_apply, inputs=inputs, outputs=[self.ui_defaults_review])


__all__ = ["radio_choices", "UiLoadsave"]
