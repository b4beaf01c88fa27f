"""The /sdapi/v1 routes (and /internal/*), on the same FastAPI app as the UI.

Generation endpoints are async: they validate, put a job on the shared queue and await it,
so a slow generation never occupies a threadpool slot and a client that goes away before
its job starts takes the job out of the queue.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import re
import secrets
import time
from typing import Any, Callable

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
import torch
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool

from sdwebui.engine.images import metadata as images_mod
from sdwebui.engine.images import infotext as infotext_mod
from sdwebui.engine.sampling import samplers
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.interfaces.api import models
from sdwebui.engine.models.single_file import CheckpointLoadError
from sdwebui.services.options.store import OptionError
from sdwebui.services.extensions.callbacks import ExtensionError
from sdwebui.engine.processing.txt2img import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img

logger = logging.getLogger(__name__)

SECRET_FLAGS = ("api_auth", "gradio_auth", "tls_keyfile", "ngrok")
# request fields that steer the API itself, not the processing object
API_ONLY_FIELDS = {"sampler_index", "script_name", "script_args", "send_images", "save_images", "alwayson_scripts",
                   "force_task_id", "infotext", "override_settings"}


def field_error(field: str | tuple[str, ...], message: str, status_code: int = 422) -> HTTPException:
    """A 4xx in FastAPI's validation-error shape, naming the field: "a.b.c", or a tuple of parts
    when a part may hold dots itself (a script title)."""
    loc = ["body", *(field if isinstance(field, tuple) else field.split("."))]
    return HTTPException(status_code=status_code, detail=[{"loc": loc, "msg": message, "type": "value_error"}])


def _error_from(e: BaseException) -> HTTPException | None:
    """A 4xx for the errors that mean "this request cannot be done as asked". They carry the
    request field they are about (SamplerError, ProcessingError, LoraError, UpscalerError ...)."""
    if isinstance(e, OptionError):
        return field_error(e.key, str(e), e.status_code)
    if isinstance(e, ValueError) and isinstance(getattr(e, "field", None), (str, tuple)):
        return field_error(e.field, str(e), getattr(e, "status_code", 422))
    if isinstance(e, torch.OutOfMemoryError) or (isinstance(e, RuntimeError) and "can't allocate memory" in str(e)):
        return HTTPException(status_code=507, detail=f"out of memory for this request ({str(e).splitlines()[0][:200]}); "
                                                     "try a smaller size, batch or model; the server keeps running")
    if isinstance(e, ExtensionError):   # the server's fault, but say exactly which extension failed
        return HTTPException(status_code=500, detail=str(e))
    if isinstance(e, CheckpointLoadError):
        return field_error("sd_model_checkpoint", f"{e}; the previous model is still loaded")
    return None


async def _client_gone(request: Request) -> None:
    """Returns when the client closes its connection. The request body has been read already, so
    the next ASGI message can only be http.disconnect (sent when the client goes away, or after
    the response)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def run_job(fn: Callable[[], Any], *, name: str, task_id: str | None = None,
                  request: Request | None = None) -> Any:
    job = shared.queue.submit(fn, task_id=task_id, name=name)
    waiter = asyncio.wrap_future(job.future)
    try:
        if request is not None:
            # uvicorn does not cancel a handler whose client disconnected, so the CancelledError
            # below never came for a real client that gave up (a timed-out script or bot): its
            # job stayed queued and ran for nobody. Watch the connection while the job waits.
            watcher = asyncio.ensure_future(_client_gone(request))
            try:
                await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if not waiter.done() and shared.queue.cancel(job.task_id):
                logger.info("client left before %s started; job dropped from the queue", job.task_id)
                raise HTTPException(status_code=499, detail="the client closed the request")
        return await waiter   # a job already running when its client left finishes normally
    except asyncio.CancelledError:
        shared.queue.cancel(job.task_id)  # the client left before the job started
        raise
    except Exception as e:
        err = _error_from(e)
        if err is not None:
            raise err from None
        raise


