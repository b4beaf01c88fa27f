"""Generation on a cluster: the real server started as a user would (`launch.py --cluster-workers 2`),
a Ray head inside it and two CPU worker replicas with the tiny default model, checked over HTTP.

- jobs run on both workers and every image is the same bytes on either worker and on one box (the
  seed is fixed before dispatch; on CPU one box must use the workers' thread count: float sums
  follow the thread split);
- progress, live preview and interrupt of a job on a worker;
- a worker killed with SIGKILL mid-job: every client still gets its 200, the killed job's image is
  the same, and Serve replaces the worker;
- application errors keep their status and are not retried; a full queue is a 503 with Retry-After;
- jobs for a checkpoint go to the worker that has it loaded;
- without a cluster flag, ray is never imported.
"""
from __future__ import annotations

import base64
import concurrent.futures as cf
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.cluster_support import RAY_CURRENT_CLUSTER, cluster_info, digest, forget_cluster_address, wait_workers
from tests.server_process import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.cluster
pytest.importorskip("ray.serve", reason="the cluster extra is not installed (pip install -e .[cluster])")

QUEUE_LIMIT = 8
BASE = {"prompt": "a cat", "negative_prompt": "", "steps": 6, "sampler_name": "Euler a", "width": 64, "height": 64}
LONG = dict(BASE, width=192, height=192, steps=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from sdwebui.engine.models.tiny import write_tiny_checkpoint

    folder = tmp_path_factory.mktemp("cluster")
    ckpts = folder / "models" / "Stable-diffusion"
    ckpts.mkdir(parents=True)
    from sdwebui.services.runtime import install_default_checkpoint

    install_default_checkpoint(ckpts / "tiny-default-sd1.safetensors")
    write_tiny_checkpoint(ckpts / "xtra-sd1.safetensors", "sd1", seed=7)
    (ckpts / "zz-broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    # a user's extension (tests/fixtures/cluster-marker): an always-on script, and a task runner as
    # agent-scheduler's; the workers load it from the same folder
    shutil.copytree(Path(__file__).parent / "fixtures" / "cluster-marker", folder / "extensions" / "cluster-marker")
    return folder


@pytest.fixture(scope="module")
def _servers(data, tmp_path_factory):
    """Both servers start at once: the cluster (2 workers) and a single box on the same model files with
    the workers' one thread per process."""
    folder = tmp_path_factory.mktemp("onebox")
    (folder / "models").symlink_to(data / "models")
    # a `ray start` cluster that is gone left its address behind: the in-app head must start its own
    # (ray.init() without an address would try to join it)
    planted = f"127.0.0.1:{free_port()}" if not RAY_CURRENT_CLUSTER.exists() else None
    if planted:
        RAY_CURRENT_CLUSTER.parent.mkdir(exist_ok=True)
        RAY_CURRENT_CLUSTER.write_text(planted)
    cluster = ServerProcess(data, ["--api", "--skip-install", "--cluster-workers", "2",
                                   "--cluster-queue-limit", str(QUEUE_LIMIT)], ready_path="/internal/cluster")
    one_box = ServerProcess(folder, ["--api", "--nowebui", "--skip-install"], ready_path="/sdapi/v1/options",
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        cluster.wait_ready()
        one_box.wait_ready()
        wait_workers(cluster)
        yield cluster, one_box
    finally:
        cluster.stop()
        one_box.stop()
        if planted:
            forget_cluster_address(planted)


@pytest.fixture(scope="module")
def cluster(_servers) -> ServerProcess:
    return _servers[0]


@pytest.fixture(scope="module")
def one_box(_servers) -> ServerProcess:
    return _servers[1]


def _txt2img(server: ServerProcess, **payload) -> httpx.Response:
    return httpx.post(server.base + "/sdapi/v1/txt2img", json=payload, timeout=300)


def _counters(server: ServerProcess) -> dict[str, dict]:
    return {w["replica"]: w for w in cluster_info(server)["workers"] if w["healthy"]}


def test_jobs_spread_over_workers_with_the_same_bytes_as_one_box(cluster, one_box):
    seeds = [11, 12, 11, 12, 11, 12, 11, 12]
    before = _counters(cluster)
    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda s: _txt2img(cluster, **BASE, seed=s), seeds))
    assert [r.status_code for r in answers] == [200] * 8, [r.text[:300] for r in answers]
    digests = [digest(r.json()["images"][0]) for r in answers]
    assert len({d for d, s in zip(digests, seeds) if s == 11}) == 1
    assert len({d for d, s in zip(digests, seeds) if s == 12}) == 1
    assert digests[0] != digests[1]
    after = _counters(cluster)
    done = {r: after[r]["jobs"] - before.get(r, {}).get("jobs", 0) for r in after}
    assert sum(done.values()) == 8 and all(n > 0 for n in done.values()), done   # both workers worked
    assert all(w["ram_mb"] > 100 and w["device"] == "cpu" and w["node"] for w in after.values())
    memory = httpx.get(cluster.base + "/sdapi/v1/memory", timeout=30).json()     # the workers' memory too
    assert sorted(w["replica"] for w in memory["workers"]) == sorted(after) and memory["model"] is None
    assert all(w["ram"]["used"] > 100 * 2**20 and w["cuda"] == {"error": "unavailable"} and
               w["checkpoint"].startswith("tiny-default-sd1") for w in memory["workers"]), memory["workers"]
    reference = _txt2img(one_box, **BASE, seed=11)
    assert digest(reference.json()["images"][0]) == digests[0]
    info = json.loads(answers[0].json()["info"])
    assert info["seed"] == 11 and info["infotexts"] == json.loads(reference.json()["info"])["infotexts"]


def test_the_ui_generate_runs_on_a_worker(cluster, data):
    from gradio_client import Client

    from tests.ui_client import ui_txt2img

    before = sum(w["jobs"] for w in _counters(cluster).values())
    client = Client(cluster.base + "/", verbose=False)
    gallery, info_json, _html = ui_txt2img(client, cluster.base, txt2img_prompt="a cat", txt2img_sampling="Euler a",
                                           txt2img_steps=6, txt2img_width=64, txt2img_height=64, txt2img_seed=11,
                                           txt2img_cfg_scale=7)
    assert json.loads(info_json)["all_seeds"] == [11] and len(gallery) == 1
    assert sum(w["jobs"] for w in _counters(cluster).values()) == before + 1
    api = _txt2img(cluster, **BASE, seed=11, cfg_scale=7)
    ui_pixels = Image.open(gallery[0]["image"] if isinstance(gallery[0], dict) else gallery[0][0])
    api_pixels = Image.open(io.BytesIO(base64.b64decode(api.json()["images"][0])))
    assert ui_pixels.convert("RGB").tobytes() == api_pixels.convert("RGB").tobytes()
    assert list((data / "outputs" / "txt2img-images").rglob("*-11.png")), "saved by the worker, as the UI saves"


def test_the_ui_img2img_sends_its_picture_to_a_worker(cluster, tmp_path):
    from gradio_client import Client, handle_file

    from tests.ui_client import generate_args

    source = tmp_path / "source.png"
    Image.new("RGB", (64, 64), (30, 160, 90)).save(source)
    client = Client(cluster.base + "/", verbose=False)
    values = {"img2img_task_id": "task(ui-img2img)", "img2img_prompt": "a stone", "img2img_neg_prompt": "",
              "img2img_sampling": "Euler a", "img2img_steps": 6, "img2img_width": 64, "img2img_height": 64,
              "img2img_seed": 9, "img2img_cfg_scale": 7, "img2img_denoising_strength": 0.6,
              "img2img_image": handle_file(str(source))}
    before = sum(w["jobs"] for w in _counters(cluster).values())
    gallery, info_json, _html, _log = client.predict(*generate_args(cluster.base, "img2img", values),
                                                     api_name="/img2img")
    assert json.loads(info_json)["all_seeds"] == [9] and len(gallery) == 1
    assert sum(w["jobs"] for w in _counters(cluster).values()) == before + 1        # ran on a worker
    api = httpx.post(cluster.base + "/sdapi/v1/img2img", timeout=300, json=dict(
        BASE, prompt="a stone", seed=9, cfg_scale=7, denoising_strength=0.6,
        init_images=[base64.b64encode(source.read_bytes()).decode()]))
    ui_pixels = Image.open(gallery[0]["image"] if isinstance(gallery[0], dict) else gallery[0][0])
    api_pixels = Image.open(io.BytesIO(base64.b64decode(api.json()["images"][0])))
    assert ui_pixels.convert("RGB").tobytes() == api_pixels.convert("RGB").tobytes()


def _b64_png(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_img2img_inpainting_and_a_script_give_one_box_results(cluster, one_box):
    picture = Image.new("RGB", (64, 64), (200, 40, 40))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    body = dict(BASE, seed=9, init_images=[_b64_png(picture)], mask=_b64_png(mask), denoising_strength=0.7,
                mask_blur=2, inpainting_fill=1)
    mine, theirs = (httpx.post(s.base + "/sdapi/v1/img2img", json=body, timeout=300) for s in (cluster, one_box))
    assert mine.status_code == 200, mine.text[:500]
    assert digest(mine.json()["images"][0]) == digest(theirs.json()["images"][0])
    assert mine.json()["parameters"]["init_images"] is None         # include_init_images false, as one box
    # a selected script (prompt matrix: a grid, then one image per combination) runs on the worker
    matrix = dict(BASE, seed=5, prompt="a cat|red|blue", script_name="prompt matrix",
                  script_args=[False, False, "positive", "comma", 0])
    mine, theirs = (_txt2img(s, **matrix) for s in (cluster, one_box))
    assert len(mine.json()["images"]) == 5 == len(theirs.json()["images"])
    assert [digest(b) for b in mine.json()["images"]] == [digest(b) for b in theirs.json()["images"]]


def test_extras_run_on_a_worker_with_one_box_results(cluster, one_box):
    picture = _b64_png(Image.new("RGB", (32, 24), (10, 120, 200)))
    body = {"image": picture, "upscaling_resize": 2, "upscaler_1": "Lanczos"}
    before = sum(w["jobs"] for w in _counters(cluster).values())
    mine, theirs = (httpx.post(s.base + "/sdapi/v1/extra-single-image", json=body, timeout=120)
                    for s in (cluster, one_box))
    assert mine.status_code == 200, mine.text[:300]
    assert Image.open(io.BytesIO(base64.b64decode(mine.json()["image"]))).size == (64, 48)
    assert mine.json()["image"] == theirs.json()["image"] and mine.json()["html_info"] == theirs.json()["html_info"]
    assert sum(w["jobs"] for w in _counters(cluster).values()) == before + 1
    batch = httpx.post(cluster.base + "/sdapi/v1/extra-batch-images", timeout=120, json={
        "imageList": [{"data": picture, "name": "a.png"}] * 2, "upscaling_resize": 2, "upscaler_1": "Lanczos"})
    assert batch.status_code == 200 and len(batch.json()["images"]) == 2
    bad = httpx.post(cluster.base + "/sdapi/v1/extra-single-image", json={**body, "upscaler_1": "nope"}, timeout=60)
    assert bad.status_code in (404, 422) and "upscaler_1" in bad.text


def test_the_ui_extras_tab_runs_on_a_worker_and_saves_there(cluster, one_box, data, tmp_path):
    from gradio_client import Client, handle_file

    from tests.ui_client import generate_args

    source = tmp_path / "source.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(source)
    saved_before = set((data / "outputs" / "extras-images").glob("*.png"))
    before = sum(w["jobs"] for w in _counters(cluster).values())
    client = Client(cluster.base + "/", verbose=False)
    values = {"extras_image": handle_file(str(source)), "extras_upscaler_1": "Lanczos", "extras_upscaling_resize": 2}
    gallery, _html = client.predict(*generate_args(cluster.base, "extras", values), api_name="/extras")
    assert len(gallery) == 1
    assert sum(w["jobs"] for w in _counters(cluster).values()) == before + 1        # ran on a worker
    ui_pixels = Image.open(gallery[0]["image"] if isinstance(gallery[0], dict) else gallery[0][0])
    reference = httpx.post(one_box.base + "/sdapi/v1/extra-single-image", timeout=120, json={
        "image": base64.b64encode(source.read_bytes()).decode(), "upscaling_resize": 2, "upscaler_1": "Lanczos"})
    one_box_pixels = Image.open(io.BytesIO(base64.b64decode(reference.json()["image"])))
    assert ui_pixels.size == (64, 48) and ui_pixels.convert("RGB").tobytes() == one_box_pixels.convert("RGB").tobytes()
    saved = set((data / "outputs" / "extras-images").glob("*.png")) - saved_before      # saved as the UI saves
    assert len(saved) == 1 and Image.open(saved.pop()).convert("RGB").tobytes() == ui_pixels.convert("RGB").tobytes()


def test_an_extensions_always_on_script_runs_on_the_worker_with_its_args(cluster, data):
    r = _txt2img(cluster, **BASE, seed=3, alwayson_scripts={"cluster marker": {"args": ["hello"]}})
    assert r.status_code == 200, r.text[:300]
    infotext = json.loads(r.json()["info"])["infotexts"][0]
    assert "Marker: hello pid " in infotext, infotext
    pid = int(infotext.split("Marker: hello pid ")[1].split(",")[0].strip('"'))
    assert pid in {w["pid"] for w in _counters(cluster).values()} and pid != cluster.proc.pid
    # the script saved the options on the worker: config.json is the front end's alone
    assert "cluster_marker_word" not in json.loads((data / "config.json").read_text())
    assert "cluster_marker_word" not in httpx.get(cluster.base + "/sdapi/v1/options", timeout=30).json()
    # its UI code read shared.sd_model on the front end, which holds no model: the checkpoint's view answered
    labels = {c["props"].get("label") for c in httpx.get(cluster.base + "/config", timeout=60).json()["components"]}
    assert "Marker word (SD1)" in labels, sorted(label for label in labels if label and label.startswith("Marker"))


def test_an_extensions_task_runner_holding_the_queue_lock_runs_its_job_on_a_worker(cluster):
    """agent-scheduler's way: modules.txt2img.txt2img with the stored Generate inputs, called holding
    the queue lock. The front end holds no model: the job runs on a worker, with the API's pixels."""
    import hashlib

    before = sum(w["jobs"] for w in _counters(cluster).values())
    r = httpx.post(cluster.base + "/cluster-marker/enqueue", timeout=300, json={
        "id_task": "task(enqueued-1)", "prompt": "a cat", "negative_prompt": "", "sampler_name": "Euler a",
        "steps": 6, "width": 64, "height": 64, "seed": 11, "cfg_scale": 7})
    assert r.status_code == 200, r.text[:500]
    assert json.loads(r.json()["info"])["all_seeds"] == [11]
    assert sum(w["jobs"] for w in _counters(cluster).values()) == before + 1        # ran on a worker
    api = _txt2img(cluster, **BASE, seed=11, cfg_scale=7)
    rgb = Image.open(io.BytesIO(base64.b64decode(api.json()["images"][0]))).convert("RGB").tobytes()
    assert r.json()["rgb"] == hashlib.sha256(rgb).hexdigest()


def test_random_seed_is_fixed_once_and_reported(cluster):
    r = _txt2img(cluster, **BASE, seed=-1)
    assert r.status_code == 200
    info = json.loads(r.json()["info"])
    assert info["seed"] != -1 and f"Seed: {info['seed']}," in info["infotexts"][0]
    assert r.json()["parameters"]["seed"] == -1         # the request as sent, as on one box
    again = _txt2img(cluster, **BASE, seed=info["seed"])
    assert digest(again.json()["images"][0]) == digest(r.json()["images"][0])


def test_override_settings_reach_only_their_job(cluster):
    r = _txt2img(cluster, **BASE, seed=3, override_settings={"eta_noise_seed_delta": 31337})
    assert "ENSD: 31337" in json.loads(r.json()["info"])["infotexts"][0]
    r = _txt2img(cluster, **BASE, seed=3)
    assert "ENSD" not in json.loads(r.json()["info"])["infotexts"][0]


def test_progress_preview_and_interrupt_reach_the_worker(cluster):
    with cf.ThreadPoolExecutor(1) as pool:
        future = pool.submit(_txt2img, cluster, **LONG, seed=5, force_task_id="task(cluster-long)")
        seen = []
        deadline = time.time() + 120
        while time.time() < deadline and len(seen) < 3:
            p = httpx.get(cluster.base + "/sdapi/v1/progress", timeout=30).json()
            if p["state"]["job"] == "txt2img" and p["state"]["sampling_step"] > 0:
                seen.append(p)
            time.sleep(0.3)
        assert len(seen) == 3, seen
        assert seen[-1]["state"]["sampling_step"] > seen[0]["state"]["sampling_step"]
        assert all(0 < p["progress"] < 1 for p in seen) and seen[0]["state"]["sampling_steps"] == 120
        task, deadline = {}, time.time() + 60
        while time.time() < deadline and not task.get("live_preview"):      # asked for, made by the worker
            task = httpx.post(cluster.base + "/internal/progress", timeout=30,
                              json={"id_task": "task(cluster-long)", "id_live_preview": -1, "live_preview": True}).json()
            time.sleep(0.2)
        assert task["active"] and not task["queued"] and 0 < task["progress"] < 1
        assert task["live_preview"].startswith("data:image/") and task["id_live_preview"] > 0
        preview = Image.open(io.BytesIO(base64.b64decode(task["live_preview"].split(",", 1)[1])))
        assert preview.size == (192, 192)
        running = cluster_info(cluster)["running"]
        assert [j["task_id"] for j in running] == ["task(cluster-long)"] and running[0]["replica"]
        assert httpx.post(cluster.base + "/sdapi/v1/interrupt", timeout=30).status_code == 200
        answer = future.result(timeout=60)
    assert answer.status_code == 200 and len(answer.json()["images"]) == 1      # the partial image
    done = httpx.post(cluster.base + "/internal/progress", timeout=30,
                      json={"id_task": "task(cluster-long)", "id_live_preview": -1}).json()
    assert done["completed"] and not done["active"]
    # the flag belonged to that job: the next one runs all its steps
    full = _txt2img(cluster, **BASE, seed=5)
    assert full.status_code == 200 and "Steps: 6," in json.loads(full.json()["info"])["infotexts"][0]


def test_skip_ends_only_the_running_batch(cluster):
    payload = dict(BASE, width=128, height=128, steps=60, seed=8, n_iter=2)
    reference = _txt2img(cluster, **payload)
    with cf.ThreadPoolExecutor(1) as pool:
        future = pool.submit(_txt2img, cluster, **payload)
        deadline = time.time() + 120
        while time.time() < deadline:
            state = httpx.get(cluster.base + "/sdapi/v1/progress", timeout=30).json()["state"]
            if state["job_no"] == 0 and state["sampling_step"] > 2:
                break
            time.sleep(0.1)
        assert httpx.post(cluster.base + "/sdapi/v1/skip", timeout=30).status_code == 200
        skipped = future.result(timeout=120)
    assert skipped.status_code == 200 and len(skipped.json()["images"]) == 2
    first, second = (digest(b) for b in skipped.json()["images"])
    assert first != digest(reference.json()["images"][0])      # its sampling ended early
    assert second == digest(reference.json()["images"][1])     # the next batch ran whole


def test_application_errors_keep_their_status_and_are_not_retried(cluster):
    r = _txt2img(cluster, **dict(BASE, sampler_name="nope"))          # checked before dispatch
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "sampler_name"]
    before = sum(w["failed"] for w in _counters(cluster).values())
    r = _txt2img(cluster, **BASE, seed=1, enable_hr=True, hr_upscaler="no-such-upscaler")    # fails on a worker
    assert r.status_code == 422, r.text
    assert "hr_upscaler" in r.text
    assert sum(w["failed"] for w in _counters(cluster).values()) == before + 1      # ran once, not retried


def test_a_full_queue_answers_503_with_retry_after(cluster):
    """Two long jobs hold both workers first (until the test interrupts them), so the queue fills up
    however fast or slow the machine is: QUEUE_LIMIT jobs wait, the rest are 503s."""
    n = QUEUE_LIMIT + 4
    hold = dict(BASE, width=256, height=256, steps=150)
    with cf.ThreadPoolExecutor(2 + n) as pool:
        blockers = [pool.submit(_txt2img, cluster, **hold, seed=s) for s in range(2)]
        deadline = time.time() + 120
        while len(cluster_info(cluster)["running"]) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert len(cluster_info(cluster)["running"]) == 2, cluster_info(cluster)
        futures = [pool.submit(_txt2img, cluster, **BASE, seed=s) for s in range(n)]
        while not any(f.done() and f.result().status_code == 503 for f in futures) and time.time() < deadline:
            time.sleep(0.1)
        everything = blockers + futures
        while not all(f.done() for f in everything) and time.time() < deadline + 120:
            httpx.post(cluster.base + "/sdapi/v1/interrupt", timeout=30)     # the queue seen full: end quickly
            time.sleep(0.3)
        answers = [f.result() for f in everything]
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 503} and codes.count(503) >= 1 and codes.count(200) >= 2 + QUEUE_LIMIT - 1, codes
    assert [r.status_code for r in answers[:2]] == [200, 200]       # the held jobs: interrupted, not refused
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"].isdigit() and "--cluster-queue-limit" in busy.text


