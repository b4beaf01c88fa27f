"""The front end's side of a cluster on Ray Serve: start (or join) Ray, deploy the worker replicas,
send each job to one and follow its events, and the control actor for interrupt, skip and reports.

Ray owns the queue, backpressure, replica health and restarts: every worker takes one job at a time
(`max_ongoing_requests=1`) and the jobs beyond wait in the handle's router in this process, matched
by checkpoint name (`multiplexed_model_id`), so a job goes to a worker that has its model loaded.
What Ray does not do is retry a job whose worker died while running it; `run()` does, a bounded
number of times, with the same spec (the seeds were fixed before dispatch, so the pixels are the
same). Application errors (bad input, out of memory) come back as error events and are not retried.

Imported only in cluster mode: it imports ray (after dispatch.prepare_ray_environment).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from typing import Any, Awaitable, Callable, TypeVar

import ray
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, ReplicaUnavailableError

from sdwebui.services.dispatch import remote_jobs, wire
from sdwebui.services.dispatch.control import ControlActor
from sdwebui.services.queue import new_task_id
from sdwebui.services.request_errors import RequestError

logger = logging.getLogger(__name__)

NAMESPACE = "sd-webui"
APP_NAME = "sd-webui"
CONTROL_NAME = "sd-webui-control"
HEALTH_PERIOD_S = 2.0
RETRY_AFTER_S = 5
# the dead-worker errors: Serve's replica died while running the job, or could not be reached
_WORKER_LOST = (RayActorError, ReplicaUnavailableError)
T = TypeVar("T")


def _worker_resources(ns: argparse.Namespace, workers: int, cluster_gpus: float) -> tuple[float, float, int]:
    """(CPUs, GPUs, torch threads) of one worker: one GPU each where the cluster has enough, a share
    of them otherwise; on CPUs only, an equal share of this machine's cores (or the threads
    --cluster-worker-threads asks for)."""
    if cluster_gpus >= 1:
        gpus = 1.0 if cluster_gpus >= workers else cluster_gpus / workers
        return 0.0, gpus, 0
    cores = os.cpu_count() or 1
    threads = int(getattr(ns, "cluster_worker_threads", 0) or 0) or max(1, cores // workers)
    return min(float(threads), cores / workers), 0.0, threads


def _short_reason(message: str) -> str:
    """Serve's status message without its colours and traceback: its first line, and the traceback's
    last (the error that stopped the replica)."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", message).splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0].removesuffix("Error:").strip()
    return head if len(lines) == 1 else f"{head} Last error: {lines[-1]}"[:1000]


def worker_flags(ns: argparse.Namespace, gpus_each: float) -> argparse.Namespace:
    """A worker's flags: the front end's, without the cluster and the web UI. A worker given GPUs sees
    only its own (Ray sets its CUDA_VISIBLE_DEVICES, so its GPU is cuda:0): the front end's --device-id
    numbers this machine's devices, not the worker's, and is left out."""
    device_id = None if gpus_each else getattr(ns, "device_id", None)
    return argparse.Namespace(**{**vars(ns), "cluster": None, "cluster_workers": 0, "nowebui": True,
                                 "device_id": device_id})