def decode_base64_image(data: str, field: str) -> Image.Image:
    if not isinstance(data, str) or not data:
        raise field_error(field, "expected a base64-encoded image")
    if data.startswith("data:image/"):
        data = data.split(";", 1)[1].split(",", 1)[-1]
    limit = shared.cmd_opts.max_image_pixels
    try:
        raw = base64.b64decode(data, validate=False)
        image = Image.open(io.BytesIO(raw))
        if image.width * image.height > limit:   # checked before decoding the pixels (decompression bombs)
            raise field_error(field, f"the image is {image.width}x{image.height}, more than the {limit} pixels "
                                     "this server accepts (--max-image-pixels)")
        image.load()
    except Image.DecompressionBombError:
        raise field_error(field, f"the image is larger than the {limit} pixels this server accepts") from None
    except (binascii.Error, ValueError):
        raise field_error(field, "invalid base64 data") from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise field_error(field, "the data is not an image PIL can read") from None
    return image


def processing_args(req: models.StableDiffusionProcessingAPI, exclude: set[str] = frozenset()) -> dict:
    """Checks shared by txt2img and img2img (before anything is queued), then the keyword
    arguments for the processing object."""
    sampler_name = req.sampler_name or req.sampler_index
    runner = scripts_mod.runner_for("img2img" if isinstance(req, models.StableDiffusionImg2ImgProcessingAPI)
                                    else "txt2img")
    try:
        script_args = runner.script_args_for(req.script_name, req.script_args, req.alwayson_scripts)
    except scripts_mod.ScriptArgsError as e:
        raise _error_from(e) from None
    limit = shared.cmd_opts.max_image_pixels
    if req.width * req.height > limit:
        raise field_error("width", f"{req.width}x{req.height} is more than the {limit} pixels this server "
                                   f"allows (--max-image-pixels)")
    if req.seed_resize_from_w * req.seed_resize_from_h > limit:
        raise field_error("seed_resize_from_w", f"{req.seed_resize_from_w}x{req.seed_resize_from_h} is more than "
                                                f"the {limit} pixels this server allows (--max-image-pixels)")
    try:
        samplers.resolve(sampler_name, req.scheduler)
        override = shared.opts.validate_many({k: v for k, v in (req.override_settings or {}).items()
                                              if k != "sd_model_checkpoint"})
    except (samplers.SamplerError, OptionError) as e:
        raise _error_from(e) from None
    ckpt = (req.override_settings or {}).get("sd_model_checkpoint")
    if ckpt:
        if shared.registry.match(str(ckpt)) is None:
            raise field_error("override_settings.sd_model_checkpoint",
                              f"checkpoint {ckpt!r} not found; available: "
                              f"{[c.title for c in shared.registry.list()]}", 404)
        override["sd_model_checkpoint"] = ckpt
    args = req.model_dump(exclude=API_ONLY_FIELDS | exclude)
    args["sampler_name"] = sampler_name
    args["override_settings"] = override
    args["scripts"] = runner
    args["script_args"] = script_args
    return args


def _credentials_match(username: str, password: str, credentials: dict[str, str]) -> bool:
    return username in credentials and secrets.compare_digest(password.encode(), credentials[username].encode())


def _auth_dependency(credentials: dict[str, str]):
    security = HTTPBasic(auto_error=False)

    def check(creds: HTTPBasicCredentials | None = Depends(security)) -> None:
        if creds is not None and _credentials_match(creds.username, creds.password, credentials):
            return
        raise HTTPException(status_code=401, detail="Incorrect username or password",
                            headers={"WWW-Authenticate": "Basic"})

    return check


AUTH_PREFIXES = ("/sdapi/", "/internal/")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def needs_api_auth(scope) -> bool:
    """Whether --api-auth applies to this request: every path under /sdapi and /internal, whoever
    added the route (built-in, or an extension in on_app_started), and even when no route exists."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):   # behind --subpath the path carries the root path
        path = path[len(root):]
    return path.startswith(AUTH_PREFIXES) or path in ("/sdapi", "/internal")


def basic_auth_ok(header: str | None, credentials: dict[str, str]) -> bool:
    """An `Authorization: Basic ...` header that matches one of the credentials."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return False
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return False
    return bool(sep) and _credentials_match(user, password, credentials)


