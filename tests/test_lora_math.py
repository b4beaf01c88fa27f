"""LoRA weight maths from the definitions, on one real module of the tiny SD1 model: A1111's scale
rule (a file's `scale` wins over alpha / rank), DoRA's weight decomposition (`dora_scale`, per input
channel and per output channel), and a full/diff module's `diff_b` on the bias, all undone by restore."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from sdwebui.engine.models.lora import LoraApplier, LoraUse


@pytest.fixture
def model(tiny_files):
    from sdwebui.engine.models.single_file import load_checkpoint

    return load_checkpoint(tiny_files["sd1"])


def _target(model):
    name, module = next((n, m) for n, m in model.unet.named_modules()
                        if isinstance(m, torch.nn.Linear) and n.endswith("attn1.to_out.0"))
    return "lora_unet_" + name.replace(".", "_"), module


def _apply(model, tmp_path: Path, tensors: dict, multiplier: float = 0.7) -> LoraApplier:
    path = tmp_path / "net.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    file = SimpleNamespace(path=path, name="net")
    applier = LoraApplier(model)
    applier.apply([LoraUse(file, multiplier, multiplier)])
    return applier


def test_a_files_scale_wins_over_alpha(model, tmp_path):
    key, module = _target(model)
    w = module.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    up, down = torch.randn(w.shape[0], 2, generator=g), torch.randn(2, w.shape[1], generator=g)
    _apply(model, tmp_path, {f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                             f"{key}.alpha": torch.tensor(1.0), f"{key}.scale": torch.tensor(0.25)})
    assert torch.allclose(module.weight, w + 0.7 * 0.25 * (up @ down), atol=1e-5)


@pytest.mark.parametrize("per_output", [False, True])
def test_dora_keeps_the_direction_and_takes_the_files_magnitudes(model, tmp_path, per_output):
    key, module = _target(model)
    w = module.weight.detach().clone().float()
    g = torch.Generator().manual_seed(1)
    up, down = torch.randn(w.shape[0], 2, generator=g) * 0.1, torch.randn(2, w.shape[1], generator=g) * 0.1
    merged = w + (up @ down) * (4.0 / 2)   # A1111 decomposes the difference scaled by alpha / rank
    if per_output:
        magnitude = torch.rand(w.shape[0], 1, generator=g) + 0.5
        norm = merged.norm(dim=1, keepdim=True)
    else:
        magnitude = torch.rand(1, w.shape[1], generator=g) + 0.5
        norm = merged.norm(dim=0, keepdim=True)
    expected = w + 0.7 * (merged * magnitude / norm - w)
    applier = _apply(model, tmp_path, {f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                                       f"{key}.alpha": torch.tensor(4.0), f"{key}.dora_scale": magnitude})
    assert torch.allclose(module.weight, expected, atol=1e-5)
    applier.restore()
    assert torch.equal(module.weight, w)


def test_a_full_modules_diff_b_moves_the_bias(model, tmp_path):
    key, module = _target(model)
    w, b = module.weight.detach().clone(), module.bias.detach().clone()
    g = torch.Generator().manual_seed(2)
    diff, diff_b = torch.randn(w.shape, generator=g) * 0.1, torch.randn(b.shape, generator=g)
    applier = _apply(model, tmp_path, {f"{key}.diff": diff, f"{key}.diff_b": diff_b})
    assert torch.allclose(module.weight, w + 0.7 * diff, atol=1e-6)
    assert torch.allclose(module.bias, b + 0.7 * diff_b, atol=1e-6)
    applier.restore()
    assert torch.equal(module.weight, w) and torch.equal(module.bias, b)


def test_diff_b_on_a_layer_without_bias_adds_one_until_restore(model, tmp_path):
    name, module = next((n, m) for n, m in model.unet.named_modules()
                        if isinstance(m, torch.nn.Linear) and n.endswith("attn1.to_q"))
    assert module.bias is None
    key = "lora_unet_" + name.replace(".", "_")
    x = torch.randn(2, module.in_features)
    before = module(x)
    diff_b = torch.randn(module.out_features, generator=torch.Generator().manual_seed(3))
    applier = _apply(model, tmp_path, {f"{key}.diff": torch.zeros_like(module.weight), f"{key}.diff_b": diff_b})
    assert torch.allclose(module(x), before + 0.7 * diff_b, atol=1e-5)      # the file's bias, until restore
    applier.restore()
    assert module.bias is None and torch.equal(module(x), before)


def _conv(model):
    name, module = next((n, m) for n, m in model.unet.named_modules()
                        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and "resnets" in n)
    return "lora_unet_" + name.replace(".", "_"), module


def _cp(t, wa, wb):
    """LyCORIS' make_weight_cp, in two steps as it is defined: t (r, r, k, k), wa (r, out), wb (r, in)."""
    temp = torch.einsum("ijkl,jr->irkl", t, wb)
    return torch.einsum("ijkl,ir->rjkl", temp, wa)


