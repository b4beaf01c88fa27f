"""Progress of the job the queue worker is running (`shared.state` in A1111 extensions).

Only the worker thread writes the counters; request threads read them for
/sdapi/v1/progress and set the `interrupted` / `skipped` flags.
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)


class State:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.server_start = time.time()
        self.reset()

    def reset(self) -> None:
        self.skipped = False
        self.interrupted = False
        self.stopping_generation = False
        self.job = ""
        self.job_no = 0
        self.job_count = 0
        self.processing_has_refined_job_count = False
        self.job_timestamp = "0"
        self.sampling_step = 0
        self.sampling_steps = 0
        self.current_latent: Any = None
        self.current_image: Any = None          # PIL image of the live preview
        self.current_image_sampling_step = 0
        self.id_live_preview = 0
        self.textinfo: str | None = None
        self.time_start: float | None = None
        self.task_id: str | None = None

    # lifecycle, called by the queue worker ------------------------------------------------
    def begin(self, job: str = "(unknown)", task_id: str | None = None) -> None:
        with self._lock:
            self.reset()
            self.job = job
            self.task_id = task_id
            self.job_count = -1
            self.job_timestamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
            self.time_start = time.time()

    def end(self) -> None:
        with self._lock:
            self.reset()

    def nextjob(self) -> None:
        self.job_no += 1
        self.sampling_step = 0
        self.current_image_sampling_step = 0

    # control, called from request threads -------------------------------------------------
    def interrupt(self) -> None:
        self.interrupted = True
        logger.info("Received interrupt request")

    def skip(self) -> None:
        self.skipped = True
        logger.info("Received skip request")

    def stop_generating(self) -> None:
        self.stopping_generation = True

    def set_current_image(self, image: Any) -> None:
        self.current_image = image
        self.id_live_preview += 1

    # reporting -----------------------------------------------------------------------------
    def dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "stopping_generation": self.stopping_generation,
            "job": self.job,
            "job_count": self.job_count,
            "job_timestamp": self.job_timestamp,
            "job_no": self.job_no,
            "sampling_step": self.sampling_step,
            "sampling_steps": self.sampling_steps,
        }

    def progress(self) -> tuple[float, float]:
        """(progress 0..1, eta seconds) by A1111's formula."""
        if self.job_count <= 0 or self.time_start is None:
            return 0.0, 0.0
        progress = 0.01
        progress += self.job_no / self.job_count
        if self.sampling_steps:
            progress += (1 / self.job_count) * self.sampling_step / self.sampling_steps
        progress = min(progress, 1.0)
        elapsed = time.time() - self.time_start
        eta = elapsed / progress - elapsed
        return progress, eta