def test_jobs_go_to_the_worker_that_has_their_checkpoint(cluster):
    other = "xtra-sd1.safetensors"
    r = _txt2img(cluster, **BASE, seed=2, override_settings={"sd_model_checkpoint": other})
    assert r.status_code == 200 and "Model: xtra-sd1" in json.loads(r.json()["info"])["infotexts"][0]
    # Serve learns which worker holds which model from the workers' reports after each job: a first
    # round of both lets every router know
    for ckpt in ("tiny-default-sd1.safetensors", other, "tiny-default-sd1.safetensors"):
        assert _txt2img(cluster, **BASE, seed=2, override_settings={"sd_model_checkpoint": ckpt}).status_code == 200
    loads = sum(w["loads"] for w in _counters(cluster).values())
    for i in range(6):
        ckpt = other if i % 2 else "tiny-default-sd1.safetensors"
        r = _txt2img(cluster, **BASE, seed=2, override_settings={"sd_model_checkpoint": ckpt})
        assert r.status_code == 200
    workers = _counters(cluster)
    assert sum(w["loads"] for w in workers.values()) == loads, workers     # no model loaded again
    assert sorted(w["checkpoint"].split(" ")[0] for w in workers.values()) == ["tiny-default-sd1.safetensors", other]


def test_setting_the_checkpoint_loads_it_on_a_worker(cluster):
    opts = httpx.get(cluster.base + "/sdapi/v1/options", timeout=30).json()
    r = httpx.post(cluster.base + "/sdapi/v1/options", json={"sd_model_checkpoint": "no-such-model"}, timeout=60)
    assert r.status_code == 422 and "not found" in r.text
    r = httpx.post(cluster.base + "/sdapi/v1/options", json={"sd_model_checkpoint": "zz-broken.safetensors"},
                   timeout=120)
    assert r.status_code == 422 and "previous model is still loaded" in r.text, r.text
    assert httpx.get(cluster.base + "/sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"] == \
        opts["sd_model_checkpoint"]
    r = httpx.post(cluster.base + "/sdapi/v1/options", json={"sd_model_checkpoint": "xtra-sd1.safetensors"},
                   timeout=120)
    assert r.status_code == 200, r.text
    assert httpx.get(cluster.base + "/sdapi/v1/options", timeout=30).json()["sd_model_checkpoint"].startswith(
        "xtra-sd1.safetensors")
    assert any(w["checkpoint"].startswith("xtra-sd1") for w in _counters(cluster).values())
    r = _txt2img(cluster, **BASE, seed=4)       # the new default
    assert "Model: xtra-sd1" in json.loads(r.json()["info"])["infotexts"][0]
    httpx.post(cluster.base + "/sdapi/v1/options", json={"sd_model_checkpoint": opts["sd_model_checkpoint"]},
               timeout=120).raise_for_status()


