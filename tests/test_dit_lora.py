"""LoRA for SD3 and Flux in the common layouts: kohya's (the original checkpoint's fused layer names),
diffusers / PEFT (diffusers' split layers) and, for Flux, XLabs'. The same low-rank change written in
each layout gives the same picture, different from the picture without it, and is gone afterwards."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests.test_api import SMALL, pixels

RANK = 4


def _low_rank(rows: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((rows, RANK), generator=g) * 0.6, torch.randn((RANK, cols), generator=g) * 0.6


def _write(path, tensors: dict[str, torch.Tensor]) -> None:
    save_file({k: v.clone().contiguous() for k, v in tensors.items()}, str(path))


def _layouts(kohya: str, xlabs: str | None, diffusers: list[str], rows: int, cols: int) -> dict[str, dict]:
    """One change of a fused layer (q | k | v) in each layout: kohya's fused name with alpha = rank,
    diffusers' three layers sharing the down projection, XLabs' fused processor names."""
    up, down = _low_rank(3 * rows, cols, seed=len(kohya))
    out = {"kohya": {f"{kohya}.lora_down.weight": down, f"{kohya}.lora_up.weight": up,
                     f"{kohya}.alpha": torch.tensor(float(RANK))},
           "diffusers": {}}
    for name, part in zip(diffusers, up.split(rows)):
        out["diffusers"][f"{name}.lora_A.weight"] = down
        out["diffusers"][f"{name}.lora_B.weight"] = part
    if xlabs:
        out["xlabs"] = {f"{xlabs}.down.weight": down, f"{xlabs}.up.weight": up}
    return out


def _generate(api, checkpoint: str, prompt: str, **extra) -> np.ndarray:
    """txt2img on `checkpoint`, which the test has loaded (see `loaded`)."""
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": prompt, "seed": 9, **extra})
    assert r.status_code == 200, r.text
    assert f"Model: {checkpoint}," in r.json()["info"]
    return pixels(r.json()["images"][0])


@pytest.fixture
def loaded(api):
    """Loads a checkpoint for the test (one load, not two per request as override_settings would);
    alpha again afterwards."""
    def load(name: str) -> None:
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": name}).status_code == 200
    yield load
    load("alpha")


@pytest.mark.parametrize("family", ["flux", "sd3"])
def test_every_layout_gives_the_same_change(api, data_dir, loaded, family):
    lora_dir = data_dir / "models" / "Lora"
    lora_dir.mkdir(parents=True, exist_ok=True)
    if family == "flux":
        width, checkpoint, extra = 32, "tiny-flux", {"cfg_scale": 1.0}
        layouts = _layouts("lora_unet_double_blocks_0_img_attn_qkv", "double_blocks.0.processor.qkv_lora1",
                           [f"transformer.transformer_blocks.0.attn.to_{x}" for x in "qkv"], width, width)
    else:
        width, checkpoint, extra = 32, "tiny-sd3", {}
        layouts = _layouts("lora_unet_joint_blocks_0_x_block_attn_qkv", None,
                           [f"transformer.transformer_blocks.0.attn.to_{x}" for x in "qkv"], width, width)
    names = []
    for layout, tensors in layouts.items():
        name = f"{family}-{layout}"
        _write(lora_dir / f"{name}.safetensors", tensors)
        names.append(name)
    loaded(checkpoint)
    try:
        api.post("/sdapi/v1/refresh-loras")
        plain = _generate(api, checkpoint, "a house", **extra)
        images = [_generate(api, checkpoint, f"a house <lora:{name}:1>", **extra) for name in names]
        assert not np.array_equal(images[0], plain)
        for other in images[1:]:
            assert np.abs(other.astype(int) - images[0].astype(int)).max() <= 1
        assert np.array_equal(_generate(api, checkpoint, "a house", **extra), plain)     # restored after the job
        half = _generate(api, checkpoint, f"a house <lora:{names[0]}:0.5>", **extra)
        assert not np.array_equal(half, images[0]) and not np.array_equal(half, plain)
    finally:
        for name in names:
            (lora_dir / f"{name}.safetensors").unlink()
        api.post("/sdapi/v1/refresh-loras")


def test_flux_single_block_and_text_encoder_names(api, data_dir, loaded):
    """kohya's single-block layer (q | k | v | MLP input in one) and its CLIP-L names (lora_te1_)."""
    lora_dir = data_dir / "models" / "Lora"
    lora_dir.mkdir(parents=True, exist_ok=True)
    up, down = _low_rank(3 * 32 + 128, 32, seed=5)
    te_up, te_down = _low_rank(32, 32, seed=6)
    key = "lora_unet_single_blocks_1_linear1"
    te = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
    _write(lora_dir / "flux-single.safetensors", {f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                                                  f"{te}.lora_down.weight": te_down, f"{te}.lora_up.weight": te_up})
    loaded("tiny-flux")
    try:
        api.post("/sdapi/v1/refresh-loras")
        plain = _generate(api, "tiny-flux", "a house", cfg_scale=1.0)
        both = _generate(api, "tiny-flux", "a house <lora:flux-single:1>", cfg_scale=1.0)
        unet_only = _generate(api, "tiny-flux", "a house <lora:flux-single:1:0>", cfg_scale=1.0)
        assert not np.array_equal(both, plain) and not np.array_equal(unet_only, plain)
        assert not np.array_equal(both, unet_only)        # the text encoder part acts too
    finally:
        (lora_dir / "flux-single.safetensors").unlink()
        api.post("/sdapi/v1/refresh-loras")
