"""Cluster mode's plain-Python parts, without Ray: the job spec and errors on the wire, the front end's
progress mirror of remote jobs, the control actor's flags, and a worker's settings for one job."""
from __future__ import annotations

import os
import time

import pytest
import torch

from sdwebui.engine.errors import ProcessingError
from sdwebui.services.dispatch import remote_jobs, wire
from sdwebui.services.dispatch.control import ControlActor
from sdwebui.services.request_errors import RequestError, field_error


def test_the_spec_fixes_seeds_and_takes_the_checkpoint_out_of_the_overrides():
    request = {"prompt": "a", "seed": -1, "subseed": -1,
               "override_settings": {"sd_model_checkpoint": "x.safetensors", "eta_noise_seed_delta": 5}}
    spec = wire.make_spec("txt2img", request, "task(1)", {"samples_format": "png"}, "x.safetensors")
    assert spec["request"]["seed"] >= 0 and spec["request"]["subseed"] >= 0
    assert spec["request"]["override_settings"] == {"eta_noise_seed_delta": 5}
    assert spec["options"] == {"samples_format": "png", "sd_model_checkpoint": "x.safetensors"}
    assert request["seed"] == -1 and "sd_model_checkpoint" in request["override_settings"]   # not touched
    fixed = wire.make_spec("img2img", {"seed": 42, "subseed": 7}, "t", {}, "x")["request"]
    assert (fixed["seed"], fixed["subseed"]) == (42, 7)
    with pytest.raises(ValueError, match="txt2img"):
        wire.make_spec("extras", {}, "t", {}, "x")


def _round_trip(e: BaseException) -> RequestError:
    event = wire.error_event(e)
    assert event["type"] == "error"
    with pytest.raises(RequestError) as caught:
        wire.raise_error(event)
    return caught.value


def test_errors_keep_their_status_and_field_across_the_wire():
    err = _round_trip(field_error("width", "too wide"))
    assert err.status_code == 422 and err.detail[0]["loc"] == ["body", "width"]
    err = _round_trip(ProcessingError("hr_upscaler", "no such upscaler", status_code=404))
    assert err.status_code == 404 and err.detail[0]["loc"] == ["body", "hr_upscaler"]
    err = _round_trip(torch.OutOfMemoryError("CUDA out of memory"))
    assert err.status_code == 507 and "out of memory" in str(err.detail)
    try:
        raise KeyError("boom")
    except KeyError as e:
        err = _round_trip(e)
    assert err.status_code == 500 and "KeyError" in err.detail and "test_dispatch.py" in err.detail


def test_the_mirror_follows_a_remote_job_from_queued_to_finished():
    jobs = remote_jobs.RemoteJobs()
    a, b = jobs.add("task(a)", "txt2img"), jobs.add("task(b)", "img2img")
    assert jobs.pending_ids() == ["task(a)", "task(b)"] and jobs.position("task(b)") == 1
    assert jobs.add("task(a)", "txt2img").task_id == "task(a)+"     # a repeated id does not replace a job
    jobs.update(b, {"type": "started", "replica": "r1"})
    time.sleep(0.01)
    jobs.update(a, {"type": "started", "replica": "r2"})
    assert jobs.current() is b and [j.task_id for j in jobs.running()] == ["task(b)", "task(a)"]
    jobs.update(b, {"type": "progress", "job_count": 1, "job_no": 0, "sampling_step": 5, "sampling_steps": 10,
                    "elapsed": 2.0, "textinfo": "x", "preview": "QUJD", "preview_format": "webp",
                    "id_live_preview": 3})
    progress, eta = b.state.progress()
    assert 0.5 < progress < 0.52 and eta > 0 and b.state.textinfo == "x"
    assert (b.preview, b.preview_format, b.state.id_live_preview) == ("QUJD", "webp", 3)
    jobs.requeue(b)         # its worker died: waiting again, with nothing of the lost attempt
    assert b.status == remote_jobs.QUEUED and b.preview is None and b.state.sampling_step == 0
    assert jobs.current() is a and "task(b)" in jobs.pending_ids()
    jobs.finish(b)
    assert jobs.is_finished("task(b)") and jobs.get("task(b)") is None and not jobs.is_finished("task(a)")


