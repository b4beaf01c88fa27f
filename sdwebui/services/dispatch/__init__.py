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

import os


def prepare_ray_environment(local_head: bool) -> None:
    """Before ray is imported (it reads these at import): no usage stats, and for a head started in
    this app every Ray process on the loopback interface. Ray otherwise advertises the machine's
    address and listens on every interface; its single-machine mode (the variable's name says
    Windows/macOS, it is read on every platform) keeps them on 127.0.0.1. Workers inherit it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DISABLE_DOCKER_CPU_WARNING", "1")
    if local_head:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    else:
        # join with the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN), as docs/scale-out.md starts
        # it (`RAY_AUTH_MODE=token ray start`); a cluster started without authentication: RAY_AUTH_MODE=disabled
        os.environ.setdefault("RAY_AUTH_MODE", "token")


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
