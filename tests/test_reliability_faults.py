"""Reliability under faults (issue 8, part 2). Each fault is injected, then the test checks that it
got a clear answer and that the server goes on serving the same model (same seed, same pixels):

- in-process app (`api` fixture): truncated, corrupt-header and vanished checkpoint files;
  interrupts at random sampling steps, many times; a full disk and an unwritable output folder
  while saving (the image is still returned, with a warning, and no torn file is left);
- a real server (`launch.py --api`, loopback) with the `fault-injector` fixture extension: out of
  memory in the middle of sampling, an exception in an extension callback mid-sampling, clients
  that disconnect while their job is queued or running, options written while a job with
  override_settings runs;
- a process killed with SIGKILL while it saves options, many times: config.json is always the old
  or the new content.

Extension failures in Script hooks are covered in tests/test_extension_hooks.py, a corrupt (all
zero) checkpoint file in tests/test_api.py; not repeated here. No test asserts a duration."""
from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path

import httpx
import pytest

from tests.reliability_support import SMALL, WAIT, Figures, RawRequest, pixels, rss_kib, wait_for
from tests.server_process import ROOT

FIGURES = Figures("faults")


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    FIGURES.dump()


def txt2img(client, **kw) -> dict:
    r = client.post("/sdapi/v1/txt2img", json={**SMALL, **kw})
    assert r.status_code == 200, r.text
    return r.json()


# --- checkpoint files ------------------------------------------------------------------------------

def test_truncated_corrupt_and_vanished_checkpoints_leave_the_model_serving(api, data_dir, tiny_files):
    ckpt_dir = data_dir / "models" / "Stable-diffusion"
    reference = pixels(txt2img(api, prompt="faults reference", seed=21)["images"][0])
    loaded = api.get("/sdapi/v1/options").json()["sd_model_checkpoint"]
    source = tiny_files["sd1b"].read_bytes()
    bad_files = {
        # half a file: the header promises tensors the file does not hold
        "fault-truncated": source[: len(source) // 2],
        # a header length of 1 TiB: must be refused, not allocated
        "fault-header": (1 << 40).to_bytes(8, "little") + b'{"a": 1}',
        # a valid header, then the tensor bytes cut off after a few KiB
        "fault-cut": source[:8 + int.from_bytes(source[:8], "little") + 4096],
        # vanished: listed by the refresh, deleted before the switch
        "fault-vanished": source,
    }
    try:
        for name, data in bad_files.items():
            (ckpt_dir / f"{name}.safetensors").write_bytes(data)
        assert api.post("/sdapi/v1/refresh-checkpoints").status_code == 200
        listed = {m["model_name"] for m in api.get("/sdapi/v1/sd-models").json()}
        assert set(bad_files) <= listed
        (ckpt_dir / "fault-vanished.safetensors").unlink()
        for name in bad_files:
            # through options (a model switch) and through a generation's override_settings
            r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": name})
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
            assert name in r.text and "previous model" in r.text, r.text
            r = api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "x", "seed": 21,
                                                    "override_settings": {"sd_model_checkpoint": name}})
            assert 400 <= r.status_code < 500 and name in r.text, (name, r.status_code, r.text)
            assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == loaded
            again = pixels(txt2img(api, prompt="faults reference", seed=21)["images"][0])
            assert (again == reference).all(), f"the model changed after a failed load of {name}"
            FIGURES.add("checkpoint faults survived", 2)
    finally:
        for name in bad_files:
            (ckpt_dir / f"{name}.safetensors").unlink(missing_ok=True)
        api.post("/sdapi/v1/refresh-checkpoints")


# --- interrupts ------------------------------------------------------------------------------------

