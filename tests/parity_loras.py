"""One small network file of each type A1111's built-in Lora extension applies, for the SD1.5 reference
checkpoint's layers (kohya key names), built deterministically from a seed. The parity sweep's "lora" group
draws with each at weight 0.8, on A1111 and here, so every type's weight math is compared with A1111's.

    python -m tests.parity_loras OUT_DIR      # writes parity-TYPE.safetensors for every type
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

# (kohya name, weight shape) of a few layers of each kind in SD1.5
TE_Q = ("lora_te_text_model_encoder_layers_0_self_attn_q_proj", (768, 768))
TE_FC1 = ("lora_te_text_model_encoder_layers_3_mlp_fc1", (3072, 768))
TE_NORM = ("lora_te_text_model_encoder_layers_1_layer_norm1", (768,))
UNET_Q = ("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", (640, 640))
UNET_K = ("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k", (640, 768))
UNET_OUT = ("lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn1_to_out_0", (320, 320))
UNET_CONV = ("lora_unet_down_blocks_1_resnets_0_conv1", (640, 320, 3, 3))
UNET_NORM = ("lora_unet_down_blocks_1_resnets_0_norm1", (320,))
LINEARS = (TE_Q, TE_FC1, UNET_Q, UNET_K, UNET_OUT)


def _rand(g: torch.Generator, *shape: int, std: float = 0.1) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * std


def lora(g, dora: bool = False) -> dict:
    out = {}
    for key, (o, i, *k) in (*LINEARS, UNET_CONV):
        r = 4
        out[f"{key}.lora_down.weight"] = _rand(g, r, i, *k)
        out[f"{key}.lora_up.weight"] = _rand(g, o, r, *([1, 1] if k else []))
        out[f"{key}.alpha"] = torch.tensor(2.0)
        if dora:
            # one magnitude per input channel: the layout A1111 reads (it normalises over the input axis)
            out[f"{key}.dora_scale"] = torch.rand(1, i, *([1] * len(k)), generator=g) * 0.5 + 0.75
    return out


def locon_tucker(g) -> dict:
    key, (o, i, kh, kw) = UNET_CONV
    r = 4
    return {f"{key}.lora_down.weight": _rand(g, r, i, 1, 1), f"{key}.lora_mid.weight": _rand(g, r, r, kh, kw, std=0.3),
            f"{key}.lora_up.weight": _rand(g, o, r, 1, 1), f"{key}.alpha": torch.tensor(4.0),
            **{k: v for k, v in lora(g).items() if not k.startswith(key)}}


def loha(g) -> dict:
    out = {}
    for key, (o, i, *k) in (*LINEARS, UNET_CONV):
        r = 4
        out.update({f"{key}.hada_w1_a": _rand(g, o, r, std=0.3), f"{key}.hada_w1_b": _rand(g, r, i * (k[0] * k[1] if k else 1), std=0.3),
                    f"{key}.hada_w2_a": _rand(g, o, r, std=0.3), f"{key}.hada_w2_b": _rand(g, r, i * (k[0] * k[1] if k else 1), std=0.3),
                    f"{key}.alpha": torch.tensor(4.0)})
    return out


def lokr(g) -> dict:
    out = {}
    for key, (o, i, *k) in LINEARS:
        a, b = 4, 4
        out.update({f"{key}.lokr_w1": _rand(g, a, b, std=0.5), f"{key}.lokr_w2_a": _rand(g, o // a, 4, std=0.3),
                    f"{key}.lokr_w2_b": _rand(g, 4, i // b, std=0.3), f"{key}.alpha": torch.tensor(4.0)})
    key, (o, i, kh, kw) = UNET_CONV
    out[f"{key}.lokr_w1"] = _rand(g, 2, 2, std=0.5)
    out[f"{key}.lokr_w2"] = _rand(g, o // 2, i // 2, kh, kw, std=0.02)
    return out


def full(g) -> dict:
    out = {}
    for key, shape in (*LINEARS, UNET_CONV):
        out[f"{key}.diff"] = _rand(g, *shape, std=0.01)
        if key not in (UNET_Q[0], UNET_K[0]):     # A1111 fails on a diff_b for a layer with no bias
            out[f"{key}.diff_b"] = _rand(g, shape[0], std=0.05)
    return out


def ia3(g) -> dict:
    out = {}
    for n, (key, (o, i, *_)) in enumerate(LINEARS):
        on_input = n % 2 == 1
        out[f"{key}.weight"] = _rand(g, i if on_input else o, std=0.5)
        out[f"{key}.on_input"] = torch.tensor(on_input)
    return out


def glora(g) -> dict:
    out = {}
    for key, (o, i) in LINEARS:
        r = 4
        out.update({f"{key}.a1.weight": _rand(g, r, i), f"{key}.a2.weight": _rand(g, i, r),
                    f"{key}.b1.weight": _rand(g, r, i), f"{key}.b2.weight": _rand(g, o, r),
                    f"{key}.alpha": torch.tensor(4.0)})
    return out


def oft(g) -> dict:
    out = {}
    for key, (o, i, *_) in (*LINEARS, UNET_CONV):
        blocks = 8
        out[f"{key}.oft_blocks"] = _rand(g, blocks, o // blocks, o // blocks, std=0.05)
        out[f"{key}.alpha"] = torch.tensor(0.0)
    return out


def boft(g) -> dict:
    out = {}
    for key, (o, i, *_) in LINEARS:
        b = 8
        out[f"{key}.oft_blocks"] = _rand(g, 2, o // b, b, b, std=0.1)
        out[f"{key}.alpha"] = torch.tensor(0.0)
    return out


def norm(g) -> dict:
    out = {}
    for key, (c,) in (TE_NORM, UNET_NORM):
        out[f"{key}.w_norm"] = _rand(g, c, std=0.3)
        out[f"{key}.b_norm"] = _rand(g, c, std=0.3)
    return out


TYPES = {"lora": lora, "dora": lambda g: lora(g, dora=True), "locon-tucker": locon_tucker, "loha": loha,
         "lokr": lokr, "full": full, "ia3": ia3, "glora": glora, "oft": oft, "boft": boft, "norm": norm}


def build(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (name, make) in enumerate(TYPES.items()):
        tensors = make(torch.Generator().manual_seed(1000 + n))
        path = folder / f"parity-{name}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build(Path(sys.argv[1])):
        print(p)


def instruct_pix2pix(oracle: Path, out: Path) -> Path:
    """An instruct-pix2pix checkpoint made from the reference one: its first UNet convolution takes 8 channels,
    the 4 new ones (the picture's latents) with deterministic weights; everything else unchanged."""
    from safetensors.torch import load_file

    if out.exists():
        return out
    tensors = load_file(str(oracle))
    key = "model.diffusion_model.input_blocks.0.0.weight"
    extra = torch.randn(tensors[key].shape, generator=torch.Generator().manual_seed(2024)) * 0.05
    tensors[key] = torch.cat([tensors[key], extra.to(tensors[key].dtype)], dim=1)
    save_file(tensors, str(out))
    return out
