"""A1111's script system: `Script` classes from extensions' `scripts/*.py` (script_class.py), one
`ScriptRunner` per tab (txt2img, img2img) that builds their UI (script_controls.py) and calls their
hooks during a generation, and running a job with them.
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

from sdwebui.services import paths
from sdwebui.services.extensions import callbacks as script_callbacks, discovery as extensions
from sdwebui.services.extensions import postprocessing_scripts as scripts_postprocessing
from sdwebui.services.extensions.callbacks import ExtensionError
from sdwebui.services.extensions.script_class import AlwaysVisible, OnComponent, Script, report_script_error, safe_title
from sdwebui.services.extensions.script_controls import ScriptControls

logger = logging.getLogger(__name__)


@dataclass
class ScriptClassData:
    """A Script (or ScriptPostprocessing) class loaded from an extension's file."""
    script_class: type
    path: str
    basedir: str
    module: ModuleType


scripts_data: list[ScriptClassData] = []
# the same list object as postprocessing_scripts.postprocessing_scripts_data, where the Extras runner reads it
postprocessing_scripts_data: list[ScriptClassData] = scripts_postprocessing.postprocessing_scripts_data
_current_basedir: str | None = None


def basedir() -> str:
    """The folder of the extension whose script is being loaded (A1111's `scripts.basedir()`)."""
    return _current_basedir or str(paths.SCRIPT_PATH)


def _load_module(path: str) -> ModuleType:
    # the module is named by its file name, as A1111 names it: extensions find the X/Y/Z plot by
    # `data.script_class.__module__ in ("xyz_grid.py", "xy_grid.py")`; it is also kept in sys.modules
    # under a name unique to its path
    key = "extension_script_" + re.sub(r"\W", "_", os.path.relpath(path))
    spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def load_scripts() -> None:
    """Import every active extension's scripts/*.py (in metadata.ini order) and collect their Script
    classes. A script that fails to import is logged and reported on its extension; the rest load."""
    global _current_basedir
    script_callbacks.script_unloaded_callback()
    script_callbacks.clear_callbacks()
    scripts_data.clear()
    postprocessing_scripts_data.clear()
    # as A1111: the host's own scripts/ (X/Y/Z plot, prompt matrix ...) first, then the extensions'
    for sf in extensions.list_script_files("scripts", ".py", include_root=True):
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


class ScriptRunner(ScriptControls):
    """The scripts of one tab: their controls (ScriptControls) and their hooks during a generation."""

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

    # hooks ------------------------------------------------------------------------------------
    def _each(self, hook: str, p, *before_args, **kwargs) -> None:
        for script in self.alwayson_scripts:
            # read for each script, as A1111: one script may rewrite the arguments of a later one
            # (sd-webui-controlnet's external_code.update_cn_script_in_processing)
            args = getattr(p, "script_args", None) or ()
            try:
                getattr(script, hook)(p, *before_args, *args[script.args_from:script.args_to], **kwargs)
            except Exception as e:
                if script_callbacks.passes_through(e) or _is_request_error(e):
                    raise
                report_script_error(script, hook, e)
                raise ExtensionError(f"{hook} of script '{safe_title(script)}'", e) from e

    def uses_hook(self, hook: str) -> bool:
        """Whether an always-on script overrides `hook`: the engine skips the work of a hook nobody
        uses (the per-step on_mask_blend)."""
        base = getattr(Script, hook, None)
        return any(getattr(type(script), hook, None) is not base for script in self.alwayson_scripts)

    def setup_scripts(self, p, *, is_ui: bool = True) -> None:
        args = list(p.script_args or [])
        for script in self.alwayson_scripts:
            if not is_ui and script.setup_for_ui_only:
                continue
            try:
                script.setup(p, *args[script.args_from:script.args_to])
            except Exception as e:
                report_script_error(script, "setup", e)
                raise ExtensionError(f"setup of script '{safe_title(script)}'", e) from e

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
            if _is_request_error(e):
                raise
            report_script_error(script, "run", e)
            raise ExtensionError(f"run of script '{safe_title(script)}'", e) from e

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
    from sdwebui.services import generation

    if getattr(p, "ctx", None) is None:     # the scripts may read p.sd_model before process_images
        p.ctx = generation.make_context()
    runner = p.scripts
    if runner is not None:
        runner.setup_scripts(p, is_ui=not getattr(p, "is_api", False))
        processed = runner.run(p, *(p.script_args or [0]))
        if processed is not None:
            return processed
    # through the module at call time: an extension may have replaced modules.processing.process_images
    return generation.process_images(p)


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


def _is_request_error(e: BaseException) -> bool:
    """A problem with the request that a script found (a ValueError naming the request field, as
    engine.errors.ProcessingError does): the caller answers 4xx naming the field, not 500."""
    return isinstance(e, ValueError) and isinstance(getattr(e, "field", None), (str, tuple))
