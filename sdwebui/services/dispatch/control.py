"""The cluster's control actor (one, named, created by the front end): flags for running jobs
(interrupt, skip, a live preview wanted), commands for every worker (refresh a folder's list, unload
or reload the checkpoint), and the workers' reports (loaded checkpoint, running job, counters), which
the front end shows at /internal/cluster.

Why an actor and not a call to the worker: a worker takes one request at a time (Serve's
max_ongoing_requests=1), so a control call sent through Serve would wait behind the very job it is
meant to stop. Workers poll this actor a few times a second while a job runs instead.

Plain Python: ray_cluster.py makes it a Ray actor (`ray.remote(ControlActor)`).
"""
from __future__ import annotations

import time
from typing import Any

FLAGS = ("interrupt", "skip", "preview")
COMMANDS = ("refresh-checkpoints", "refresh-vae", "refresh-loras", "refresh-embeddings", "unload-checkpoint",
            "reload-checkpoint")
_KEEP_COMMANDS = 100


class ControlActor:
    def __init__(self) -> None:
        self._flags: dict[str, set[str]] = {}
        self._reports: dict[str, dict[str, Any]] = {}
        self._commands: list[tuple[int, str]] = []
        self._epoch = 0

    # flags, set by the front end, taken by the worker that runs the task -------------------
    def flag(self, task_id: str, name: str) -> None:
        if name not in FLAGS:
            raise ValueError(f"flag must be one of {FLAGS}")
        self._flags.setdefault(task_id, set()).add(name)

    def take(self, task_id: str) -> list[str]:
        return sorted(self._flags.pop(task_id, ()))

    def forget(self, task_id: str) -> None:
        """The job ended: a flag set as it ended must not reach a later job with the same id."""
        self._flags.pop(task_id, None)

    # commands for every worker, numbered; each worker applies those after the last it saw ------
    def command(self, name: str) -> int:
        if name not in COMMANDS:
            raise ValueError(f"command must be one of {COMMANDS}")
        self._epoch += 1
        self._commands = [*self._commands[-(_KEEP_COMMANDS - 1):], (self._epoch, name)]
        return self._epoch

    def epoch(self) -> int:
        return self._epoch

    def commands_since(self, epoch: int) -> list[tuple[int, str]]:
        return [(n, name) for n, name in self._commands if n > epoch]

    # worker reports ---------------------------------------------------------------------------
    def report(self, replica: str, info: dict[str, Any]) -> None:
        self._reports[replica] = {**self._reports.get(replica, {}), **info, "reported_at": time.time()}

    def reports(self) -> dict[str, dict[str, Any]]:
        return dict(self._reports)

    def drop(self, replica: str) -> None:
        self._reports.pop(replica, None)
