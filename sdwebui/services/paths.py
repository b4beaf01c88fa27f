"""Where things live on disk, derived from the flags as A1111 does (`--data-dir` moves everything).

The flags already carry A1111's path defaults (`--embeddings-dir` is `<data-dir>/embeddings` ...,
sdwebui/interfaces/cli/flag_groups.py); the fallbacks here give the same paths for flags that lack a
value (a namespace built by hand, or parsed before the data dir was changed on it).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT_PATH = Path(__file__).resolve().parents[2]
CONFIG_ROOT = SCRIPT_PATH / "configs"
# A1111's default --ckpt (sd_model_file): used only when the file is there
DEFAULT_CKPT = SCRIPT_PATH / "model.ckpt"

# upscaler model folder (engine/upscalers.MODEL_DIRS) -> the flag that moves it (A1111's names)
UPSCALER_DIR_FLAGS: dict[str, str] = {
    "ESRGAN": "esrgan_models_path",
    "RealESRGAN": "realesrgan_models_path",
    "SwinIR": "swinir_models_path",
    "DAT": "dat_models_path",
    "ScuNET": "scunet_models_path",
}


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
    lyco: Path | None = None
    text_encoders: Path = Path("models/text_encoder")   # separate text encoder files (SD3.5's CLIP-L/G, T5)
    # upscaler folder name -> where its models are (the folders without a flag: <models>/<name>)
    upscalers: dict[str, Path] = field(default_factory=dict)

    def resolve_output(self, configured: str) -> Path:
        """Output dirs from options are relative to the data dir (A1111: relative to cwd = repo root)."""
        p = Path(configured)
        return p if p.is_absolute() else self.data / p


def _flag_path(ns: argparse.Namespace, dest: str, default: Path) -> Path:
    value = getattr(ns, dest, None)
    return Path(value).resolve() if value else default


def from_args(ns: argparse.Namespace) -> Paths:
    data = Path(ns.data_dir).resolve() if ns.data_dir else SCRIPT_PATH
    models = Path(ns.models_dir).resolve() if ns.models_dir else data / "models"
    return Paths(
        data=data,
        models=models,
        checkpoints=models / "Stable-diffusion",
        extra_checkpoint_dir=Path(ns.ckpt_dir).resolve() if ns.ckpt_dir else None,
        vae=Path(ns.vae_dir).resolve() if ns.vae_dir else models / "VAE",
        lora=_flag_path(ns, "lora_dir", models / "Lora"),
        embeddings=_flag_path(ns, "embeddings_dir", data / "embeddings"),
        extensions=data / "extensions",
        extensions_builtin=SCRIPT_PATH / "extensions-builtin",
        config_file=_flag_path(ns, "ui_settings_file", data / "config.json"),
        cache_file=data / "cache.json",
        tmp=data / "tmp",
        lyco=_flag_path(ns, "lyco_dir_backcompat", models / "LyCORIS"),
        text_encoders=models / "text_encoder",
        upscalers={name: _flag_path(ns, dest, models / name) for name, dest in UPSCALER_DIR_FLAGS.items()},
    )


def ensure_dirs(paths: Paths) -> None:
    for d in (paths.checkpoints, paths.vae, paths.text_encoders, paths.lora, paths.embeddings, paths.extensions):
        d.mkdir(parents=True, exist_ok=True)