def test_interrupt_at_random_steps_many_times(api):
    """Ten jobs, each interrupted once progress reaches a random step: every one answers 200 with
    its (partial) image, and the next normal job is not affected."""
    rng = random.Random(8)
    steps = 10
    reference = pixels(txt2img(api, prompt="after interrupts", seed=3, steps=steps)["images"][0])
    interrupted_mid_run = 0
    for i in range(10):
        target = rng.randint(1, steps - 2)
        result: dict[str, httpx.Response] = {}
        t = threading.Thread(target=lambda: result.update(r=api.post(
            "/sdapi/v1/txt2img", json={**SMALL, "prompt": f"interrupt {i}", "seed": 30 + i, "steps": steps})))
        t.start()

        def reached() -> bool:
            state = api.get("/sdapi/v1/progress", params={"skip_current_image": True}).json()["state"]
            return state["sampling_step"] >= target or "r" in result

        wait_for(reached, f"step {target} of job {i}", interval=0.005)
        if "r" not in result:
            interrupted_mid_run += 1
        assert api.post("/sdapi/v1/interrupt").status_code == 200
        t.join(WAIT)
        r = result["r"]
        assert r.status_code == 200, r.text
        assert len(r.json()["images"]) == 1 and pixels(r.json()["images"][0]).shape == (64, 64, 3)
    FIGURES.add("interrupts injected", 10)
    FIGURES.add("interrupts that landed mid-sampling", interrupted_mid_run)
    from sdwebui.services import runtime as shared

    assert shared.queue.pending_ids() == []   # (--nowebui serves no /internal routes)
    after = pixels(txt2img(api, prompt="after interrupts", seed=3, steps=steps)["images"][0])
    assert (after == reference).all(), "a job after the interrupts was affected by them"


# --- saving: disk full, unwritable folder -------------------------------------------------------------

def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_disk_full_while_saving_still_returns_the_image(api, data_dir, monkeypatch):
    """The file system answers ENOSPC in the middle of writing the image (after the data went to
    the temp file, at fsync): the response still carries the image and says it was not saved;
    no partial or temp file is left."""
    from sdwebui.engine.images import writing as images_mod

    real_os = os

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # only the images module's view of `os` is patched, so the rest of the process is unaffected
    fake_os = types.SimpleNamespace(**{k: getattr(real_os, k) for k in dir(real_os) if not k.startswith("__")})
    fake_os.fsync = fsync
    monkeypatch.setattr(images_mod, "os", fake_os)
    outputs = data_dir / "outputs"
    before = _files(outputs)
    for kind in ("txt2img", "img2img"):
        extra = {"init_images": [txt2img(api, seed=5)["images"][0]]} if kind == "img2img" else {}
        r = api.post(f"/sdapi/v1/{kind}", json={**SMALL, "prompt": "disk full", "seed": 41, "save_images": True,
                                                **extra})
        assert r.status_code == 200, r.text
        body = r.json()
        assert pixels(body["images"][0]).shape == (64, 64, 3)
        warnings = json.loads(body["info"]).get("warnings", [])
        assert any("not saved" in w and "No space left" in w for w in warnings), warnings
        FIGURES.add("save faults survived (image returned)")
    assert _files(outputs) == before, "a partial or temp file was left behind"


def test_unwritable_output_folder_still_returns_the_image(api, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the output folder's parent should be")
    old = api.get("/sdapi/v1/options").json()["outdir_txt2img_samples"]
    assert api.post("/sdapi/v1/options", json={"outdir_txt2img_samples": str(blocker / "out")}).status_code == 200
    try:
        r = api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "unwritable", "seed": 42, "save_images": True})
        assert r.status_code == 200, r.text
        assert pixels(r.json()["images"][0]).shape == (64, 64, 3)
        warnings = json.loads(r.json()["info"]).get("warnings", [])
        assert any("not saved" in w and "not-a-folder" in w for w in warnings), warnings
        FIGURES.add("save faults survived (image returned)")
    finally:
        assert api.post("/sdapi/v1/options", json={"outdir_txt2img_samples": old}).status_code == 200
    txt2img(api, prompt="writable again", seed=42)


