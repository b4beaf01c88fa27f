"""The small latent -> RGB networks A1111 users keep beside their checkpoints, for live previews
(and, with TAESD, for fast decoding and encoding):

* "Approx NN": A1111's VAE approximation, `models/VAE-approx/model.pt` (SD1/SD2) and
  `vaeapprox-sdxl.pt` (SDXL): eight unpadded convolutions over the latent upsampled 2x and padded
  by 11, each followed by a leaky ReLU; outputs RGB in about [-1, 1] at a quarter of the image size.
* "TAESD": the Tiny AutoEncoder, `models/VAE-taesd/taesd_decoder.pth` / `taesdxl_decoder.pth` (and
  the `_encoder` files): a 64-channel conv stack upsampling 8x; outputs RGB in [0, 1].

Their state dicts are the files' own layout (the module and index names below are what the
published files use), so a user's existing files load unchanged. A1111 downloads missing files;
nothing here reaches the network: a missing file raises `PreviewModelMissing`, which names where it
was looked for, and the caller falls back to the cheap approximation.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)


class PreviewModelMissing(FileNotFoundError):
    """A preview network's weights are not on disk (they are never downloaded here)."""


class VAEApprox(nn.Module):
    """A1111's "Approx NN" network (layer names conv1..conv8 as in its model.pt files)."""

    def __init__(self, latent_channels: int = 4) -> None:
        super().__init__()
        widths = [latent_channels, 8, 16, 32, 64, 32, 16, 8, 3]
        kernels = [7, 5, 3, 3, 3, 3, 3, 3]
        for i, k in enumerate(kernels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], (k, k)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the 11-pixel pad is what the eight unpadded convolutions eat (6+4+2*6 = 22 = 2*11)
        x = nn.functional.interpolate(x, (x.shape[2] * 2, x.shape[3] * 2))
        x = nn.functional.pad(x, (11, 11, 11, 11))
        for i in range(8):
            x = nn.functional.leaky_relu(getattr(self, f"conv{i + 1}")(x), 0.1)
        return x


def _conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class _SoftClamp(nn.Module):
    """TAESD's first decoder layer: squashes latents into (-3, 3) smoothly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class _ResBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(n_in, n_out), nn.ReLU(), _conv(n_out, n_out), nn.ReLU(), _conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + self.skip(x))


def taesd_decoder(latent_channels: int = 4) -> nn.Sequential:
    """TAESD's decoder: latents (the UNet's scaled space) -> RGB in [0, 1] at 8x the size."""
    layers: list[nn.Module] = [_SoftClamp(), _conv(latent_channels, 64), nn.ReLU()]
    for _ in range(3):   # three upsampling stages of three blocks each
        layers += [_ResBlock(64, 64), _ResBlock(64, 64), _ResBlock(64, 64), nn.Upsample(scale_factor=2),
                   _conv(64, 64, bias=False)]
    layers += [_ResBlock(64, 64), _conv(64, 3)]
    return nn.Sequential(*layers)


def taesd_encoder(latent_channels: int = 4) -> nn.Sequential:
    """TAESD's encoder: RGB in [0, 1] -> latents in the UNet's scaled space at 1/8 the size."""
    layers: list[nn.Module] = [_conv(3, 64), _ResBlock(64, 64)]
    for _ in range(3):
        layers += [_conv(64, 64, stride=2, bias=False), _ResBlock(64, 64), _ResBlock(64, 64), _ResBlock(64, 64)]
    layers.append(_conv(64, latent_channels))
    return nn.Sequential(*layers)


def approx_file_name(model) -> str:
    return "vaeapprox-sd3.pt" if getattr(model, "is_sd3", False) else "vaeapprox-sdxl.pt" if model.is_sdxl else "model.pt"


def taesd_file_name(model, part: str) -> str:
    kind = "taesd3" if getattr(model, "is_sd3", False) else "taesdxl" if model.is_sdxl else "taesd"
    return f"{kind}_{part}.pth"


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(str(path), map_location="cpu", weights_only=True)


class PreviewDecoders:
    """The preview networks of one install, loaded on first use and kept per (file, device, dtype).
    A file replaced on disk is read again (its modification time is part of the key)."""

    def __init__(self, approx_dirs: list[Path], taesd_dirs: list[Path]) -> None:
        self.approx_dirs = [Path(d) for d in approx_dirs]
        self.taesd_dirs = [Path(d) for d in taesd_dirs]
        self._loaded: dict[tuple, nn.Module] = {}
        self._lock = threading.Lock()

    def _find(self, dirs: list[Path], name: str) -> Path:
        stem = Path(name).stem
        for folder in dirs:
            for candidate in (folder / name, folder / f"{stem}.safetensors"):
                if candidate.is_file():
                    return candidate
        raise PreviewModelMissing(f"{name} not found in {', '.join(str(d) for d in dirs)} "
                                  "(it is not downloaded: put the file there to use this method)")

    def _get(self, path: Path, build, model) -> nn.Module:
        device, dtype = model.device, model.vae_dtype
        key = (str(path), path.stat().st_mtime_ns, str(device), dtype)
        with self._lock:
            net = self._loaded.get(key)
            if net is None:
                net = build()
                net.load_state_dict(_read_state_dict(path))
                net.eval().requires_grad_(False).to(device=device, dtype=dtype)
                self._loaded = {k: v for k, v in self._loaded.items() if k[0] != key[0]}
                self._loaded[key] = net
                logger.info("loaded %s", path)
        return net

    def approx_nn(self, model) -> nn.Module:
        channels = model.latent_channels
        return self._get(self._find(self.approx_dirs, approx_file_name(model)), lambda: VAEApprox(channels), model)

    def taesd_decoder(self, model) -> nn.Module:
        path = self._find(self.taesd_dirs, taesd_file_name(model, "decoder"))
        return self._get(path, lambda: taesd_decoder(model.latent_channels), model)

    def taesd_encoder(self, model) -> nn.Module:
        path = self._find(self.taesd_dirs, taesd_file_name(model, "encoder"))
        return self._get(path, lambda: taesd_encoder(model.latent_channels), model)
