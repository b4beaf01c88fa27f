"""The front end's mirror of the jobs it sent to cluster workers: one State per job, fed by the
progress events a worker streams back, so the progress routes answer exactly as for a local job.

A1111 has one running job; a cluster has one per worker. /sdapi/v1/progress reports the running job
that started first (A1111's "the current job"); /internal/progress answers for the task it names.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sdwebui.services.job_state import State

QUEUED, RUNNING = "queued", "running"
_KEEP_FINISHED = 64


@dataclass
class RemoteJob:
    task_id: str
    name: str
    status: str = QUEUED
    replica: str | None = None          # the worker replica running it (its Serve replica id)
    attempts: int = 0
    state: State = field(default_factory=State)
    started_at: float | None = None     # front-end clock, when the worker said it started
    preview: str | None = None          # the last live preview, base64, as the worker encoded it
    preview_format: str = "png"


class RemoteJobs:
    """Jobs by task id, in submission order; thread-safe (the event loop and request threads read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: "OrderedDict[str, RemoteJob]" = OrderedDict()
        self._finished: "OrderedDict[str, float]" = OrderedDict()

    def add(self, task_id: str, name: str) -> RemoteJob:
        with self._lock:
            while task_id in self._jobs:        # a repeated force_task_id must not replace a queued job
                task_id += "+"
            job = RemoteJob(task_id=task_id, name=name)
            self._jobs[task_id] = job
            self._finished.pop(task_id, None)
            return job

    def requeue(self, job: RemoteJob) -> None:
        """Its worker died: the job waits for another one (what the client's progress poll shows)."""
        with self._lock:
            job.status, job.replica, job.started_at, job.preview = QUEUED, None, None, None
            job.state.reset()

    def finish(self, job: RemoteJob) -> None:
        with self._lock:
            self._jobs.pop(job.task_id, None)
            self._finished[job.task_id] = time.time()
            while len(self._finished) > _KEEP_FINISHED:
                self._finished.popitem(last=False)

    def update(self, job: RemoteJob, event: dict[str, Any]) -> None:
        """Apply one event of the worker's stream (wire.py: started / progress)."""
        with self._lock:
            if event.get("type") == "started":
                job.status, job.replica, job.started_at = RUNNING, event.get("replica"), time.time()
                job.state.begin(job=job.name, task_id=job.task_id)
                return
            state = job.state
            for key in ("job", "job_no", "job_count", "sampling_step", "sampling_steps", "textinfo", "skipped",
                        "interrupted", "job_timestamp"):
                if key in event:
                    setattr(state, key, event[key])
            if "elapsed" in event:      # the worker's clock may differ from ours: keep only the duration
                state.time_start = time.time() - float(event["elapsed"])
            if event.get("preview") is not None:
                job.preview, job.preview_format = event["preview"], event.get("preview_format", "png")
                state.id_live_preview = int(event.get("id_live_preview", state.id_live_preview + 1))

    # reading ----------------------------------------------------------------------------------
    def get(self, task_id: str | None) -> RemoteJob | None:
        with self._lock:
            return self._jobs.get(task_id) if task_id else None

    def running(self) -> list[RemoteJob]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.status == RUNNING]
        return sorted(jobs, key=lambda j: j.started_at or 0.0)

    def current(self) -> RemoteJob | None:
        """The running job that started first (A1111's one current job)."""
        running = self.running()
        return running[0] if running else None

    def pending_ids(self) -> list[str]:
        with self._lock:
            return [t for t, j in self._jobs.items() if j.status == QUEUED]

    def position(self, task_id: str) -> int | None:
        ids = self.pending_ids()
        return ids.index(task_id) if task_id in ids else None

    def is_finished(self, task_id: str) -> bool:
        with self._lock:
            return task_id in self._finished
