"""The real server as a user starts it (`python launch.py ...`), for tests that talk HTTP to it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import httpx

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 5     # a server with no client left open stops in 1-2 s after Ctrl+C


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python launch.py --data-dir DATA --port FREE ARGS`, its output in DATA/server.log. `env` is the
    environment to start from (default: this process's), without COMMANDLINE_ARGS."""

    def __init__(self, data: Path, args: list[str], *, ready_path: str, auth: tuple[str, str] | None = None,
                 env: Mapping[str, str] | None = None):
        self.data, self.port, self.auth, self.ready_path = data, free_port(), auth, ready_path
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data / "server.log"
        env = {k: v for k, v in (os.environ if env is None else env).items() if k != "COMMANDLINE_ARGS"}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
                   GRADIO_TEMP_DIR=str(data / "gradio-tmp"))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "launch.py", "--data-dir", str(data), "--port", str(self.port),
                                      *args], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        _running.add(self)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise AssertionError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(self.base + self.ready_path, auth=self.auth, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"server did not start: {self.log_tail()}")

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            return False
        try:
            return httpx.get(self.base + self.ready_path, auth=self.auth, timeout=30).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        """Ctrl+C, as a user stops it. uvicorn then waits for every open connection to close, and a
        client that keeps one open (gradio_client's stream) holds it for as long as the client lives;
        so after GRACE_S a second Ctrl+C (uvicorn: "CTRL+C to force quit") ends that wait. Idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()
        _running.discard(self)


_running: set[ServerProcess] = set()


def stop_all() -> None:
    """Stop every server still running (a run cut short: tests/conftest.py calls this at the end)."""
    for server in list(_running):
        server.stop()


@contextmanager
def running_server(data: Path, args: list[str], *, ready_path: str = "/sdapi/v1/progress",
                   auth: tuple[str, str] | None = None, env: Mapping[str, str] | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(data, args, ready_path=ready_path, auth=auth, env=env)
    server.wait_ready()
    try:
        yield server
    finally:
        server.stop()
