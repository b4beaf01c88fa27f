"""What crosses the wire between the front end and a cluster worker: the job spec (plain data, so a
retried job is the same job), the events a worker streams back, and errors with their HTTP shape.

Job spec (a dict):
    kind        "txt2img" | "img2img"; "extras" | "postprocess" for an Extras job (below)
    task_id     the front end's task id
    request     the API request model's fields (`model_dump()`), seeds already fixed, and without
                `override_settings.sd_model_checkpoint` (that is `checkpoint`)
    checkpoint  the registry name of the checkpoint the job runs on: Serve's multiplexed model id, so
                the job goes to a worker that has it loaded
    options     the front end's settings (`opts.data`); the worker runs the job with exactly these

An Extras job has no checkpoint (None: any worker takes it) and, instead of `request`:
    extras       mode ("single" | "batch") and request: the API's extra-* request model's fields
    postprocess  the UI's Extras tab: mode (postprocessing.MODE_*), sources (read_sources': the
                 image, or each file's bytes and name), args (the postprocessing scripts' values in
                 the runner's order), output_dir, show (show_extras_results); the worker saves

Events, each a dict with "type":
    started   {replica, pid, node}
    progress  {job, job_no, job_count, sampling_step, sampling_steps, textinfo, elapsed, skipped,
               interrupted, [preview, preview_format, id_live_preview]}
    result    {images: [base64], info: json text}; an Extras job's: {images, html}, the UI's as PIL images
    error     {status, detail}   an application error: answered as is, never retried
"""
from __future__ import annotations

import copy
import traceback
from typing import Any

from sdwebui.engine.processing.base import get_fixed_seed
from sdwebui.services.request_errors import RequestError, error_from

KINDS = ("txt2img", "img2img")
EXTRAS_KINDS = ("extras", "postprocess")


def make_spec(kind: str, request: dict[str, Any], task_id: str, options: dict[str, Any],
              checkpoint: str) -> dict[str, Any]:
    """The spec of one job. Seeds are fixed here, before dispatch: a job retried on another worker
    draws the same pixels."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    request = copy.deepcopy(request)
    request["seed"] = get_fixed_seed(request.get("seed", -1))
    request["subseed"] = get_fixed_seed(request.get("subseed", -1))
    overrides = dict(request.get("override_settings") or {})
    overrides.pop("sd_model_checkpoint", None)
    request["override_settings"] = overrides
    return {"kind": kind, "task_id": task_id, "request": request, "checkpoint": checkpoint,
            "options": {**options, "sd_model_checkpoint": checkpoint}}


def make_extras_spec(kind: str, task_id: str, options: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The spec of an Extras job (`kind` in EXTRAS_KINDS, `fields` as the module's docstring says)."""
    if kind not in EXTRAS_KINDS:
        raise ValueError(f"kind must be one of {EXTRAS_KINDS}")
    return {"kind": kind, "task_id": task_id, "checkpoint": None, "options": dict(options), **fields}


def error_event(e: BaseException) -> dict[str, Any]:
    """An exception of the worker's job as the error the client gets: the same status and detail a
    single box answers with (4xx naming the field, 507 for out of memory), else a 500 that says what
    failed."""
    if isinstance(e, RequestError):
        return {"type": "error", "status": e.status_code, "detail": e.detail}
    err = error_from(e)
    if err is not None:
        return {"type": "error", "status": err.status_code, "detail": err.detail}
    where = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    at = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return {"type": "error", "status": 500, "detail": f"{type(e).__name__}: {e}{at}"}


def raise_error(event: dict[str, Any]) -> None:
    raise RequestError(int(event.get("status", 500)), event.get("detail"))
