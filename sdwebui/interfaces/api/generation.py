"""The routes that queue generation: txt2img and img2img, and how their images are encoded into the
response (the Extras routes: extras.py)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import Request
from PIL import Image
from starlette.concurrency import run_in_threadpool

from sdwebui.engine.images import metadata as images_mod
from sdwebui.engine.processing.txt2img import StableDiffusionProcessingTxt2Img
from sdwebui.interfaces.api import models
from sdwebui.interfaces.api.jobs import await_unless_abandoned, run_job
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services.generation_requests import img2img_processing, processing_args
from sdwebui.services.queue import new_task_id
from sdwebui.services.request_errors import field_error

logger = logging.getLogger(__name__)


def encode_for_response(image: Image.Image, infotext: str | None) -> str:
    """A generated image in base64, in the samples format, with its infotext when enable_pnginfo is on."""
    opts = shared.opts
    return images_mod.encode_b64(image, opts.samples_format, infotext=infotext if opts.enable_pnginfo else None,
                                 jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless)


def _run_from_thread(coroutine: Any, name: str) -> Any:
    """Run a handler's coroutine to its end from a thread that has no event loop (the job itself
    runs on the queue's worker, as every job does)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    coroutine.close()
    raise RuntimeError(f"Api.{name} waits for the generation queue: call it from a thread of your own, not from "
                       "the server's event loop (or await the async route handler instead)")


REQUEST_MODELS = {"txt2img": models.StableDiffusionTxt2ImgProcessingAPI,
                  "img2img": models.StableDiffusionImg2ImgProcessingAPI}


def build_processing(kind: str, req: models.StableDiffusionProcessingAPI):
    """The processing object of a txt2img or img2img request, checked (4xx naming the field): the same
    on one box and on a cluster worker, which rebuilds it from the request's fields."""
    if kind == "img2img":
        if not req.init_images:
            raise field_error("init_images", "img2img needs at least one image in init_images (base64 or data: URL)")
        p = img2img_processing(req, processing_args(req, "img2img"))
    else:
        p = StableDiffusionProcessingTxt2Img(**processing_args(req, "txt2img"))
    p.outpath_samples = getattr(shared.opts, f"outdir_{kind}_samples")
    p.do_not_save_samples = p.do_not_save_grid = not req.save_images
    p.is_api = True
    return p


def encode_images(req: models.StableDiffusionProcessingAPI, processed) -> list[str]:
    """The response's images: every image, as A1111 sends them (a script may append images of its own
    after the generated ones, ControlNet's detected maps, with no infotext of theirs)."""
    if not req.send_images:
        return []
    texts = list(processed.infotexts)
    return [encode_for_response(im, texts[i] if i < len(texts) else None) for i, im in enumerate(processed.images)]


def response_parameters(kind: str, req: models.StableDiffusionProcessingAPI) -> dict:
    params = req.model_dump()
    if kind == "img2img" and not req.include_init_images:
        params["init_images"] = None
        params["mask"] = None
    return params


async def run_remote(kind: str, req: Any, request: Request | None = None) -> dict:
    """Cluster mode: check the request here (the same 4xx as on one box, before anything is sent),
    run it on a worker, and answer with the worker's images and info."""
    build_processing(kind, req)        # the checks; the worker builds its own processing object
    params = response_parameters(kind, req)
    task_id = req.force_task_id or new_task_id(kind)
    job = asyncio.ensure_future(shared.cluster.run_request(kind, req, task_id))

    def drop() -> bool:     # a job still waiting for a worker (cancelling the call takes it out of Serve's queue)
        remote = shared.cluster.jobs.get(task_id)
        if job.done() or (remote is not None and remote.status != "queued"):
            return False
        return job.cancel()

    result = await await_unless_abandoned(job, request, drop)     # its images: encode_images, on the worker
    return {"images": result["images"], "parameters": params, "info": result["info"]}


class GenerationRoutes:
    """Api's handlers for /sdapi/v1/txt2img and img2img."""

    async def _generate(self, kind: str, req: models.StableDiffusionProcessingAPI,
                        request: Request | None = None) -> dict:
        if shared.cluster is not None:
            return await run_remote(kind, req, request)
        p = build_processing(kind, req)
        processed = await run_job(lambda: scripts_mod.run_processing(p), name=kind, task_id=req.force_task_id,
                                  request=request)
        images = await run_in_threadpool(encode_images, req, processed)
        return {"images": images, "parameters": response_parameters(kind, req), "info": processed.js()}

    async def txt2img(self, req: models.StableDiffusionTxt2ImgProcessingAPI,
                      request: Request = None) -> dict:  # type: ignore[assignment]  # FastAPI injects it
        return await self._generate("txt2img", req, request)

    async def img2img(self, req: models.StableDiffusionImg2ImgProcessingAPI,
                      request: Request = None) -> dict:  # type: ignore[assignment]  # FastAPI injects it
        return await self._generate("img2img", req, request)

    # A1111's synchronous handlers: extensions call them from their own threads (agent-scheduler runs
    # the API tasks of its queue so) and read the response model's fields
    def text2imgapi(self, txt2imgreq: models.StableDiffusionTxt2ImgProcessingAPI) -> models.TextToImageResponse:
        return models.TextToImageResponse(**_run_from_thread(self.txt2img(txt2imgreq), "text2imgapi"))

    def img2imgapi(self, img2imgreq: models.StableDiffusionImg2ImgProcessingAPI) -> models.ImageToImageResponse:
        return models.ImageToImageResponse(**_run_from_thread(self.img2img(img2imgreq), "img2imgapi"))
