"""Progress of the job the queue worker is running (`shared.state` in A1111 extensions).

Only the worker thread writes the counters; request threads read them for
/sdapi/v1/progress and set the `interrupted` / `skipped` flags.
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any, Callable

logger = logging.getLogger(__name__)


class State:
    """A1111's `shared_state.State`: the same fields and methods, plus `task_id` (the queue's job)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.server_start = time.time()
        self._server_command: str | None = None
        self._server_command_signal = threading.Event()
        # latent -> PIL image for previews an extension asks for (set_current_image() with no image);
        # the runtime gives it the resident model's approximation, see runtime.initialize()
        self.latent_to_image: Callable[[Any], Any] | None = None
        # steps between live previews (A1111's show_progress_every_n_steps), -1 for one per image, None
        # while previews are off; the runtime gives it the options, see runtime.initialize()
        self.preview_period: Callable[[], int | None] = lambda: 0
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
        # set by a progress request that wants a live preview; the sampling loop makes it at its
        # next due step, on the worker thread (the model is never used from two threads)
        self.live_preview_wanted = False
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
        if self.preview_period() == -1:     # A1111's -1: a preview when each image is done
            self.do_set_current_image()
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

    def request_restart(self) -> None:
        self.interrupt()
        self.server_command = "restart"
        logger.info("Received restart request")

    # A1111's server command: what the launcher's main loop waits for (restart, stop)
    @property
    def server_command(self) -> str | None:
        return self._server_command

    @server_command.setter
    def server_command(self, value: str | None) -> None:
        self._server_command = value
        self._server_command_signal.set()

    def wait_for_server_command(self, timeout: float | None = None) -> str | None:
        """The server command once one is set (then cleared), or None after `timeout` seconds."""
        if not self._server_command_signal.wait(timeout):
            return None
        self._server_command_signal.clear()
        command, self._server_command = self._server_command, None
        return command

    @property
    def need_restart(self) -> bool:
        return self.server_command == "restart"

    @need_restart.setter
    def need_restart(self, value: bool) -> None:
        if value:
            self.server_command = "restart"

    # live previews ---------------------------------------------------------------------------
    def set_current_image(self, image: Any = None) -> None:
        """With an image, show it as the live preview. Without one (A1111's form, called by samplers
        and extensions that set `current_latent`), make the preview from `current_latent` when enough
        steps have passed since the last one."""
        if image is not None:
            self.assign_current_image(image)
            self.current_image_sampling_step = self.sampling_step
        elif self.live_preview_due():
            self.do_set_current_image()

    def live_preview_due(self) -> bool:
        period = self.preview_period()
        return period is not None and period != -1 and \
            self.sampling_step - self.current_image_sampling_step >= period

    def request_live_preview(self) -> None:
        """A client polling progress wants a live preview: the worker makes one at its next due step
        (making it only when somebody watches keeps previews free for API clients that don't)."""
        self.live_preview_wanted = True

    def do_set_current_image(self) -> None:
        if self.current_latent is None or self.latent_to_image is None:
            return
        try:
            image = self.latent_to_image(self.current_latent)
            if image is not None:
                self.assign_current_image(image)
                self.current_image_sampling_step = self.sampling_step
        except Exception:   # a preview is never worth failing the job (the VAE may be moving devices)
            logger.debug("live preview failed", exc_info=True)

    def assign_current_image(self, image: Any) -> None:
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


class TotalTQDM:
    """A1111's `shared.total_tqdm`: a console bar over all the steps of a job, which extensions that
    run their own sampling loops advance (`update()`, `updateTotal(n)`, `clear()`)."""

    def __init__(self, state: State, enabled: Callable[[], bool] = lambda: True) -> None:
        self.state = state
        self.enabled = enabled      # the settings' multiple_tqdm, and no --disable-console-progressbars
        self._tqdm: Any = None

    def reset(self) -> None:
        import tqdm

        self._tqdm = tqdm.tqdm(desc="Total progress", total=max(self.state.job_count, 0) * self.state.sampling_steps,
                               position=1, leave=False)

    def update(self) -> None:
        if not self.enabled():
            return
        if self._tqdm is None:
            self.reset()
        self._tqdm.update()

    def updateTotal(self, new_total: int) -> None:  # noqa: N802  (A1111's name)
        if not self.enabled():
            return
        if self._tqdm is None:
            self.reset()
        self._tqdm.total = new_total

    def clear(self) -> None:
        if self._tqdm is not None:
            self._tqdm.refresh()
            self._tqdm.close()
            self._tqdm = None
