"""sd-webui-controlnet's routes (API version 3): /controlnet/version, model_list, module_list,
control_types, settings and detect, with its response shapes."""
from __future__ import annotations

import base64
import io

from fastapi import Body, FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool

import controlnet_registry as registry
from controlnet_types import control_types
from controlnet_units import UnitArgs, clamp_sliders, to_rgb_array
from modules import script_callbacks
from sdwebui.engine.control.preprocess import check_weights, detect, find, ordered
from sdwebui.services.generation_requests import decode_base64_image

API_VERSION = 3


def module_list(alias_names: bool = False) -> dict:
    """Names (or, with alias_names, the UI's labels) in the extension's order, and each one's
    sliders and whether it needs a ControlNet model."""
    listed = ordered()
    name = (lambda p: p.label) if alias_names else (lambda p: p.name)
    return {"module_list": [name(p) for p in listed],
            "module_detail": {name(p): {"model_free": p.model_free, "sliders": [s.as_dict() for s in p.sliders]}
                              for p in listed}}


def _png_b64(array) -> str:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def run_detect(body: dict) -> dict:
    name = body.get("controlnet_module", "none")
    try:
        pre = find(name)
    except ValueError:
        raise HTTPException(422, "Module not available") from None
    images = body.get("controlnet_input_images") or body.get("controlnet_images") or []
    if not images:
        raise HTTPException(422, "No image selected")
    try:
        check_weights(pre, registry.annotator_dir())
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    unit = UnitArgs(module=pre.name, processor_res=int(body.get("controlnet_processor_res", -1)),
                    threshold_a=float(body.get("controlnet_threshold_a", -1)),
                    threshold_b=float(body.get("controlnet_threshold_b", -1)))
    clamp_sliders(unit)
    out = []
    for i, data in enumerate(images):
        image = decode_base64_image(data, f"controlnet_input_images.{i}")
        out.append(_png_b64(detect(pre, to_rgb_array(image), unit.processor_res, unit.threshold_a, unit.threshold_b)))
    return {"images": out, "info": "Success"}


def on_app_started(_demo, app: FastAPI) -> None:
    @app.get("/controlnet/version")
    async def version():
        return {"version": API_VERSION}

    @app.get("/controlnet/model_list")
    async def model_list(update: bool = True):
        names = await run_in_threadpool(registry.refresh if update else registry.names)
        return {"model_list": names}

    @app.get("/controlnet/module_list")
    async def modules(alias_names: bool = False):
        return module_list(alias_names)

    @app.get("/controlnet/control_types")
    async def types():
        return await run_in_threadpool(control_types)

    @app.get("/controlnet/settings")
    async def settings():
        return {"control_net_unit_count": registry.unit_count()}

    @app.post("/controlnet/detect")
    async def detect_route(body: dict = Body(...)):
        return await run_in_threadpool(run_detect, body)


script_callbacks.on_app_started(on_app_started)
