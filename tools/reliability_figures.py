"""Run the reliability tests (load and faults) and print the figures they measured, as the
Markdown tables in docs/reliability.md. Usage: python tools/reliability_figures.py"""
from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/test_reliability_load.py", "tests/test_reliability_faults.py"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "RELIABILITY_FIGURES_DIR": out}
        start = time.monotonic()
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                             cwd=ROOT, env=env)
        took = time.monotonic() - start
        print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}; pytest exit status {rc}, {took:.0f} s for both files\n")
        for name in ("load", "faults"):
            path = Path(out) / f"{name}.json"
            if not path.exists():
                logger.warning("no figures from the %s tests", name)
                continue
            print(f"| {name} | |\n|---|---|")
            for key, value in json.loads(path.read_text()).items():
                print(f"| {key} | {value} |")
            print()
    return rc


if __name__ == "__main__":
    sys.exit(main())
