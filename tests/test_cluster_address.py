"""`--cluster ADDRESS`: the app joins a Ray cluster that a user started with `ray start --head`, as
docs/scale-out.md tells a user to. The head here says it has two GPUs (`--num-gpus 2`, Ray's own way
to declare devices it cannot see), so this also checks how workers are placed on GPUs without one:

- with no --cluster-workers, one worker per GPU of the cluster, each given one GPU of its own (Ray's
  GPU ids and the CUDA_VISIBLE_DEVICES it sets for the worker);
- both workers run jobs, with the same bytes for the same seed;
- the join uses the cluster's token (~/.ray/auth_token), as a head started with RAY_AUTH_MODE=token wants;
- when the app stops it takes away its own Serve application and leaves the user's cluster running.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cluster_support import cluster_info, digest, forget_cluster_address, wait_workers
from tests.server_process import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.cluster
pytest.importorskip("ray.serve", reason="the cluster extra is not installed (pip install -e .[cluster])")

BASE = {"prompt": "a cat", "negative_prompt": "", "steps": 4, "sampler_name": "Euler a", "width": 64, "height": 64}
RAY = str(Path(sys.executable).with_name("ray"))


def _stop_tree(proc: subprocess.Popen) -> None:
    """The `ray start --block` process and every Ray process under it (GCS, raylet, workers): only
    this test's cluster, never another Ray on the machine (`ray stop` would stop them all)."""
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in tree:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(tree, timeout=5)      # `ray start` would drain for 30 s
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """`ray start --head --block` on loopback with 2 CPUs, 2 (declared) GPUs and token authentication;
    its own HOME, so the token (~/.ray/auth_token) is this test's and the app reads it from there."""
    home = tmp_path_factory.mktemp("ray-home")
    port = free_port()
    env = {**os.environ, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_AUTH_MODE": "token"}
    env.pop("RAY_AUTH_TOKEN", None)
    # as docs/scale-out.md says: a token first (Ray 2.60's `ray start` runs without one unless told)
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, cwd=home, check=True, capture_output=True,
                   timeout=60)
    assert (home / ".ray" / "auth_token").is_file()
    log = open(home / "ray-start.log", "wb")
    proc = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=2", "--num-gpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        deadline = time.time() + 120
        while b"Ray runtime started" not in (home / "ray-start.log").read_bytes():
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError((home / "ray-start.log").read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield {"address": f"127.0.0.1:{port}", "env": env, "proc": proc}
    finally:
        _stop_tree(proc)
        log.close()
        forget_cluster_address(f"127.0.0.1:{port}")      # what `ray stop` would tidy


@pytest.fixture(scope="module")
def joined(head, tmp_path_factory):
    from sdwebui.services.runtime import install_default_checkpoint

    data = tmp_path_factory.mktemp("joined")
    install_default_checkpoint(data / "models" / "Stable-diffusion" / "tiny-default-sd1.safetensors")
    server = ServerProcess(data, ["--api", "--nowebui", "--skip-install", "--cluster", head["address"]],
                           ready_path="/internal/cluster", env=head["env"])
    try:
        server.wait_ready()
        wait_workers(server, 2, timeout=180)
        yield server
    finally:
        server.stop()


def test_joined_cluster_has_one_worker_per_gpu_each_with_its_own(joined, head):
    info = cluster_info(joined)
    assert info["mode"] == "address" and info["address"] == head["address"] and info["workers_wanted"] == 2
    workers = [w for w in info["workers"] if w["healthy"]]
    assert len(workers) == 2, info
    assert sorted(g for w in workers for g in w["gpus"]) == ["0", "1"], workers
    assert all(w["cuda_visible_devices"] == w["gpus"][0] for w in workers), workers
    # no CUDA device in this machine: torch sees none and the worker runs on the CPU
    assert all(w["device"] == "cpu" and w["checkpoint"].startswith("tiny-default-sd1") for w in workers), workers

    with cf.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: httpx.post(joined.base + "/sdapi/v1/txt2img", json={**BASE, "seed": 3},
                                                     timeout=300), range(4)))
    assert [r.status_code for r in answers] == [200] * 4, [r.text[:300] for r in answers]
    assert len({digest(r.json()["images"][0]) for r in answers}) == 1
    after = cluster_info(joined)["workers"]
    assert all(w["jobs"] >= 1 for w in after if w["healthy"]), after       # both workers ran jobs


def test_stopping_the_app_leaves_the_users_cluster_running(joined, head):
    joined.stop()
    assert head["proc"].poll() is None
    script = ("import ray\nfrom ray import serve\n"
              f"ray.init(address={head['address']!r}, namespace='sd-webui', log_to_driver=False)\n"
              "print('APPS', sorted(serve.status().applications))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=head["env"], capture_output=True, text=True,
                         timeout=120)
    assert "APPS []" in out.stdout, out.stdout[-1000:] + out.stderr[-2000:]
