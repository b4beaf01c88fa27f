"""A1111's `modules.call_queue` and the task bookkeeping of `modules.progress`, for extensions that run
their own GPU work from a UI button or report their own tasks' progress.

Here every job that touches the device runs on the one generation queue (`services/queue.py`), whose
worker holds `queue_lock` while it runs. `wrap_gradio_gpu_call` therefore submits the wrapped call to
that queue as a job (A1111 runs it in the caller's thread under the lock): it waits its turn behind
API and UI generations, and `/internal/progress` reports it under the `task(...)` id the page sent, as
A1111's progress bar expects. `wrap_queued_call` keeps A1111's shape exactly: the call runs in the
caller's thread, holding the lock.
"""
from __future__ import annotations

import functools
import html
import logging
import threading
import time
from typing import Any, Callable

from sdwebui.services import runtime
from sdwebui.services.queue import new_task_id, queue_lock

logger = logging.getLogger(__name__)

__all__ = ["add_task_to_queue", "create_task_id", "current_task", "finish_task", "finished_tasks", "pending_tasks",
           "queue_lock", "record_results", "recorded_results", "run_as_job", "runs_here", "start_task", "time_taken_html",
           "wrap_gradio_call",
           "wrap_gradio_call_no_job", "wrap_gradio_gpu_call", "wrap_queued_call"]

# A1111 keeps the last results of UI tasks so a reloaded page can fetch them (progress.restore_progress)
recorded_results: list[tuple[str, Any]] = []
RECORDED_RESULTS_LIMIT = 2
# A1111's names for its own task table: the ids of tasks reported through the functions below
finished_tasks: list[str] = []


def create_task_id(task_type: str) -> str:
    """A1111's id for a UI task: `task(<type>-XXXXXXX)`."""
    return new_task_id(task_type)


def _is_task_id(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("task(") and value.endswith(")")


def add_task_to_queue(id_job: str) -> None:
    """An extension's task is waiting: /internal/progress says "In queue" for it."""
    if runtime.queue is not None:
        runtime.queue.note_pending(id_job)


def start_task(id_task: str | None) -> None:
    if runtime.queue is not None:
        runtime.queue.note_started(id_task)


def finish_task(id_task: str | None) -> None:
    if runtime.queue is not None:
        runtime.queue.note_finished(id_task)
    if id_task is not None:
        finished_tasks.append(id_task)
        del finished_tasks[:-16]


def record_results(id_task: str | None, res: Any) -> None:
    recorded_results.append((id_task, res))
    del recorded_results[:-RECORDED_RESULTS_LIMIT]


def current_task() -> str | None:
    """The id of the task running now (the queue's job or an extension's reported task)."""
    return runtime.queue.current_task if runtime.queue is not None else None


def pending_tasks() -> list[str]:
    return runtime.queue.pending_ids() if runtime.queue is not None else []


def wrap_queued_call(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` run holding the queue lock: never at the same time as a generation."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        with queue_lock:
            return func(*args, **kwargs)
    return f


def runs_here() -> bool:
    """Whether a job started from this thread must run in it: the thread is the queue's worker (a
    job calling a wrapped function), there is no running queue (a test, a script), or the thread
    holds the queue lock (an extension's own task runner, as A1111's UI handlers are called: waiting
    for the worker would wait for itself)."""
    queue = runtime.queue
    return queue is None or queue.worker_thread is None or not queue.can_wait_here()


def run_as_job(func: Callable[[], Any], id_task: str | None = None, name: str | None = None) -> Any:
    """`func()` as a job: in its turn on the generation queue, or here when `runs_here()` (holding the
    lock, with the job state begun and ended unless this already is a queued job)."""
    queue = runtime.queue
    if queue is not None and threading.current_thread() is queue.worker_thread:
        return func()          # already a job (a script calling it): its state is the job's
    if runs_here():
        with queue_lock:
            runtime.state.begin(job=id_task or "(unknown)", task_id=id_task)
            try:
                return func()
            finally:
                runtime.state.end()
    return queue.submit(func, task_id=id_task, name=name or _job_kind(id_task)).future.result()


def _run_as_job(func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    id_task = args[0] if args and _is_task_id(args[0]) else None
    res = run_as_job(lambda: func(*args, **kwargs), id_task)
    record_results(id_task, res)
    return res


def _job_kind(id_task: str | None) -> str:
    # "task(txt2img-ABC1234)" -> "txt2img": the queue's name for the job
    if id_task is None:
        return "extension"
    return id_task[len("task("):-1].rsplit("-", 1)[0] or "extension"


def wrap_gradio_gpu_call(func: Callable[..., Any], extra_outputs: list | None = None) -> Callable[..., Any]:
    """A UI handler that uses the GPU: run as a job on the generation queue (in turn, with the job
    state begun and ended, reported under the `task(...)` id given as first argument), its errors
    turned into A1111's error output."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        return _run_as_job(func, args, kwargs)
    return wrap_gradio_call(f, extra_outputs=extra_outputs, add_stats=True)


def wrap_gradio_call(func: Callable[..., Any], extra_outputs: list | None = None,
                     add_stats: bool = False) -> Callable[..., Any]:
    """`func` with A1111's error output, and the job state's flags cleared after it."""
    @functools.wraps(func)
    def f(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            state = runtime.state
            state.skipped = state.interrupted = state.stopping_generation = False
            state.job_count, state.job = 0, ""
    return wrap_gradio_call_no_job(f, extra_outputs, add_stats)


def wrap_gradio_call_no_job(func: Callable[..., Any], extra_outputs: list | None = None,
                            add_stats: bool = False) -> Callable[..., Any]:
    """`func`'s outputs as a tuple; when it raises, the error is logged and the outputs are
    `extra_outputs` (A1111's default: [None, '']) followed by an error <div>, as A1111 shows them.
    With `add_stats`, the last output (HTML) gets the time taken, as in A1111."""
    @functools.wraps(func)
    def f(*args: Any, extra_outputs_array: list | None = extra_outputs, **kwargs: Any) -> tuple:
        start = time.perf_counter()
        try:
            res = list(func(*args, **kwargs))
        except Exception as e:
            logger.exception("Error completing request (%s)", getattr(func, "__name__", func))
            outputs = [None, ""] if extra_outputs_array is None else list(extra_outputs_array)
            res = outputs + [f"<div class='error'>{html.escape(f'{type(e).__name__}: {e}')}</div>"]
        if add_stats and res and isinstance(res[-1], str):
            res[-1] += time_taken_html(time.perf_counter() - start)
        return tuple(res)
    return f


def time_taken_html(elapsed: float) -> str:
    """A1111's line under the gallery: "Time taken: 2.3 sec." (as its add_stats writes it)."""
    minutes, seconds = divmod(elapsed, 60)
    text = (f"{int(minutes)} min. " if minutes else "") + f"{seconds:.1f} sec."
    return (f"<div class='performance'><p class='time'>Time taken: <wbr>"
            f"<span class='measurement'>{text}</span></p></div>")
