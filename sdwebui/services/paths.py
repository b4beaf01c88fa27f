"""Where things live on disk, derived from the flags as A1111 does (`--data-dir` moves everything)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

SCRIPT_PATH = Path(__file__).resolve().parents[2]
CONFIG_ROOT = SCRIPT_PATH / "configs"


@dataclass(frozen=True)
class Paths:
    data: Path
    models: Path
    checkpoints: Path
    extra_checkpoint_dir: Path | None
    vae: Path
    lora: Path
    embeddings: Path
    extensions: Path
    extensions_builtin: Path
    config_file: Path
    cache_file: Path
    tmp: Path

    def resolve_output(self, configured: str) -> Path:
        """Output dirs from options are relative to the data dir (A1111: relative to cwd = repo root)."""
        p = Path(configured)
        return p if p.is_absolute() else self.data / p


def from_args(ns: argparse.Namespace) -> Paths:
    data = Path(ns.data_dir).resolve() if ns.data_dir else SCRIPT_PATH
    models = Path(ns.models_dir).resolve() if ns.models_dir else data / "models"
    return Paths(
        data=data,
        models=models,
        checkpoints=models / "Stable-diffusion",
        extra_checkpoint_dir=Path(ns.ckpt_dir).resolve() if ns.ckpt_dir else None,
        vae=Path(ns.vae_dir).resolve() if ns.vae_dir else models / "VAE",
        lora=Path(ns.lora_dir).resolve() if ns.lora_dir else models / "Lora",
        embeddings=Path(ns.embeddings_dir).resolve() if ns.embeddings_dir else data / "embeddings",
        extensions=data / "extensions",
        extensions_builtin=SCRIPT_PATH / "extensions-builtin",
        config_file=Path(ns.ui_settings_file).resolve() if ns.ui_settings_file else data / "config.json",
        cache_file=data / "cache.json",
        tmp=data / "tmp",
    )


def ensure_dirs(paths: Paths) -> None:
    for d in (paths.checkpoints, paths.vae, paths.lora, paths.embeddings, paths.extensions):
        d.mkdir(parents=True, exist_ok=True)

