"""Where a generation job runs: on this process's own queue (the default, services/queue.py), or on a
cluster of worker processes behind Ray Serve (`--cluster-workers N`, `--cluster ADDRESS`).

In cluster mode the front end (this process: HTTP, UI, options, registries, validation) sends each job
as plain data (wire.py) to a worker replica, which rebuilds the processing object with the same code
and runs it on its own queue. The front end mirrors each remote job's progress (remote_jobs.py) so
/sdapi/v1/progress, /internal/progress, interrupt and skip work as on one box.

Only remote_jobs.py and wire.py are imported without the `cluster` extra; the Ray parts
(ray_cluster.py, control.py) are imported only when a cluster flag is given.
"""
from __future__ import annotations


def interrupt() -> None:
    """Interrupt the running job: the local one, and in cluster mode every running one."""
    from sdwebui.services import runtime

    if runtime.cluster is not None:
        runtime.cluster.interrupt()
    runtime.state.interrupt()


def skip() -> None:
    from sdwebui.services import runtime

    if runtime.cluster is not None:
        runtime.cluster.skip()
    runtime.state.skip()
