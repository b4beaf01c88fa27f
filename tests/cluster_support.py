"""What the cluster tests (test_cluster.py, test_cluster_address.py) share: an image's digest, the
front end's /internal/cluster, waiting for healthy workers, and Ray's file naming the last cluster
`ray start` began on this machine."""
from __future__ import annotations

import base64
import hashlib
import tempfile
import time
from pathlib import Path

import httpx

from tests.server_process import ServerProcess

# where `ray start` writes its cluster's address, for a later ray.init() to find (`ray stop` removes it)
RAY_CURRENT_CLUSTER = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"


def digest(image_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(image_b64)).hexdigest()


def cluster_info(server: ServerProcess) -> dict:
    return httpx.get(server.base + "/internal/cluster", timeout=30).json()


def wait_workers(server: ServerProcess, n: int = 2, timeout: float = 120, exclude_pid: int | None = None) -> dict:
    """/internal/cluster once n workers (other than `exclude_pid`) are healthy; fails at once on a
    cluster that could not start."""
    deadline = time.time() + timeout
    info: dict = {}
    while time.time() < deadline:
        info = cluster_info(server)
        assert not info["error"], (info, server.log_tail())
        healthy = [w for w in info["workers"] if w["healthy"] and w["pid"] != exclude_pid]
        if info["ready"] and len(healthy) >= n:
            return info
        time.sleep(0.5)
    raise AssertionError(f"{n} healthy workers did not come: {info}\n{server.log_tail()}")


def forget_cluster_address(address: str) -> None:
    """Remove Ray's note of the last cluster if it names `address` (one this test started and stopped)."""
    if RAY_CURRENT_CLUSTER.is_file() and RAY_CURRENT_CLUSTER.read_text().strip() == address:
        RAY_CURRENT_CLUSTER.unlink()
