"""Gradio-3 idioms that A1111 extensions still use, made to work on gradio 6, and the component
hooks A1111 extensions rely on (`on_before_component` / `on_after_component`).

install() patches gradio once, before any UI is built:
* `gr.Textbox.update(...)` and friends (removed in gradio 4) return `gr.update(...)`, the first
  positional argument being the value as in gradio 3;
* `_js=` means `js=` on every event listener: components' events, `.then()` / `.success()` /
  `.failure()` of the Dependency an event returns, `gr.on(...)` and `Blocks.load(...)`;
  `.style(...)` is accepted and ignored; `Blocks.dependencies` lists the events (gradio 3's dicts)
  and iterating `Blocks.fns` in an on_app_started callback gives the events' functions (gradio 3's
  list; gradio 6's dict by id: `gradio3_fns()`);
* a component put in a gr.Tabs before its tabs is moved after them (gradio 6 shows a wrong tab strip);
* a row or column an extension builds stays in the page when hidden (built so or by an update), hidden
  by a class that its visibility updates move (gradio 6 would leave its children out, and shows one
  given "hidden"); an extension's component hidden by an update is "hidden" (in the page), as it is
  when built with `visible=False` (below);
* an extension's dropdown takes a value outside its choices, as gradio 3's did (allow_custom_value);
* a gr.Tabs an extension builds has the "wrap" tab strip: its first div holds the tab buttons alone,
  as gradio 3's did (the "menu" strip puts hidden measuring copies of the buttons first); and
  javascript/gradio3_dom.js gives a shown tab panel gradio 3's inline `display: block`;
* `gr.Box` is `gr.Group`; `source="upload"` becomes `sources=["upload"]`, `tool=` is dropped;
  other keyword arguments a component no longer takes are dropped with a warning instead of
  raising, so an extension written for gradio 3 builds;
* while an extension's UI is built (`extension_ui()`, which install() registers with the scripts'
  runner), `visible=False` means `visible="hidden"`:
  gradio >= 5.36 leaves invisible components out of the page, and extensions look their hidden
  buttons and textboxes up in the DOM;
* every component constructed calls the before/after-component callbacks with its keyword
  arguments, as A1111 does (ADetailer finds `txt2img_generate` that way); what they build is the
  extension's (built under `extension_ui()`);
* eager rendering (gradio 6 puts a closed accordion's children, and an unselected tab, in the page
  only once opened; gradio 3, which A1111 extensions were written for, rendered everything and their
  JavaScript looks those elements up at load): accordions built by an extension's UI are sent to
  the page open with the class EAGER_CLOSED_CLASS and javascript/eager_render.js closes them as
  they mount (their children stay in the page); tabs with EAGER_CLASS (the extensions' tabs and
  the tabs inside them, Settings) are shown once by that script before the onUiLoaded callbacks run. The Settings
  sections' contents stay lazy: rendering all of them costs far more than the rest of the page
  (measured; docs/compatibility.md "Page and JavaScript").
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
from typing import Any, Iterator

import gradio as gr
import gradio.blocks as gr_blocks
import gradio.events as gr_events
from gradio.blocks import Block
from gradio.blocks_events import BLOCKS_EVENTS

from sdwebui.services.extensions import callbacks as script_callbacks, script_controls, scripts

logger = logging.getLogger(__name__)

_installed = False
_local = threading.local()
_SOURCE_CLASSES = ("Image", "ImageEditor", "Audio", "Video", "Sketchpad", "Paint")
EAGER_CLASS = "webui-eager"                  # on a gr.Tab: rendered at page load (eager_render.js)
EAGER_CLOSED_CLASS = "webui-eager-closed"    # a closed accordion sent open, closed by the page's script
HIDEABLE_CLASS = "webui-hideable"     # a row/column an extension built: in the page, hidden by class
HIDDEN_CLASS = "webui-hidden"         # ... and hidden now (style.css: display none)
EXTENSION_MARK = "_webui_extension"   # in an extension's component's recorded constructor arguments


@contextlib.contextmanager
def extension_ui() -> Iterator[None]:
    """Components created inside belong to an extension: the compatibility mapping applies."""
    depth = getattr(_local, "extension_depth", 0)
    _local.extension_depth = depth + 1
    try:
        yield
    finally:
        _local.extension_depth = depth


def _in_extension_ui() -> bool:
    return getattr(_local, "extension_depth", 0) > 0


def _all_block_classes() -> list[type]:
    seen, todo = [], [Block]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen and sub.__module__.startswith("gradio"):
                seen.append(sub)
                todo.append(sub)
    return seen


def _translate(cls: type, kwargs: dict, accepted: set[str] | None) -> dict:
    if "source" in kwargs and cls.__name__ in _SOURCE_CLASSES and (accepted is None or "source" not in accepted):
        source = kwargs.pop("source")
        if accepted is None or "sources" in accepted:
            kwargs.setdefault("sources", [source] if isinstance(source, str) else source)
    if _in_extension_ui() and kwargs.get("visible") is False:
        kwargs["visible"] = "hidden"
    if _in_extension_ui() and issubclass(cls, gr.Dropdown) and (accepted is None or "allow_custom_value" in accepted):
        # gradio 3 took any value for a dropdown; gradio 6 refuses one not among its choices (agent-
        # scheduler's checkpoint dropdown gets the loaded checkpoint's title, whose hash was not known
        # when its choices were listed)
        kwargs.setdefault("allow_custom_value", True)
    if accepted is not None:
        dropped = [k for k in kwargs if k not in accepted]
        for k in dropped:
            kwargs.pop(k)
        if dropped:
            logger.warning("gradio %s does not take %s; ignored (a gradio-3 argument?)", cls.__name__,
                           ", ".join(dropped))
    return kwargs


def _with_class(classes: list[str] | str | None, name: str) -> list[str]:
    classes = [classes] if isinstance(classes, str) else list(classes or [])
    return classes if name in classes else [*classes, name]


def _wrap_init(cls: type) -> None:
    original = cls.__dict__.get("__init__")
    if original is None or getattr(original, "_compat_wrapped", False):
        return
    params = inspect.signature(original).parameters
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = None if has_var_kw else set(params) - {"self"}
    is_component = issubclass(cls, gr.components.Component)

    is_accordion = issubclass(cls, gr.Accordion)
    is_tab = issubclass(cls, gr.Tab) and "elem_classes" in params
    hideable = not is_component and "elem_classes" in params and "visible" in params
    is_tabs = issubclass(cls, gr.Tabs) and "overflow_behavior" in params

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        # an extension's component, built now or rebuilt by gradio for an update (from its recorded
        # constructor arguments, which carry EXTENSION_MARK)
        extension_built = bool(kwargs.pop(EXTENSION_MARK, False)) or _in_extension_ui()
        # (type(self): a tab's or accordion's __init__ calls its base class's, wrapped too)
        if hideable and _in_extension_ui() and not isinstance(self, (gr.Tab, gr.Tabs, gr.Accordion)):
            # gradio 6 leaves a hidden row's children out of the page and has no "hidden" for layouts
            # (a row given visible="hidden" is shown); extensions click buttons kept in rows that are
            # hidden at first or later (images-browser's Delete button): an extension's rows and
            # columns are always sent visible, hidden by a class their visibility updates move
            kwargs["elem_classes"] = _with_class(kwargs.get("elem_classes"), HIDEABLE_CLASS)
            if kwargs.get("visible") is False:
                kwargs["visible"] = True
                kwargs["elem_classes"] = _with_class(kwargs["elem_classes"], HIDDEN_CLASS)
        if is_component and extension_built and kwargs.get("visible") is False:
            kwargs["visible"] = "hidden"    # in the page, not shown (gradio 3's visible=False)
        kwargs = _translate(type(self), kwargs, accepted)
        if is_accordion and _in_extension_ui():
            render_eagerly(self)
        if is_tab and _in_extension_ui():       # an extension's own tabs (images-browser's per folder)
            kwargs["elem_classes"] = _with_class(kwargs.get("elem_classes"), EAGER_CLASS)
        if is_tabs and _in_extension_ui():
            # gradio 3's tab strip was the Tabs' first div and held only the tab buttons (extensions
            # pair their sub-tabs with `tabs.querySelector("div").querySelectorAll("button")`); gradio
            # 6's "menu" strip puts a hidden measuring copy of every button before the real ones and
            # adds its "More tabs" menu after them; the "wrap" strip has the real buttons alone and
            # wraps them onto more rows, as gradio 3's did
            kwargs.setdefault("overflow_behavior", "wrap")
        outermost = is_component and not getattr(self, "_compat_constructing", False) and not in_event()
        if not outermost:
            original(self, *args, **kwargs)
        else:
            object.__setattr__(self, "_compat_constructing", True)
            try:
                _component_callbacks("before", self, kwargs)
                original(self, *args, **kwargs)
                _component_callbacks("after", self, kwargs)
            finally:
                object.__setattr__(self, "_compat_constructing", False)
        if is_component and extension_built and getattr(self, "_constructor_args", None):
            # gradio rebuilds an updated component from these; the mark makes `visible=False` in an
            # update "hidden" too (else gradio 6 takes the component out of the page)
            self.constructor_args[EXTENSION_MARK] = True

    __init__._compat_wrapped = True
    cls.__init__ = __init__


def in_event() -> bool:
    """Components made inside an event handler are updates, not new parts of the page."""
    from gradio.context import LocalContext

    return bool(LocalContext.in_event_listener.get(False))


def _component_callbacks(when: str, component, kwargs: dict) -> None:
    # what the callbacks build is the extensions' (agent-scheduler's Enqueue row, built after Generate)
    with extension_ui():
        if when == "before":
            script_callbacks.before_component_callback(component, **kwargs)
        else:
            script_callbacks.after_component_callback(component, **kwargs)
        runner = scripts.scripts_current
        if runner is not None:
            getattr(runner, f"{when}_component")(component, **kwargs)


def _js_aware(listener):
    """`listener` taking gradio 3's `_js=` as `js=` (the same JavaScript function, run in the page
    before the Python one, its return value the inputs)."""
    if getattr(listener, "_compat_wrapped", False):
        return listener

    @functools.wraps(listener)
    def event(*args, **kwargs):
        if "_js" in kwargs:
            js = kwargs.pop("_js")
            if kwargs.get("js") is None:
                kwargs["js"] = js
        return listener(*args, **kwargs)

    event._compat_wrapped = True
    return event


def _wrap_event(cls: type, name: str) -> None:
    listener = cls.__dict__.get(name)
    if listener is None or not callable(listener):
        return
    setattr(cls, name, _js_aware(listener))


def _wrap_listeners() -> None:
    """`_js=` everywhere a listener is made. Components' event methods exist from import on (wrapped
    per class in install()); `.then()` / `.success()` / `.failure()` are made for each Dependency by
    EventListener._setup, so that factory's listeners are wrapped from now on; `gr.on` and the
    Blocks' own events (`load`, `unload`) are module and class functions."""
    setup = gr_events.EventListener.__dict__["_setup"].__func__

    def _setup(*args, **kwargs):
        return _js_aware(setup(*args, **kwargs))

    gr_events.EventListener._setup = staticmethod(_setup)
    gr_events.on = gr.on = _js_aware(gr_events.on)
    for event in BLOCKS_EVENTS:
        name = event if isinstance(event, str) else getattr(event, "event_name", None)
        if name:
            _wrap_event(gr.Blocks, name)


