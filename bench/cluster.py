"""Cluster throughput: images per second of `--cluster-workers 1` against `--cluster-workers 2`, and of a
single box (no cluster), in one run, on the tiny default model, on the CPU.
Printed as one JSON object per line, as bench/run.py does.

    python bench/cluster.py [--jobs 16] [--size 256] [--steps 30]

Each server is the real one (`launch.py --api --nowebui --cluster-workers N`) on a fresh data folder.
The scaling ratio compares the same worker (its share of the cores: 2 cores, 2 workers, one thread
each) alone and N times; the single box uses every core in one process, as a user without the flag.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from tests.server_process import ServerProcess  # noqa: E402  (the same launcher the tests use)


def emit(metric: str, value: float, **extra) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), **extra}), flush=True)


def _wait_workers(server: ServerProcess, n: int, timeout: float = 300) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        info = httpx.get(server.base + "/internal/cluster", timeout=30).json()
        if info["ready"] and sum(w["healthy"] for w in info["workers"]) >= n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{n} workers did not come up: {server.log_tail()}")


def throughput(args: list[str], workers: int, jobs: int, payload: dict, env: dict | None = None) -> float:
    """Images per second for `jobs` concurrent requests, after one warm-up request per worker."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), args, ready_path="/sdapi/v1/options", env=env)
        try:
            server.wait_ready(300)
            if workers:
                _wait_workers(server, workers)

            def one(seed: int) -> None:
                r = httpx.post(server.base + "/sdapi/v1/txt2img", json=dict(payload, seed=seed), timeout=1200)
                r.raise_for_status()

            with cf.ThreadPoolExecutor(max(workers, 1)) as pool:     # warm: every worker has run once
                list(pool.map(one, range(max(workers, 1))))
            started = time.perf_counter()
            with cf.ThreadPoolExecutor(jobs) as pool:
                list(pool.map(one, range(jobs)))
            return jobs / (time.perf_counter() - started)
        finally:
            server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2, help="the cluster to compare with one worker")
    a = ap.parse_args()
    payload = {"prompt": "a cat", "steps": a.steps, "width": a.size, "height": a.size, "sampler_name": "Euler a"}
    base = ["--api", "--nowebui", "--skip-install"]
    cores = os.cpu_count() or 1
    common = {"jobs": a.jobs, "size": a.size, "steps": a.steps, "cores": cores}
    threads = max(1, cores // a.workers)
    # scaling: the same worker (its share of the cores) once, then `workers` of them
    per_worker = ["--cluster-worker-threads", str(threads)]
    one_worker = throughput(base + ["--cluster-workers", "1"] + per_worker, 1, a.jobs, payload)
    emit("cluster_images_per_s", one_worker, workers=1, threads_per_worker=threads, **common)
    many = throughput(base + ["--cluster-workers", str(a.workers)] + per_worker, a.workers, a.jobs, payload)
    emit("cluster_images_per_s", many, workers=a.workers, threads_per_worker=threads, **common)
    emit("cluster_speedup_ratio", many / one_worker, workers=a.workers, baseline_workers=1,
         threads_per_worker=threads, **common)
    # against one process using every core, with no cluster: what splitting the cores into workers gains
    box = throughput(base, 0, a.jobs, payload)
    emit("single_box_images_per_s", box, **common)
    emit("cluster_vs_single_box_ratio", many / box, workers=a.workers, **common)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
