"""The queue and the server: progress (/sdapi/v1/progress, /internal/progress), interrupt and
skip, the pending tasks, and --api-server-stop's kill, restart and stop."""
from __future__ import annotations

import logging
import os

from fastapi import HTTPException
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from sdwebui.engine.images import metadata as images_mod
from sdwebui.interfaces.api import models
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)


class ControlRoutes:
    """Api's handlers for progress, interrupt/skip, the queue and stopping the server."""

    async def progress(self, skip_current_image: bool = False) -> dict:
        state = shared.state
        if state.job_count == 0:
            return {"progress": 0, "eta_relative": 0, "state": state.dict(), "textinfo": state.textinfo}
        progress, eta = state.progress()
        current = None
        if not skip_current_image:
            state.request_live_preview()    # made by the worker at its next due step: the next poll has it
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
        if req.live_preview and shared.opts.live_previews_enable:
            state.request_live_preview()
        if req.live_preview and state.current_image is not None and state.id_live_preview != req.id_live_preview:
            fmt = shared.opts.live_previews_image_format
            data = await run_in_threadpool(images_mod.encode_b64, state.current_image, fmt)
            preview, preview_id = f"data:image/{fmt};base64,{data}", state.id_live_preview
        return {"active": True, "queued": False, "completed": False, "progress": progress, "eta": eta,
                "live_preview": preview, "id_live_preview": preview_id, "textinfo": state.textinfo}

    async def ping(self) -> dict:
        return {}

    async def profile_startup(self) -> dict | None:
        """A1111's /internal/profile-startup: how long each start-up step took (the footer's
        "Startup profile"); null until the app is assembled."""
        from sdwebui.services import util

        return util.startup_record

    async def pending_tasks(self) -> dict:
        ids = shared.queue.pending_ids()
        return {"size": len(ids), "tasks": ids}

    async def server_kill(self) -> None:
        os._exit(0)

    async def server_restart(self) -> None:
        if os.environ.get("SD_WEBUI_RESTART") != "1":
            raise HTTPException(status_code=501, detail="restart needs the server started by webui.sh")
        marker = shared.paths.tmp / "restart"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        shared.request_server_stop()
        return None

    async def server_stop(self) -> PlainTextResponse:
        shared.request_server_stop()
        return PlainTextResponse("Stopping.")
