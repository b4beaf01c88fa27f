"""Helpers shared by the reliability tests (load and faults): a real server with the
`fault-injector` fixture extension, raw-socket requests whose client can vanish, polling without
timing assumptions, and the figures the tests measure (docs/reliability.md).

Figures: each test adds counts to FIGURES; at the end of a module they are printed and, when
RELIABILITY_FIGURES_DIR is set (tools/reliability_figures.py sets it), written there as JSON."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.server_process import ServerProcess, running_server

FIXTURES = Path(__file__).parent / "fixtures" / "extensions"
SMALL = {"width": 64, "height": 64, "steps": 2, "cfg_scale": 7, "sampler_name": "Euler"}
WAIT = 120.0   # generous upper bound for anything to happen; never a timing assertion


def make_data_dir(root: Path, tiny_files: dict[str, Path]) -> Path:
    """Two tiny SD1 checkpoints (alpha, beta) and the fault-injector extension."""
    ckpt = root / "models" / "Stable-diffusion"
    ckpt.mkdir(parents=True)
    shutil.copy(tiny_files["sd1"], ckpt / "alpha.safetensors")
    shutil.copy(tiny_files["sd1b"], ckpt / "beta.safetensors")
    shutil.copytree(FIXTURES / "fault-injector", root / "extensions" / "fault-injector")
    return root


@pytest.fixture(scope="session")
def reliability_server(tmp_path_factory, tiny_files) -> ServerProcess:
    """One real server (`launch.py --api`, loopback) for the load and the faults tests."""
    data = make_data_dir(tmp_path_factory.mktemp("reliability"), tiny_files)
    with running_server(data, ["--api", "--skip-install"]) as srv:
        srv.client = httpx.Client(base_url=srv.base, timeout=WAIT)
        yield srv
        srv.client.close()
    # every error reached a client as a clear answer; none escaped to the last-resort handler
    assert "unhandled error" not in srv.log_path.read_text(errors="replace")


def wait_for(predicate: Callable[[], object], what: str, timeout: float = WAIT, interval: float = 0.02):
    """Poll until `predicate()` is truthy and return its value; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def pixels(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"), dtype=np.int16)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RawRequest:
    """A POST sent over a plain socket, so the test decides when the client goes away."""

    def __init__(self, port: int, path: str, payload: dict):
        body = json.dumps(payload).encode()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)

    def vanish(self) -> None:
        self.sock.close()

    def status(self) -> int:
        """Read the whole response and return its status code."""
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        self.sock.close()
        return int(data.split(b" ", 2)[1])


class Figures:
    def __init__(self, name: str):
        self.name = name
        self.counts: Counter[str] = Counter()
        self.values: dict[str, object] = {}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def set(self, key: str, value: object) -> None:
        self.values[key] = value

    def dump(self) -> None:
        data = {**dict(sorted(self.counts.items())), **self.values}
        print(f"\nreliability figures ({self.name}): {json.dumps(data)}")
        out = os.environ.get("RELIABILITY_FIGURES_DIR")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            (Path(out) / f"{self.name}.json").write_text(json.dumps(data, indent=2))