def parse_credentials(value: str | None) -> dict[str, str]:
    out = {}
    for item in (value or "").split(","):
        item = item.strip()
        if ":" in item:
            user, password = item.split(":", 1)
            out[user] = password
    return out


def encode_for_response(image: Image.Image, infotext: str) -> str:
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


class Api:
    def __init__(self, app: FastAPI, *, sdapi: bool = True, internal: bool = True):
        self.app = app
        deps = []
        creds = parse_credentials(shared.cmd_opts.api_auth)
        if creds:
            deps.append(Depends(_auth_dependency(creds)))
        self.router = APIRouter(dependencies=deps)
        r = self.router.add_api_route
        if internal:
            r("/internal/ping", self.ping, methods=["GET"])
            r("/internal/pending-tasks", self.pending_tasks, methods=["GET"])
            r("/internal/progress", self.internal_progress, methods=["POST"])
        if sdapi:
            self._add_sdapi_routes(r)
        app.include_router(self.router)

    def _add_sdapi_routes(self, r) -> None:
        r("/sdapi/v1/txt2img", self.txt2img, methods=["POST"], response_model=models.TextToImageResponse)
        r("/sdapi/v1/img2img", self.img2img, methods=["POST"], response_model=models.ImageToImageResponse)
        r("/sdapi/v1/progress", self.progress, methods=["GET"], response_model=models.ProgressResponse)
        r("/sdapi/v1/interrupt", self.interrupt, methods=["POST"])
        r("/sdapi/v1/skip", self.skip, methods=["POST"])
        r("/sdapi/v1/options", self.get_options, methods=["GET"])
        r("/sdapi/v1/options", self.set_options, methods=["POST"])
        r("/sdapi/v1/cmd-flags", self.cmd_flags, methods=["GET"])
        r("/sdapi/v1/samplers", self.get_samplers, methods=["GET"], response_model=list[models.SamplerItem])
        r("/sdapi/v1/schedulers", self.get_schedulers, methods=["GET"], response_model=list[models.SchedulerItem])
        r("/sdapi/v1/sd-models", self.get_sd_models, methods=["GET"], response_model=list[models.SDModelItem])
        r("/sdapi/v1/refresh-checkpoints", self.refresh_checkpoints, methods=["POST"])
        r("/sdapi/v1/sd-vae", self.get_sd_vaes, methods=["GET"], response_model=list[models.SDVaeItem])
        r("/sdapi/v1/refresh-vae", self.refresh_vae, methods=["POST"])
        r("/sdapi/v1/unload-checkpoint", self.unload_checkpoint, methods=["POST"])
        r("/sdapi/v1/reload-checkpoint", self.reload_checkpoint, methods=["POST"])
        r("/sdapi/v1/png-info", self.pnginfo, methods=["POST"], response_model=models.PNGInfoResponse)
        r("/sdapi/v1/extra-single-image", self.extras_single, methods=["POST"],
          response_model=models.ExtrasSingleImageResponse)
        r("/sdapi/v1/extra-batch-images", self.extras_batch, methods=["POST"],
          response_model=models.ExtrasBatchImagesResponse)
        r("/sdapi/v1/loras", self.get_loras, methods=["GET"], response_model=list[models.LoraItem])
        r("/sdapi/v1/refresh-loras", self.refresh_loras, methods=["POST"])
        r("/sdapi/v1/upscalers", self.get_upscalers, methods=["GET"], response_model=list[models.UpscalerItem])
        r("/sdapi/v1/realesrgan-models", self.get_realesrgan, methods=["GET"],
          response_model=list[models.RealesrganItem])
        r("/sdapi/v1/latent-upscale-modes", self.latent_upscale_modes, methods=["GET"],
          response_model=list[models.LatentUpscalerModeItem])
        r("/sdapi/v1/sd-modules", self.empty_list, methods=["GET"], response_model=list[models.SDModuleItem])
        r("/sdapi/v1/hypernetworks", self.empty_list, methods=["GET"], response_model=list[models.HypernetworkItem])
        r("/sdapi/v1/face-restorers", self.empty_list, methods=["GET"], response_model=list[models.FaceRestorerItem])
        r("/sdapi/v1/prompt-styles", self.prompt_styles, methods=["GET"], response_model=list[models.PromptStyleItem])
        r("/sdapi/v1/embeddings", self.embeddings, methods=["GET"], response_model=models.EmbeddingsResponse)
        r("/sdapi/v1/refresh-embeddings", self.refresh_embeddings, methods=["POST"])
        r("/sdapi/v1/memory", self.memory, methods=["GET"], response_model=models.MemoryResponse)
        r("/sdapi/v1/scripts", self.scripts, methods=["GET"], response_model=models.ScriptsList)
        r("/sdapi/v1/script-info", self.script_info, methods=["GET"], response_model=list[models.ScriptInfo])
        r("/sdapi/v1/extensions", self.extensions, methods=["GET"], response_model=list[models.ExtensionItem])
        r("/sdapi/v1/interrogate", self.interrogate, methods=["POST"])
        if shared.cmd_opts.api_server_stop:
            r("/sdapi/v1/server-kill", self.server_kill, methods=["POST"])
            r("/sdapi/v1/server-restart", self.server_restart, methods=["POST"])
            r("/sdapi/v1/server-stop", self.server_stop, methods=["POST"])

    # generation --------------------------------------------------------------------------
    async def _generate(self, p, req: models.StableDiffusionProcessingAPI, name: str,
                        request: Request | None = None) -> Any:
        p.do_not_save_samples = p.do_not_save_grid = not req.save_images
        p.is_api = True
        return await run_job(lambda: scripts_mod.run_processing(p), name=name, task_id=req.force_task_id,
                             request=request)

    async def _images(self, req: models.StableDiffusionProcessingAPI, processed) -> list[str]:
        if not req.send_images:
            return []
        return await run_in_threadpool(
            lambda: [encode_for_response(im, txt) for im, txt in zip(processed.images, processed.infotexts)])

    async def txt2img(self, req: models.StableDiffusionTxt2ImgProcessingAPI,
                      request: Request = None) -> dict:  # type: ignore[assignment]  # FastAPI injects it
        p = StableDiffusionProcessingTxt2Img(**processing_args(req))
        p.outpath_samples = shared.opts.outdir_txt2img_samples
        processed = await self._generate(p, req, "txt2img", request)
        return {"images": await self._images(req, processed), "parameters": req.model_dump(), "info": processed.js()}

    async def img2img(self, req: models.StableDiffusionImg2ImgProcessingAPI,
                      request: Request = None) -> dict:  # type: ignore[assignment]  # FastAPI injects it
        if not req.init_images:
            raise field_error("init_images", "img2img needs at least one image in init_images (base64 or data: URL)")
        args = processing_args(req, {"init_images", "mask", "latent_mask", "include_init_images"})
        images = [decode_base64_image(b, f"init_images.{i}") for i, b in enumerate(req.init_images)]
        mask = decode_base64_image(req.mask, "mask") if req.mask else None
        latent_mask = decode_base64_image(req.latent_mask, "latent_mask") if req.latent_mask else None
        p = StableDiffusionProcessingImg2Img(init_images=images, mask=mask, latent_mask=latent_mask, **args)
        p.outpath_samples = shared.opts.outdir_img2img_samples
        processed = await self._generate(p, req, "img2img", request)
        params = req.model_dump()
        if not req.include_init_images:
            params["init_images"] = None
            params["mask"] = None
        return {"images": await self._images(req, processed), "parameters": params, "info": processed.js()}

    # progress ----------------------------------------------------------------------------
    async def progress(self, skip_current_image: bool = False) -> dict:
        state = shared.state
        if state.job_count == 0:
            return {"progress": 0, "eta_relative": 0, "state": state.dict(), "textinfo": state.textinfo}
        progress, eta = state.progress()
        current = None
        if not skip_current_image and state.current_image is not None:
            image = state.current_image
            current = await run_in_threadpool(images_mod.encode_b64, image, shared.opts.live_previews_image_format)
        return {"progress": progress, "eta_relative": eta, "state": state.dict(), "current_image": current,
                "textinfo": state.textinfo}

    async def interrupt(self) -> dict:
        shared.state.interrupt()
        return {}

    async def skip(self) -> None:
        shared.state.skip()

    async def internal_progress(self, req: models.ProgressRequest) -> dict:
        queue, state = shared.queue, shared.state
        active = req.id_task is not None and queue.current_task == req.id_task
        queued = req.id_task in queue.pending_ids() if req.id_task else False
        completed = queue.is_finished(req.id_task) if req.id_task else False
        if not active:
            pos = queue.position(req.id_task) if req.id_task else None
            text = "Waiting..." if pos is None else f"In queue: {pos + 1}/{len(queue.pending_ids())}"
            return {"active": False, "queued": queued, "completed": completed, "progress": None, "eta": None,
                    "live_preview": None, "id_live_preview": -1, "textinfo": text}
        progress, eta = state.progress()
        preview, preview_id = None, req.id_live_preview
        if req.live_preview and state.current_image is not None and state.id_live_preview != req.id_live_preview:
            fmt = shared.opts.live_previews_image_format
            data = await run_in_threadpool(images_mod.encode_b64, state.current_image, fmt)
            preview, preview_id = f"data:image/{fmt};base64,{data}", state.id_live_preview
        return {"active": True, "queued": False, "completed": False, "progress": progress, "eta": eta,
                "live_preview": preview, "id_live_preview": preview_id, "textinfo": state.textinfo}

    async def ping(self) -> dict:
        return {}

    async def pending_tasks(self) -> dict:
        ids = shared.queue.pending_ids()
        return {"size": len(ids), "tasks": ids}

    # options -----------------------------------------------------------------------------
    async def get_options(self) -> dict:
        return shared.opts.as_dict()

    async def set_options(self, body: dict[str, Any] = Body(..., description="option keys and their new values "
                                                                           "(the dict GET returns is accepted)")) -> None:
        from sdwebui.services.options.apply import FROZEN_MESSAGE, apply_settings

        _changed, error = await apply_settings(body, from_api=True)
        if error == FROZEN_MESSAGE:
            raise HTTPException(status_code=403, detail=error)
        if error is not None:
            key = error.split(":", 1)[0] if ":" in error.split(" ", 1)[0] else "body"
            raise field_error(key, error)
        return None

    async def cmd_flags(self) -> dict:
        out = {}
        for k, v in vars(shared.cmd_opts).items():
            if k in SECRET_FLAGS and v:
                v = "<hidden>"
            out[k] = v
        return out

    # lists -------------------------------------------------------------------------------
    async def get_samplers(self) -> list[dict]:
        return samplers.sampler_api_list()

    async def get_schedulers(self) -> list[dict]:
        return samplers.scheduler_api_list()

    async def get_sd_models(self) -> list[dict]:
        return [c.api_dict() for c in shared.registry.list()]

    async def refresh_checkpoints(self) -> None:
        await run_job(shared.registry.refresh, name="refresh-checkpoints")

    async def get_sd_vaes(self) -> list[dict]:
        return [v.api_dict() for v in shared.vae_registry.list()]

    async def refresh_vae(self) -> None:
        await run_job(shared.vae_registry.refresh, name="refresh-vae")

    async def unload_checkpoint(self) -> dict:
        await run_job(shared.model_manager.unload, name="unload-checkpoint")
        return {}

    async def reload_checkpoint(self) -> dict:
        await run_job(shared.ensure_model_loaded, name="reload-checkpoint")
        return {}

    async def _extras(self, req: models.ExtrasBaseRequest, images: list[Image.Image]) -> tuple[list[str], str]:
        from sdwebui.engine.processing.extras import ExtrasParams, run_extras

        params = ExtrasParams(**req.model_dump(include=set(ExtrasParams.__dataclass_fields__)))
        out, html = await run_job(lambda: run_extras(images, params, shared.upscalers), name="extras")
        encoded = await run_in_threadpool(lambda: [_encode_with_info(im) for im in out])
        return encoded, html

    async def extras_single(self, req: models.ExtrasSingleImageRequest) -> dict:
        image = decode_base64_image(req.image, "image")
        encoded, html = await self._extras(req, [image])
        return {"html_info": html, "image": encoded[0] if encoded else None}

    async def extras_batch(self, req: models.ExtrasBatchImagesRequest) -> dict:
        if not req.imageList:
            raise field_error("imageList", "send at least one image")
        images = [decode_base64_image(f.data, f"imageList.{i}.data") for i, f in enumerate(req.imageList)]
        encoded, html = await self._extras(req, images)
        return {"html_info": html, "images": encoded}

    async def get_loras(self) -> list[dict]:
        return [f.api_dict() for f in shared.loras.list()]

    async def refresh_loras(self) -> None:
        await run_job(shared.loras.refresh, name="refresh-loras")

    async def get_upscalers(self) -> list[dict]:
        return [{"name": u.name, "model_name": u.model_name, "model_path": u.model_path, "model_url": None,
                 "scale": u.scale} for u in shared.upscalers.list()]

    async def get_realesrgan(self) -> list[dict]:
        return [{"name": u.name, "path": u.model_path, "scale": int(u.scale)} for u in shared.upscalers.list()
                if u.model_name and "realesrgan" in u.model_name.lower().replace("-", "").replace(" ", "")]

    async def latent_upscale_modes(self) -> list[dict]:
        from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES

        return [{"name": name} for name in LATENT_UPSCALE_MODES]

    async def empty_list(self) -> list:
        """Features with nothing installed (face restorers, hypernetworks, UNet modules, scripts)."""
        return []

    async def prompt_styles(self) -> list[dict]:
        return shared.prompt_styles.api_list()

    async def embeddings(self) -> dict:
        def listing() -> dict:
            shared.embeddings.refresh(shared.model_manager.sd_model)
            return shared.embeddings.api_dict()
        return await run_job(listing, name="embeddings")

    async def refresh_embeddings(self) -> None:
        await run_job(lambda: shared.embeddings.refresh(shared.model_manager.sd_model, force=True),
                      name="refresh-embeddings")

    async def memory(self) -> dict:
        from sdwebui.services.memory import memory_report

        return await run_in_threadpool(memory_report)

    async def scripts(self) -> dict:
        """Lower-case titles of every script on each tab (selectable and always-on), as A1111."""
        return {runner.tabname: [s.name for s in runner.scripts if s.name]
                for runner in (scripts_mod.scripts_txt2img, scripts_mod.scripts_img2img)}

    async def script_info(self) -> list[dict]:
        out = []
        for runner in (scripts_mod.scripts_txt2img, scripts_mod.scripts_img2img):
            runner.ensure_ui()
            out.extend(scripts_mod.json_safe(s.api_info) for s in runner.scripts if s.api_info)
        return out

    async def extensions(self) -> list[dict]:
        from sdwebui.services.extensions import discovery as extensions

        return await run_in_threadpool(extensions.api_list)

    async def interrogate(self, req: models.InterrogateRequest) -> dict:
        if req.model not in ("clip", "deepdanbooru"):
            raise field_error("model", f"unknown interrogator {req.model!r}; A1111's are 'clip' and 'deepdanbooru'")
        decode_base64_image(req.image, "image")
        raise HTTPException(status_code=501, detail=f"no {req.model} interrogator is installed on this server "
                                                    "(its model weights cannot be downloaded offline)")

    async def server_kill(self) -> None:
        import os

        os._exit(0)

    async def server_restart(self):
        import os

        if os.environ.get("SD_WEBUI_RESTART") != "1":
            raise HTTPException(status_code=501, detail="restart needs the server started by webui.sh")
        marker = shared.paths.tmp / "restart"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        shared.request_server_stop()
        return None

    async def server_stop(self):
        from fastapi.responses import PlainTextResponse

        shared.request_server_stop()
        return PlainTextResponse("Stopping.")

    async def pnginfo(self, req: models.PNGInfoRequest) -> dict:
        if not req.image.strip():
            return {"info": "", "items": {}, "parameters": {}}
        image = decode_base64_image(req.image, "image")
        text, items = images_mod.read_info(image)
        text = text or ""
        styles = list(shared.prompt_styles.styles.values()) if shared.prompt_styles else None
        params = infotext_mod.parse(text, styles=styles, infotext_styles=shared.opts.infotext_styles)
        return {"info": text, "items": items, "parameters": params}


