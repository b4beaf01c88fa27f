#!/usr/bin/env bash
# The GPU benchmark as one command on a CUDA machine that has torch but no internet (the device
# machine): installs the wheels carried in .whl/ (what that machine lacks: diffusers, fastapi, ...,
# fetched beforehand with `pip download --no-deps -d .whl ...`; ignored by git, so name .whl in the
# device run's carry), checks that CUDA is there, then runs bench/run.py with the given arguments.
# JSON lines go to stdout and to $OUT/bench-<args>.jsonl (stderr's tail beside it).
#
# Estimates for an H200 (not measured yet; the device allows 10 minutes per command, 15 per session):
#   bench/gpu.sh --runs 3 --family sd1                       # every variant, about 5 minutes
#   bench/gpu.sh --runs 3 --family sdxl --variant eager --variant compiled --variant "compiled, restarted"
#                                                            # the SDXL targets, about 7 minutes
#   bench/gpu.sh --runs 2 --family sdxl --variant eager --variant medvram --variant lowvram
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"     # the device machine's python3 is the one with CUDA torch
if compgen -G ".whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-deps --no-index .whl/*.whl
fi
"$py" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
PY
out="${OUT:-/tmp/bench-out}"
mkdir -p "$out"
name="bench$(printf -- '-%s' "$@" | tr -c 'A-Za-z0-9_.-' '_')"
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
"$py" bench/run.py "$@" 2> >(tail -c 200000 >"$out/$name.err") | tee "$out/$name.jsonl"
