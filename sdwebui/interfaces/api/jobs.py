"""An API request's job on the shared queue: submitted, awaited without holding a threadpool
slot, dropped from the queue when its client goes away before it starts, and its errors turned
into the RequestError the client is answered with."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from fastapi import HTTPException, Request

from sdwebui.services import runtime as shared
from sdwebui.services.request_errors import error_from

logger = logging.getLogger(__name__)


async def client_gone(request: Request) -> None:
    """Returns when the client closes its connection. The request body has been read already, so
    the next ASGI message can only be http.disconnect (sent when the client goes away, or after
    the response)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def await_unless_abandoned(waiter: "asyncio.Future", request: Request | None,
                                 drop: Callable[[], bool]) -> Any:
    """Await a job's `waiter`. When the client goes away before the job started, `drop()` takes the
    job out of its queue (returning whether it did) and the answer is 499: nobody runs a job for a
    client that gave up. A job already running when its client left finishes normally."""
    try:
        if request is not None:
            # uvicorn does not cancel a handler whose client disconnected, so the CancelledError
            # below never came for a real client that gave up (a timed-out script or bot): its
            # job stayed queued and ran for nobody. Watch the connection while the job waits.
            watcher = asyncio.ensure_future(client_gone(request))
            try:
                await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if not waiter.done() and drop():
                logger.info("client left before its job started; job dropped")
                raise HTTPException(status_code=499, detail="the client closed the request")
        return await waiter
    except asyncio.CancelledError:
        drop()  # the client left before the job started
        raise


async def run_job(fn: Callable[[], Any], *, name: str, task_id: str | None = None,
                  request: Request | None = None) -> Any:
    """Run `fn` as a job on the shared queue and return its result."""
    job = shared.queue.submit(fn, task_id=task_id, name=name)
    try:
        return await await_unless_abandoned(asyncio.wrap_future(job.future), request,
                                            lambda: shared.queue.cancel(job.task_id))
    except Exception as e:
        err = error_from(e)
        if err is not None:
            raise err from None
        raise
