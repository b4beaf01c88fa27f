"""tools/train_default_model.py in miniature (a few steps of each phase, tiny batches): a run is
reproducible from its seeds, a resumed run ends exactly where an uninterrupted one does, and the file
it writes loads through the user-checkpoint loader with its recipe in the metadata."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from sdwebui.engine.models.single_file import load_checkpoint, read_state_dict
from tools import train_default_model as T

ARGS = ["--preset", "cpu", "--vae-steps", "4", "--unet-steps", "5", "--vae-batch", "4", "--unet-batch", "4",
        "--calibrate", "2", "--vae-minutes", "0", "--unet-minutes", "0", "--max-minutes", "0"]


def _train(tmp_path, name: str, *extra: str):
    out = tmp_path / f"{name}.safetensors"
    assert T.main([*ARGS, "--work-dir", str(tmp_path / name), "--out", str(out), *extra]) == 0
    return out


def _same(a, b) -> bool:
    x, y = load_file(str(a)), load_file(str(b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory):
    """One run with the default seeds, trained once: both tests compare other runs with it."""
    return _train(tmp_path_factory.mktemp("train"), "a")


def test_seeded_run_reproduces_and_loads(tmp_path, seeded_run):
    a, b = seeded_run, _train(tmp_path, "b")
    assert _same(a, b)
    model = load_checkpoint(a)
    assert model.default_size == T.NATIVE_SIZE and list(model.vae.config.block_out_channels) == [16, 32, 64, 64]
    _, meta = read_state_dict(a)
    training = json.loads(meta["sd_webui_training"])
    assert training["preset"] == "cpu" and training["unet_steps_run"] == 5 and training["vae_steps_run"] == 4
    assert training["recipe"]["vae_foreground_weight"] == 4.0
    assert _same(a, _train(tmp_path, "c", "--seed", "1")) is False


def test_resume_continues_exactly(tmp_path, monkeypatch, seeded_run):
    straight = seeded_run          # uninterrupted, the same arguments as the resumed run
    real_lr = T.lr_at

    def crash_at_unet_step_3(step, total, base, warmup, floor):
        if base == T.PRESETS["cpu"]["unet_lr"] and step == 3:
            raise KeyboardInterrupt   # as if the user pressed Ctrl+C (the state of step 3 is on disk)
        return real_lr(step, total, base, warmup, floor)

    monkeypatch.setattr(T, "lr_at", crash_at_unet_step_3)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, "resumed", "--save-every", "0")     # a state after every step
    monkeypatch.setattr(T, "lr_at", real_lr)
    assert _same(straight, _train(tmp_path, "resumed", "--resume"))
