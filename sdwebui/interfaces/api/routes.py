"""The /sdapi/v1 routes (and /internal/*), on the same FastAPI app as the UI: `Api` puts the route
table on the app; the handlers live in the files named after what they serve (generation, control,
options, resources, info).

Generation endpoints are async: they validate, put a job on the shared queue and await it,
so a slow generation never occupies a threadpool slot and a client that goes away before
its job starts takes the job out of the queue.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sdwebui.interfaces.api import models
from sdwebui.interfaces.api.auth import auth_dependency, parse_credentials
from sdwebui.interfaces.api.control import ControlRoutes
from sdwebui.interfaces.api.extras import ExtrasRoutes
from sdwebui.interfaces.api.generation import GenerationRoutes
from sdwebui.interfaces.api.info import InfoRoutes
from sdwebui.interfaces.api.options import OptionRoutes
from sdwebui.interfaces.api.resources import ResourceRoutes
from sdwebui.services import runtime as shared
from sdwebui.services.request_errors import RequestError

logger = logging.getLogger(__name__)


class Api(GenerationRoutes, ExtrasRoutes, ControlRoutes, OptionRoutes, ResourceRoutes, InfoRoutes):
    def __init__(self, app: FastAPI, queue_lock: Any = None, *, sdapi: bool = True, internal: bool = True):
        # queue_lock: A1111's second argument (extensions pass call_queue.queue_lock); jobs here are
        # serialised by the generation queue, whose worker holds that same lock
        self.app = app
        self.queue_lock = queue_lock
        deps = []
        creds = parse_credentials(shared.cmd_opts.api_auth)
        if creds:
            deps.append(Depends(auth_dependency(creds)))
        self.router = APIRouter(dependencies=deps)
        r = self.router.add_api_route
        if internal:
            r("/internal/ping", self.ping, methods=["GET"])
            r("/internal/profile-startup", self.profile_startup, methods=["GET"])
            r("/internal/pending-tasks", self.pending_tasks, methods=["GET"])
            r("/internal/progress", self.internal_progress, methods=["POST"])
        if internal or sdapi:
            r("/internal/cluster", self.cluster_info, methods=["GET"])
        if sdapi:
            self._add_sdapi_routes(r)
        app.include_router(self.router)
        app.add_exception_handler(RequestError, _answer_request_error)

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
        r("/sdapi/v1/face-restorers", self.face_restorers, methods=["GET"], response_model=list[models.FaceRestorerItem])
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


async def _answer_request_error(request: Request, e: RequestError) -> Response:
    """A RequestError from the services is answered as the HTTPException it stands for, by the
    handler the app has for those (A1111's error body, see middleware.py)."""
    handler = request.app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    return await handler(request, HTTPException(status_code=e.status_code, detail=e.detail, headers=e.headers))
