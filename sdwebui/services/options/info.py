"""What one option is: `OptionInfo` (A1111's class, with a type, choices and bounds added so a
value can be checked before it is stored), `OptionHTML` (an explanation row in the Settings tab,
never saved), `options_section` and the settings categories.

Extensions build these as in A1111: `OptionInfo(default, label, gr.Slider, {"minimum": 0, ...})
.info("...").needs_reload_ui()`, positional arguments in A1111's order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

logger = logging.getLogger(__name__)

# Gradio (and A1111 ui_components) classes an extension may pass as `component`, by lower-case
# class name, and the widget kind the Settings tab draws for them.
_COMPONENT_KINDS = {
    "formcolorpicker": "colorpicker", "colorpicker": "colorpicker",
    "dropdownmulti": "dropdown", "dropdowneditable": "dropdown",
    "formhtml": "html",
}


@dataclass
class OptionInfo:
    """One setting. The first twelve fields are A1111's, in A1111's positional order; the rest
    (keyword only) say what a valid value is."""
    default: Any = None
    label: str = ""
    component: Any = None                 # a kind ("slider", "radio", ...) or a gradio class, stored as its kind
    component_args: dict | Callable[[], dict] | None = None
    onchange: Callable[[], None] | None = None
    section: tuple | None = None          # (id, label); id None = hidden from the Settings tab, as in A1111
    refresh: Callable[[], Any] | None = None
    comment_before: str = ""              # HTML shown before the label (links)
    comment_after: str = ""               # HTML shown after the label (.info(), needs restart ...)
    infotext: str | None = None           # infotext key this option is written as / pasted from
    restrict_api: bool = False            # A1111: silently ignored when set through the API
    category_id: str | None = None
    type: Any = field(default=None, kw_only=True)   # python type for validation; derived from default when None
    choices: tuple | Callable[[], list] | None = field(default=None, kw_only=True)
    minimum: float | None = field(default=None, kw_only=True)
    maximum: float | None = field(default=None, kw_only=True)
    do_not_save: bool = field(default=False, kw_only=True)   # not a value: kept out of config.json and the API

    def __post_init__(self) -> None:
        if isinstance(self.component, type):
            # A1111 extensions pass the gradio class (gr.Slider, gr.Radio ...) and its arguments
            name = self.component.__name__.lower()
            self.component = _COMPONENT_KINDS.get(name, name)
        if self.section is not None and len(self.section) > 2:
            self.section, self.category_id = tuple(self.section[:2]), self.section[2]
        args = self.component_args if isinstance(self.component_args, dict) else {}
        if self.minimum is None and isinstance(args.get("minimum"), (int, float)):
            self.minimum = args["minimum"]
        if self.maximum is None and isinstance(args.get("maximum"), (int, float)):
            self.maximum = args["maximum"]
        if self.choices is None and isinstance(args.get("choices"), (list, tuple)):
            self.choices = tuple(args["choices"])
        if self.type is None:
            self.type = _type_of(self.default, args)

    # A1111's OptionInfo is chained like `OptionInfo(...).info("...").needs_reload_ui()`; the
    # markup is A1111's, which its javascript and extensions' CSS expect.
    def link(self, label: str, url: str) -> OptionInfo:
        self.comment_before += f"[<a href='{url}' target='_blank'>{label}</a>]"
        return self

    def js(self, label: str, js_func: str) -> OptionInfo:
        self.comment_before += f"[<a onclick='{js_func}(); return false'>{label}</a>]"
        return self

    def info(self, text: str) -> OptionInfo:
        self.comment_after += f"<span class='info'>({text})</span>"
        return self

    def html(self, text: str) -> OptionInfo:
        self.comment_after += text
        return self

    def needs_restart(self) -> OptionInfo:
        self.comment_after += " <span class='info'>(requires restart)</span>"
        return self

    def needs_reload_ui(self) -> OptionInfo:
        self.comment_after += " <span class='info'>(requires Reload UI)</span>"
        return self

    def get_choices(self) -> list | None:
        if self.choices is None:
            return None
        return list(self.choices()) if callable(self.choices) else list(self.choices)


def _type_of(default: Any, args: dict) -> Any:
    """The type a value must have: the default's (bool before int, since bool is an int); a
    slider whose step is fractional holds floats even when its default is a whole number."""
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        step = args.get("step")
        return float if isinstance(step, float) and not step.is_integer() else int
    for tp in (float, str, list, dict):
        if isinstance(default, tp):
            return tp
    return Any


class OptionHTML(OptionInfo):
    """A row of explanation in the Settings tab (A1111's OptionHTML): shown, never stored or
    sent through the API."""

    def __init__(self, text: str):
        super().__init__(str(text).strip(), "", "html")
        self.do_not_save = True


def options_section(section: tuple, options: dict[str, OptionInfo]) -> dict[str, OptionInfo]:
    """Put `options` in a Settings section: `(id, label)` or `(id, label, category_id)`."""
    for info in options.values():
        info.section = tuple(section[:2])
        if len(section) > 2:
            info.category_id = section[2]
    return options


@dataclass
class OptionsCategory:
    id: str
    label: str


class OptionsCategories:
    """The headings the Settings tab groups sections under (A1111's `options.categories`)."""

    def __init__(self) -> None:
        self.mapping: dict[str, OptionsCategory] = {}

    def register_category(self, category_id: str, label: str) -> str:
        if category_id not in self.mapping:
            self.mapping[category_id] = OptionsCategory(category_id, label)
        return category_id


categories = OptionsCategories()