def test_control_flags_belong_to_one_task():
    control = ControlActor()
    control.flag("t1", "interrupt")
    control.flag("t1", "preview")
    control.flag("t2", "skip")
    assert control.take("t1") == ["interrupt", "preview"] and control.take("t1") == []
    control.forget("t2")
    assert control.take("t2") == []
    with pytest.raises(ValueError, match="interrupt"):
        control.flag("t1", "explode")
    assert control.epoch() == 0 and control.commands_since(0) == []
    assert control.command("refresh-loras") == 1 and control.command("unload-checkpoint") == 2
    assert control.commands_since(1) == [(2, "unload-checkpoint")]
    with pytest.raises(ValueError, match="refresh-loras"):
        control.command("format-disk")
    control.report("r1", {"jobs": 1})
    control.report("r1", {"checkpoint": "x"})
    assert control.reports()["r1"]["jobs"] == 1 and control.reports()["r1"]["checkpoint"] == "x"
    control.drop("r1")
    assert control.reports() == {}


def test_a_job_runs_with_the_front_ends_settings_then_the_workers_come_back():
    from sdwebui.services.options.store import OptionInfo, Options

    opts = Options({"a": OptionInfo(1), "b": OptionInfo("x")})
    opts.data["worker_only"] = True
    with opts.replaced({"a": 2, "c": 3}):
        assert (opts.a, opts.b, opts.data["c"]) == (2, "x", 3)
    assert opts.data == {"a": 1, "b": "x", "worker_only": True}


class _Done:
    """What a Ray actor method's `.remote()` gives: awaitable (here already done), or dropped."""

    def __init__(self, value=None):
        self.value = value

    def __await__(self):
        if False:
            yield
        return self.value


class _Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args, **kwargs):
        return _Done(self.fn(*args, **kwargs))


class _Control:
    def __init__(self, healthy: bool):
        self.healthy = healthy
        self.reports = _Method(lambda: {"r1": {"reported_at": time.time()}} if self.healthy else {})
        self.forget = self.flag = _Method(lambda *a: None)


class _Stream:
    """A Serve response stream: `events`, each after `delay` seconds; None waits for ever."""

    def __init__(self, events, delay: float):
        self.events, self.delay, self.cancelled = events, delay, False

    def cancel(self):
        self.cancelled = True

    async def __aiter__(self):
        import asyncio

        for event in self.events:
            await asyncio.sleep(self.delay)
            if event is None:
                await asyncio.Event().wait()
            yield event


class _Handle:
    def __init__(self, stream):
        self.stream = stream
        self.generate = self        # a streaming call answers its stream at once, not an awaitable

    def remote(self, spec):
        return self.stream

    def options(self, **_):
        return self


def _cluster_with(healthy: bool, stream: _Stream, timeout: float):
    import argparse

    from sdwebui.services.dispatch.ray_cluster import Cluster

    cluster = Cluster(argparse.Namespace(cluster_workers=1, cluster_timeout=timeout), worker_cls=object)
    cluster.handle, cluster.control = _Handle(stream), _Control(healthy)
    cluster.ready.set()
    return cluster


def test_a_job_does_not_wait_for_ever_when_no_worker_is_alive():
    """Serve keeps a job waiting while its replicas are dead and cannot be replaced; the front end
    answers 503 after --cluster-timeout seconds without a live worker, and takes the job out of the queue."""
    import asyncio

    pytest.importorskip("ray.serve", reason="the cluster extra is not installed")
    stream = _Stream([None], 0)
    cluster = _cluster_with(False, stream, timeout=0.3)
    with pytest.raises(RequestError) as caught:
        asyncio.run(cluster.run("txt2img", {"seed": 1, "subseed": 1}, "task(w)", {}, "x.safetensors"))
    assert caught.value.status_code == 503 and "--cluster-timeout" in str(caught.value.detail)
    assert caught.value.headers["Retry-After"].isdigit()
    assert stream.cancelled and cluster.jobs.running() == [] and cluster.jobs.pending_ids() == []

    # a live worker: a job that takes longer than the timeout is waited for
    result = {"type": "result", "images": [], "info": "{}"}
    slow = _cluster_with(True, _Stream([{"type": "started", "replica": "r1"}, result], 0.5), timeout=0.3)
    assert asyncio.run(slow.run("txt2img", {"seed": 1, "subseed": 1}, "task(s)", {}, "x.safetensors")) == result