def error_message(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg', '')}"
                         if isinstance(d, dict) else str(d) for d in detail)
    return str(detail or "")


MAX_BODY_BYTES = 192 * 2**20   # a 4096x4096 PNG in base64 is at most ~70 MB; a few of them fit


class BodySizeLimit:
    """Answer 413 to a request body over MAX_BODY_BYTES, by its Content-Length or while it streams in,
    instead of reading it all into memory."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send) -> None:
        body = (b'{"error":"RequestTooLarge","detail":"the request body is larger than '
                + str(self.limit).encode() + b' bytes","body":"","errors":"413: request body too large"}')
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def install_middleware(app: FastAPI) -> None:
    """X-Process-Time on every response, --api-log lines, A1111's error body, and errors that never
    crash the server."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    api_log = shared.cmd_opts.api_log
    app.add_middleware(BodySizeLimit)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError) -> JSONResponse:
        # FastAPI's 422 shape as A1111 clients know it ({"detail": [{loc, msg, type}]}); the offending
        # input is not echoed back (it may be huge, or NaN, which JSON cannot carry)
        detail = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
                  for err in e.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        # A1111's shape {error, detail, body, errors}; `detail` keeps FastAPI's list form for field errors
        # so clients that read detail[0]["msg"] work too. Unlike A1111, headers (WWW-Authenticate) are kept.
        body = {"error": type(e).__name__, "detail": e.detail, "body": "",
                "errors": f"{e.status_code}: {error_message(e.detail)}"}
        return JSONResponse(status_code=e.status_code, content=body, headers=getattr(e, "headers", None))

    # --api-auth is also checked here, by path, and not only by the API router's dependency: routes
    # that extensions add under /sdapi or /internal (app.add_api_route in on_app_started) never get
    # that dependency, and would otherwise be open to anyone.
    api_credentials = parse_credentials(shared.cmd_opts.api_auth)

    @app.middleware("http")
    async def log_and_time(request: Request, call_next):
        start = time.perf_counter()
        try:
            if _CONTROL_CHARS.search(request.scope.get("path", "")):
                # a %00 or other control character in a path is never a real URL; some of Gradio's
                # routes (/gradio_api/proxy=) answer one with an unhandled 500
                response = JSONResponse(status_code=400, content={
                    "error": "InvalidURL", "detail": "control characters in the URL path", "body": "",
                    "errors": "400: control characters in the URL path"})
            elif api_credentials and needs_api_auth(request.scope) and \
                    not basic_auth_ok(request.headers.get("authorization"), api_credentials):
                message = "Incorrect username or password"
                response = JSONResponse(status_code=401, headers={"WWW-Authenticate": "Basic"}, content={
                    "error": "HTTPException", "detail": message, "body": "", "errors": f"401: {message}"})
            else:
                response = await call_next(request)
        except Exception as e:  # the last line of defence: a clear 500, the server keeps serving
            logger.exception("unhandled error in %s %s", request.method, request.url.path)
            response = JSONResponse(status_code=500, content={
                "error": type(e).__name__, "detail": "internal error", "body": "", "errors": str(e)})
        duration = time.perf_counter() - start
        response.headers["X-Process-Time"] = f"{duration:.4f}"
        if api_log and request.url.path.startswith("/sdapi"):
            client = f"{request.client.host}:{request.client.port}" if request.client else "-"
            logger.info("API %s %s %s/%s %s %s %s %.4f", time.strftime("%Y-%m-%d %H:%M:%S"), response.status_code,
                        request.url.scheme, request.scope.get("http_version", ""), request.method, request.url.path,
                        client, duration)
        return response
