"""Peak RSS of a Checkpoint Merger run against the size of its inputs (docs/compatibility.md quotes it).

    python tools/merge_peak_rss.py DIR [MiB per input]

writes three SD-shaped .safetensors files of that size into DIR (fp16, 1 MiB tensors), then, each in
a fresh process, merges them with "Add difference" as the merger does (streamed) and as A1111 does
(all three state dicts in memory, then one save_file), and prints the peak RSS over the process's
RSS before the merge.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mib() -> tuple[float, float]:
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, value = line.split(":", 1)
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _make(folder: Path, mib: int) -> None:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate("abc"):
        g = torch.Generator().manual_seed(seed)
        tensors = {f"model.diffusion_model.block{i}.weight": torch.randn(512, 1024, generator=g).half()
                   for i in range(mib)}
        tensors["cond_stage_model.transformer.text_model.final_layer_norm.weight"] = torch.ones(768)
        save_file(tensors, str(folder / f"{name}.safetensors"))


def _merge(folder: Path, how: str) -> None:
    sys.path.insert(0, str(ROOT))
    from safetensors.torch import save_file

    from sdwebui.engine.models.hashes import HashCache
    from sdwebui.engine.models.single_file import read_state_dict
    from sdwebui.services import checkpoint_merge as cm
    from sdwebui.services.models.checkpoints import CheckpointRegistry

    registry = CheckpointRegistry([folder], HashCache(folder / "cache.json"))
    registry.refresh()
    (folder / f"{how}.safetensors").unlink(missing_ok=True)
    before, _ = _peak_mib()
    if how == "streamed":
        cm.merge_checkpoints(cm.MergeRequest("a", "b", "c", interp_method="Add difference", multiplier=0.5,
                                             custom_name=how, add_merge_recipe=False), registry=registry, out_dir=folder)
    else:
        a, b, c = (read_state_dict(folder / f"{n}.safetensors")[0] for n in "abc")
        save_file({k: a[k] + (b[k] - c[k]) * 0.5 for k in a}, str(folder / f"{how}.safetensors"))
    _, peak = _peak_mib()
    size = sum((folder / f"{n}.safetensors").stat().st_size for n in "abc") / 3 / 2**20
    print(f"{how}: 3 inputs of {size:.0f} MiB: peak RSS {peak - before:+.0f} MiB over the {before:.0f} MiB before")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] in ("streamed", "whole"):
        _merge(Path(sys.argv[1]), sys.argv[2])
    else:
        target = Path(sys.argv[1])
        _make(target, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
        for how in ("streamed", "whole"):
            subprocess.run([sys.executable, __file__, str(target), how], check=True)
