"""The shipped default model (modules/loader/data/default-sd1.safetensors): it loads through the
same loader as a user's checkpoint, carries its recipe, and actually draws what it is asked for."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sdwebui.engine.models.single_file import load_checkpoint
from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE

RED, BLUE = np.array([215, 35, 35]), np.array([35, 70, 215])


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(DEFAULT_MODEL_FILE)


def test_file_size_layout_and_metadata(model):
    assert DEFAULT_MODEL_FILE.stat().st_size <= 20_000_000
    meta = model.metadata
    assert meta["sd_webui_family"] == "sd1" and meta["sd_webui_prediction_type"] == "epsilon"
    training = json.loads(meta["sd_webui_training"])
    assert training["data_seed"] and training["recipe"]["caption_dropout"] > 0
    assert training["unet_steps_run"] > 0 and training["vae_steps_run"] > 0
    assert model.family == "sd1" and model.default_size == 64 and model.vae_scale_factor == 8
    assert model.text_encoder.config.vocab_size == 49408
    sched = model.scheduler_config
    assert (sched["beta_schedule"], sched["beta_start"], sched["beta_end"], sched["num_train_timesteps"]) == \
        ("scaled_linear", 0.00085, 0.012, 1000)


def test_install_copies_the_shipped_file(tmp_path):
    from sdwebui.services.runtime import install_default_checkpoint

    target = install_default_checkpoint(tmp_path / "models" / "tiny-default-sd1.safetensors")
    assert target.read_bytes() == DEFAULT_MODEL_FILE.read_bytes()


def _generate(model, prompt: str, seed: int, steps: int = 20, cfg: float = 7.0) -> np.ndarray:
    from diffusers import DPMSolverMultistepScheduler

    sched = DPMSolverMultistepScheduler.from_config(model.scheduler_config, algorithm_type="dpmsolver++",
                                                    use_karras_sigmas=True)
    tok = model.tokenizer([prompt, ""], padding="max_length", max_length=77, truncation=True,
                          return_tensors="pt")
    with torch.inference_mode():
        ctx = model.text_encoder(tok.input_ids).last_hidden_state
        g = torch.Generator().manual_seed(seed)
        lat = torch.randn((1, 4, 8, 8), generator=g)
        sched.set_timesteps(steps)
        lat = lat * sched.init_noise_sigma
        for t in sched.timesteps:
            out = model.unet(sched.scale_model_input(torch.cat([lat, lat]), t), t, encoder_hidden_states=ctx).sample
            c, u = out[:1], out[1:]
            lat = sched.step(u + cfg * (c - u), t, lat).prev_sample
        img = model.vae.decode(lat / model.vae.config.scaling_factor).sample
    return ((img[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()


def _nearest(pixels: np.ndarray, colours: dict[str, np.ndarray]) -> np.ndarray:
    names = list(colours)
    d = np.stack([np.linalg.norm(pixels - colours[n], axis=-1) for n in names])
    return np.array(names)[d.argmin(0)]


@pytest.mark.parametrize("seed", [1, 2])
def test_red_circle_on_blue(model, seed):
    palette = {"red": RED, "blue": BLUE, "white": np.array([245, 245, 245]), "black": np.array([20, 20, 20]),
               "green": np.array([40, 165, 55]), "yellow": np.array([240, 215, 35])}
    img = _generate(model, "a red circle on a blue background", seed)
    assert img.shape == (64, 64, 3)
    border = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3),
                             img[:, :2].reshape(-1, 3), img[:, -2:].reshape(-1, 3)])
    assert (_nearest(border, palette) == "blue").mean() > 0.9
    labels = _nearest(img.reshape(-1, 3), palette).reshape(64, 64)
    red = labels == "red"
    assert 0.02 < red.mean() < 0.5  # one shape, not the whole picture
    ys, xs = np.nonzero(red)
    fill = red.sum() / ((np.ptp(ys) + 1) * (np.ptp(xs) + 1))
    assert 0.6 < fill < 0.95  # round: fills ~pi/4 of its bounding box
    # and the prompt matters: a yellow triangle on white is a different picture
    other = _nearest(_generate(model, "a yellow triangle on a white background", seed).reshape(-1, 3), palette)
    assert (other == "white").mean() > 0.5 and (other == "yellow").mean() > 0.02


def test_ui_starts_at_the_models_native_size(tmp_path):
    """The header tells the native size without loading weights; the UI's Width/Height start there
    (64 for the embedded default), and at A1111's 512 for a checkpoint that declares nothing."""
    from safetensors.torch import save_file
    import torch

    from sdwebui.engine.models.single_file import embedded_default_size
    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE

    assert embedded_default_size(DEFAULT_MODEL_FILE) == 64
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(1)}, str(plain))
    assert embedded_default_size(plain) is None
    assert embedded_default_size(tmp_path / "missing.safetensors") is None
    assert embedded_default_size(tmp_path / "model.ckpt") is None
