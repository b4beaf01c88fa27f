"""bench/run.py's full-benchmark path, run with tiny models on the CPU, so the one command meant for a
GPU machine (where time is scarce) does not fail there for a reason a CPU could have shown. Only which
figures come out is checked here, never their values: speed is not tested. (The --compile variants
are left out: compiling fresh takes minutes on a 2-core CPU; `bench/run.py --tiny` runs them.)"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run_bench(tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """bench/run.py in its own process: started early, it runs while the other tests do (tests/conftest.py)."""
    env = {k: v for k, v in env.items() if k != "COMMANDLINE_ARGS"}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmp))
    return subprocess.run([sys.executable, "bench/run.py", "--tiny", "--runs", "1", "--family", "sd1",
                           "--variant", "eager", "--variant", "medvram"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.early(scenario=_run_bench)
def test_full_benchmark_path_runs_and_reports_every_figure(early_result):
    proc = early_result()
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    got = {(d["metric"], d.get("variant"), d.get("batch")) for d in lines}
    for batch in (1, 4):
        for metric in ("first_request_s", "engine_s_per_image", "http_s_per_image", "engine_it_per_s",
                       "api_overhead_ratio", "peak_vram_gib_ours", "engine_vs_plain_ratio", "http_vs_plain_ratio",
                       "first_image_after_load_vs_plain_ratio", "first_image_after_load_vs_plain_first_ratio"):
            assert (metric, "eager", batch) in got, (metric, batch)
        assert ("plain_diffusers_s_per_image", "plain diffusers, eager", batch) in got
    for metric in ("engine_s_per_image", "peak_vram_gib_ours", "offload_vs_eager_ratio"):
        assert (metric, "medvram", 1) in got, metric
    assert all(math.isfinite(d["value"]) and d["value"] >= 0 for d in lines)
