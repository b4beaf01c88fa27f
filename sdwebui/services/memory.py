"""/sdapi/v1/memory in A1111's shape: process RAM and, when there is one, CUDA memory; and A1111's
memory monitor (`shared.mem_mon`)."""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

import psutil
import torch

logger = logging.getLogger(__name__)


def memory_report() -> dict[str, Any]:
    process = psutil.Process()
    rss = process.memory_info().rss
    total = psutil.virtual_memory().total
    ram = {"free": total - rss, "used": rss, "total": total}
    if not torch.cuda.is_available():
        return {"ram": ram, "cuda": {"error": "unavailable"}}
    free, total_gpu = torch.cuda.mem_get_info()
    stats = torch.cuda.memory_stats()

    def pair(key: str) -> dict[str, int]:
        return {"current": stats.get(f"{key}.all.current", 0), "peak": stats.get(f"{key}.all.peak", 0)}

    cuda = {
        "system": {"free": free, "used": total_gpu - free, "total": total_gpu},
        "active": pair("active_bytes"), "allocated": pair("allocated_bytes"),
        "reserved": pair("reserved_bytes"), "inactive": pair("inactive_split_bytes"),
        "events": {"retries": stats.get("num_alloc_retries", 0), "oom": stats.get("num_ooms", 0)},
    }
    return {"ram": ram, "cuda": cuda}


class MemUsageMonitor(threading.Thread):
    """A1111's `memmon.MemUsageMonitor` (`shared.mem_mon`): while monitoring (monitor() ... stop()),
    polls the CUDA device's free memory `opts.memmon_poll_rate` times a second and reports the
    peaks. Without CUDA it is `disabled` and read() reports nothing, as in A1111 on other devices."""

    def __init__(self, name: str, device: Any, opts: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.device = device
        self.opts = opts
        self.run_flag = threading.Event()
        self.data: dict[str, int] = defaultdict(int)
        self.disabled = not (torch.cuda.is_available() and getattr(device, "type", str(device)) == "cuda")

    def cuda_mem_get_info(self) -> tuple[int, int]:
        index = self.device.index if getattr(self.device, "index", None) is not None else torch.cuda.current_device()
        return torch.cuda.mem_get_info(index)

    def run(self) -> None:
        if self.disabled:
            return
        while True:
            self.run_flag.wait()
            torch.cuda.reset_peak_memory_stats()
            self.data.clear()
            rate = float(getattr(self.opts, "memmon_poll_rate", 8) or 0)
            if rate <= 0:
                self.run_flag.clear()
                continue
            self.data["min_free"] = self.cuda_mem_get_info()[0]
            while self.run_flag.is_set():
                self.data["min_free"] = min(self.data["min_free"], self.cuda_mem_get_info()[0])
                time.sleep(1 / rate)

    def monitor(self) -> None:
        self.run_flag.set()

    def read(self) -> dict[str, int]:
        if not self.disabled:
            free, total = self.cuda_mem_get_info()
            stats = torch.cuda.memory_stats(self.device)
            self.data.update(free=free, total=total, active=stats.get("active.all.current", 0),
                             active_peak=stats.get("active_bytes.all.peak", 0),
                             reserved=stats.get("reserved_bytes.all.current", 0),
                             reserved_peak=stats.get("reserved_bytes.all.peak", 0),
                             system_peak=total - self.data.get("min_free", free))
        return self.data

    def stop(self) -> dict[str, int]:
        self.run_flag.clear()
        return self.read()

    def dump_debug(self) -> None:
        logger.info("%s recorded data: %s", self.name, {k: -(v // -(1024 ** 2)) for k, v in self.read().items()})