# --- eager rendering (see the module docstring) -------------------------------------------------------
def render_eagerly(accordion: gr.Accordion) -> gr.Accordion:
    """Mark an accordion whose children must be in the page from the start (an extension's are)."""
    object.__setattr__(accordion, "_webui_eager", True)
    return accordion


def _wrap_accordion_config() -> None:
    original = gr.Accordion.get_config
    if getattr(original, "_compat_wrapped", False):
        return

    @functools.wraps(original)
    def get_config(self, *args, **kwargs):
        config = original(self, *args, **kwargs)
        # only the page's first state changes: `self.open` stays as built, so an update that opens or
        # closes the accordion, and the ui-config.json defaults, see the real value
        if config.get("open") is False and getattr(self, "_webui_eager", False):
            config["open"] = True
            config["elem_classes"] = _with_class(config.get("elem_classes"), EAGER_CLOSED_CLASS)
        return config

    get_config._compat_wrapped = True
    gr.Accordion.get_config = get_config


def _wrap_tabs_exit() -> None:
    """Tabs first among a gr.Tabs' children. gradio 3 took other components there (images-browser
    makes a hidden textbox first); gradio 6's page numbers the tabs by their place among all the
    children and then shows the wrong strip (checked in Chromium: "txt2img" twice, "img2img" gone).
    The other children go after the tabs, where they were never seen anyway."""
    original = gr.Tabs.__exit__
    if getattr(original, "_compat_wrapped", False):
        return

    @functools.wraps(original)
    def tabs_exit(self, exc_type=None, *args):
        if exc_type is None:
            tabs = [c for c in self.children if isinstance(c, gr.Tab)]
            if tabs and len(tabs) < len(self.children):
                others = [c for c in self.children if not isinstance(c, gr.Tab)]
                self.children[:] = tabs + others
        return original(self, exc_type, *args)

    tabs_exit._compat_wrapped = True
    gr.Tabs.__exit__ = tabs_exit


