"""What the app and a cluster worker both start with: the shared services from the flags, the
extensions' scripts and options, and (without the UI) the scripts' argument spans. The app assembly
(app.py) adds HTTP and the UI; a worker (cluster/worker.py) serves jobs only."""
from __future__ import annotations

import argparse

from sdwebui.services import runtime as shared, shared_items
from sdwebui.services.extensions import callbacks as script_callbacks, scripts


def prepare_services(ns: argparse.Namespace, *, persist_settings: bool = True) -> None:
    """The shared services from the flags, then the extensions' scripts and options: what the app and
    a cluster worker (which serves no HTTP) both start with."""
    from sdwebui.services.util import startup_timer

    shared.initialize(ns, face_restorer_choices=shared_items.face_restorer_names, persist_settings=persist_settings)
    startup_timer.record("initialize shared")
    load_extensions()
    startup_timer.record("load scripts")


def prepare_api_scripts() -> None:
    """Without the UI: the scripts' argument spans and defaults (for script_args / alwayson_scripts),
    and A1111's before_ui callbacks, where extensions register their extra-network tag handlers (the
    Lora built-in's <lora>/<lyco>) that generation activates."""
    for runner in (scripts.scripts_txt2img, scripts.scripts_img2img):
        runner.ensure_ui()
    script_callbacks.before_ui_callback()


def load_extensions() -> None:
    """Extensions' scripts and the options they add (before the UI and the API read the options)."""
    from sdwebui.services.extensions import discovery as extensions, manager as extension_manager
    from sdwebui.interfaces.ui import gradio_compat
    from sdwebui.services import face_restorers, generation
    from sdwebui.services.models import upscalers as upscaler_classes

    gradio_compat.install()
    extension_manager.restore_pending_config_state()   # A1111's restore_config_state_file, before they load
    extensions.list_extensions()
    face_restorers.setup_face_restorers()   # GFPGAN and CodeFormer in shared.face_restorers, as A1111 at start
    generation.face_restorer_factory = face_restorers.prepare_restore_faces   # txt2img/img2img's restore_faces
    scripts.load_scripts()
    # the Script instances first: some extensions register their callbacks in Script.__init__
    # (sd-dynamic-prompts registers its settings there)
    scripts.initialize_runners()
    script_callbacks.ui_settings_callback()
    upscaler_classes.load_upscalers()      # extensions' Upscaler subclasses join shared.sd_upscalers


