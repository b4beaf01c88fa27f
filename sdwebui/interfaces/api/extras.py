"""The Extras routes (/sdapi/v1/extra-single-image, extra-batch-images): A1111's run_extras with
nothing saved, the request's `scripts` reaching the other postprocessing scripts by name. The job is
one function of the request, so a cluster worker runs the same one (interfaces/cluster/worker.py)."""
from __future__ import annotations

from typing import Callable

from PIL import Image
from starlette.concurrency import run_in_threadpool

from sdwebui.engine.images import metadata as images_mod
from sdwebui.interfaces.api import models
from sdwebui.interfaces.api.jobs import run_job
from sdwebui.services import postprocessing, runtime as shared
from sdwebui.services.extensions.postprocessing_runner import PostprocessingArgsError, scripts_postproc
from sdwebui.services.generation_requests import decode_base64_image
from sdwebui.services.request_errors import field_error

REQUEST_MODELS = {"single": models.ExtrasSingleImageRequest, "batch": models.ExtrasBatchImagesRequest}


def encode_with_info(image: Image.Image) -> str:
    """Extras results keep the source's text chunks (its `parameters` and the `postprocessing` info)."""
    opts = shared.opts
    texts = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    infotext = texts.pop("parameters", None)
    return images_mod.encode_b64(image, opts.samples_format, infotext=infotext, jpeg_quality=opts.jpeg_quality,
                                 webp_lossless=opts.webp_lossless, existing_pnginfo=texts)


def extras_job(kind: str, req: models.ExtrasBaseRequest) -> Callable[[], tuple[list[Image.Image], str]]:
    """Check the request (its images decoded, its scripts' arguments: 4xx naming the field) and return
    the job that runs it: (images, html)."""
    try:
        scripts_args = scripts_postproc.args_by_name(req.scripts, "scripts")
    except PostprocessingArgsError as e:
        raise field_error(e.field, str(e)) from None
    if kind == "batch":
        if not req.imageList:
            raise field_error("imageList", "send at least one image")
        mode, image = postprocessing.MODE_BATCH, None
        images = [decode_base64_image(f.data, f"imageList.{i}.data") for i, f in enumerate(req.imageList)]
    else:
        mode, image, images = postprocessing.MODE_SINGLE, decode_base64_image(req.image, "image"), []

    def job() -> tuple[list[Image.Image], str]:
        out, html, _ = postprocessing.run_extras(
            extras_mode=mode, resize_mode=req.resize_mode, image=image, image_folder=images, input_dir="",
            output_dir="", show_extras_results=req.show_extras_results, gfpgan_visibility=req.gfpgan_visibility,
            codeformer_visibility=req.codeformer_visibility, codeformer_weight=req.codeformer_weight,
            upscaling_resize=req.upscaling_resize, upscaling_resize_w=req.upscaling_resize_w,
            upscaling_resize_h=req.upscaling_resize_h, upscaling_crop=req.upscaling_crop,
            extras_upscaler_1=req.upscaler_1, extras_upscaler_2=req.upscaler_2,
            extras_upscaler_2_visibility=req.extras_upscaler_2_visibility, upscale_first=req.upscale_first,
            save_output=False, max_side_length=req.max_side_length, scripts_args=scripts_args)
        return out, html

    return job


class ExtrasRoutes:
    """Api's handlers for the extra-* routes."""

    async def _extras(self, kind: str, req: models.ExtrasBaseRequest) -> tuple[list[str], str]:
        job = await run_in_threadpool(extras_job, kind, req)
        if shared.cluster is not None:      # on a worker (the checks above are the same as there)
            result = await shared.cluster.run_extras("extras", {"mode": kind, "request": req.model_dump()},
                                                     dict(shared.opts.data))
            return result["images"], result["html"]
        out, html = await run_job(job, name="extras")
        encoded = await run_in_threadpool(lambda: [encode_with_info(im) for im in out])
        return encoded, html

    async def extras_single(self, req: models.ExtrasSingleImageRequest) -> dict:
        encoded, html = await self._extras("single", req)
        return {"html_info": html, "image": encoded[0] if encoded else None}

    async def extras_batch(self, req: models.ExtrasBatchImagesRequest) -> dict:
        encoded, html = await self._extras("batch", req)
        return {"html_info": html, "images": encoded}
