"""The one generation queue: FIFO, one worker thread that owns the device.

Every job that touches the model (API and UI generation, model switches, refreshes)
is a callable submitted here, so they never overlap and run in arrival order.

When no job has come for `idle_delay` seconds, the worker asks `idle_work` for a unit of background
work (compiling a shape for --compile) and runs it; a job that arrives meanwhile runs right after that
unit.
"""
from __future__ import annotations

import itertools
import logging
import random
import string
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from sdwebui.services.job_state import State

logger = logging.getLogger(__name__)


def new_task_id(kind: str) -> str:
    """A1111's task id shape: task(txt2img-XXXXXXX)."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=7))
    return f"task({kind}-{suffix})"


@dataclass
class Job:
    fn: Callable[[], Any]
    task_id: str
    name: str
    future: Future = field(default_factory=Future)
    enqueued_at: float = field(default_factory=time.time)
    seq: int = 0


class GenerationQueue:
    def __init__(self, state: State, *, idle_work: Callable[[], Callable[[], Any] | None] | None = None,
                 idle_delay: float = 1.0):
        self.state = state
        # the next unit of background work, or None when there is none
        self.idle_work = idle_work
        self.idle_delay = idle_delay
        self._idle_due = False
        self._cv = threading.Condition()
        self._pending: "OrderedDict[str, Job]" = OrderedDict()
        self._seq = itertools.count()
        self._current: Job | None = None
        self._finished: "OrderedDict[str, float]" = OrderedDict()
        self._stop = False
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="generation-queue", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def poke(self) -> None:
        """There may be idle work now (e.g. shapes to compile for a model loaded outside a job)."""
        with self._cv:
            self._idle_due = True
            self._cv.notify_all()

    @property
    def worker_thread(self) -> threading.Thread | None:
        return self._thread

    # submission ------------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any], *, task_id: str | None = None, name: str = "job") -> Job:
        job = Job(fn=fn, task_id=task_id or new_task_id(name), name=name, seq=next(self._seq))
        with self._cv:
            if self._stop:
                job.future.set_exception(RuntimeError("the server is shutting down"))
                return job
            # a repeated task id must not replace a queued job; make it unique
            while job.task_id in self._pending:
                job.task_id += "+"
            self._pending[job.task_id] = job
            self._cv.notify()
        return job

    def run(self, fn: Callable[[], Any], *, name: str = "job", timeout: float | None = None) -> Any:
        """Submit and wait; calling it from the worker itself runs inline (no deadlock)."""
        if threading.current_thread() is self._thread:
            return fn()
        return self.submit(fn, name=name).future.result(timeout=timeout)

    def cancel(self, task_id: str) -> bool:
        """Drop a job that has not started (its client went away)."""
        with self._cv:
            job = self._pending.pop(task_id, None)
        if job is None:
            return False
        job.future.cancel()
        return True

    # introspection ---------------------------------------------------------------------
    def pending_ids(self) -> list[str]:
        with self._cv:
            return list(self._pending)

    def position(self, task_id: str) -> int | None:
        with self._cv:
            for i, tid in enumerate(self._pending):
                if tid == task_id:
                    return i
        return None

    @property
    def current_task(self) -> str | None:
        job = self._current
        return job.task_id if job else None

    def is_finished(self, task_id: str) -> bool:
        return task_id in self._finished

    # worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    if self._idle_due and self.idle_work is not None:
                        if not self._cv.wait(timeout=self.idle_delay) and not self._pending:
                            break       # idle long enough: do a unit of idle work
                    else:
                        self._idle_due = False
                        self._cv.wait()
                if self._stop and not self._pending:
                    return
                if not self._pending:
                    self._idle_due = False
                    job = None
                else:
                    _, job = self._pending.popitem(last=False)
                    self._current = job
            if job is None:
                self._run_idle_work()
                continue
            if not job.future.set_running_or_notify_cancel():
                self._current = None
                continue
            self.state.begin(job=job.name, task_id=job.task_id)
            try:
                result = job.fn()
            except BaseException as e:  # one failing job never stops the worker
                if not isinstance(e, Exception):
                    logger.error("job %s aborted: %r", job.task_id, e)
                job.future.set_exception(e)
            else:
                job.future.set_result(result)
            finally:
                self.state.end()
                self._finished[job.task_id] = time.time()
                while len(self._finished) > 64:
                    self._finished.popitem(last=False)
                with self._cv:
                    self._current = None
                    self._idle_due = True       # a job may leave idle work behind (a new shape to compile)

    def _run_idle_work(self) -> None:
        try:
            unit = self.idle_work()
            if unit is None:
                return
            self.state.begin(job="background", task_id=None)
            try:
                unit()
            finally:
                self.state.end()
        except Exception:       # background work never stops the worker either
            logger.exception("background work failed")
            return
        with self._cv:
            self._idle_due = True      # there may be more
