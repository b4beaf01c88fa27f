"""The callbacks A1111 extensions register with `modules.script_callbacks.on_*`.

Each `on_<category>(callback, *, name=None)` adds a callback; the host calls the matching
`<category>_callback(...)`. Callbacks are named `<extension>/<script file>/<category>[/<name>]` as
in A1111, so metadata.ini `[callbacks/<name>] Before=/After=` rules and the
`prioritized_callbacks_<category>` option can order them.

Errors: a callback that raises while the UI or the app is being built, or on a model load, is
logged and reported on its extension (the Extensions tab shows it); everything else goes on.
A callback that raises inside a generation (cfg_denoiser, before_image_saved, ...) fails that job
with an ExtensionError naming the extension and the callback: A1111 logs it and produces an image
the extension never touched, which hides the fault (docs/compatibility.md).
"""
from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from sdwebui.engine.hooks import (AfterCFGCallbackParams, CFGDenoisedParams, CFGDenoiserParams,  # noqa: F401
                                 ExtraNoiseParams, ImageGridLoopParams, ImageSaveParams)
from sdwebui.services.app_settings import AppSettings

logger = logging.getLogger(__name__)


def passes_through(exc: BaseException) -> bool:
    """Errors that are not the extension's fault and keep their own meaning (out of memory: 507)."""
    return type(exc).__name__ == "OutOfMemoryError"


class ExtensionError(RuntimeError):
    """An extension's code raised inside a generation; the job fails with this message."""

    def __init__(self, where: str, exc: BaseException):
        super().__init__(f"extension error in {where}: {type(exc).__name__}: {exc}")
        self.where = where
        self.original = exc


@dataclass
class CallbackItem:
    script: str          # the file that registered it
    callback: Callable
    name: str            # <extension canonical name>/<file.py>/<category>[/<name>]


class UiTrainTabParams:
    def __init__(self, txt2img_preview_params):
        self.txt2img_preview_params = txt2img_preview_params




@dataclass
class BeforeTokenCounterParams:
    prompt: str
    steps: int
    styles: list
    is_positive: bool = True


CATEGORIES = (
    "app_started", "before_reload", "model_loaded", "ui_tabs", "ui_train_tabs", "ui_settings",
    "before_image_saved", "image_saved", "extra_noise", "cfg_denoiser", "cfg_denoised", "cfg_after_cfg",
    "before_component", "after_component", "image_grid", "infotext_pasted", "script_unloaded", "before_ui",
    "list_optimizers", "list_unets", "before_token_counter",
)
callback_map: dict[str, list[CallbackItem]] = {f"callbacks_{c}": [] for c in CATEGORIES}
_ordered_cache: dict[str, list[CallbackItem]] = {}


@dataclass
class _Loading:
    """Which extension script is being imported (set by modules.scripts while it loads one)."""
    extension: str | None = None
    filename: str | None = None
    stack: list = field(default_factory=list)


loading = _Loading()


@dataclass
class _Wiring:
    """What the callbacks read from the rest of the app, given at start by configure()."""
    app: AppSettings | None = None                                   # its options: prioritized_callbacks_*
    order_rules: Callable[[], dict[str, dict[str, tuple[str, ...]]]] | None = None   # metadata.ini rules
    extension_for_path: Callable[[str], Any] | None = None           # the extension a file belongs to


_wiring = _Wiring()


def configure(app: AppSettings, *, order_rules: Callable[[], dict[str, dict[str, tuple[str, ...]]]],
              extension_for_path: Callable[[str], Any]) -> None:
    """Set up ordering and error reporting (the runtime, at start): `app` gives the options
    (`prioritized_callbacks_<category>`), `order_rules` the extensions' metadata.ini
    `[callbacks/...]` rules (discovery.callback_order_rules), `extension_for_path` the extension
    a callback's file belongs to, on which its errors are reported."""
    _wiring.app, _wiring.order_rules, _wiring.extension_for_path = app, order_rules, extension_for_path
    _ordered_cache.clear()


def _registering_file() -> str:
    if loading.filename:
        return loading.filename
    for frame in inspect.stack()[2:]:
        if frame.filename != __file__:
            return frame.filename
    return "unknown"


def _callback_name(category: str, name: str | None) -> str:
    base = os.path.basename(_registering_file())
    ext = loading.extension or "base"
    return f"{ext}/{base}/{category}" + (f"/{name}" if name else "")


