"""sd-webui-controlnet's routes (API version 3): /controlnet/version, model_list, module_list,
control_types, settings, detect and render_openpose_json, with its response shapes."""
from __future__ import annotations

import base64
import io

import numpy as np

from fastapi import Body, FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

import controlnet_registry as registry
from controlnet_types import control_types, module_list
from controlnet_units import UnitArgs, detect_map, prepare_module
from modules import script_callbacks
from sdwebui.engine.control.preprocess import INPAINT, IP_ADAPTER, find
from sdwebui.services.generation_requests import decode_base64_image

API_VERSION = 3


def _png_b64(array) -> str:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def run_detect(body: dict) -> dict:
    name = body.get("controlnet_module", "none")
    try:
        name = find(name).name
    except ValueError:
        raise HTTPException(422, "Module not available") from None
    if name in IP_ADAPTER:
        raise HTTPException(422, "Module not supported: an IP-Adapter module gives a CLIP embedding, not a map")
    images = body.get("controlnet_input_images") or body.get("controlnet_images") or []
    if not images:
        raise HTTPException(422, "No image selected")
    unit = UnitArgs(module=name, processor_res=body["controlnet_processor_res"],
                    threshold_a=body["controlnet_threshold_a"], threshold_b=body["controlnet_threshold_b"])
    try:
        pre = prepare_module(unit)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    masks = body.get("controlnet_masks") or []
    if pre.name in INPAINT and len(masks) != len(images):
        raise HTTPException(422, f"Preprocessor {pre.label} requires `controlnet_masks` param.")
    out = []
    try:
        for i, data in enumerate(images):
            image = decode_base64_image(data, f"controlnet_input_images.{i}")
            mask = None
            if pre.name in INPAINT:
                mask = np.asarray(decode_base64_image(masks[i], f"controlnet_masks.{i}").convert("L")
                                  .resize(image.size), dtype=np.uint8)
            out.append(_png_b64(detect_map(pre, unit, image, mask)))
    except ValueError as e:        # a picture that does not decode
        raise HTTPException(422, str(e)) from None
    return {"images": out, "info": "Success"}


class VersionResponse(BaseModel):
    version: int = Field(description="sd-webui-controlnet's API version")


class ModelListResponse(BaseModel):
    model_list: list[str] = Field(description='"None", then each model as "name [hash]"')


class ModuleListResponse(BaseModel):
    module_list: list[str]
    module_detail: dict[str, dict] = Field(description="per module: model_free, and its sliders")


class ControlTypesResponse(BaseModel):
    control_types: dict[str, dict] = Field(description="per control type: module_list, model_list, "
                                                       "default_option, default_model")


class SettingsResponse(BaseModel):
    control_net_unit_count: int


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    controlnet_module: str = "none"
    controlnet_input_images: list[str] = Field(default_factory=list, description="base64 pictures")
    controlnet_processor_res: int = -1
    controlnet_threshold_a: float = -1
    controlnet_threshold_b: float = -1
    controlnet_masks: list[str] | None = None
    low_vram: bool = False
    controlnet_images: list[str] | None = Field(default=None, description="webuiapi's name for the pictures")


class DetectResponse(BaseModel):
    images: list[str]
    info: str


class PosePerson(BaseModel):
    pose_keypoints_2d: list[float]
    hand_right_keypoints_2d: list[float] | None = None
    hand_left_keypoints_2d: list[float] | None = None
    face_keypoints_2d: list[float] | None = None


class PoseData(BaseModel):
    people: list[PosePerson]
    canvas_width: int = Field(gt=0, le=4096)
    canvas_height: int = Field(gt=0, le=4096)


# a script module is not importable by its name ("controlnet_api.py"): pydantic resolves the
# postponed annotation of PoseData.people from this namespace instead
PoseData.model_rebuild(_types_namespace={"PosePerson": PosePerson})


class RenderResponse(BaseModel):
    images: list[str] | None = None
    info: str


def render_poses(poses: list[PoseData]) -> dict:
    from sdwebui.engine.control.openpose_render import render

    if not poses:
        return {"info": "No pose data detected."}
    images = []
    for i, pose in enumerate(poses):
        try:
            drawn = render([person.model_dump() for person in pose.people], pose.canvas_width, pose.canvas_height)
        except ValueError as e:
            raise HTTPException(422, f"pose {i}: {e}") from None
        images.append(_png_b64(drawn))
    return {"images": images, "info": "Success"}


def on_app_started(_demo, app: FastAPI) -> None:
    @app.get("/controlnet/version", response_model=VersionResponse)
    async def version():
        return {"version": API_VERSION}

    @app.get("/controlnet/model_list", response_model=ModelListResponse)
    async def model_list(update: bool = True):
        names = await run_in_threadpool(registry.refresh if update else registry.names)
        return {"model_list": names}

    @app.get("/controlnet/module_list", response_model=ModuleListResponse)
    async def modules(alias_names: bool = False):
        return module_list(alias_names)

    @app.get("/controlnet/control_types", response_model=ControlTypesResponse)
    async def types():
        return await run_in_threadpool(control_types)

    @app.get("/controlnet/settings", response_model=SettingsResponse)
    async def settings():
        return {"control_net_unit_count": registry.unit_count()}

    @app.post("/controlnet/detect", response_model=DetectResponse)
    async def detect_route(body: DetectRequest):
        return await run_in_threadpool(run_detect, body.model_dump())

    @app.post("/controlnet/render_openpose_json", response_model=RenderResponse, response_model_exclude_none=True)
    async def render_openpose_json(poses: list[PoseData] = Body([], title="Pose json files to render.")):
        return await run_in_threadpool(render_poses, poses)


script_callbacks.on_app_started(on_app_started)