def test_workers_get_the_front_ends_flags_but_their_own_gpu():
    import argparse

    pytest.importorskip("ray.serve", reason="the cluster extra is not installed")
    from sdwebui.services.dispatch.ray_cluster import _worker_resources, worker_flags

    ns = argparse.Namespace(cluster="10.0.0.1:6379", cluster_workers=4, nowebui=False, device_id="1", medvram=True,
                            cluster_worker_threads=0)
    on_gpu = worker_flags(ns, 1.0)
    assert (on_gpu.cluster, on_gpu.cluster_workers, on_gpu.nowebui, on_gpu.device_id, on_gpu.medvram) == \
        (None, 0, True, None, True)         # Ray's CUDA_VISIBLE_DEVICES numbers the worker's one GPU as 0
    assert worker_flags(ns, 0.0).device_id == "1"       # CPU workers: the flag is the user's to keep
    assert _worker_resources(ns, 4, 8.0) == (0.0, 1.0, 0)       # one GPU each
    assert _worker_resources(ns, 4, 2.0) == (0.0, 0.5, 0)       # fewer GPUs than workers: a share
    cpus, gpus, threads = _worker_resources(ns, 2, 0.0)
    assert gpus == 0.0 and threads >= 1 and cpus <= (os.cpu_count() or 1) / 2


def test_serves_reason_is_its_first_line_and_the_last_error():
    pytest.importorskip("ray.serve", reason="the cluster extra is not installed")
    from sdwebui.services.dispatch.ray_cluster import _short_reason

    message = ("The deployment failed to start 3 times in a row. See controller logs for details. Error:\n"
               "\x1b[36mray::ServeReplica:sd-webui:SDWorker.initialize_and_get_metadata()\x1b[39m (pid=1)\n"
               '  File "replica.py", line 1867, in initialize\n'
               "RuntimeError: CUDA error: no CUDA-capable device is detected\n")
    assert _short_reason(message) == ("The deployment failed to start 3 times in a row. See controller logs for "
                                      "details. Last error: RuntimeError: CUDA error: no CUDA-capable device is "
                                      "detected")
    assert _short_reason("DEPLOYING") == "DEPLOYING" and _short_reason("") == ""


def test_the_front_ends_sd_model_is_the_selected_checkpoints_view_and_never_loads(api, monkeypatch):
    """Cluster mode: the front end holds no model. `shared.sd_model` (and model_data.get_sd_model())
    answer the A1111 fields extensions read in their UI code from the checkpoint's header; the
    weights' attributes say where the model is."""
    from modules import sd_models, shared as a1111_shared
    from sdwebui.services import runtime

    resident = runtime.model_manager.checkpoint_info
    monkeypatch.setattr(runtime, "cluster", object())
    monkeypatch.setitem(runtime.opts.data, "sd_model_checkpoint", "tiny-sdxl.safetensors")
    view = a1111_shared.sd_model
    assert view.is_sdxl and not (view.is_sd1 or view.is_sd2 or view.is_sd3 or view.is_flux)
    assert view.sd_checkpoint_info.name == "tiny-sdxl.safetensors" and view.sd_model_checkpoint.endswith("tiny-sdxl.safetensors")
    assert view.sd_model_hash == view.sd_checkpoint_info.shorthash and view.cond_stage_key == "txt"
    assert sd_models.model_data.get_sd_model() is view is a1111_shared.sd_model     # the same object, no load
    assert getattr(view, "unet", None) is None
    with pytest.raises(AttributeError, match="cluster mode .* holds no model"):
        view.text_encoder
    monkeypatch.setitem(runtime.opts.data, "sd_model_checkpoint", "tiny-sd3.safetensors")
    assert a1111_shared.sd_model.is_sd3 and a1111_shared.sd_model.latent_channels == 16
    assert runtime.model_manager.checkpoint_info is resident                      # nothing was loaded here
