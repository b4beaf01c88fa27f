"""Single-file loading: tiny SD1, SD2-v and SDXL files come back with every tensor equal to what
was written; broken files fail with a clear error."""
from __future__ import annotations

import torch
import pytest
from safetensors.torch import save_file

from sdwebui.engine.models.single_file import CheckpointLoadError, load_checkpoint, read_state_dict
from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_checkpoint


def _assert_same(built, loaded):
    a, b = built.state_dict(), loaded.state_dict()
    missing = [k for k in a if k not in b]
    assert not missing
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    assert not unequal, unequal[:5]


@pytest.mark.parametrize("family,prediction,expected_family", [
    ("sd1", "epsilon", "sd1"), ("sd2", "v_prediction", "sd2-v"), ("sdxl", "epsilon", "sdxl")])
def test_round_trip_bit_exact(tmp_path, family, prediction, expected_family):
    path = write_tiny_checkpoint(tmp_path / f"{family}.safetensors", family, seed=5,
                                 prediction_type=prediction, half=False)
    model = load_checkpoint(path)
    built = build_tiny_components(family, seed=5)
    assert model.family == expected_family and model.prediction_type == prediction
    assert model.scheduler_config["prediction_type"] == prediction
    _assert_same(built.unet, model.unet)
    _assert_same(built.vae, model.vae)
    _assert_same(built.text_encoder, model.text_encoder)
    if family == "sdxl":
        _assert_same(built.text_encoder_2, model.text_encoder_2)
        assert model.is_sdxl and model.tokenizer_2.pad_token == "!"
    else:
        assert model.text_encoder_2 is None
    assert not any(p.is_meta for m in model.components() for p in m.parameters())


def test_ckpt_pickle_loads_weights_only(tmp_path):
    path = write_tiny_checkpoint(tmp_path / "a.safetensors", "sd1", half=False)
    sd, _ = read_state_dict(path)
    torch.save({"state_dict": sd, "global_step": 1}, tmp_path / "a.ckpt")
    model = load_checkpoint(tmp_path / "a.ckpt", family="sd1", configs=build_tiny_components("sd1").configs)
    _assert_same(build_tiny_components("sd1").unet, model.unet)


def test_truncated_file_is_a_clear_error(tmp_path, tiny_files):
    data = tiny_files["sd1"].read_bytes()
    bad = tmp_path / "trunc.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointLoadError, match="trunc.safetensors"):
        load_checkpoint(bad)


def test_garbage_and_missing_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(CheckpointLoadError):
        load_checkpoint(junk)
    with pytest.raises(CheckpointLoadError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_unknown_architecture(tmp_path):
    path = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointLoadError, match="no UNet"):
        load_checkpoint(path)


def test_missing_weights_are_detected(tmp_path, tiny_files):
    sd, meta = read_state_dict(tiny_files["sd1"])
    del sd[next(k for k in sd if k.startswith("model.diffusion_model.out."))]
    path = tmp_path / "partial.safetensors"
    save_file(sd, str(path), metadata=meta)
    with pytest.raises(CheckpointLoadError, match="missing"):
        load_checkpoint(path)


def test_sd2_prediction_from_yaml_beside_the_file(tmp_path):
    from sdwebui.engine.models.single_file import META_PREDICTION

    path = write_tiny_checkpoint(tmp_path / "src.safetensors", "sd2", seed=1, prediction_type="epsilon")
    sd, meta = read_state_dict(path)
    meta.pop(META_PREDICTION)
    target = tmp_path / "user-sd2.safetensors"
    save_file(sd, str(target), metadata=meta)
    (tmp_path / "user-sd2.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n")
    model = load_checkpoint(target)
    assert model.prediction_type == "v_prediction" and model.family == "sd2-v"
    (tmp_path / "user-sd2.yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n")
    assert load_checkpoint(target).prediction_type == "epsilon"
    (tmp_path / "user-sd2.yaml").unlink()
    # no metadata, no yaml: decided by a test forward pass (random weights: either answer)
    assert load_checkpoint(target).prediction_type in ("epsilon", "v_prediction")
