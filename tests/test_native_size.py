"""The first API call: a request that leaves width and height out gets the size its checkpoint
declares (the embedded default's 64x64, a model spec's `modelspec.resolution`), one that sends a
size gets that size, and a checkpoint that declares nothing keeps A1111's 512. Also the output
panel's open-folder refusals (no file manager is opened here)."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

NATIVE = "native64"


def _size(out: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(out["images"][0]))).size


def _with_metadata(src: Path, dst: Path, extra: dict[str, str]) -> Path:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata() or {})
    save_file(load_file(str(src)), str(dst), metadata={**meta, **extra})
    return dst


@pytest.fixture
def native_checkpoint(api, data_dir, tiny_files):
    """A tiny SD1 checkpoint declaring 64x64 in the model spec's key, listed while the test runs."""
    path = _with_metadata(tiny_files["sd1"], data_dir / "models" / "Stable-diffusion" / f"{NATIVE}.safetensors",
                          {"modelspec.resolution": "64x64"})
    assert api.post("/sdapi/v1/refresh-checkpoints").status_code == 200
    try:
        yield NATIVE
    finally:
        path.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")


def _txt2img(api, checkpoint: str, **fields) -> dict:
    payload = {"prompt": "dots", "steps": 1, "override_settings": {"sd_model_checkpoint": checkpoint}, **fields}
    r = api.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def test_left_out_size_is_the_checkpoints_declared_one(api, native_checkpoint):
    out = _txt2img(api, native_checkpoint)
    assert _size(out) == (64, 64)
    assert (out["parameters"]["width"], out["parameters"]["height"]) == (64, 64)   # what was drawn
    assert json.loads(out["info"])["width"] == 64
    # a size the client sends is kept, even A1111's default value; a field left out still follows the model
    assert _size(_txt2img(api, native_checkpoint, width=512, height=512)) == (512, 512)
    assert _size(_txt2img(api, native_checkpoint, width=128)) == (128, 64)


def test_img2img_left_out_size_follows_the_checkpoint(api, native_checkpoint):
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), "red").save(buf, "PNG")
    payload = {"init_images": [base64.b64encode(buf.getvalue()).decode()], "steps": 1, "denoising_strength": 0.5,
               "override_settings": {"sd_model_checkpoint": native_checkpoint}}
    r = api.post("/sdapi/v1/img2img", json=payload)
    assert r.status_code == 200, r.text
    assert _size(r.json()) == (64, 64)


def test_a_checkpoint_that_declares_nothing_keeps_a1111s_512(api):
    assert _size(_txt2img(api, "alpha")) == (512, 512)


def test_declared_size_reads_both_keys(tmp_path, tiny_files):
    from sdwebui.engine.models.single_file import declared_size
    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE

    assert declared_size(DEFAULT_MODEL_FILE) == (64, 64)           # the project's own default_size
    assert declared_size(tiny_files["sd1"]) is None
    wide = _with_metadata(tiny_files["sd1"], tmp_path / "wide.safetensors", {"modelspec.resolution": "1216 x 832"})
    assert declared_size(wide) == (1216, 832)
    bad = _with_metadata(tiny_files["sd1"], tmp_path / "bad.safetensors", {"modelspec.resolution": "large"})
    assert declared_size(bad) is None


def test_open_folder_refuses_a_remote_browser_and_hidden_dirs(api, monkeypatch):
    from sdwebui.interfaces.ui import common
    from sdwebui.services import runtime as shared, util

    opened = []
    monkeypatch.setattr(util, "open_folder", opened.append)
    message = common.open_output_folder("outputs/txt2img-images", [], -1, "192.0.2.7")
    assert "own desktop" in message and "txt2img-images" in message and not opened
    monkeypatch.setattr(shared.cmd_opts, "hide_ui_dir_config", True)
    assert "--hide-ui-dir-config" in common.open_output_folder(None, [], -1, "127.0.0.1") and not opened