class Cluster:
    """Started by the app with its flags and the worker replica's class (interfaces/cluster/worker.py)."""

    def __init__(self, ns: argparse.Namespace, worker_cls: type) -> None:
        self.ns = ns
        self.worker_cls = worker_cls
        self.address: str | None = getattr(ns, "cluster", None)
        self.workers = int(getattr(ns, "cluster_workers", 0) or 0)
        self.retries = int(getattr(ns, "cluster_retries", 2))
        self.queue_limit = int(getattr(ns, "cluster_queue_limit", 64))
        self.timeout = float(getattr(ns, "cluster_timeout", 300) or 0)
        self._alive_checked: tuple[float, bool] = (-1e9, True)     # (when, any worker healthy)
        self.jobs = remote_jobs.RemoteJobs()
        self.ready = threading.Event()
        self.error: str | None = None
        self.handle: Any = None
        self.control: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.retried = 0        # jobs sent again because their worker died

    # start and stop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start Ray and deploy the workers in the background: the server answers meanwhile, and
        generation requests wait for `ready`."""
        self._thread = threading.Thread(target=self._start, name="cluster-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            started = time.perf_counter()
            if self.address:
                ray.init(address=self.address, namespace=NAMESPACE, include_dashboard=False,
                         configure_logging=False, log_to_driver=True)
            else:
                # every Ray port on loopback (a Ray port runs code for whoever reaches it): see
                # dispatch.prepare_ray_environment, which must have run before ray was imported
                if os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
                    raise RuntimeError("dispatch.prepare_ray_environment(local_head=True) must run before ray "
                                       "is imported")
                # "local": a head of our own, even where `ray start` left its address in
                # /tmp/ray/ray_current_cluster (ray.init() would join, or fail on, that cluster)
                ray.init(address="local", namespace=NAMESPACE, include_dashboard=False, configure_logging=False,
                         log_to_driver=True, object_store_memory=512 * 1024 * 1024)
            gpus = float(ray.cluster_resources().get("GPU", 0))
            if self.workers <= 0:
                self.workers = max(1, int(gpus))
            self.control = ray.remote(num_cpus=0)(ControlActor).options(
                name=CONTROL_NAME, get_if_exists=True, lifetime=None).remote()
            serve.start(proxy_location="Disabled")
            cpus, gpus_each, threads = _worker_resources(self.ns, self.workers, gpus)
            deployment = serve.deployment(
                self.worker_cls, name="SDWorker", num_replicas=self.workers, max_ongoing_requests=1,
                max_queued_requests=self.queue_limit, health_check_period_s=HEALTH_PERIOD_S,
                health_check_timeout_s=60, graceful_shutdown_timeout_s=5,
                ray_actor_options={"num_cpus": cpus, "num_gpus": gpus_each})
            worker_ns = worker_flags(self.ns, gpus_each)
            self.handle = serve.run(deployment.bind(worker_ns, threads, CONTROL_NAME, NAMESPACE),
                                    name=APP_NAME, route_prefix=None)
            logger.info("cluster ready: %d workers in %.1fs", self.workers, time.perf_counter() - started)
        except Exception as e:  # the server keeps running: generation answers 503 with the reason
            logger.exception("could not start the cluster")
            self.error = f"{type(e).__name__}: {e}"
            if self.address and type(e).__name__ == "AuthenticationError":
                self.error += (" (this app joins with Ray's token authentication, RAY_AUTH_MODE=token: give it the "
                               "cluster's token in ~/.ray/auth_token or RAY_AUTH_TOKEN; for a cluster started "
                               "without one, RAY_AUTH_MODE=disabled; see docs/scale-out.md)")
        finally:
            self.ready.set()
        # This thread must outlive the cluster: Ray starts its head processes (GCS, raylet) with a
        # parent-death signal, which Linux sends when the *thread* that started them ends.
        self._stop.wait()
        try:
            if ray.is_initialized():
                if self.address:    # someone else's cluster: take away only this app's workers
                    serve.delete(APP_NAME)
                else:
                    serve.shutdown()
                ray.shutdown()
        except Exception:   # shutting down anyway
            logger.debug("cluster shutdown", exc_info=True)

    def shutdown(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    async def _wait_ready(self) -> None:
        if not self.ready.is_set():
            await asyncio.to_thread(self.ready.wait)
        if self.error is not None or self.handle is None:
            raise RequestError(503, f"the generation cluster is not available: {self.error or 'not started'}")

    # jobs ---------------------------------------------------------------------------------------
    async def run_request(self, kind: str, req: Any, task_id: str) -> dict[str, Any]:
        """Run an API request model (already checked here, as on one box) on a worker: on the
        checkpoint it asks for, with this process's settings. As on one box, with
        `override_settings_restore_afterwards` false the job's settings stay in this process's."""
        from sdwebui.services import runtime
        from sdwebui.services.generation_requests import checkpoint_for

        info = checkpoint_for(req)
        if info is None:
            raise RequestError(503, f"no checkpoint found in {runtime.paths.checkpoints}")
        result = await self.run(kind, req.model_dump(), task_id, dict(runtime.opts.data), info.name)
        overrides = req.override_settings or {}
        if overrides and not req.override_settings_restore_afterwards:
            kept = runtime.opts.validate_many({k: v for k, v in overrides.items() if k != "sd_model_checkpoint"})
            if "sd_model_checkpoint" in overrides:
                kept["sd_model_checkpoint"] = info.title
            runtime.opts.data.update(kept)      # no callbacks: they would load the model here
        return result

    async def _call(self, attempt: Callable[[int], Awaitable[Any]], on_lost: Callable[[], None] = lambda: None) -> Any:
        """`attempt(n)` until it returns: again (up to --cluster-retries times) when its worker died,
        503 when the queue is full or no worker could finish it."""
        await self._wait_ready()
        for n in range(1, self.retries + 2):
            try:
                return await self._watched(attempt(n))
            except BackPressureError:
                raise RequestError(503, f"the generation queue is full ({self.queue_limit} jobs waiting, "
                                        f"--cluster-queue-limit); retry in a few seconds",
                                   headers={"Retry-After": str(RETRY_AFTER_S)}) from None
            except _WORKER_LOST as e:
                logger.warning("a worker died running a job (%s); attempt %d of %d", type(e).__name__, n,
                               self.retries + 1)
                self.retried += 1
                on_lost()
        raise RequestError(503, f"no worker could finish the job: its worker died {self.retries + 1} times "
                                "(--cluster-retries)")

    async def _watched(self, work: Awaitable[T]) -> T:
        """`work`, unless no worker is alive for --cluster-timeout seconds meanwhile: then 503 with
        Serve's reason. Serve would keep the job waiting for a worker for ever (every replica dead and
        its replacements failing to start, or no node left with a free GPU to place them on)."""
        if self.timeout <= 0:
            return await work
        task = asyncio.ensure_future(work)
        watchdog = asyncio.ensure_future(self._no_worker_for(self.timeout))
        try:
            await asyncio.wait({task, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            reason = await asyncio.to_thread(self._serve_reason)
            raise RequestError(503, f"no generation worker has been alive for {self.timeout:g} s "
                                    f"(--cluster-timeout){': ' + reason if reason else ''}",
                               headers={"Retry-After": str(RETRY_AFTER_S)})
        finally:
            watchdog.cancel()
            if not task.done():     # the client left, or no worker: the job leaves Serve's queue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _no_worker_for(self, seconds: float) -> None:
        """Returns once no worker has reported healthy for `seconds` in a row."""
        since: float | None = None
        while True:
            alive = await self._any_worker_alive()
            now = time.monotonic()
            since = None if alive else (now if since is None else since)
            if since is not None and now - since >= seconds:
                return
            await asyncio.sleep(min(1.0, seconds / 4))

    async def _any_worker_alive(self) -> bool:
        """Whether a worker reported healthy lately; asked of the control actor once a second at most,
        however many jobs wait."""
        now = time.monotonic()
        if now - self._alive_checked[0] >= 1.0:
            try:
                alive = any(w["healthy"] for w in await self._workers())
            except Exception:   # the control actor is gone too
                alive = False
            self._alive_checked = (time.monotonic(), alive)
        return self._alive_checked[1]

    @staticmethod
    def _serve_reason() -> str:
        """What Serve says of the workers' deployment (why its replicas do not start), if anything."""
        if not ray.is_initialized():    # serve.status() would start a Ray of its own
            return ""
        try:
            app = serve.status().applications[APP_NAME]
            deployment = app.deployments.get("SDWorker")
            message = str(deployment and deployment.message or app.message or app.status)
        except Exception:   # no Serve to ask: the watchdog's own message stands
            return ""
        return _short_reason(message)

    async def preload(self, name: str) -> None:
        """Load checkpoint `name` on a worker (Serve picks one; later jobs for it go there). Raises
        the load's error as a single box would report it."""
        async def attempt(_n: int) -> None:
            answer = await self.handle.options(multiplexed_model_id=name).load.remote(name)
            if answer.get("type") == "error":
                wire.raise_error(answer)

        await self._call(attempt)

    async def run_extras(self, kind: str, fields: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        """An Extras job (wire.EXTRAS_KINDS: the API's routes, or the UI's tab), already checked here,
        on any worker, with progress, interrupt and retries as a generation job: {images, html}."""
        job = self.jobs.add(new_task_id("extras"), "extras")
        return await self._run_job(job, wire.make_extras_spec(kind, job.task_id, options, **fields))

    async def run(self, kind: str, request: dict[str, Any], task_id: str, options: dict[str, Any],
                  checkpoint: str) -> dict[str, Any]:
        """Run one job on a worker and return its result event ({images, info}). Raises RequestError
        for the job's own errors (as a single box would answer them), 503 when the queue is full or
        no worker could finish it."""
        job = self.jobs.add(task_id, kind)
        return await self._run_job(job, wire.make_spec(kind, request, job.task_id, options, checkpoint))

    async def _run_job(self, job: remote_jobs.RemoteJob, spec: dict[str, Any]) -> dict[str, Any]:
        def lost() -> None:     # its worker died: the job waits for another one
            self.jobs.requeue(job)
            self.control.forget.remote(job.task_id)

        async def attempt(n: int) -> dict[str, Any]:
            job.attempts = n
            return await self._attempt(job, spec)

        try:
            return await self._call(attempt, lost)
        finally:
            self.jobs.finish(job)
            if self.control is not None:
                self.control.forget.remote(job.task_id)

    async def _attempt(self, job: remote_jobs.RemoteJob, spec: dict[str, Any]) -> dict[str, Any]:
        # a job on a checkpoint goes to a worker that has it loaded (Serve's multiplexing); others anywhere
        routing = {"multiplexed_model_id": spec["checkpoint"]} if spec["checkpoint"] else {}
        stream = self.handle.options(stream=True, **routing).generate.remote(spec)
        try:
            async for event in stream:
                kind = event.get("type")
                if kind in ("started", "progress"):
                    self.jobs.update(job, event)
                elif kind == "result":
                    return event
                elif kind == "error":
                    wire.raise_error(event)
        except asyncio.CancelledError:
            stream.cancel()     # the client left: a job still waiting in the router never runs
            raise
        raise RayActorError("the worker ended the job's stream without a result")

    # control ----------------------------------------------------------------------------------------
    def _flag(self, name: str, task_id: str | None) -> None:
        if self.control is None:
            return
        targets = [task_id] if task_id else [j.task_id for j in self.jobs.running()]
        for t in targets:
            self.control.flag.remote(t, name)

    def broadcast(self, command: str) -> None:
        """A command for every worker (control.COMMANDS): each applies it at its next health check,
        after the job it is running."""
        if self.control is not None:
            self.control.command.remote(command)

    def interrupt(self, task_id: str | None = None) -> None:
        """A1111 stops "the" running job; here every running one (or the one named)."""
        self._flag("interrupt", task_id)

    def skip(self, task_id: str | None = None) -> None:
        self._flag("skip", task_id)

    def want_preview(self, task_id: str) -> None:
        self._flag("preview", task_id)

    async def _workers(self) -> list[dict[str, Any]]:
        """The workers' last reports (replica, pid, node, device, GPUs, checkpoint, running task,
        counters, memory) with `healthy`: reported within three health checks."""
        workers: list[dict[str, Any]] = []
        if self.control is not None:
            now = time.time()
            for replica, report in sorted((await self.control.reports.remote()).items()):
                age = now - report.get("reported_at", 0)
                if age > 60:        # a replica gone for a minute: Serve has replaced it
                    continue
                workers.append({"replica": replica, **report, "healthy": age < 3 * HEALTH_PERIOD_S + 1})
        return workers

    async def memory(self) -> list[dict[str, Any]]:
        """/sdapi/v1/memory's `workers`: each healthy worker's RAM and CUDA memory in the route's own
        shape, with where it runs and what it holds."""
        return [{"replica": w["replica"], "node": w.get("node"), "device": w.get("device"), "gpus": w.get("gpus", []),
                 "checkpoint": w.get("checkpoint"), **w.get("memory", {})}
                for w in await self._workers() if w["healthy"]]

    async def describe(self) -> dict[str, Any]:
        """GET /internal/cluster: the workers (loaded checkpoint, running job, counters, health) and
        the jobs waiting or running."""
        workers = await self._workers()
        return {"mode": "address" if self.address else "local", "address": self.address,
                "ready": self.ready.is_set() and self.error is None, "error": self.error,
                "workers_wanted": self.workers, "workers": workers, "retried": self.retried,
                "running": [{"task_id": j.task_id, "replica": j.replica, "attempts": j.attempts}
                            for j in self.jobs.running()],
                "queued": self.jobs.pending_ids()}
