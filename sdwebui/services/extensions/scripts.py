"""A1111's script system: `Script` classes from extensions' `scripts/*.py`, one `ScriptRunner` per
tab (txt2img, img2img) that builds their UI and calls their hooks during a generation.

The runner keeps A1111's flat argument list: `inputs[0]` is the "Script" dropdown (0 = None,
i = the i-th selectable script) and every script owns `inputs[args_from:args_to]`. The UI and the
API fill that list the same way (`script_args_for`): the UI's Generate turns its values into the
request fields `script_name` / `script_args` / `alwayson_scripts`, exactly what an API client sends.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sdwebui.services.extensions import callbacks as script_callbacks
from sdwebui.services.extensions.callbacks import ExtensionError

from sdwebui.engine.hooks import (MaskBlendArgs, PostProcessMaskOverlayArgs,  # noqa: F401 (A1111 names)
                                 PostprocessBatchListArgs, PostprocessImageArgs, PostSampleArgs)

logger = logging.getLogger(__name__)

AlwaysVisible = object()    # Script.show() returns this for scripts whose UI is always shown


class Script:
    """Base class of an extension's script. Override `title`, `show`, `ui` and the hooks you need."""
    name: str | None = None
    section: str | None = None
    filename: str | None = None
    args_from: int | None = None
    args_to: int | None = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    tabname: str | None = None
    group = None
    create_group = True
    infotext_fields = None       # [(component, "Infotext key" | fn(params) -> value)]
    paste_field_names = None
    api_info = None
    setup_for_ui_only = False
    controls = None
    on_before_component_elem_id = None
    on_after_component_elem_id = None

    def title(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define title()")

    def ui(self, is_img2img: bool):
        """Build the script's components (inside the tab's layout); their values become *args."""

    def show(self, is_img2img: bool):
        """False: hidden on this tab; True: in the Script dropdown; AlwaysVisible: always on."""
        return True

    def run(self, p, *args):
        """Selectable scripts: do the whole job (usually via processing.process_images) and return Processed."""

    def setup(self, p, *args): ...
    def before_process(self, p, *args): ...
    def process(self, p, *args): ...
    def before_process_batch(self, p, *args, **kwargs): ...
    def after_extra_networks_activate(self, p, *args, **kwargs): ...
    def process_before_every_sampling(self, p, *args, **kwargs): ...
    def process_batch(self, p, *args, **kwargs): ...
    def postprocess_batch(self, p, *args, **kwargs): ...
    def postprocess_batch_list(self, p, pp: PostprocessBatchListArgs, *args, **kwargs): ...
    def on_mask_blend(self, p, mba: MaskBlendArgs, *args): ...
    def post_sample(self, p, ps: PostSampleArgs, *args): ...
    def postprocess_image(self, p, pp: PostprocessImageArgs, *args): ...
    def postprocess_maskoverlay(self, p, ppmo: PostProcessMaskOverlayArgs, *args): ...
    def postprocess_image_after_composite(self, p, pp: PostprocessImageArgs, *args): ...
    def postprocess(self, p, processed, *args): ...
    def before_hr(self, p, *args): ...
    def before_component(self, component, **kwargs): ...
    def after_component(self, component, **kwargs): ...

    def on_before_component(self, callback, *, elem_id: str) -> None:
        if self.on_before_component_elem_id is None:
            self.on_before_component_elem_id = []
        self.on_before_component_elem_id.append((elem_id, callback))

    def on_after_component(self, callback, *, elem_id: str) -> None:
        if self.on_after_component_elem_id is None:
            self.on_after_component_elem_id = []
        self.on_after_component_elem_id.append((elem_id, callback))

    def describe(self) -> str:
        return ""

    def elem_id(self, item_id: str) -> str:
        """`script_[txt2img_|img2img_]<title>_<item_id>`: the tab name only when the script shows on both tabs."""
        both = self.show(True) == self.show(False)
        tab = f"{'img2img' if self.is_img2img else 'txt2img'}_" if both else ""
        title = re.sub(r"[^a-z_0-9]", "", re.sub(r"\s", "_", self.title().lower()))
        return f"script_{tab}{title}_{item_id}"


@dataclass
class ScriptClassData:
    script_class: type
    path: str
    basedir: str
    module: ModuleType


scripts_data: list[ScriptClassData] = []
postprocessing_scripts_data: list[ScriptClassData] = []
_current_basedir: str | None = None


def basedir() -> str:
    """The folder of the extension whose script is being loaded (A1111's `scripts.basedir()`)."""
    from sdwebui.services import paths

    return _current_basedir or str(paths.SCRIPT_PATH)


def _load_module(path: str) -> ModuleType:
    name = "extension_script_" + re.sub(r"\W", "_", os.path.relpath(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_scripts() -> None:
    """Import every active extension's scripts/*.py (in metadata.ini order) and collect their Script
    classes. A script that fails to import is logged and reported on its extension; the rest load."""
    global _current_basedir
    from sdwebui.services.extensions import discovery as extensions, postprocessing_scripts as scripts_postprocessing

    script_callbacks.script_unloaded_callback()
    script_callbacks.clear_callbacks()
    scripts_data.clear()
    postprocessing_scripts_data.clear()
    for sf in extensions.list_script_files("scripts", ".py"):
        _current_basedir = sf.basedir
        script_callbacks.loading.extension = sf.extension.canonical_name if sf.extension else None
        script_callbacks.loading.filename = sf.path
        sys.path.insert(0, sf.basedir)   # extensions import their own packages by name
        try:
            module = _load_module(sf.path)
            # as A1111: every Script subclass in the module's namespace, also one it imports from its
            # own package (sd-dynamic-prompts' entry file re-exports its Script); not the host's classes
            for obj in list(vars(module).values()):
                if not isinstance(obj, type) or obj.__module__.startswith(("modules.", "sdwebui.")):
                    continue
                if issubclass(obj, Script):
                    target = scripts_data
                elif issubclass(obj, scripts_postprocessing.ScriptPostprocessing):
                    target = postprocessing_scripts_data
                else:
                    continue
                if all(d.script_class is not obj for d in target):
                    target.append(ScriptClassData(obj, sf.path, sf.basedir, module))
        except BaseException as e:  # a SystemExit in a broken extension must not stop the server either
            logger.exception("error loading script %s", sf.path)
            if sf.extension is not None:
                sf.extension.report_error(f"loading {sf.filename}: {type(e).__name__}: {e}")
        finally:
            try:
                sys.path.remove(sf.basedir)
            except ValueError:
                pass
            _current_basedir = None
            script_callbacks.loading.extension = None
            script_callbacks.loading.filename = None
    logger.info("loaded %d script(s) from %d extension(s)", len(scripts_data), len(extensions.active()))


def report_script_error(script: Script | type, where: str, exc: BaseException, filename: str | None = None) -> None:
    """Log a script's failure and list it on its extension (the Extensions tab shows it)."""
    title = _safe_title(script) if isinstance(script, Script) else script.__name__
    filename = filename or getattr(script, "filename", None) or ""
    logger.exception("error in %s of script %s (%s)", where, title, filename)
    try:
        from sdwebui.services.extensions import discovery as extensions

        ext = extensions.extension_for_path(filename)
        if ext is not None:
            ext.report_error(f"{where} of '{title}': {type(exc).__name__}: {exc}")
    except Exception:
        pass


def _safe_title(script: Script) -> str:
    try:
        return script.title()
    except Exception:
        return type(script).__name__


class ScriptRunner:
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

    @property
    def is_img2img(self) -> bool:
        return self.tabname == "img2img"

    def initialize_scripts(self, is_img2img: bool | None = None) -> None:
        """A fresh instance of every loaded Script class that shows on this tab."""
        is_img2img = self.is_img2img if is_img2img is None else is_img2img
        self.scripts, self.selectable_scripts, self.alwayson_scripts = [], [], []
        self.inputs, self.defaults, self.ui_built = [None], [0], False
        for data in scripts_data:
            try:
                script = data.script_class()
                script.filename = data.path
                script.is_txt2img = not is_img2img
                script.is_img2img = is_img2img
                script.tabname = "img2img" if is_img2img else "txt2img"
                visibility = script.show(is_img2img)
                title = script.title()
            except Exception as e:
                report_script_error(data.script_class, "show/title", e, data.path)
                continue
            if visibility is AlwaysVisible:
                script.alwayson = True
                self.alwayson_scripts.append(script)
            elif visibility:
                self.selectable_scripts.append(script)
            else:
                continue
            script.name = title.lower()
            self.scripts.append(script)
        self.titles = [s.title() for s in self.selectable_scripts]

    # UI ---------------------------------------------------------------------------------------
    def _create_script_ui(self, script: Script) -> None:
        from sdwebui.interfaces.ui import gradio_compat

        script.args_from = script.args_to = len(self.inputs)
        try:
            with gradio_compat.extension_ui():
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

    def setup_ui(self) -> None:
        """Inside the tab's settings column: the always-on scripts' sections, then the Script
        dropdown and the selectable scripts' groups (each shown when picked)."""
        import gradio as gr

        self.inputs, self.defaults = [None], [0]
        for script in self.alwayson_scripts:
            with gr.Group(elem_id=f"{self.tabname}_script_{_slug(script.title())}") as group:
                self._create_script_ui(script)
            script.group = group
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

    # hooks ------------------------------------------------------------------------------------
    def _each(self, hook: str, p, *before_args, **kwargs) -> None:
        args = list(getattr(p, "script_args", None) or [])
        for script in self.alwayson_scripts:
            try:
                getattr(script, hook)(p, *before_args, *args[script.args_from:script.args_to], **kwargs)
            except Exception as e:
                if script_callbacks.passes_through(e):
                    raise
                report_script_error(script, hook, e)
                raise ExtensionError(f"{hook} of script '{_safe_title(script)}'", e) from e

    def setup_scripts(self, p, *, is_ui: bool = True) -> None:
        args = list(p.script_args or [])
        for script in self.alwayson_scripts:
            if not is_ui and script.setup_for_ui_only:
                continue
            try:
                script.setup(p, *args[script.args_from:script.args_to])
            except Exception as e:
                report_script_error(script, "setup", e)
                raise ExtensionError(f"setup of script '{_safe_title(script)}'", e) from e

    def run(self, p, *args):
        """The selected script's run(); None when no script is selected (process normally)."""
        index = (args[0] if args else 0) or 0
        if not 0 < index <= len(self.selectable_scripts):
            return None
        script = self.selectable_scripts[index - 1]
        try:
            return script.run(p, *args[script.args_from:script.args_to])
        except ExtensionError:
            raise
        except Exception as e:
            if isinstance(e, ValueError) and isinstance(getattr(e, "field", None), (str, tuple)):
                raise   # a request problem the script found: the caller answers 4xx
            report_script_error(script, "run", e)
            raise ExtensionError(f"run of script '{_safe_title(script)}'", e) from e

    def before_process(self, p) -> None: self._each("before_process", p)
    def process(self, p) -> None: self._each("process", p)
    def before_process_batch(self, p, **kwargs) -> None: self._each("before_process_batch", p, **kwargs)
    def after_extra_networks_activate(self, p, **kwargs) -> None: self._each("after_extra_networks_activate", p, **kwargs)
    def process_before_every_sampling(self, p, **kwargs) -> None: self._each("process_before_every_sampling", p, **kwargs)
    def process_batch(self, p, **kwargs) -> None: self._each("process_batch", p, **kwargs)
    def postprocess_batch(self, p, images, **kwargs) -> None: self._each("postprocess_batch", p, images=images, **kwargs)
    def postprocess_batch_list(self, p, pp, **kwargs) -> None: self._each("postprocess_batch_list", p, pp, **kwargs)
    def post_sample(self, p, ps) -> None: self._each("post_sample", p, ps)
    def on_mask_blend(self, p, mba) -> None: self._each("on_mask_blend", p, mba)
    def postprocess_image(self, p, pp) -> None: self._each("postprocess_image", p, pp)
    def postprocess_maskoverlay(self, p, ppmo) -> None: self._each("postprocess_maskoverlay", p, ppmo)
    def postprocess_image_after_composite(self, p, pp) -> None: self._each("postprocess_image_after_composite", p, pp)
    def postprocess(self, p, processed) -> None: self._each("postprocess", p, processed)
    def before_hr(self, p) -> None: self._each("before_hr", p)

    # component hooks (scripts may watch any component the UI creates) ------------------------
    def before_component(self, component, **kwargs) -> None:
        self._component_hook("before", component, kwargs)

    def after_component(self, component, **kwargs) -> None:
        self._component_hook("after", component, kwargs)

    def _component_hook(self, when: str, component, kwargs: dict) -> None:
        elem_id = kwargs.get("elem_id") or getattr(component, "elem_id", None)
        for script in self.scripts:
            try:
                getattr(script, f"{when}_component")(component, **kwargs)
                for wanted, callback in getattr(script, f"on_{when}_component_elem_id") or []:
                    if wanted == elem_id:
                        callback(OnComponent(component))
            except Exception as e:
                report_script_error(script, f"{when}_component", e)


class OnComponent:
    def __init__(self, component):
        self.component = component


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


scripts_txt2img = ScriptRunner("txt2img")
scripts_img2img = ScriptRunner("img2img")
scripts_current: ScriptRunner | None = None


def runner_for(tabname: str) -> ScriptRunner:
    return scripts_img2img if tabname == "img2img" else scripts_txt2img


def initialize_runners() -> None:
    for runner in (scripts_txt2img, scripts_img2img):
        runner.initialize_scripts()


def run_processing(p):
    """Run a job the way A1111's txt2img/img2img do: scripts' setup, the selected script's run()
    if one is selected, else process_images. Call it on the queue worker."""
    from sdwebui.engine.processing.txt2img import process_images

    runner = p.scripts
    if runner is not None:
        runner.setup_scripts(p, is_ui=not getattr(p, "is_api", False))
        processed = runner.run(p, *(p.script_args or [0]))
        if processed is not None:
            return processed
    return process_images(p)


def json_safe(value: Any) -> Any:
    """A JSON-compatible copy of script arguments / defaults (enums by value, objects by their
    fields, non-finite floats as None, anything else as its text)."""
    import enum
    import math

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if hasattr(value, "model_dump"):
        return json_safe(value.model_dump())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return json_safe(vars(value))
    return str(value)