def test_unload_and_reload_reach_every_worker(cluster):
    def checkpoints() -> list:
        return [w["checkpoint"] for w in _counters(cluster).values()]

    def wait_for(predicate, what: str) -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not predicate(checkpoints()):
            time.sleep(0.3)
        assert predicate(checkpoints()), (what, checkpoints())

    assert httpx.post(cluster.base + "/sdapi/v1/unload-checkpoint", timeout=60).status_code == 200
    wait_for(lambda cks: len(cks) == 2 and all(c is None for c in cks), "unloaded")
    assert httpx.post(cluster.base + "/sdapi/v1/reload-checkpoint", timeout=60).status_code == 200
    wait_for(lambda cks: len(cks) == 2 and all(c for c in cks), "reloaded")
    assert _txt2img(cluster, **BASE, seed=1).status_code == 200


def test_a_killed_worker_loses_no_job(cluster):
    seeds = [100, 100, 101, 101, 102, 102, 103, 103]     # each seed twice: the killed job's twin ran whole
    payload = dict(BASE, steps=40, width=128, height=128)
    with cf.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(_txt2img, cluster, **payload, seed=s, force_task_id=f"task(kill-{i})")
                   for i, s in enumerate(seeds)]
        retried = cluster_info(cluster)["retried"]
        victim = None
        deadline = time.time() + 120
        while victim is None and time.time() < deadline:
            info = cluster_info(cluster)
            busy = [w for w in info["workers"] if w["running"] and w["healthy"]]
            if busy:
                victim = busy[0]
            else:
                time.sleep(0.2)
        assert victim is not None, "no job started"
        time.sleep(0.5)         # well into its job
        os.kill(victim["pid"], signal.SIGKILL)
        answers = [f.result(timeout=300) for f in futures]
    assert [r.status_code for r in answers] == [200] * 8, [r.text[:300] for r in answers]
    assert cluster_info(cluster)["retried"] >= retried + 1      # the killed worker's job was sent again
    # the killed worker's job, sent again, gives the image its twin got from one run
    killed = int(victim["running"].removeprefix("task(kill-").rstrip(")+"))
    assert killed in range(8), victim
    digests = [digest(r.json()["images"][0]) for r in answers]
    assert all(digests[i] == digests[i ^ 1] for i in range(8)), digests
    assert len(set(digests)) == 4
    wait_workers(cluster, 2, timeout=120, exclude_pid=victim["pid"])       # Serve replaced it