def _wrap_layout_visibility_updates() -> None:
    """`gr.update(visible=...)` of a row or column an extension built (HIDEABLE_CLASS) moves its
    HIDDEN_CLASS instead, so that its children stay in the page."""
    original = gr_blocks.postprocess_update_dict
    if getattr(original, "_compat_wrapped", False):
        return

    @functools.wraps(original)
    def postprocess_update_dict(block, update_dict, postprocess=True):
        classes = block.elem_classes if isinstance(getattr(block, "elem_classes", None), list) else \
            [c for c in [getattr(block, "elem_classes", None)] if c]
        if "visible" in update_dict and HIDEABLE_CLASS in classes:
            kept = [c for c in classes if c != HIDDEN_CLASS]
            block.elem_classes = kept if update_dict["visible"] is True else [*kept, HIDDEN_CLASS]
            block.visible = True
            update_dict["elem_classes"] = block.elem_classes
        return original(block, update_dict, postprocess)

    postprocess_update_dict._compat_wrapped = True
    gr_blocks.postprocess_update_dict = postprocess_update_dict


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    script_controls.set_extension_ui(extension_ui)   # extensions' script controls are built under it
    if not hasattr(gr, "Box"):
        gr.Box = gr.Group
    if not hasattr(Block, "style"):
        Block.style = lambda self, *args, **kwargs: self
    for cls in _all_block_classes():
        _wrap_init(cls)
        if issubclass(cls, gr.components.Component) and "update" not in cls.__dict__:
            cls.update = staticmethod(_component_update)
        for event in getattr(cls, "EVENTS", []) or []:
            name = event if isinstance(event, str) else getattr(event, "event_name", None)
            if name:
                _wrap_event(cls, name)
    _wrap_listeners()
    _wrap_accordion_config()
    _wrap_tabs_exit()
    _wrap_layout_visibility_updates()
    if not hasattr(gr.Blocks, "dependencies"):
        gr.Blocks.dependencies = property(_gradio3_dependencies)


