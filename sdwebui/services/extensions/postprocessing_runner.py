"""Runs the Extras tab's postprocessing scripts (A1111's `ScriptPostprocessingRunner`).

Every loaded `ScriptPostprocessing` class (the built-in ones in the root `scripts/` folder and in
`extensions-builtin/postprocessing-for-training`, and the extensions') gets one instance. They run
in A1111's order: first those the `postprocessing_operation_order` setting names, in its order, then
the rest by their `order` attribute, then by name; `postprocessing_disable_in_extras` hides some.

Their controls form one flat argument list, as for txt2img's scripts: script i owns
`args[script.args_from:script.args_to]`, the values of its `ui()` dict in that dict's order. The UI
builds that list from its components; the API builds it by script name and argument name
(`create_args_for_run`).
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

from sdwebui.services import runtime
from sdwebui.services.extensions.postprocessing_scripts import (PostprocessedImage, ScriptPostprocessing,
                                                                postprocessing_scripts_data)
from sdwebui.services.extensions.script_class import report_script_error

logger = logging.getLogger(__name__)

# A1111 1.10 has this subclass of its Upscale script for its main-UI postprocessing; it is never
# shown in the Extras tab
_HIDDEN_FROM_EXTRAS = {"Simple Upscale"}


class PostprocessingArgsError(ValueError):
    """Arguments given by name that no script has: `field` names where (a 4xx for the API)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _choices(control: Any) -> list[Any] | None:
    """The fixed choices of a Radio or CheckboxGroup (gradio gives (label, value) pairs). Dropdowns
    are left out: their lists (upscalers ...) can grow after the controls were built."""
    if type(control).__name__ not in ("Radio", "CheckboxGroup"):
        return None
    choices = getattr(control, "choices", None) or []
    return [c[1] if isinstance(c, (tuple, list)) and len(c) == 2 else c for c in choices]


def _check_value(control: Any, value: Any, field: str) -> None:
    """A value given by name must have the type of its control's default (and be in its range or
    choices): a 422 naming the argument, instead of a failure inside the script."""
    default = getattr(control, "value", None)
    if value is None or default is None:
        return
    if isinstance(default, bool):
        ok, wanted = isinstance(value, bool), "true or false"
    elif isinstance(default, (int, float)):
        ok, wanted = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        low, high = getattr(control, "minimum", None), getattr(control, "maximum", None)
        if ok and ((low is not None and value < low) or (high is not None and value > high)):
            raise PostprocessingArgsError(f"{field}: {value!r} is outside {low}..{high}", field)
    elif isinstance(default, str):
        ok, wanted = isinstance(value, str), "a string"
    elif isinstance(default, list):
        ok, wanted = isinstance(value, list), "a list"
    else:
        return
    if not ok:
        raise PostprocessingArgsError(f"{field}: expected {wanted}, got {value!r}", field)
    choices = _choices(control)
    if choices:
        bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
        if bad:
            raise PostprocessingArgsError(f"{field}: {bad[0]!r} is not one of {', '.join(map(str, choices))}", field)


def _opt(name: str, default: Any) -> Any:
    opts = runtime.opts
    return default if opts is None or name not in opts else getattr(opts, name)