def add_callback(category: str, callback: Callable, *, name: str | None = None) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown callback category {category!r}; known: {', '.join(CATEGORIES)}")
    full = _callback_name(category, name)
    items = callback_map[f"callbacks_{category}"]
    if any(i.name == full for i in items) and name is not None:
        raise ValueError(f"a callback named {full!r} is already registered")
    items.append(CallbackItem(_registering_file(), callback, full))
    _ordered_cache.pop(category, None)


def _order(category: str) -> list[CallbackItem]:
    """Registration order, then metadata.ini [callbacks/<name>] Before/After rules, then the
    `prioritized_callbacks_<category>` option (names listed there come first, in its order)."""
    if category in _ordered_cache:
        return _ordered_cache[category]
    items = list(callback_map[f"callbacks_{category}"])
    items = _apply_rules(items)
    opts = _wiring.app.opts if _wiring.app is not None else None
    wanted = list(getattr(opts, f"prioritized_callbacks_{category}", []) or []) if opts else []
    if wanted:
        first = [i for n in wanted for i in items if i.name == n]
        items = first + [i for i in items if i not in first]
    _ordered_cache[category] = items
    return items


def _apply_rules(items: list[CallbackItem]) -> list[CallbackItem]:
    if _wiring.order_rules is None:   # no extension system wired (tests of the engine alone)
        return items
    try:
        rules = _wiring.order_rules()
    except Exception:
        logger.exception("could not read the extensions' callback order rules")
        return items
    if not rules:
        return items
    names = [i.name for i in items]
    by_name = {i.name: i for i in items}
    after: dict[str, set[str]] = {n: set() for n in names}   # n runs after every name in after[n]
    for n in names:
        rule = rules.get(n) or {}
        for other in rule.get("after", ()):
            if other in after:
                after[n].add(other)
        for other in rule.get("before", ()):
            if other in after:
                after[other].add(n)
    out: list[str] = []
    placed: set[str] = set()
    pending = list(names)
    while pending:
        for n in pending:
            if after[n] <= placed:
                break
        else:  # a cycle: keep registration order for the rest
            logger.warning("callback ordering rules form a cycle among %s", pending)
            n = pending[0]
        out.append(n)
        placed.add(n)
        pending.remove(n)
    return [by_name[n] for n in out]


def _report(item: CallbackItem, category: str, exc: BaseException) -> None:
    logger.exception("error in callback %s (%s)", item.name, category)
    if _wiring.extension_for_path is None:
        return
    try:
        ext = _wiring.extension_for_path(item.script)
        if ext is not None:
            ext.report_error(f"{category} callback {item.name}: {type(exc).__name__}: {exc}")
    except Exception:
        pass


def _run(category: str, *args: Any, fail_job: bool = False) -> list[Any]:
    results = []
    for item in _order(category):
        try:
            results.append(item.callback(*args))
        except Exception as e:
            if fail_job and passes_through(e):
                raise
            _report(item, category, e)
            if fail_job:
                raise ExtensionError(f"callback {item.name}", e) from e
    return results


def has(category: str) -> bool:
    return bool(callback_map[f"callbacks_{category}"])


# registration (A1111 names) -------------------------------------------------------------------
def on_app_started(callback, *, name=None): add_callback("app_started", callback, name=name)
def on_before_reload(callback, *, name=None): add_callback("before_reload", callback, name=name)
def on_model_loaded(callback, *, name=None): add_callback("model_loaded", callback, name=name)
def on_ui_tabs(callback, *, name=None): add_callback("ui_tabs", callback, name=name)
def on_ui_train_tabs(callback, *, name=None): add_callback("ui_train_tabs", callback, name=name)
def on_ui_settings(callback, *, name=None): add_callback("ui_settings", callback, name=name)
def on_before_image_saved(callback, *, name=None): add_callback("before_image_saved", callback, name=name)
def on_image_saved(callback, *, name=None): add_callback("image_saved", callback, name=name)
def on_extra_noise(callback, *, name=None): add_callback("extra_noise", callback, name=name)
def on_cfg_denoiser(callback, *, name=None): add_callback("cfg_denoiser", callback, name=name)
def on_cfg_denoised(callback, *, name=None): add_callback("cfg_denoised", callback, name=name)
def on_cfg_after_cfg(callback, *, name=None): add_callback("cfg_after_cfg", callback, name=name)
def on_before_component(callback, *, name=None): add_callback("before_component", callback, name=name)
def on_after_component(callback, *, name=None): add_callback("after_component", callback, name=name)
def on_image_grid(callback, *, name=None): add_callback("image_grid", callback, name=name)
def on_infotext_pasted(callback, *, name=None): add_callback("infotext_pasted", callback, name=name)
def on_script_unloaded(callback, *, name=None): add_callback("script_unloaded", callback, name=name)
def on_before_ui(callback, *, name=None): add_callback("before_ui", callback, name=name)
def on_list_optimizers(callback, *, name=None): add_callback("list_optimizers", callback, name=name)
def on_list_unets(callback, *, name=None): add_callback("list_unets", callback, name=name)
def on_before_token_counter(callback, *, name=None): add_callback("before_token_counter", callback, name=name)


