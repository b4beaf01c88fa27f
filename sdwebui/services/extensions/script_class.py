"""The base class of A1111's scripts: an extension's `scripts/*.py` subclasses `Script` (through
`modules.scripts`), overriding `title`, `show`, `ui` and the hooks it needs; and how a script's
failure is reported on its extension."""
from __future__ import annotations

import logging
import re

from sdwebui.engine.hooks import (MaskBlendArgs, PostProcessMaskOverlayArgs,  # noqa: F401 (A1111 names)
                                 PostprocessBatchListArgs, PostprocessImageArgs, PostSampleArgs)
from sdwebui.services.extensions import discovery

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


class OnComponent:
    """What an `on_before_component` / `on_after_component` callback of a script receives."""

    def __init__(self, component):
        self.component = component


def report_script_error(script: Script | type, where: str, exc: BaseException, filename: str | None = None) -> None:
    """Log a script's failure and list it on its extension (the Extensions tab shows it)."""
    title = safe_title(script) if isinstance(script, Script) else script.__name__
    filename = filename or getattr(script, "filename", None) or ""
    logger.exception("error in %s of script %s (%s)", where, title, filename)
    try:
        ext = discovery.extension_for_path(filename)
        if ext is not None:
            ext.report_error(f"{where} of '{title}': {type(exc).__name__}: {exc}")
    except Exception:
        pass


def safe_title(script: Script) -> str:
    """The script's title, or its class name when title() fails."""
    try:
        return script.title()
    except Exception:
        return type(script).__name__

