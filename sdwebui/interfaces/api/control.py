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
from sdwebui.services import dispatch, runtime as shared

logger = logging.getLogger(__name__)


class ControlRoutes:
    """Api's handlers for progress, interrupt/skip, the queue and stopping the server."""

    async def progress(self, skip_current_image: bool = False) -> dict:
        if shared.cluster is not None:
            return _remote_progress(skip_current_image)
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
        dispatch.interrupt()
        return {}

    async def skip(self) -> None:
        dispatch.skip()

    async def cluster_info(self) -> dict:
        """GET /internal/cluster: the workers, their loaded checkpoint, running job and counters."""
        if shared.cluster is None:
            raise HTTPException(status_code=404, detail="not in cluster mode (--cluster-workers / --cluster)")
        return await shared.cluster.describe()

    async def internal_progress(self, req: models.ProgressRequest) -> dict:
        if shared.cluster is not None:
            return _remote_internal_progress(req)
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
        if shared.cluster is not None:
            ids = shared.cluster.jobs.pending_ids() + ids
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


def _remote_progress(skip_current_image: bool) -> dict:
    """/sdapi/v1/progress in cluster mode: the running job that started first, from its mirror."""
    job = shared.cluster.jobs.current()
    if job is None or job.state.job_count == 0:
        return {"progress": 0, "eta_relative": 0, "state": shared.state.dict(), "textinfo": None}
    progress, eta = job.state.progress()
    if not skip_current_image:
        shared.cluster.want_preview(job.task_id)
    current = None if skip_current_image else job.preview
    return {"progress": progress, "eta_relative": eta, "state": job.state.dict(), "current_image": current,
            "textinfo": job.state.textinfo}


def _remote_internal_progress(req: models.ProgressRequest) -> dict:
    """/internal/progress in cluster mode: the named task's mirror (queued, running, finished)."""
    jobs = shared.cluster.jobs
    job = jobs.get(req.id_task)
    if job is None or job.status != "running":
        pos = jobs.position(req.id_task) if req.id_task else None
        text = "Waiting..." if pos is None else f"In queue: {pos + 1}/{len(jobs.pending_ids())}"
        return {"active": False, "queued": pos is not None, "completed": bool(req.id_task) and jobs.is_finished(req.id_task),
                "progress": None, "eta": None, "live_preview": None, "id_live_preview": -1, "textinfo": text}
    progress, eta = job.state.progress()
    preview, preview_id = None, req.id_live_preview
    if req.live_preview and shared.opts.live_previews_enable:
        shared.cluster.want_preview(job.task_id)
    if req.live_preview and job.preview is not None and job.state.id_live_preview != req.id_live_preview:
        preview = f"data:image/{job.preview_format};base64,{job.preview}"
        preview_id = job.state.id_live_preview
    return {"active": True, "queued": False, "completed": False, "progress": progress, "eta": eta,
            "live_preview": preview, "id_live_preview": preview_id, "textinfo": job.state.textinfo}