def test_a_jobs_overrides_are_never_saved_and_writes_during_it_are_kept(tmp_path):
    """The store-level rule behind the last server test below: while a job's override_settings
    are in force, a save writes the values outside the job, and a value written meanwhile is
    the one that stays after the job."""
    from sdwebui.services.options import registry as shared_options
    from sdwebui.services.options.store import Options

    opts = Options(shared_options.templates(vae_choices=lambda: ["Automatic", "None"]), tmp_path / "config.json")
    with opts.override({"jpeg_quality": 42, "samples_format": "webp"}):
        assert opts.jpeg_quality == 42 and opts.samples_format == "webp"
        assert opts.set("jpeg_quality", 77) and opts.set("save_txt", True)
        opts.save()
        saved = json.loads(opts.path.read_text())
        assert saved["jpeg_quality"] == 77 and saved["samples_format"] == "png" and saved["save_txt"] is True
    assert opts.jpeg_quality == 77 and opts.samples_format == "png"
    with opts.override({"jpeg_quality": 50}, restore=False):   # override_settings_restore_afterwards off
        pass
    assert opts.jpeg_quality == 50


# --- kill -9 during an options save -------------------------------------------------------------------

SAVER = """
import sys
from pathlib import Path
from sdwebui.services.options.store import Options

opts = Options({}, Path(sys.argv[1]))
contents = [{f"key{i}": c * 100 for i in range(4000)} for c in "ab"]   # ~0.5 MB each
opts.data.update(contents[0])
opts.save()
print("ready", flush=True)
n = 0
while True:
    n += 1
    opts.data.update(contents[n % 2])
    opts.save()
"""


def test_kill_9_during_options_save_leaves_old_or_new_config(tmp_path):
    """Options.save in a tight loop alternating two contents, SIGKILLed at random moments: each
    time config.json parses and is exactly one of the two contents, never torn or empty."""
    rng = random.Random(9)
    config = tmp_path / "config.json"
    kills, torn, temp_left = 12, 0, 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(config)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            # a random moment inside the save loop (where it lands is counted, not assumed)
            threading.Event().wait(rng.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            proc.wait(WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            torn += 1
            continue
        assert set(data.values()) in ({"a" * 100}, {"b" * 100}) and len(data) == 4000
        leftovers = list(tmp_path.glob(".config.json.*.tmp"))
        temp_left += len(leftovers)
        for p in leftovers:   # what a kill leaves is an unused temp file, never the config itself
            p.unlink()
    assert torn == 0
    FIGURES.add("kill -9 during options save", kills)
    FIGURES.add("kill -9 that left a temp file (killed mid-write)", temp_left)
    FIGURES.add("config.json torn after kill -9", torn)


# --- a real server: OOM, extension errors mid-sampling, disconnecting clients ---------------------------

@pytest.fixture(scope="module")
def server(reliability_server):
    reliability_server.reference = pixels(txt2img(reliability_server.client, prompt="reference", seed=11)["images"][0])
    return reliability_server


def same_model_still_serving(server) -> None:
    assert server.client.get("/internal/pending-tasks").json()["size"] == 0
    # (the answer can come a moment before the worker has reset the progress state)
    wait_for(lambda: server.client.get("/sdapi/v1/progress").json()["state"]["job_count"] == 0, "idle progress")
    again = pixels(txt2img(server.client, prompt="reference", seed=11)["images"][0])
    assert (again == server.reference).all(), "the model changed after the fault"


def test_out_of_memory_mid_sampling_is_a_clear_507_and_the_model_stays_usable(server):
    for kind in ("txt2img", "img2img"):
        extra = {"init_images": [txt2img(server.client, seed=2)["images"][0]]} if kind == "img2img" else {}
        r = server.client.post(f"/sdapi/v1/{kind}", json={**SMALL, "prompt": "inject-oom", "steps": 4, **extra})
        assert r.status_code == 507, r.text
        detail = r.json()["detail"]
        assert "out of memory" in detail and "the server keeps running" in detail
        same_model_still_serving(server)
        FIGURES.add("out-of-memory faults survived")


def test_exception_in_an_extension_callback_mid_sampling_fails_only_its_job(server):
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "inject-crash", "steps": 4})
    assert r.status_code == 500
    detail = r.json()["detail"]
    assert "fault-injector" in detail and "cfg_denoiser" in detail and "fault injected mid-sampling" in detail
    same_model_still_serving(server)
    FIGURES.add("extension exceptions survived")


