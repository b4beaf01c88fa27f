"""Shows, for each generation from the UI, the JSON that reproduces it through the API.

How the payload reaches the right browser tab: the script's only argument is a gr.State holding
a random token, made anew for every page load, so the generation's process() hook (on the queue
worker, where there is no request) files the payload under the token of the tab that asked for it.
When that tab's infotext changes (the job has finished) the tab fetches the payload for its token.
"""
from __future__ import annotations

import base64
import collections
import enum
import io
import json
import math
import threading
import uuid

import gradio as gr

from modules import script_callbacks, scripts, shared
from modules.api import models
from modules.processing import StableDiffusionProcessingImg2Img

TITLE = "API payload"
PLACEHOLDER = "base64image placeholder"
# fields the API accepts that describe the response or the API call itself, not the image
SKIPPED = {"sampler_index", "send_images", "save_images", "script_name", "script_args", "alwayson_scripts",
           "force_task_id", "infotext", "firstphase_width", "firstphase_height", "include_init_images"}
KEEP = 256   # payloads kept, newest first out; one per browser tab that generated recently

_payloads: "collections.OrderedDict[str, str]" = collections.OrderedDict()
_lock = threading.Lock()


def _remember(token: str, text: str) -> None:
    with _lock:
        _payloads[token] = text
        _payloads.move_to_end(token)
        while len(_payloads) > KEEP:
            _payloads.popitem(last=False)


def _recall(token: str | None) -> str:
    with _lock:
        return _payloads.get(token or "", "")


def _image(value, with_images: bool):
    if not with_images:
        return PLACEHOLDER
    buf = io.BytesIO()
    value.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def jsonable(value, with_images: bool = False):
    """Script args and p fields as JSON: images as placeholders (or base64), numpy arrays as
    images, enums by value, objects by their fields, inf/nan as null."""
    from PIL import Image

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Image.Image):
        return _image(value, with_images)
    if isinstance(value, enum.Enum):
        return jsonable(value.value, with_images)
    if isinstance(value, dict):
        return {str(k): jsonable(v, with_images) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v, with_images) for v in value]
    if type(value).__module__ == "numpy":
        if getattr(value, "ndim", 0) >= 2:
            return _image(Image.fromarray(value), with_images)
        return jsonable(value.tolist(), with_images)
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(), with_images)
    if hasattr(value, "__dict__"):
        return jsonable(vars(value), with_images)
    return str(value)


def payload_for(p) -> dict:
    """The request body for POST /sdapi/v1/txt2img or /img2img that makes the images of `p`."""
    with_images = bool(getattr(shared.opts, "api_display_include_base64_images", False))
    img2img = isinstance(p, StableDiffusionProcessingImg2Img)
    model = models.StableDiffusionImg2ImgProcessingAPI if img2img else models.StableDiffusionTxt2ImgProcessingAPI
    args = list(p.script_args or [])
    out: dict = {}
    runner = p.scripts
    if runner is not None and args and args[0]:
        script = runner.selectable_scripts[args[0] - 1]
        out["script_name"] = script.title().lower()
        out["script_args"] = jsonable(args[script.args_from:script.args_to], with_images)
    if runner is not None:
        always = {s.title(): {"args": jsonable(args[s.args_from:s.args_to], with_images)}
                  for s in runner.alwayson_scripts if s.title() != TITLE}
        if always:
            out["alwayson_scripts"] = always
    for name in model.model_fields:
        if name in SKIPPED or name in out or not hasattr(p, name):
            continue
        value = getattr(p, name)
        if value is None:
            continue
        out[name] = jsonable(value, with_images)
    # the seeds that were used, so the payload makes the same image (p.seed may still be -1)
    if getattr(p, "all_seeds", None):
        out["seed"] = int(p.all_seeds[0])
    if getattr(p, "all_subseeds", None):
        out["subseed"] = int(p.all_subseeds[0])
    for key in ("seed_resize_from_w", "seed_resize_from_h"):
        if out.get(key, -1) <= 0:
            out[key] = -1
    override = dict(out.get("override_settings") or {})
    checkpoint = getattr(getattr(p, "sd_model", None), "sd_checkpoint_info", None)
    if checkpoint is not None:
        override.setdefault("sd_model_checkpoint", checkpoint.title)
    out["override_settings"] = override
    if img2img:
        out["init_images"] = [_image(im, with_images) for im in (p.init_images or [])]
        if getattr(p, "image_mask", None) is not None:
            out["mask"] = _image(p.image_mask, with_images)
    return out


class Script(scripts.Script):
    def title(self):
        return TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        tab = "img2img" if is_img2img else "txt2img"
        token = gr.State(lambda: uuid.uuid4().hex)
        with gr.Accordion(TITLE, open=False, elem_id=f"{tab}_api_payload", elem_classes=["builtin-api-payload"]):
            code = gr.Code(value="", language="json", label=f"POST /sdapi/v1/{tab}", interactive=False,
                           buttons=["copy"], elem_id=f"{tab}_api_payload_json", lines=8)

        def attach(event):
            # the tab's infotext changes when its job has finished: then fetch that job's payload
            event.component.change(_recall, [token], [code], show_progress="hidden", queue=False)

        self.on_after_component(attach, elem_id=f"html_info_{tab}")
        return [token]

    def process(self, p, token=None):
        if not token:
            return
        try:
            text = json.dumps(payload_for(p), indent=2, sort_keys=True, allow_nan=False)
        except Exception as e:   # never fail the user's generation over the display
            text = json.dumps({"error": f"could not build the payload: {type(e).__name__}: {e}"})
        _remember(token, text)


def on_ui_settings():
    shared.opts.add_option("api_display_include_base64_images", shared.OptionInfo(
        False, "Include base64 images in the payload", gr.Checkbox, {"interactive": True},
        section=("api_display", "API Display")))


script_callbacks.on_ui_settings(on_ui_settings)