def _component_update(*args: Any, **kwargs: Any) -> dict:
    """gradio 3's `gr.Textbox.update(value, ...)`: its first positional argument is the value (gradio
    6's `gr.update` takes elem_id there: `gr.Textbox.update("text")` renamed the element)."""
    if len(args) > 1:
        raise TypeError(f"update() takes the value as its only positional argument ({len(args)} given)")
    if args:
        if "value" in kwargs:
            raise TypeError("update() got the value both as an argument and as value=")
        kwargs["value"] = args[0]
    return gr.update(**kwargs)


def _gradio3_dependencies(blocks: gr.Blocks) -> list[dict]:
    """gradio 3's `Blocks.dependencies`: one dict per event, with component ids (agent-scheduler finds
    the Generate button's click in it). Built from gradio 6's `fns` at each read."""
    out = []
    for fn in blocks.fns.values():
        for target, trigger in fn.targets:
            out.append({"id": fn._id, "targets": [target], "trigger": trigger, "js": fn.js,
                        "inputs": [c._id for c in fn.inputs], "outputs": [c._id for c in fn.outputs]})
    return out


class _FnId(int):
    """A key of gradio 6's `Blocks.fns` (a dict of the events' functions by id) that also reads as the
    function it keys: gradio 3's `Blocks.fns` was a list of those functions, and extensions iterate it
    (agent-scheduler: `next(fn for fn in demo.fns if ...fn.inputs...)`). It is the id for gradio."""

    def __new__(cls, fn_id: int, owner: dict) -> "_FnId":
        key = super().__new__(cls, fn_id)
        key._owner = owner
        return key

    def __getattr__(self, name: str) -> Any:      # only for names an int has not
        if name.startswith("__") or name == "_owner":
            raise AttributeError(name)
        return getattr(dict.__getitem__(self._owner, self), name)


