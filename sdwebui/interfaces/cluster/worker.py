"""A cluster worker: one Ray Serve replica with its own services (model manager, queue, job state,
extensions), built from the front end's flags. It serves no HTTP; the front end sends it jobs
(services/dispatch/wire.py) and it streams back progress and the result.

A job is rebuilt from the request's fields by the same code the API uses on one box
(api/generation.build_processing), runs on this worker's own queue with the front end's settings,
and its images are encoded here as the API would encode them. config.json is never written here.

Imported only in cluster mode (it imports ray).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import time
from typing import Any, AsyncIterator

import ray
from ray import serve

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.images import metadata as images_mod
from sdwebui.services import postprocessing, runtime as shared
from sdwebui.services.dispatch import wire
from sdwebui.services.extensions import scripts as scripts_mod

logger = logging.getLogger(__name__)

POLL_S = 0.25       # how often a running job reports progress and takes its control flags


def _keep_replica_port_on_loopback() -> None:
    """Ray Serve 2.60 opens each replica's inter-deployment gRPC port on every interface (the address
    "[::]:0" is written into its replica code), whatever the node's address. With the head inside the
    app every other Ray port is on loopback (dispatch.prepare_ray_environment); this puts that one
    there too. Runs when this module is imported in the replica process, before Serve opens the port;
    if Ray's code changes shape, nothing is patched (and the test of the ports says so)."""
    if os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
        return
    from ray.serve._private import replica

    original = getattr(replica, "add_port_to_grpc_server", None)
    if original is None or getattr(original, "loopback_only", False):
        return

    def add_port(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address.rsplit(":", 1)[1]
        return original(server, address)

    add_port.loopback_only = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port


_keep_replica_port_on_loopback()


class SDWorker:
    def __init__(self, ns: argparse.Namespace, threads: int, control_name: str, namespace: str) -> None:
        for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("DIFFUSERS_OFFLINE", "1"),
                           ("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_DISABLE_TELEMETRY", "1")):
            os.environ.setdefault(key, value)
        import torch

        if threads:     # CPU workers: a share of the cores (or --cluster-worker-threads)
            torch.set_num_threads(threads)
        from sdwebui.interfaces import startup

        startup.prepare_services(ns, persist_settings=False)
        startup.prepare_api_scripts()
        self.control = ray.get_actor(control_name, namespace=namespace)
        try:
            self.replica = serve.get_replica_context().replica_id.unique_id
        except Exception:   # outside Serve (a unit test)
            self.replica = f"local-{os.getpid()}"
        self.counters = {"jobs": 0, "failed": 0, "interrupted": 0, "loads": 0}
        self.epoch = ray.get(self.control.epoch.remote())     # commands sent before this worker: not for it
        self.running: str | None = None
        info = shared.select_checkpoint()
        if info is not None and not ns.skip_load_model_at_start:
            try:    # the default model, before taking jobs
                shared.queue.run(lambda: self._load(info.name))
            except Exception as e:  # as one box: the worker starts without it; a job that needs it says why
                logger.error("worker %s could not load %s at start: %s", self.replica, info.name, e)
        self._report()

    # reports ------------------------------------------------------------------------------------
    def _report(self) -> None:
        from sdwebui.services.memory import memory_report

        info = shared.model_manager.checkpoint_info if shared.model_manager is not None else None
        report = memory_report()        # /sdapi/v1/memory's shape, for the front end's answer there
        memory = {"ram_mb": round(report["ram"]["used"] / 2**20), "memory": report}
        if "system" in report["cuda"]:
            memory["vram_allocated_mb"] = round(report["cuda"]["allocated"]["current"] / 2**20)
            memory["vram_used_mb"] = round(report["cuda"]["system"]["used"] / 2**20)
        self.control.report.remote(self.replica, {
            "pid": os.getpid(), "node": socket.gethostname(), "device": str(shared.device),
            # the GPUs Ray gave this worker (their ids on its node) and what torch is shown of them
            "gpus": [str(i) for i in ray.get_gpu_ids()], "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "checkpoint": info.title if info is not None else None, "running": self.running, **memory,
            **self.counters})

    async def check_health(self) -> None:
        """Serve calls it every few seconds: a dead queue thread makes the replica unhealthy (Serve
        replaces it); each call is also this worker's heartbeat in /internal/cluster."""
        thread = shared.queue.worker_thread if shared.queue is not None else None
        if thread is None or not thread.is_alive():
            raise RuntimeError("the worker's generation queue has stopped")
        for epoch, command in await self.control.commands_since.remote(self.epoch):
            self.epoch = epoch
            shared.queue.submit(lambda c=command: self._command(c), name=command)     # after the running job
        self._report()

    def _command(self, command: str) -> None:
        """A command every worker gets (the front end's admin routes), on this worker's queue. Its
        failure is logged here: the route that sent it has answered already."""
        try:
            self._apply_command(command)
        except Exception:
            logger.exception("cluster command %s failed on worker %s", command, self.replica)
        self._report()

    @staticmethod
    def _apply_command(command: str) -> None:
        if command == "refresh-checkpoints":
            shared.registry.refresh()
        elif command == "refresh-vae":
            shared.vae_registry.refresh()
        elif command == "refresh-loras":
            shared.loras.refresh()
        elif command == "refresh-embeddings":
            shared.embeddings.refresh(shared.model_manager.sd_model, force=True)
        elif command == "unload-checkpoint":
            shared.model_manager.unload()
        elif command == "reload-checkpoint":
            shared.ensure_model_loaded()

    # models -------------------------------------------------------------------------------------
    def _load(self, name: str) -> None:
        """Make `name` the resident model (queue thread)."""
        info = shared.registry.match(name)
        if info is None:        # a file added since this worker listed them
            shared.registry.refresh()
            info = shared.registry.match(name)
        if info is None:
            raise ProcessingError("sd_model_checkpoint", f"checkpoint {name!r} not found on this worker", 404)
        if shared.model_manager.checkpoint_info != info or shared.model_manager.sd_model is None:
            shared.model_manager.load(info)
            self.counters["loads"] += 1

    @serve.multiplexed(max_num_models_per_replica=1)
    async def get_model(self, name: str) -> str:
        """Serve's model multiplexing: it routes jobs for `name` to the replicas that hold it."""
        await asyncio.to_thread(shared.queue.run, lambda: self._load(name))
        self._report()
        return name

    async def load(self, name: str) -> dict[str, Any]:
        """Preload a checkpoint (POST /options sd_model_checkpoint in cluster mode)."""
        try:
            await self.get_model(name)
        except Exception as e:  # a load that fails keeps the previous model; the caller gets why
            return wire.error_event(e)
        return {"type": "loaded", "replica": self.replica, "checkpoint": name}

    # jobs ---------------------------------------------------------------------------------------
    def _run(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The job, on this worker's queue, with the front end's settings for its duration."""
        if spec["kind"] in wire.EXTRAS_KINDS:
            with shared.opts.replaced(spec["options"]):
                return self._run_extras(spec)
        from sdwebui.interfaces.api.generation import REQUEST_MODELS, build_processing, encode_images

        self._load(spec["checkpoint"])     # a hires pass may have switched the model since
        with shared.opts.replaced(spec["options"]):
            req = REQUEST_MODELS[spec["kind"]](**spec["request"])
            p = build_processing(spec["kind"], req)
            processed = scripts_mod.run_processing(p)
            return {"type": "result", "images": encode_images(req, processed), "info": processed.js()}

    @staticmethod
    def _run_extras(spec: dict[str, Any]) -> dict[str, Any]:
        """An Extras job: the API's request (images back as base64), or the UI tab's (saved here, as
        one box saves them, and sent back as images)."""
        if spec["kind"] == "extras":
            from sdwebui.interfaces.api.extras import REQUEST_MODELS, encode_with_info, extras_job

            req = REQUEST_MODELS[spec["mode"]](**spec["request"])
            out, html = extras_job(spec["mode"], req)()
            return {"type": "result", "images": [encode_with_info(im) for im in out], "html": html}
        out, html, _ = postprocessing.run_postprocessing(spec["mode"], None, None, "", spec["output_dir"], spec["show"],
                                                         *spec["args"], sources=spec["sources"])
        return {"type": "result", "images": out, "html": html}

    async def generate(self, spec: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        task_id = spec["task_id"]
        self.running = task_id
        yield {"type": "started", "replica": self.replica, "pid": os.getpid(), "node": socket.gethostname()}
        try:
            if spec["checkpoint"]:
                await self.get_model(spec["checkpoint"])
            job = shared.queue.submit(lambda: self._run(spec), task_id=task_id, name=spec["kind"])
            waiter = asyncio.wrap_future(job.future)
            preview_id, interrupted = 0, False
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=POLL_S)
                if done:
                    break
                for flag in await self.control.take.remote(task_id):
                    self._apply_flag(flag)
                    interrupted |= flag == "interrupt"
                event, preview_id = self._progress_event(preview_id)
                yield event
            last = waiter.result()
            self.counters["jobs"] += 1
            self.counters["interrupted"] += int(interrupted)
        except Exception as e:  # the job's own error: answered as one box answers it, not retried
            self.counters["failed"] += 1
            last = wire.error_event(e)
        # the counters and the report before the last event: the caller may stop reading after it
        self.running = None
        self._report()
        yield last

    @staticmethod
    def _apply_flag(flag: str) -> None:
        state = shared.state
        if flag == "interrupt":
            state.interrupt()
        elif flag == "skip":
            state.skip()
        elif flag == "preview":
            state.request_live_preview()

    @staticmethod
    def _progress_event(preview_id: int) -> tuple[dict[str, Any], int]:
        state = shared.state
        elapsed = 0.0 if state.time_start is None else max(0.0, time.time() - state.time_start)
        event: dict[str, Any] = {"type": "progress", **state.dict(), "textinfo": state.textinfo, "elapsed": elapsed}
        image = state.current_image
        if image is not None and state.id_live_preview != preview_id:
            fmt = shared.opts.live_previews_image_format
            event.update(preview=images_mod.encode_b64(image, fmt), preview_format=fmt,
                         id_live_preview=state.id_live_preview)
            preview_id = state.id_live_preview
        return event, preview_id
