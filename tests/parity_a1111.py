"""Pixel parity with real A1111 v1.10.1: the reference checkpoint and A1111's own responses in the
shared reference folder (../shared/reference/parity: `make_oracle_ckpt.py` builds a deterministic
full-size SD1.5 checkpoint; `a1111-v1.10.1/NN-name.json` + `.0.png` are A1111's answers for it). The
same requests go to this project's server; each image is compared as PSNR over 8-bit RGB.

Used by tests/test_parity_a1111.py (opt-in: SDWEBUI_PARITY=1) and runnable alone:
    python -m tests.parity_a1111 [--ckpt oracle-sd15.safetensors]      # prints a table of dB
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ORACLE_SHA256 = "96965004cf1b84c9fab9edc417612d23686bbcf57d9e143bd55cfe16ba2cc76f"
# what A1111's k-diffusion math reaches against itself here (fp32 / kernel noise): ~51 dB
SAME_MATH_DB = 45.0


def parity_dir() -> Path | None:
    found = Path(os.environ.get("SDWEBUI_PARITY_DIR") or ROOT.parent / "shared" / "reference" / "parity")
    return found if (found / "a1111-v1.10.1").is_dir() else None


def oracle_checkpoint(folder: Path, cache: Path) -> Path:
    """The reference checkpoint: $SDWEBUI_ORACLE_CKPT, or built once into `cache` (about 20 s, 2.1 GB)."""
    given = os.environ.get("SDWEBUI_ORACLE_CKPT")
    path = Path(given) if given else cache / "oracle-sd15.safetensors"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(folder / "make_oracle_ckpt.py"), str(path)], check=True)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    if digest.hexdigest() != ORACLE_SHA256:
        raise RuntimeError(f"{path} is not the reference checkpoint (sha256 {digest.hexdigest()}); its builder needs "
                           "the pinned torch/diffusers/transformers of make_oracle_ckpt.py")
    return path


def cases(folder: Path) -> list[dict]:
    """A1111's generation records that have an image, with the request as sent (input images inlined)."""
    out = []
    for path in sorted((folder / "a1111-v1.10.1").glob("*.json")):
        record = json.loads(path.read_text())
        if not path.with_name(path.stem + ".0.png").exists():
            continue
        request = {k: _inline(v, folder / "a1111-v1.10.1") for k, v in record["request"].items()}
        out.append({"name": record.get("name", path.stem), "path": record["path"], "request": request,
                    "pngs": [path.with_name(path.stem + ".0.png")], "info": None})
    return out


def all_cases(folder: Path | None) -> list[dict]:
    """The shared records (when that folder is here) and the sweep's records kept in tests/parity_records."""
    from tests.parity_sweep import load_records

    return (cases(folder) if folder is not None else []) + load_records()


def _inline(value, base: Path):
    if isinstance(value, str) and value.startswith("<png:") and value.endswith(">"):
        return base64.b64encode((base / value[5:-1]).read_bytes()).decode()
    if isinstance(value, list):
        return [_inline(v, base) for v in value]
    return value


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    if x.shape != y.shape:
        return float("nan")
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


# infotext keys that name the program or its version, not the picture
VOLATILE_KEYS = {"Version", "Model hash", "Model"}


def infotext_difference(ours: str, theirs: str) -> dict[str, tuple]:
    """Infotext fields that differ: {key: (ours, A1111's)}; the prompts are compared as fields too."""
    from sdwebui.services.legacy.infotext import parse_generation_parameters

    a, b = parse_generation_parameters(ours), parse_generation_parameters(theirs)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b) - VOLATILE_KEYS)
            if k not in VOLATILE_KEYS and str(a.get(k)) != str(b.get(k))}


def measure(base_url: str, folder: Path | None, only: set[str] | None = None, *,
            infotexts: dict[str, dict] | None = None) -> dict[str, float]:
    """The lowest PSNR over each case's images ({name: dB}); with `infotexts`, the infotext fields that
    differ from A1111's are put there per case."""
    import httpx

    results = {}
    for case in all_cases(folder):
        if only and case["name"] not in only:
            continue
        r = httpx.post(base_url + case["path"], json=case["request"], timeout=1800)
        r.raise_for_status()
        body = r.json()
        n = len(case["pngs"])
        ours = [Image.open(io.BytesIO(base64.b64decode(b64))) for b64 in body["images"][-n:]]
        results[case["name"]] = min(psnr(o, Image.open(png)) for o, png in zip(ours, case["pngs"]))
        if infotexts is not None and case["info"]:
            mine = json.loads(body["info"])["infotexts"]
            diff = {}
            for a, b in zip(mine, case["info"]):
                diff.update(infotext_difference(a, b))
            infotexts[case["name"]] = diff
    return results


def server_args(ckpt: Path, data: Path) -> list[str]:
    """This project's server as the parity runs start it: the reference checkpoint, the sweep's network
    files (tests/parity_loras.py) in its Lora folder and the instruct-pix2pix checkpoint made from the
    reference one in its checkpoint folder."""
    from tests.parity_loras import build, instruct_pix2pix

    build(data / "parity-loras")
    (data / "parity-models").mkdir(exist_ok=True)
    instruct_pix2pix(ckpt, data / "parity-models" / "oracle-ip2p.safetensors")
    return ["--api", "--nowebui", "--skip-install", "--ckpt", str(ckpt), "--lora-dir", str(data / "parity-loras"),
            "--ckpt-dir", str(data / "parity-models")]


def main() -> int:
    import argparse
    import tempfile

    from tests.server_process import running_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", help="the reference checkpoint (built when absent)")
    ap.add_argument("--only", help="comma-separated case names")
    args = ap.parse_args()
    folder = parity_dir()
    if folder is None:
        print("no parity reference folder (set SDWEBUI_PARITY_DIR)", file=sys.stderr)
        return 2
    if args.ckpt:
        os.environ["SDWEBUI_ORACLE_CKPT"] = args.ckpt
    ckpt = oracle_checkpoint(folder, Path.home() / ".cache" / "sdwebui-parity")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with running_server(data, server_args(ckpt, data), ready_path="/sdapi/v1/progress") as srv:
            infotexts: dict[str, dict] = {}
            results = measure(srv.base, folder, set(args.only.split(",")) if args.only else None,
                              infotexts=infotexts)
    for name, db in results.items():
        print(f"{name:40s} {db:6.2f} dB  {infotexts.get(name) or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
