"""A1111's latent upscale modes for hires fix (`/sdapi/v1/latent-upscale-modes`): name ->
(torch interpolate mode, antialias)."""
from __future__ import annotations

LATENT_UPSCALE_MODES: dict[str, tuple[str, bool]] = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