# invocation (called by the host) -------------------------------------------------------------
def call(category: str, *args: Any) -> None:
    """The engine's `Hooks.call` (engine.hooks): run `<category>_callback(*args)`, looked up by name
    so that an extension that replaced one of those functions is honoured."""
    globals()[f"{category}_callback"](*args)


def app_started_callback(demo, app) -> None:
    _run("app_started", demo, app)


def before_reload_callback() -> None:
    _run("before_reload")


def model_loaded_callback(sd_model) -> None:
    _run("model_loaded", sd_model)


def ui_tabs_callback() -> list:
    tabs = []
    for result in _run("ui_tabs"):
        tabs.extend(result or [])
    return tabs


def ui_train_tabs_callback(params: UiTrainTabParams) -> None:
    _run("ui_train_tabs", params)


def ui_settings_callback() -> None:
    _run("ui_settings")


def before_image_saved_callback(params: ImageSaveParams) -> None:
    _run("before_image_saved", params, fail_job=True)


def image_saved_callback(params: ImageSaveParams) -> None:
    _run("image_saved", params, fail_job=True)


def extra_noise_callback(params: ExtraNoiseParams) -> None:
    _run("extra_noise", params, fail_job=True)


def cfg_denoiser_callback(params: CFGDenoiserParams) -> None:
    _run("cfg_denoiser", params, fail_job=True)


def cfg_denoised_callback(params: CFGDenoisedParams) -> None:
    _run("cfg_denoised", params, fail_job=True)


def cfg_after_cfg_callback(params: AfterCFGCallbackParams) -> None:
    _run("cfg_after_cfg", params, fail_job=True)


def before_component_callback(component, **kwargs) -> None:
    _run_kw("before_component", component, kwargs)


def after_component_callback(component, **kwargs) -> None:
    _run_kw("after_component", component, kwargs)


def _run_kw(category: str, component, kwargs: dict) -> None:
    for item in _order(category):
        try:
            item.callback(component, **kwargs)
        except Exception as e:
            _report(item, category, e)


def image_grid_callback(params: ImageGridLoopParams) -> None:
    _run("image_grid", params, fail_job=True)


def infotext_pasted_callback(infotext: str, params: dict) -> None:
    _run("infotext_pasted", infotext, params)


def script_unloaded_callback() -> None:
    _run("script_unloaded")


def before_ui_callback() -> None:
    _run("before_ui")


def list_optimizers_callback() -> list:
    """A1111's cross-attention optimizers; diffusers picks SDPA itself, so the list only collects
    what extensions add (nothing uses it)."""
    found: list = []
    _run("list_optimizers", found)
    return found


def list_unets_callback() -> list:
    found: list = []
    _run("list_unets", found)
    return found


def before_token_counter_callback(params: BeforeTokenCounterParams) -> None:
    _run("before_token_counter", params)


# housekeeping ---------------------------------------------------------------------------------
def remove_current_script_callbacks() -> None:
    """Drop the callbacks registered by the script file being loaded now (A1111 name)."""
    filename = _registering_file()
    for items in callback_map.values():
        items[:] = [i for i in items if i.script != filename]
    _ordered_cache.clear()


def remove_callbacks_for_function(callback_func: Callable) -> None:
    for items in callback_map.values():
        items[:] = [i for i in items if i.callback != callback_func]
    _ordered_cache.clear()


def clear_callbacks() -> None:
    for items in callback_map.values():
        items.clear()
    _ordered_cache.clear()