class ScriptPostprocessingRunner:
    def __init__(self) -> None:
        self.scripts: list[ScriptPostprocessing] | None = None
        self.ui_created = False
        self._loaded_from: tuple[type, ...] = ()
        # the API's threads and the queue worker may both ask for the argument layout first
        self._lock = threading.RLock()

    def initialize_scripts(self, scripts_data: list[Any]) -> None:
        """One fresh instance of each loaded class (a class that fails to instantiate is reported
        and left out)."""
        self.scripts = []
        self.ui_created = False
        self._loaded_from = tuple(d.script_class for d in scripts_data)
        for data in scripts_data:
            try:
                script = data.script_class()
            except Exception as e:
                report_script_error(data.script_class, "__init__", e, data.path)
                continue
            script.filename = data.path
            if script.name in _HIDDEN_FROM_EXTRAS:
                continue
            self.scripts.append(script)

    def all_scripts(self) -> list[ScriptPostprocessing]:
        """Every script, hidden ones too, in load order."""
        data = postprocessing_scripts_data
        # the scripts were reloaded (extensions changed) since the instances were made: make new ones
        if self.scripts is None or self._loaded_from != tuple(d.script_class for d in data):
            self.initialize_scripts(data)
        return self.scripts or []

    def scripts_in_preferred_order(self) -> list[ScriptPostprocessing]:
        scripts = self.all_scripts()
        order = list(_opt("postprocessing_operation_order", []) or [])
        hidden = set(_opt("postprocessing_disable_in_extras", []) or [])

        def score(indexed: tuple[int, ScriptPostprocessing]) -> tuple:
            index, script = indexed
            rank = order.index(script.name) if script.name in order else len(scripts)
            return rank, script.order, script.name or "", index

        shown = [(i, s) for i, s in enumerate(scripts) if s.name not in hidden]
        return [s for _, s in sorted(shown, key=score)]

    # --- the controls ---------------------------------------------------------------------------
    def create_script_ui(self, script: ScriptPostprocessing, inputs: list[Any]) -> None:
        script.args_from = len(inputs)
        try:
            controls = script.ui() or {}
        except Exception as e:
            report_script_error(script, "ui", e, script.filename)
            controls = {}
        script.controls = dict(controls)
        for control in script.controls.values():
            # A1111 marks each control with the file it came from (the UI's ui-config keys use it)
            try:
                control.custom_script_source = os.path.basename(script.filename or "")
            except AttributeError:
                pass
        inputs.extend(script.controls.values())
        script.args_to = len(inputs)

    def setup_ui(self) -> list[Any]:
        """Build every script's controls (inside an open gr.Blocks), each in its own gr.Row, and
        return them all in argument order."""
        import gradio as gr  # the UI layer's library; only needed once controls are built

        inputs: list[Any] = []
        for script in self.scripts_in_preferred_order():
            with gr.Row() as group:
                self.create_script_ui(script, inputs)
            script.group = group
        self.ui_created = True
        return inputs

    def _ensure_layout(self) -> list[ScriptPostprocessing]:
        with self._lock:
            scripts = self.scripts_in_preferred_order()
            if not self.ui_created or any(s.controls is None for s in scripts):
                # as A1111: the argument layout comes from the controls, so build them once, off screen
                import gradio as gr

                with gr.Blocks(analytics_enabled=False):
                    self.setup_ui()
                scripts = self.scripts_in_preferred_order()
            return scripts

    def create_args_for_run(self, scripts_args: dict[str, dict[str, Any]],
                            fill_defaults: bool = False) -> list[Any]:
        """The flat argument list from `{script name: {argument name: value}}`. As A1111, a script
        not named gets None for every argument (so it stays off); with `fill_defaults`, an argument a
        named script is not given takes its control's default value instead of None."""
        scripts = self._ensure_layout()
        args: list[Any] = [None] * max([s.args_to or 0 for s in scripts], default=0)
        for script in scripts:
            given = scripts_args.get(script.name)
            if given is None:
                continue
            for i, (name, control) in enumerate((script.controls or {}).items()):
                default = getattr(control, "value", None) if fill_defaults else None
                args[script.args_from + i] = given.get(name, default)
        return args

    def args_by_name(self, requested: dict[str, dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
        """`requested` keyed by the scripts' own names, matched without regard to case; a name no
        script has, or an argument the script does not take, raises PostprocessingArgsError."""
        scripts = {(s.name or "").lower(): s for s in self._ensure_layout()}
        out: dict[str, dict[str, Any]] = {}
        for name, values in requested.items():
            script = scripts.get(str(name).lower())
            if script is None:
                choices = ", ".join(repr(s.name) for s in scripts.values())
                raise PostprocessingArgsError(f"{field}: no postprocessing script named {name!r}; "
                                              f"choose from {choices}", f"{field}.{name}")
            if not isinstance(values, dict):
                raise PostprocessingArgsError(f"{field}.{name}: give the arguments as an object "
                                              f"{{name: value}}", f"{field}.{name}")
            unknown = [k for k in values if k not in (script.controls or {})]
            if unknown:
                raise PostprocessingArgsError(
                    f"{field}.{name}: unknown argument {unknown[0]!r}; {script.name} takes "
                    f"{', '.join(script.controls or {})}", f"{field}.{name}.{unknown[0]}")
            for arg, value in values.items():
                _check_value(script.controls[arg], value, f"{field}.{script.name}.{arg}")
            out[script.name] = values
        return out

    # --- running ----------------------------------------------------------------------------------
    def run(self, pp: PostprocessedImage, args: list[Any] | tuple[Any, ...],
            on_script: Callable[[ScriptPostprocessing], None] | None = None,
            skipped: Callable[[], bool] = lambda: False) -> None:
        """Every script over `pp` and the copies scripts add: first each script's
        process_firstpass on the source, then each script's process on every image so far (copies
        a script adds are processed by the scripts after it). Afterwards pp.extra_images holds all
        the copies, as PostprocessedImage."""
        args = list(args)
        plan = []
        for script in self._ensure_layout():
            values = args[script.args_from:script.args_to]
            values += [None] * (len(script.controls or {}) - len(values))
            plan.append((script, dict(zip(script.controls or {}, values))))

        for script, kwargs in plan:
            script.process_firstpass(pp, **kwargs)

        all_images = [pp]
        for script, kwargs in plan:
            if skipped():
                break
            if on_script is not None:
                on_script(script)
            for single in list(all_images):
                if not single.disable_processing:
                    script.process(single, **kwargs)
                for extra in single.extra_images:
                    all_images.append(extra if isinstance(extra, PostprocessedImage) else single.create_copy(extra))
                single.extra_images.clear()
        pp.extra_images = all_images[1:]

    def image_changed(self) -> None:
        for script in self.scripts_in_preferred_order():
            try:
                script.image_changed()
            except Exception as e:
                report_script_error(script, "image_changed", e, script.filename)


scripts_postproc = ScriptPostprocessingRunner()