def _held(server, task_id: str) -> bool:
    r = server.client.post("/internal/progress", json={"id_task": task_id, "id_live_preview": -1}).json()
    return r["active"] and server.client.get("/sdapi/v1/progress").json()["state"]["sampling_step"] >= 1


def test_clients_that_disconnect_while_queued_or_running(server):
    """A client that leaves while its job waits takes the job out of the queue; one that leaves
    while its job runs lets it finish; either way the queue moves on."""
    client = server.client
    running = RawRequest(server.port, "/sdapi/v1/txt2img",
                         {**SMALL, "prompt": "inject-hold gone running", "force_task_id": "task(gone-running)"})
    wait_for(lambda: _held(server, "task(gone-running)"), "the held job to run")
    queued = [RawRequest(server.port, "/sdapi/v1/txt2img" if i % 2 == 0 else "/sdapi/v1/img2img",
                         {**SMALL, "prompt": f"gone queued {i}", "force_task_id": f"task(gone-queued-{i})",
                          **({"init_images": [_tiny_png()]} if i % 2 else {})})
              for i in range(3)]
    stays = RawRequest(server.port, "/sdapi/v1/txt2img", {**SMALL, "prompt": "stays", "force_task_id": "task(stays)"})
    wanted = {f"task(gone-queued-{i})" for i in range(3)} | {"task(stays)"}
    wait_for(lambda: wanted <= set(client.get("/internal/pending-tasks").json()["tasks"]), "all jobs queued")
    for q in queued:
        q.vanish()
    wait_for(lambda: client.get("/internal/pending-tasks").json()["tasks"] == ["task(stays)"],
             "the departed clients' jobs to leave the queue")
    FIGURES.add("client disconnects while queued (job dropped)", len(queued))
    running.vanish()
    assert _held(server, "task(gone-running)"), "a running job is finished, not dropped"
    assert client.post("/sdapi/v1/interrupt").status_code == 200
    assert stays.status() == 200
    FIGURES.add("client disconnects while running (job finished)")
    same_model_still_serving(server)


def _tiny_png() -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 30, 200)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_options_written_while_a_job_with_override_settings_runs(server):
    """A job runs with override_settings; meanwhile a client writes options. The write is answered
    while the job runs, config.json keeps the user's values (not the job's temporary overrides),
    and after the job the override is gone and the written value stays."""
    client = server.client
    config = server.data / "config.json"
    before = client.get("/sdapi/v1/options").json()
    result: dict[str, httpx.Response] = {}
    t = threading.Thread(target=lambda: result.update(r=client.post("/sdapi/v1/txt2img", json={
        **SMALL, "prompt": "inject-hold override", "force_task_id": "task(override)",
        "override_settings": {"jpeg_quality": 42, "samples_format": "webp"}})))
    t.start()
    wait_for(lambda: _held(server, "task(override)"), "the held job to run")
    r = client.post("/sdapi/v1/options", json={"jpeg_quality": 77, "save_txt": not before["save_txt"]})
    assert r.status_code == 200, r.text
    assert _held(server, "task(override)")
    saved = json.loads(config.read_text())
    assert saved["jpeg_quality"] == 77 and saved["save_txt"] is (not before["save_txt"])
    assert saved.get("samples_format", "png") == before["samples_format"], "a job's override was saved"
    assert client.post("/sdapi/v1/interrupt").status_code == 200
    t.join(WAIT)
    assert result["r"].status_code == 200
    after = client.get("/sdapi/v1/options").json()
    assert after["jpeg_quality"] == 77 and after["samples_format"] == before["samples_format"]
    assert client.post("/sdapi/v1/options", json={"jpeg_quality": before["jpeg_quality"],
                                                  "save_txt": before["save_txt"]}).status_code == 200
    FIGURES.add("options writes during a job with override_settings")


def test_server_memory_and_health_after_the_faults(server):
    assert server.proc.poll() is None and server.alive()
    FIGURES.set("faults server rss MiB", round(rss_kib(server.proc.pid) / 1024, 1))
    same_model_still_serving(server)
