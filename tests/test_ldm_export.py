"""Round-trip tests for modules.loader.ldm_export and modules.loader.tiny.

The exporter must be the exact inverse of diffusers' own LDM -> diffusers
converters, because that is how the app reads single-file checkpoints. Each
tiny model is exported to a file (fp32), read back, converted with
``diffusers.loaders.single_file_utils`` and loaded ``strict=True`` into a fresh
model rebuilt from the file's ``sd_webui_config`` metadata.

Text encoder keys (diffusers 0.42.1 / transformers 5.24):

* SD1 / SDXL te1, ``CLIPTextModel`` (flat keys since transformers 5.6:
  ``embeddings.*``, ``encoder.*``, ``final_layer_norm.*``):
  ``convert_ldm_clip_checkpoint(ckpt)`` strips ``cond_stage_model.transformer.``
  or ``conditioner.embedders.0.transformer.`` and yields ``text_model.*`` keys;
  remove the ``text_model.`` prefix for the flat model
  (``create_diffusers_clip_model_from_ldm`` does exactly that).
* SD2, ``CLIPTextModel`` (flat): ``convert_open_clip_checkpoint(model, ckpt,
  prefix="cond_stage_model.model.")`` yields ``text_model.*`` keys (it drops
  ``text_projection``, listed in SD_2_TEXT_ENCODER_KEYS_TO_IGNORE, but uses its
  shape[0] as the q/k/v split size); remove ``text_model.`` as above.
* SDXL te2, ``CLIPTextModelWithProjection`` (``text_model.*`` +
  ``text_projection.weight``): ``convert_open_clip_checkpoint(model, ckpt,
  prefix="conditioner.embedders.1.model.")`` yields exactly its keys, as is.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sdwebui.engine.models.ldm_export import components_to_ldm, save_checkpoint
from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_checkpoint

FAMILIES = ("sd1", "sd2", "sdxl")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _strip_text_model(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # For transformers >= 5.6 flat CLIPTextModel (see module docstring).
    return {k.removeprefix("text_model."): v for k, v in sd.items()}


def _text_model_class(config: dict):
    import transformers

    return getattr(transformers, config["architectures"][0])


def _assert_same_tensors(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str) -> None:
    assert set(got) == set(expected), (
        f"{what}: missing {sorted(set(expected) - set(got))[:5]}, unexpected {sorted(set(got) - set(expected))[:5]}"
    )
    for key, value in expected.items():
        assert got[key].dtype == value.dtype, f"{what}: {key} dtype"
        assert torch.equal(got[key], value), f"{what}: {key} differs"


def _load_strict(model: torch.nn.Module, sd: dict[str, torch.Tensor], original: torch.nn.Module, what: str) -> None:
    # strict=True raises on any missing/unexpected key; then compare every tensor.
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    _assert_same_tensors(model.state_dict(), original.state_dict(), what)


@pytest.mark.parametrize("family", FAMILIES)
def test_roundtrip_through_diffusers_converters(family: str, tmp_path: Path) -> None:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        convert_open_clip_checkpoint,
    )

    path = write_tiny_checkpoint(tmp_path / f"{family}.safetensors", family, half=False)
    ckpt = load_file(path)
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    assert meta["sd_webui_family"] == family
    assert meta["sd_webui_prediction_type"] == "epsilon"
    configs = json.loads(meta["sd_webui_config"])

    tiny = build_tiny_components(family)
    assert configs == tiny.configs
    assert all(v.dtype == torch.float32 for v in ckpt.values())

    # Fresh models come from the metadata configs: that is what the loader does.
    unet = UNet2DConditionModel.from_config(configs["unet"])
    unet_sd = convert_ldm_unet_checkpoint(ckpt, unet.config)
    _load_strict(unet, unet_sd, tiny.unet, "unet")

    vae = AutoencoderKL.from_config(configs["vae"])
    vae_sd = convert_ldm_vae_checkpoint(ckpt, vae.config)
    _load_strict(vae, vae_sd, tiny.vae, "vae")

    from transformers import CLIPTextConfig

    te_cls = _text_model_class(configs["text_encoder"])
    te = te_cls(CLIPTextConfig(**configs["text_encoder"]))
    assert type(te).__name__ == "CLIPTextModel"
    if family == "sd2":
        te_sd = convert_open_clip_checkpoint(te, ckpt, prefix="cond_stage_model.model.")
    else:
        te_sd = convert_ldm_clip_checkpoint(ckpt)
    assert all(k.startswith("text_model.") for k in te_sd)
    _load_strict(te, _strip_text_model(te_sd), tiny.text_encoder, "text_encoder")

    consumed = len(unet_sd) + len(vae_sd) + len(te_sd)
    if family == "sdxl":
        te2_cls = _text_model_class(configs["text_encoder_2"])
        te2 = te2_cls(CLIPTextConfig(**configs["text_encoder_2"]))
        assert type(te2).__name__ == "CLIPTextModelWithProjection"
        te2_sd = convert_open_clip_checkpoint(te2, ckpt, prefix="conditioner.embedders.1.model.")
        _load_strict(te2, te2_sd, tiny.text_encoder_2, "text_encoder_2")
        consumed += len(te2_sd)
        # te2's q/k/v split into three keys each in diffusers.
        consumed -= 2 * 2 * te2.config.num_hidden_layers
    else:
        assert configs["text_encoder_2"] is None
    if family == "sd2":
        consumed -= 2 * 2 * te.config.num_hidden_layers
        consumed += 1  # the identity text_projection, read for its shape only
        proj = ckpt["cond_stage_model.model.text_projection"]
        assert torch.equal(proj, torch.eye(te.config.hidden_size))
    # Every exported key was consumed by one converter: no stray keys.
    assert consumed == len(ckpt)


def test_expected_ldm_prefixes_and_detection() -> None:
    from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES

    prefixes = {
        "sd1": ("model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model."),
        "sd2": ("model.diffusion_model.", "first_stage_model.", "cond_stage_model.model."),
        "sdxl": (
            "model.diffusion_model.",
            "first_stage_model.",
            "conditioner.embedders.0.transformer.text_model.",
            "conditioner.embedders.1.model.",
        ),
    }
    # diffusers picks the text encoder converter from these marker keys.
    markers = {"sd1": ("clip",), "sd2": ("open_clip",), "sdxl": ("clip_sdxl", "open_clip_sdxl")}
    for family in FAMILIES:
        tiny = build_tiny_components(family)
        ckpt = components_to_ldm(tiny.unet, tiny.vae, tiny.text_encoder, tiny.text_encoder_2, family=family)
        assert all(k.startswith(prefixes[family]) for k in ckpt), family
        for prefix in prefixes[family]:
            assert any(k.startswith(prefix) for k in ckpt), (family, prefix)
        for marker in markers[family]:
            assert CHECKPOINT_KEY_NAMES[marker] in ckpt, (family, marker)
    # SDXL te1/te2 must differ in width: diffusers matches them by position-embedding width.
    assert ckpt["conditioner.embedders.1.model.text_projection"].shape == (64, 32)


@pytest.mark.parametrize("family", ("sd1", "sdxl"))
def test_production_clip_loader_accepts_export(family: str, tmp_path: Path) -> None:
    """``create_diffusers_clip_model_from_ldm`` (what ``from_single_file`` uses) loads the export exactly."""
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm

    tiny = build_tiny_components(family)
    ckpt = components_to_ldm(tiny.unet, tiny.vae, tiny.text_encoder, tiny.text_encoder_2, family=family)
    pairs = [("text_encoder", tiny.text_encoder)]
    if family == "sdxl":
        pairs.append(("text_encoder_2", tiny.text_encoder_2))
    for sub, original in pairs:
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "config.json").write_text(json.dumps(tiny.configs[sub]))
        model = create_diffusers_clip_model_from_ldm(
            type(original), ckpt, subfolder=sub, config=str(tmp_path), local_files_only=True
        )
        assert not any(p.is_meta for p in model.parameters())
        _assert_same_tensors(model.state_dict(), original.state_dict(), sub)


def test_same_seed_same_bytes_size_and_mode(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    a = write_tiny_checkpoint(tmp_path / "a.safetensors", "sd1")
    elapsed = time.perf_counter() - t0
    b = write_tiny_checkpoint(tmp_path / "b.safetensors", "sd1")
    c = write_tiny_checkpoint(tmp_path / "c.safetensors", "sd1", seed=1)
    # safetensors' metadata order is random per call; save_checkpoint sorts it.
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    size = a.stat().st_size
    assert size < 6_000_000, size
    assert stat.S_IMODE(a.stat().st_mode) == 0o644
    assert all(v.dtype == torch.float16 for v in load_file(a).values())
    # No temp files left behind by the atomic write.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "b.safetensors", "c.safetensors"]
    print(f"sd1 build+export+save: {elapsed:.2f}s, {size} bytes")


def _write_in_another_process(tmp: Path, env: dict[str, str]) -> Path:
    """The file a fresh interpreter writes (started early, while other tests run: tests/conftest.py)."""
    there = tmp / "there.safetensors"
    code = (
        "import sys; from sdwebui.engine.models.tiny import write_tiny_checkpoint; "
        "write_tiny_checkpoint(sys.argv[1], 'sdxl', prediction_type='v_prediction')"
    )
    env = {**env, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code, str(there)], cwd=REPO_ROOT, env=env, check=True, timeout=120)
    return there


@pytest.mark.early(scenario=_write_in_another_process)
def test_same_bytes_across_processes(tmp_path: Path, early_result) -> None:
    """A fresh interpreter (new torch RNG state, new Rust hash seed) writes the same file."""
    here = write_tiny_checkpoint(tmp_path / "here.safetensors", "sdxl", prediction_type="v_prediction")
    there = early_result()
    assert here.read_bytes() == there.read_bytes()


def test_inpaint_unet_and_rng_isolation() -> None:
    torch.manual_seed(1234)
    before = torch.rand(3)
    torch.manual_seed(1234)
    plain = build_tiny_components("sd1")
    inpaint = build_tiny_components("sd1", inpaint=True)
    assert torch.equal(torch.rand(3), before), "builders must not consume the caller's RNG"
    ckpt = components_to_ldm(inpaint.unet, inpaint.vae, inpaint.text_encoder, family="sd1")
    assert ckpt["model.diffusion_model.input_blocks.0.0.weight"].shape[1] == 9
    assert inpaint.configs["unet"]["in_channels"] == 9
    # Components are seeded independently: only the UNet changes.
    _assert_same_tensors(inpaint.vae.state_dict(), plain.vae.state_dict(), "vae")
    _assert_same_tensors(inpaint.text_encoder.state_dict(), plain.text_encoder.state_dict(), "text_encoder")


def test_save_checkpoint_atomic_and_validation(tmp_path: Path) -> None:
    target = tmp_path / "x.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        save_checkpoint({"a": torch.ones(2)}, target, metadata={"n": 1})  # type: ignore[dict-item]
    assert target.read_bytes() == b"old"  # failed save leaves the old file intact
    shared = torch.arange(6, dtype=torch.float32)
    save_checkpoint({"a": shared, "b": shared.view(2, 3), "i": torch.arange(3)}, target, half=False)
    loaded = load_file(target)
    assert torch.equal(loaded["b"], shared.view(2, 3)) and loaded["i"].dtype == torch.int64
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]


def test_family_argument_checks() -> None:
    tiny = build_tiny_components("sdxl")
    with pytest.raises(ValueError):
        components_to_ldm(tiny.unet, tiny.vae, tiny.text_encoder, family="sdxl")
    with pytest.raises(ValueError):
        components_to_ldm(tiny.unet, tiny.vae, tiny.text_encoder, tiny.text_encoder_2, family="sd1")
    with pytest.raises(ValueError):
        build_tiny_components("sd3")


# --- Full-size architectures (meta device: names and shapes, no memory) -----

_SD_VAE = {
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
}
_CLIP_L = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
# diffusers' SD2 text encoder has 23 of OpenCLIP-H's 24 layers (SD2 uses the penultimate one).
_OPEN_CLIP_H = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "hidden_act": "gelu",
    "projection_dim": 512,
}
_OPEN_CLIP_BIGG = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "hidden_act": "gelu",
    "projection_dim": 1280,
}
_FULL_SIZE = {
    "sd1": ({"cross_attention_dim": 768}, _CLIP_L, None, "v1"),
    "sd2": (
        {"cross_attention_dim": 1024, "attention_head_dim": (5, 10, 20, 20), "use_linear_projection": True},
        _OPEN_CLIP_H,
        None,
        "v2",
    ),
    "sdxl": (
        {
            "block_out_channels": (320, 640, 1280),
            "layers_per_block": 2,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            "transformer_layers_per_block": (1, 2, 10),
            "attention_head_dim": (5, 10, 20),
            "use_linear_projection": True,
            "cross_attention_dim": 2048,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 2816,
        },
        _CLIP_L,
        _OPEN_CLIP_BIGG,
        "xl_base",
    ),
}
# Key names/shapes as found in real A1111 / LDM files (the down/up-sampler
# positions are the ones other tools use to detect these architectures).
_A1111_VAE_KEYS = {
    "first_stage_model.encoder.down.0.downsample.conv.weight": (128, 128, 3, 3),
    "first_stage_model.encoder.mid.attn_1.q.weight": (512, 512, 1, 1),  # 1x1 convs in LDM
    "first_stage_model.decoder.mid.attn_1.proj_out.weight": (512, 512, 1, 1),
    "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight": (128, 256, 1, 1),
    "first_stage_model.decoder.up.3.upsample.conv.weight": (512, 512, 3, 3),
    "first_stage_model.quant_conv.weight": (8, 8, 1, 1),
}
_A1111_SD12_UNET_KEYS = {  # same in SD1 and SD2
    "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
    "model.diffusion_model.input_blocks.3.0.op.weight": (320, 320, 3, 3),
    "model.diffusion_model.input_blocks.9.0.op.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.middle_block.2.out_layers.3.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.2.1.conv.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.5.2.conv.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.8.2.conv.weight": (640, 640, 3, 3),
    "model.diffusion_model.output_blocks.11.0.skip_connection.weight": (320, 640, 1, 1),
    "model.diffusion_model.time_embed.0.weight": (1280, 320),
    "model.diffusion_model.out.2.weight": (4, 320, 3, 3),
}
_A1111_KEYS = {
    "sd1": {
        **_A1111_VAE_KEYS,
        **_A1111_SD12_UNET_KEYS,
        "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
        "model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight": (10240, 1280),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (49408, 768),
        "cond_stage_model.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight": (768, 768),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": (768,),
    },
    "sd2": {
        **_A1111_VAE_KEYS,
        **_A1111_SD12_UNET_KEYS,
        "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320),  # linear projection
        "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
        "cond_stage_model.model.token_embedding.weight": (49408, 1024),
        "cond_stage_model.model.positional_embedding": (77, 1024),
        "cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight": (3072, 1024),
        "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias": (3072,),
        "cond_stage_model.model.transformer.resblocks.0.attn.out_proj.weight": (1024, 1024),
        "cond_stage_model.model.transformer.resblocks.0.mlp.c_fc.weight": (4096, 1024),
        "cond_stage_model.model.transformer.resblocks.0.ln_2.bias": (1024,),
        "cond_stage_model.model.ln_final.weight": (1024,),
        "cond_stage_model.model.text_projection": (1024, 1024),
    },
    "sdxl": {
        **_A1111_VAE_KEYS,
        "model.diffusion_model.input_blocks.3.0.op.weight": (320, 320, 3, 3),
        "model.diffusion_model.input_blocks.6.0.op.weight": (640, 640, 3, 3),
        "model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight": (1280, 2048),
        "model.diffusion_model.output_blocks.2.2.conv.weight": (1280, 1280, 3, 3),
        "model.diffusion_model.output_blocks.5.2.conv.weight": (640, 640, 3, 3),
        "model.diffusion_model.label_emb.0.0.weight": (1280, 2816),
        "model.diffusion_model.label_emb.0.2.weight": (1280, 1280),
        "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight": (77, 768),
        "conditioner.embedders.1.model.positional_embedding": (77, 1280),
        "conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
        "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": (1280,),
        "conditioner.embedders.1.model.text_projection": (1280, 1280),
    },
}
_A1111_ABSENT = {
    "sd1": (
        "model.diffusion_model.output_blocks.2.2.conv.weight",
        "model.diffusion_model.output_blocks.11.1.conv.weight",
        "first_stage_model.decoder.up.0.upsample.conv.weight",
        "first_stage_model.encoder.down.3.downsample.conv.weight",
    ),
    "sd2": ("cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight",),
    "sdxl": (
        "model.diffusion_model.output_blocks.2.1.conv.weight",
        "model.diffusion_model.output_blocks.8.2.conv.weight",
    ),
}


def _tagged(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Each tensor becomes its index broadcast to the real shape: no memory,
    # yet a mis-routed tensor of the same shape is still detected.
    return {k: torch.tensor(float(i)).expand(v.shape) for i, (k, v) in enumerate(state_dict.items())}


def _tag(t: torch.Tensor) -> float:
    return t[(0,) * t.ndim].item()


@pytest.mark.parametrize("family", FAMILIES)
def test_full_size_layout_matches_a1111(family: str) -> None:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        convert_open_clip_checkpoint,
        infer_diffusers_model_type,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from sdwebui.engine.models.ldm_export import unet_to_ldm, vae_to_ldm

    unet_kw, te_kw, te2_kw, model_type = _FULL_SIZE[family]
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_kw)
        vae = AutoencoderKL(**_SD_VAE)
        te = CLIPTextModel(CLIPTextConfig(**te_kw))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(**te2_kw)) if te2_kw else None
    ckpt = components_to_ldm(unet, vae, te, te2, family=family)

    for key, shape in _A1111_KEYS[family].items():
        assert key in ckpt, key
        assert tuple(ckpt[key].shape) == shape, (key, tuple(ckpt[key].shape))
    for key in _A1111_ABSENT[family]:
        assert key not in ckpt, key
    # diffusers' own architecture detection recognises the export.
    assert infer_diffusers_model_type(ckpt) == model_type

    # Values: route index-tagged tensors through export + diffusers' converters.
    unet_orig = _tagged(unet.state_dict())
    ldm = {"model.diffusion_model." + k: v for k, v in unet_to_ldm(unet_orig, unet.config).items()}
    back = convert_ldm_unet_checkpoint(ldm, unet.config)
    assert set(back) == set(unet_orig)
    assert all(_tag(back[k]) == _tag(v) and back[k].shape == v.shape for k, v in unet_orig.items())
    vae_orig = _tagged(vae.state_dict())
    ldm = {"first_stage_model." + k: v for k, v in vae_to_ldm(vae_orig, vae.config).items()}
    back = convert_ldm_vae_checkpoint(ldm, vae.config)
    assert set(back) == set(vae_orig)
    assert all(_tag(back[k]) == _tag(v) and back[k].shape == v.shape for k, v in vae_orig.items())

    # Text encoders: the converters give back exactly the model's keys and shapes.
    if family == "sd2":
        te_sd = convert_open_clip_checkpoint(te, ckpt, prefix="cond_stage_model.model.")
    else:
        te_sd = convert_ldm_clip_checkpoint(ckpt)
    expected = te.state_dict()
    te_sd = _strip_text_model(te_sd)
    assert set(te_sd) == set(expected)
    assert all(te_sd[k].shape == v.shape for k, v in expected.items())
    if te2 is not None:
        te2_sd = convert_open_clip_checkpoint(te2, ckpt, prefix="conditioner.embedders.1.model.")
        expected = te2.state_dict()
        assert set(te2_sd) == set(expected)
        assert all(te2_sd[k].shape == v.shape for k, v in expected.items())