def test_locon_with_a_cp_kernel(model, tmp_path):
    key, module = _conv(model)
    w = module.weight.detach().clone()
    out, inp = w.shape[:2]
    g = torch.Generator().manual_seed(3)
    up, down = torch.randn(out, 2, 1, 1, generator=g) * 0.1, torch.randn(2, inp, 1, 1, generator=g) * 0.1
    mid = torch.randn(2, 2, 3, 3, generator=g)
    _apply(model, tmp_path, {f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                             f"{key}.lora_mid.weight": mid, f"{key}.alpha": torch.tensor(1.0)})
    expected = torch.einsum("nmkl,in,mj->ijkl", mid, up.flatten(1), down.flatten(1)) * (1.0 / 2)
    assert torch.allclose(module.weight, w + 0.7 * expected, atol=1e-5)


def test_loha_and_lokr_with_tucker_kernels(model, tmp_path):
    key, module = _conv(model)
    w = module.weight.detach().clone()
    out, inp = w.shape[:2]
    g = torch.Generator().manual_seed(4)
    r = 2
    t1, t2 = torch.randn(r, r, 3, 3, generator=g), torch.randn(r, r, 3, 3, generator=g)
    w1a, w1b = torch.randn(r, out, generator=g) * 0.2, torch.randn(r, inp, generator=g) * 0.2
    w2a, w2b = torch.randn(r, out, generator=g) * 0.2, torch.randn(r, inp, generator=g) * 0.2
    applier = _apply(model, tmp_path, {f"{key}.hada_t1": t1, f"{key}.hada_t2": t2, f"{key}.hada_w1_a": w1a,
                                       f"{key}.hada_w1_b": w1b, f"{key}.hada_w2_a": w2a, f"{key}.hada_w2_b": w2b,
                                       f"{key}.alpha": torch.tensor(2.0)})
    expected = _cp(t1, w1a, w1b) * _cp(t2, w2a, w2b) * (2.0 / r)
    assert torch.allclose(module.weight, w + 0.7 * expected, atol=1e-5)
    applier.restore()
    # LoKr: w1 (2x2) kron a Tucker w2 of half the channels
    k1 = torch.randn(2, 2, generator=g)
    kt2 = torch.randn(r, r, 3, 3, generator=g)
    k2a, k2b = torch.randn(r, out // 2, generator=g) * 0.2, torch.randn(r, inp // 2, generator=g) * 0.2
    _apply(model, tmp_path, {f"{key}.lokr_w1": k1, f"{key}.lokr_t2": kt2, f"{key}.lokr_w2_a": k2a,
                             f"{key}.lokr_w2_b": k2b, f"{key}.alpha": torch.tensor(1.0)})
    expected = torch.kron(k1.reshape(2, 2, 1, 1), _cp(kt2, k2a, k2b)) * (1.0 / r)
    assert torch.allclose(module.weight, w + 0.7 * expected, atol=1e-5)


def test_glora_and_ia3(model, tmp_path):
    key, module = _target(model)
    w = module.weight.detach().clone()
    out, inp = w.shape
    g = torch.Generator().manual_seed(5)
    a1, a2 = torch.randn(2, inp, generator=g) * 0.1, torch.randn(inp, 2, generator=g) * 0.1
    b1, b2 = torch.randn(2, inp, generator=g) * 0.1, torch.randn(out, 2, generator=g) * 0.1
    applier = _apply(model, tmp_path, {f"{key}.a1.weight": a1, f"{key}.a2.weight": a2, f"{key}.b1.weight": b1,
                                       f"{key}.b2.weight": b2, f"{key}.alpha": torch.tensor(8.0)})
    assert torch.allclose(module.weight, w + 0.7 * (b2 @ b1 + (w @ a2) @ a1), atol=1e-5)
    applier.restore()
    scale_out = torch.rand(out, generator=g)
    applier = _apply(model, tmp_path, {f"{key}.weight": scale_out, f"{key}.on_input": torch.tensor(False)})
    assert torch.allclose(module.weight, w + 0.7 * w * scale_out[:, None], atol=1e-6)
    applier.restore()
    scale_in = torch.rand(inp, generator=g)
    _apply(model, tmp_path, {f"{key}.weight": scale_in, f"{key}.on_input": torch.tensor(True)})
    assert torch.allclose(module.weight, w + 0.7 * w * scale_in[None, :], atol=1e-6)


def test_a_norm_layer_module(model, tmp_path):
    name, module = next((n, m) for n, m in model.unet.named_modules()
                        if isinstance(m, torch.nn.GroupNorm) and "resnets" in n)
    key = "lora_unet_" + name.replace(".", "_")
    w, b = module.weight.detach().clone(), module.bias.detach().clone()
    g = torch.Generator().manual_seed(6)
    w_norm, b_norm = torch.randn(w.shape, generator=g), torch.randn(b.shape, generator=g)
    applier = _apply(model, tmp_path, {f"{key}.w_norm": w_norm, f"{key}.b_norm": b_norm})
    assert torch.allclose(module.weight, w + 0.7 * w_norm) and torch.allclose(module.bias, b + 0.7 * b_norm)
    applier.restore()
    assert torch.equal(module.weight, w) and torch.equal(module.bias, b)


def test_a_stray_weight_tensor_is_ignored(model, tmp_path):
    key, module = _target(model)
    w = module.weight.detach().clone()
    g = torch.Generator().manual_seed(7)
    up, down = torch.randn(w.shape[0], 2, generator=g), torch.randn(2, w.shape[1], generator=g)
    other_key, _ = _conv(model)
    _apply(model, tmp_path, {f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                             f"{other_key}.weight": torch.zeros(3)})
    assert torch.allclose(module.weight, w + 0.7 * (up @ down), atol=1e-5)


def _cayley(blocks: torch.Tensor) -> torch.Tensor:
    """The orthogonal rotation of a block, from its definition: R = (I + Q)(I - Q)^-1, Q = A - A^T."""
    q = blocks - blocks.transpose(-1, -2)
    eye = torch.eye(blocks.shape[-1])
    return torch.stack([(eye + qi) @ torch.linalg.inv(eye - qi) for qi in q])


def test_oft_rotates_the_output_channels_by_block(model, tmp_path):
    key, module = _target(model)
    w = module.weight.detach().clone()
    out = w.shape[0]
    g = torch.Generator().manual_seed(7)
    blocks = torch.randn(4, out // 4, out // 4, generator=g) * 0.05       # 4 blocks, no norm cap (alpha 0)
    applier = _apply(model, tmp_path, {f"{key}.oft_blocks": blocks, f"{key}.alpha": torch.tensor(0.0)})
    rotation = torch.block_diag(*_cayley(blocks))
    assert torch.allclose(rotation @ rotation.T, torch.eye(out), atol=1e-5)        # orthogonal
    assert torch.allclose(module.weight, w + 0.7 * (rotation.T @ w - w), atol=1e-5)
    applier.restore()
    # old LyCORIS files store the rotations themselves; `rescale` scales each output channel
    rot = _cayley(blocks)
    rescale = torch.rand(out, generator=g) + 0.5
    _apply(model, tmp_path, {f"{key}.oft_diag": rot, f"{key}.rescale": rescale.reshape(out, 1)})
    assert torch.allclose(module.weight, w + 0.7 * (rescale[:, None] * (torch.block_diag(*rot).T @ w) - w), atol=1e-5)


def test_oft_norm_cap_and_boft_butterfly(model, tmp_path):
    key, module = _target(model)
    w = module.weight.detach().clone()
    out = w.shape[0]
    g = torch.Generator().manual_seed(8)
    blocks = torch.randn(2, out // 2, out // 2, generator=g)
    alpha = 1e-3                               # caps |Q| at alpha * out_features
    applier = _apply(model, tmp_path, {f"{key}.oft_blocks": blocks, f"{key}.alpha": torch.tensor(alpha)})
    q = blocks - blocks.transpose(-1, -2)
    capped = blocks * (alpha * out / q.flatten().norm())     # the skew part scaled to the cap
    rotation = torch.block_diag(*_cayley(capped))
    assert torch.allclose(module.weight, w + 0.7 * (rotation.T @ w - w), atol=1e-4)
    applier.restore()
    # BOFT, one butterfly factor (m = 1) of blocks of b = 4: channels paired b/2 apart inside each group of b
    b = 4
    rotations = torch.randn(1, out // b, b, b, generator=g) * 0.1
    _apply(model, tmp_path, {f"{key}.oft_blocks": rotations, f"{key}.alpha": torch.tensor(0.0)})
    order = torch.arange(out).reshape(-1, 2, b // 2).transpose(1, 2).reshape(-1)       # the butterfly permutation
    perm = torch.eye(out)[order]
    r = torch.block_diag(*_cayley(rotations[0]))
    assert torch.allclose(module.weight, w + 0.7 * (perm.T @ r @ perm @ w - w), atol=1e-4)
