"""The one generation queue: FIFO, one worker thread that owns the device.

Every job that touches the model (API and UI generation, model switches, refreshes)
is a callable submitted here, so they never overlap and run in arrival order.

When no job has come for `idle_delay` seconds, the worker asks `idle_work` for a unit of background
work (compiling a shape for --compile) and runs it; a job that arrives meanwhile runs right after that
unit.
"""
from __future__ import annotations

import collections
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


class FIFOLock:
    """A re-entrant lock granted in the order it was asked for (A1111's `fifo_lock.FIFOLock` is FIFO
    too, so a UI click that waits for the GPU is served before later ones). Re-entrant because a job
    running on the worker may call an extension function wrapped with `wrap_queued_call`, which
    takes the same lock."""

    def __init__(self) -> None:
        self._inner = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: collections.deque[tuple[int, threading.Event]] = collections.deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        with self._inner:
            if self._owner == me or (self._owner is None and not self._waiting):
                self._owner, self._depth = me, self._depth + 1
                return True
            if not blocking:
                return False
            entry = (me, threading.Event())
            self._waiting.append(entry)
        if entry[1].wait(None if timeout < 0 else timeout):
            return True         # release() handed the lock to this thread
        with self._inner:
            if entry[1].is_set():   # handed over just as the wait timed out
                return True
            self._waiting.remove(entry)
            return False

    def release(self) -> None:
        with self._inner:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a FIFOLock this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            if self._waiting:   # handed to the longest waiter directly, so no newcomer overtakes it
                thread, turn = self._waiting.popleft()
                self._owner, self._depth = thread, 1
                turn.set()

    def locked(self) -> bool:
        return self._owner is not None

    def held_by_current_thread(self) -> bool:
        return self._owner == threading.get_ident()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# A1111's `call_queue.queue_lock`: the worker holds it while it runs a job, so an extension's own
# GPU work (`with queue_lock:` or `wrap_queued_call`) never overlaps a generation.
queue_lock = FIFOLock()


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
        # tasks an extension runs itself and reports with A1111's progress.add_task_to_queue / start_task /
        # finish_task, so /internal/progress answers for them as for the queue's own jobs
        self._outside_pending: "OrderedDict[str, float]" = OrderedDict()
        self._outside_current: str | None = None
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
            # a task id used again (a page's img2img batch: one job per image) is not finished any more
            self._finished.pop(job.task_id, None)
            self._pending[job.task_id] = job
            self._cv.notify()
        return job

    def run(self, fn: Callable[[], Any], *, name: str = "job", timeout: float | None = None) -> Any:
        """Submit and wait; calling it from the worker itself, or from a thread that holds queue_lock
        (an extension's `with queue_lock:`, during which the worker cannot run), runs inline (no deadlock)."""
        if not self.can_wait_here():
            return fn()
        return self.submit(fn, name=name).future.result(timeout=timeout)

    def can_wait_here(self) -> bool:
        """Whether this thread may wait for a queued job: not the worker itself, nor a thread holding
        queue_lock (the worker cannot run meanwhile)."""
        return threading.current_thread() is not self._thread and not queue_lock.held_by_current_thread()

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
            return list(self._pending) + [t for t in self._outside_pending if t not in self._pending]

    def position(self, task_id: str) -> int | None:
        ids = self.pending_ids()
        return ids.index(task_id) if task_id in ids else None

    @property
    def current_task(self) -> str | None:
        job = self._current
        return job.task_id if job else self._outside_current

    # tasks run outside the queue (A1111's modules.progress) ------------------------------
    def note_pending(self, task_id: str) -> None:
        with self._cv:
            self._outside_pending[task_id] = time.time()

    def note_started(self, task_id: str | None) -> None:
        with self._cv:
            self._outside_current = task_id
            if task_id is not None:
                self._outside_pending.pop(task_id, None)

    def note_finished(self, task_id: str | None) -> None:
        with self._cv:
            if self._outside_current == task_id:
                self._outside_current = None
            if task_id is not None:
                self._outside_pending.pop(task_id, None)
                self._remember_finished(task_id)

    def _remember_finished(self, task_id: str) -> None:
        self._finished[task_id] = time.time()
        while len(self._finished) > 64:
            self._finished.popitem(last=False)

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
                with queue_lock:
                    result = job.fn()
            except BaseException as e:  # one failing job never stops the worker
                if not isinstance(e, Exception):
                    logger.error("job %s aborted: %r", job.task_id, e)
                job.future.set_exception(e)
            else:
                job.future.set_result(result)
            finally:
                self.state.end()
                with self._cv:
                    self._remember_finished(job.task_id)
                    self._current = None
                    self._idle_due = True       # a job may leave idle work behind (a new shape to compile)
                # the job and its result (a loaded model, images) must not outlive it in this frame: a model
                # switch frees the previous model while the next job runs
                job = result = None

    def _run_idle_work(self) -> None:
        try:
            unit = self.idle_work()
            if unit is None:
                return
            self.state.begin(job="background", task_id=None)
            try:
                with queue_lock:
                    unit()
            finally:
                self.state.end()
        except Exception:       # background work never stops the worker either
            logger.exception("background work failed")
            return
        with self._cv:
            self._idle_due = True      # there may be more
