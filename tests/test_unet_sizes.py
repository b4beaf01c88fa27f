"""Sizes that are not multiples of 64: the UNet's upsamplers double, convolve, then fit the skip
connection's size, as A1111's UNet does (its torch.cat hijack), not diffusers' resize-then-convolve."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.upsampling import Upsample2D

from sdwebui.engine.models.unet_sizes import upsample_like_a1111


class _Holder(torch.nn.Module):
    def __init__(self, up: Upsample2D) -> None:
        super().__init__()
        self.up_blocks = torch.nn.ModuleList([torch.nn.Module()])
        self.up_blocks[0].upsamplers = torch.nn.ModuleList([up])


def test_odd_sizes_are_doubled_convolved_then_fitted():
    torch.manual_seed(0)
    up = Upsample2D(4, use_conv=True)
    x = torch.randn(1, 4, 2, 1)
    direct = up(x, output_size=(3, 2))                       # diffusers: resize to 3x2, then convolve
    upsample_like_a1111(_Holder(up))
    mine = up(x, output_size=(3, 2))
    expected = F.interpolate(up.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")), size=(3, 2), mode="nearest")
    assert torch.equal(mine, expected)
    assert not torch.allclose(mine, direct)                  # the edge row differs
    even = torch.randn(1, 4, 4, 4)                           # a doubled size that is the skip's: unchanged
    assert torch.equal(up(even, output_size=(8, 8)), up.conv(F.interpolate(even, scale_factor=2.0, mode="nearest")))
    assert torch.equal(up(even), up.conv(F.interpolate(even, scale_factor=2.0, mode="nearest")))


def test_a_loaded_checkpoint_gets_it(tmp_path):
    from sdwebui.engine.models.single_file import load_checkpoint
    from sdwebui.engine.models.tiny import write_tiny_checkpoint

    path = write_tiny_checkpoint(tmp_path / "t.safetensors", "sd1")
    model = load_checkpoint(path, device="cpu", dtype=torch.float32)
    ups = [u for b in model.unet.up_blocks for u in (getattr(b, "upsamplers", None) or [])]
    assert ups and all("forward" in vars(u) for u in ups)
