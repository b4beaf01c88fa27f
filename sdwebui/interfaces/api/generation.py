"""The routes that queue image work: txt2img, img2img and extras (extra-single-image,
extra-batch-images), and how their images are encoded into the response."""
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
from sdwebui.services import postprocessing
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services.extensions.postprocessing_runner import PostprocessingArgsError, scripts_postproc
from sdwebui.services.generation_requests import decode_base64_image, img2img_processing, processing_args
from sdwebui.services.queue import new_task_id
from sdwebui.services.request_errors import field_error

logger = logging.getLogger(__name__)


def encode_for_response(image: Image.Image, infotext: str | None) -> str:
    """A generated image in base64, in the samples format, with its infotext when enable_pnginfo is on."""
    opts = shared.opts
    return images_mod.encode_b64(image, opts.samples_format, infotext=infotext if opts.enable_pnginfo else None,
                                 jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless)


def _encode_with_info(image: Image.Image) -> str:
    """Extras results keep the source's text chunks (its `parameters` and the `postprocessing` info)."""
    opts = shared.opts
    texts = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    infotext = texts.pop("parameters", None)
    return images_mod.encode_b64(image, opts.samples_format, infotext=infotext, jpeg_quality=opts.jpeg_quality,
                                 webp_lossless=opts.webp_lossless, existing_pnginfo=texts)


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

    result = await await_unless_abandoned(job, request, drop)
    return {"images": result["images"] if req.send_images else [], "parameters": params, "info": result["info"]}


class GenerationRoutes:
    """Api's handlers for /sdapi/v1/txt2img, img2img and the extra-* routes."""

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

    async def _extras(self, req: models.ExtrasBaseRequest, mode: int, image: Any,
                      images: list[Image.Image]) -> tuple[list[str], str]:
        """The Extras job as A1111's API runs it (run_extras, nothing saved); the request's
        `scripts` reach the other postprocessing scripts by name."""
        try:
            scripts_args = await run_in_threadpool(lambda: scripts_postproc.args_by_name(req.scripts, "scripts"))
        except PostprocessingArgsError as e:
            raise field_error(e.field, str(e)) from None

        def job() -> tuple[list[Image.Image], str, str]:
            return postprocessing.run_extras(
                extras_mode=mode, resize_mode=req.resize_mode, image=image, image_folder=images, input_dir="",
                output_dir="", show_extras_results=req.show_extras_results, gfpgan_visibility=req.gfpgan_visibility,
                codeformer_visibility=req.codeformer_visibility, codeformer_weight=req.codeformer_weight,
                upscaling_resize=req.upscaling_resize, upscaling_resize_w=req.upscaling_resize_w,
                upscaling_resize_h=req.upscaling_resize_h, upscaling_crop=req.upscaling_crop,
                extras_upscaler_1=req.upscaler_1, extras_upscaler_2=req.upscaler_2,
                extras_upscaler_2_visibility=req.extras_upscaler_2_visibility, upscale_first=req.upscale_first,
                save_output=False, max_side_length=req.max_side_length, scripts_args=scripts_args)

        out, html, _ = await run_job(job, name="extras")
        encoded = await run_in_threadpool(lambda: [_encode_with_info(im) for im in out])
        return encoded, html

    async def extras_single(self, req: models.ExtrasSingleImageRequest) -> dict:
        image = decode_base64_image(req.image, "image")
        encoded, html = await self._extras(req, postprocessing.MODE_SINGLE, image, [])
        return {"html_info": html, "image": encoded[0] if encoded else None}

    async def extras_batch(self, req: models.ExtrasBatchImagesRequest) -> dict:
        if not req.imageList:
            raise field_error("imageList", "send at least one image")
        images = [decode_base64_image(f.data, f"imageList.{i}.data") for i, f in enumerate(req.imageList)]
        encoded, html = await self._extras(req, postprocessing.MODE_BATCH, None, images)
        return {"html_info": html, "images": encoded}