def _loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "localhost") or ip.startswith("::ffff:127.")


def test_every_ray_port_is_on_loopback_and_nothing_calls_out(cluster):
    """A Ray port runs code for whoever reaches it: the in-app head's processes (GCS, raylet, workers,
    agents) listen on loopback only, and none of them is connected anywhere else."""
    import psutil

    server = psutil.Process(cluster.proc.pid)
    processes = [server, *server.children(recursive=True)]
    assert len(processes) >= 5, [p.name() for p in processes]        # GCS, raylet, 2 workers, controller ...
    listening, remote = [], []
    for proc in processes:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN and not _loopback(c.laddr.ip):
                listening.append((proc.name(), c.laddr))
            if c.raddr and not _loopback(c.raddr.ip):
                remote.append((proc.name(), c.raddr))
    assert not listening, listening
    assert not remote, remote


def test_without_a_cluster_flag_ray_is_never_imported(tmp_path):
    script = (
        "import sys\n"
        "from sdwebui.interfaces.cli import flags\n"
        "from sdwebui.interfaces import app\n"
        f"ns = flags.parse_args(['--data-dir', {str(tmp_path)!r}, '--nowebui', '--skip-install', "
        "'--skip-load-model-at-start'], use_env=False)\n"
        "app.create_app(ns)\n"
        "print('RAY' if any(m == 'ray' or m.startswith('ray.') for m in sys.modules) else 'NO-RAY')\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.stdout.strip().splitlines()[-1] == "NO-RAY", out.stderr[-2000:]