class _Gradio3Fns(dict):
    """`Blocks.fns` whose keys are _FnId (set through every way gradio fills it)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        for key, value in dict(items).items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, int) and not isinstance(key, bool):
            key = _FnId(int(key), self)
        super().__setitem__(key, value)


@contextlib.contextmanager
def gradio3_fns(blocks: gr.Blocks | None) -> Iterator[None]:
    """While extensions' code runs with the app's Blocks (their on_app_started callbacks), iterating
    `blocks.fns` gives the events' functions (_FnId keys); afterwards the dict is gradio's own again
    (plain int keys: gradio 6 misbehaved with the _FnId keys left in, an X/Y/Z dropdown's option list
    stayed open), the events the extensions added kept."""
    config = getattr(blocks, "default_config", None)
    if config is None:
        yield
        return
    config.fns = _Gradio3Fns(config.fns)
    try:
        yield
    finally:
        config.fns = {int(key): value for key, value in config.fns.items()}


# --- A1111's modules.gradio_extensons (its gradio-3 patches) ------------------------------------------
def add_classes_to_gradio_component(comp) -> None:
    """`gradio-<kind>` (and `multiselect`) in the component's classes, for A1111's style sheets."""
    comp.elem_classes = [f"gradio-{comp.get_block_name()}", *(comp.elem_classes or [])]
    if getattr(comp, "multiselect", False):
        comp.elem_classes.append("multiselect")


_NO_IOCOMPONENT = ("gradio 6 has no IOComponent (A1111 patched gradio 3's IOComponent/BlockContext __init__ to call "
                   "the before/after component callbacks); here every component's construction already calls them "
                   "(gradio_compat.install), so there is no init to call or wrap")


def IOComponent_init(self, *args, **kwargs):
    raise RuntimeError(_NO_IOCOMPONENT)


def BlockContext_init(self, *args, **kwargs):
    raise RuntimeError(_NO_IOCOMPONENT)


original_IOComponent_init = None        # no such class in gradio 6 (see IOComponent_init)
original_BlockContext_init = None
original_Block_get_config = Block.get_config
original_Blocks_get_config_file = gr.Blocks.get_config_file


def Block_get_config(self, *args, **kwargs) -> dict:
    """A block's config as A1111's patch made it: with `webui_tooltip`, without `example_inputs`."""
    config = original_Block_get_config(self, *args, **kwargs)
    tooltip = getattr(self, "webui_tooltip", None)
    if tooltip:
        config["webui_tooltip"] = tooltip
    config.pop("example_inputs", None)
    return config


def Blocks_get_config_file(self, *args, **kwargs) -> dict:
    config = original_Blocks_get_config_file(self, *args, **kwargs)
    for component in config.get("components", []):
        if "example_inputs" in component:
            component["example_inputs"] = {"serialized": []}
    return config
