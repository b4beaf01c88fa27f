"""/sdapi/v1/memory in A1111's shape: process RAM and, when there is one, CUDA memory."""
from __future__ import annotations

from typing import Any

import psutil
import torch


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
