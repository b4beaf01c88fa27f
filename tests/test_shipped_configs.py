"""Shipped architecture configs: every family builds on the meta device with the published sizes."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, PNDMScheduler, UNet2DConditionModel

from sdwebui.engine.models.configs import CONFIG_ROOT, FAMILIES, FamilyConfig, load_family_config

UNET_FAMILIES = tuple(f for f in FAMILIES if f not in ("sd3", "flux"))   # the transformers: test_sd3.py, test_flux.py
from sdwebui.engine.models.tokenizer import get_tokenizer

SD_VAE = 83_653_863
CLIP_L = 123_060_480
OPENCLIP_H = 340_387_840
OPENCLIP_BIGG = 694_659_840

# family: (unet, vae, text_encoder, text_encoder_2)
EXPECTED_PARAMS: dict[str, tuple[int, int, int | None, int | None]] = {
    "sd1": (859_520_964, SD_VAE, CLIP_L, None),
    "sd1-inpaint": (859_535_364, SD_VAE, CLIP_L, None),  # sd1 + 5 extra conv_in input channels (320*5*3*3)
    "sd2": (865_910_724, SD_VAE, OPENCLIP_H, None),
    "sd2-v": (865_910_724, SD_VAE, OPENCLIP_H, None),
    "sdxl": (2_567_463_684, SD_VAE, CLIP_L, OPENCLIP_BIGG),
    "sdxl-refiner": (2_259_526_660, SD_VAE, None, OPENCLIP_BIGG),
}


def _count(module: torch.nn.Module) -> int:
    assert all(p.is_meta for p in module.parameters())
    return sum(p.numel() for p in module.parameters())


def _text_encoder(cfg: dict, expected_class: str) -> int:
    assert cfg["architectures"] == [expected_class]
    cls = getattr(transformers, expected_class)
    with init_empty_weights():
        return _count(cls(transformers.CLIPTextConfig(**cfg)))


def test_families_match_folders() -> None:
    assert set(UNET_FAMILIES) == set(EXPECTED_PARAMS) and set(FAMILIES) - set(UNET_FAMILIES) == {"sd3", "flux"}
    assert {p.name for p in CONFIG_ROOT.iterdir() if p.is_dir()} == set(FAMILIES)


@pytest.mark.parametrize("family", UNET_FAMILIES)
def test_family_builds_on_meta_with_published_sizes(family: str) -> None:
    cfg = load_family_config(family)
    snapshot = copy.deepcopy(cfg)
    unet_n, vae_n, te_n, te2_n = EXPECTED_PARAMS[family]
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(cfg.unet)
        vae = AutoencoderKL.from_config(cfg.vae)
    assert _count(unet) == unet_n
    assert _count(vae) == vae_n
    assert vae.config.scaling_factor == cfg.vae_scaling_factor
    if te_n is None:
        assert cfg.text_encoder is None and cfg.text_encoder_class is None and cfg.pad_token is None
    else:
        assert _text_encoder(cfg.text_encoder, cfg.text_encoder_class) == te_n
    if te2_n is None:
        assert cfg.text_encoder_2 is None and cfg.text_encoder_2_class is None and cfg.pad_token_2 is None
    else:
        assert cfg.text_encoder_2_class == "CLIPTextModelWithProjection"
        assert _text_encoder(cfg.text_encoder_2, cfg.text_encoder_2_class) == te2_n
    # building must not change the cached dicts
    assert cfg == snapshot


@pytest.mark.parametrize("family", UNET_FAMILIES)
def test_family_metadata(family: str) -> None:
    cfg = load_family_config(family)
    assert isinstance(cfg, FamilyConfig) and cfg.family == family
    v = family == "sd2-v"
    assert cfg.prediction_type == ("v_prediction" if v else "epsilon")
    xl = family.startswith("sdxl")
    assert cfg.default_size == (1024 if xl else 768 if v else 512)
    assert cfg.unet["sample_size"] * 8 == cfg.default_size
    assert cfg.unet["in_channels"] == (9 if family == "sd1-inpaint" else 4)
    assert cfg.vae_scaling_factor == (0.13025 if xl else 0.18215)
    assert cfg.is_sdxl == xl
    if family in ("sd2", "sd2-v"):
        assert cfg.pad_token == "!"
    elif family != "sdxl-refiner":
        assert cfg.pad_token == "<|endoftext|>"
    assert cfg.pad_token_2 == ("!" if xl else None)
    for pad in (cfg.pad_token, cfg.pad_token_2):
        if pad is not None:
            assert get_tokenizer(pad).pad_token == pad


@pytest.mark.parametrize("family", UNET_FAMILIES)
def test_scheduler_config(family: str) -> None:
    cfg = load_family_config(family)
    assert "_class_name" not in cfg.scheduler
    for cls in (EulerDiscreteScheduler, DDIMScheduler, PNDMScheduler):
        sched = cls.from_config(cfg.scheduler)
        c = sched.config
        assert c.beta_schedule == "scaled_linear"
        assert (c.beta_start, c.beta_end, c.num_train_timesteps) == (0.00085, 0.012, 1000)
        assert c.steps_offset == 1 and c.timestep_spacing == "leading"
        assert c.prediction_type == cfg.prediction_type
    ddim = DDIMScheduler.from_config(cfg.scheduler).config
    assert ddim.clip_sample is False and ddim.set_alpha_to_one is False


def test_all_json_files_are_objects() -> None:
    for path in CONFIG_ROOT.rglob("*.json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path


def test_cached_and_unknown_family() -> None:
    assert load_family_config("sd1") is load_family_config("sd1")
    with pytest.raises(ValueError, match="sdxl-refiner"):
        load_family_config("flux2")


def test_sd3_components_build_on_meta_with_published_sizes() -> None:
    """SD3's shipped parts (its transformer: tests/test_sd3.py): the 16-channel VAE, CLIP-L with its
    projection, CLIP-G and T5-XXL's encoder at their published sizes, and its flow schedule."""
    cfg = load_family_config("sd3")
    assert (cfg.prediction_type, cfg.default_size, cfg.scheduler["shift"]) == ("flow", 1024, 3.0)
    with init_empty_weights():
        vae = AutoencoderKL.from_config(cfg.vae)
        t5 = transformers.T5EncoderModel(transformers.T5Config.from_dict(cfg.text_encoder_3))
    assert _count(vae) == 83_819_683 and vae.config.latent_channels == 16
    assert (vae.config.scaling_factor, vae.config.shift_factor) == (1.5305, 0.0609)
    assert _text_encoder(cfg.text_encoder, "CLIPTextModelWithProjection") == CLIP_L + 768 * 768
    assert _text_encoder(cfg.text_encoder_2, "CLIPTextModelWithProjection") == OPENCLIP_BIGG
    assert _count(t5) // 10**6 == 4893      # T5-XXL encoder: 4.89 B (t5xxl_fp16.safetensors is 9.79 GB)


def test_flux_components_build_on_meta_with_published_sizes() -> None:
    """FLUX.1 dev's transformer (11.9 B), its 16-channel VAE (the SD3 architecture, other scaling) and
    CLIP-L without projection; Forge's model sampling."""
    from diffusers import FluxTransformer2DModel

    cfg = load_family_config("flux")
    assert (cfg.prediction_type, cfg.default_size, cfg.scheduler["flux_mu"]) == ("flow", 1024, 1.15)
    with init_empty_weights():
        transformer = FluxTransformer2DModel.from_config(cfg.unet)
        vae = AutoencoderKL.from_config(cfg.vae)
    assert _count(transformer) // 10**8 == 119
    assert _count(vae) == 83_819_683 and (vae.config.scaling_factor, vae.config.shift_factor) == (0.3611, 0.1159)
    assert _text_encoder(cfg.text_encoder, "CLIPTextModel") == CLIP_L
    assert cfg.text_encoder_2 is None and cfg.text_encoder_3 == load_family_config("sd3").text_encoder_3
