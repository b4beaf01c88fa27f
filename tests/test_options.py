"""The options store: types, validation, atomic persistence, scoped overrides."""
from __future__ import annotations

import json

import pytest

from sdwebui.services.options import registry as shared_options
from sdwebui.services.options.store import OptionError, Options


@pytest.fixture
def opts(tmp_path):
    return Options(shared_options.templates(vae_choices=lambda: ["Automatic", "None"]), tmp_path / "config.json")


REQUIRED_KEYS = ["sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers", "samples_save", "samples_format",
                 "outdir_samples", "outdir_txt2img_samples", "send_seed", "eta_noise_seed_delta", "randn_source"]


def test_a1111_keys_and_defaults(opts):
    d = opts.as_dict()
    for key in REQUIRED_KEYS:
        assert key in d
    assert d["samples_format"] == "png"
    assert d["outdir_txt2img_samples"] == "outputs/txt2img-images"
    assert d["CLIP_stop_at_last_layers"] == 1
    assert d["randn_source"] == "GPU"
    assert d["sd_vae"] == "Automatic"


def test_set_persists_atomically_and_reloads(opts, tmp_path):
    opts.set("samples_format", "jpg")
    opts.set("CLIP_stop_at_last_layers", 2)
    opts.save()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["samples_format"] == "jpg" and saved["CLIP_stop_at_last_layers"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    again = Options(shared_options.templates(), tmp_path / "config.json")
    again.load()
    assert again.samples_format == "jpg"
    assert again.CLIP_stop_at_last_layers == 2


def test_wrong_type_and_unknown_key_name_the_key(opts):
    with pytest.raises(OptionError) as e:
        opts.set("samples_save", "definitely")
    assert e.value.key == "samples_save"
    with pytest.raises(OptionError) as e:
        opts.set("no_such_option", 1)
    assert e.value.key == "no_such_option" and "unknown" in str(e.value)
    with pytest.raises(OptionError) as e:
        opts.set("randn_source", "TPU")
    assert "GPU" in str(e.value)
    assert opts.samples_save is True and opts.randn_source == "GPU"


def test_bounds(opts):
    with pytest.raises(OptionError):
        opts.set("CLIP_stop_at_last_layers", 0)
    with pytest.raises(OptionError):
        opts.set("jpeg_quality", 101)


def test_override_is_scoped(opts):
    with opts.override({"CLIP_stop_at_last_layers": 3, "samples_format": "webp"}):
        assert opts.CLIP_stop_at_last_layers == 3 and opts.samples_format == "webp"
    assert opts.CLIP_stop_at_last_layers == 1 and opts.samples_format == "png"
    with pytest.raises(OptionError):
        with opts.override({"CLIP_stop_at_last_layers": "x"}):
            pass
    assert opts.CLIP_stop_at_last_layers == 1


def test_broken_config_file_does_not_stop_start(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"samples_format": "bmp", "CLIP_stop_at_last_layers": 2, "ext_key": 5}')
    o = Options(shared_options.templates(), path)
    o.load()
    assert o.samples_format == "png"      # invalid value dropped
    assert o.CLIP_stop_at_last_layers == 2
    assert o.data["ext_key"] == 5          # kept for an extension that registers it later
    path.write_text("{not json")
    o2 = Options(shared_options.templates(), path)
    o2.load()
    assert o2.samples_format == "png"


def test_a_fresh_data_folder_gets_its_settings_file_at_start(opts, tmp_path, monkeypatch, caplog):
    """Extensions read config.json itself (stable-diffusion-webui-state serves it to its page script):
    it is there from the first start; a file already there, even a broken one, is never rewritten."""
    from types import SimpleNamespace

    from sdwebui.services import runtime
    monkeypatch.setattr(runtime, "opts", opts)
    monkeypatch.setattr(runtime, "paths", SimpleNamespace(config_file=tmp_path / "config.json"))
    runtime._write_settings_file_once()
    assert json.loads((tmp_path / "config.json").read_text())["samples_format"] == "png"   # the settings in force
    (tmp_path / "config.json").write_text("{hand edited")
    runtime._write_settings_file_once()
    assert (tmp_path / "config.json").read_text() == "{hand edited"
    (tmp_path / "a-file").write_text("")
    unwritable = tmp_path / "a-file" / "config.json"
    monkeypatch.setattr(runtime, "paths", SimpleNamespace(config_file=unwritable))
    opts.path = unwritable
    runtime._write_settings_file_once()   # an unwritable place: a warning, and the app goes on
    assert "settings changes will not persist" in caplog.text


def test_onchange_failure_restores_value(opts):
    def boom():
        raise RuntimeError("no")
    opts.onchange("samples_format", boom, call=False)
    with pytest.raises(RuntimeError):
        opts.set("samples_format", "jpg")
    assert opts.samples_format == "png"


def test_output_folders_default_to_the_data_dir_as_a1111_names_them(tmp_path):
    """Relative to the web UI's folder when the data dir is that folder, else absolute (A1111's
    truncate_path): extensions that read the options (images-browser) find the images either way."""
    elsewhere = shared_options.templates()
    shared_options.anchor_output_dirs(elsewhere, tmp_path / "data", tmp_path / "webui")
    assert elsewhere["outdir_txt2img_samples"].default == str(tmp_path / "data" / "outputs" / "txt2img-images")
    assert elsewhere["outdir_save"].default == str(tmp_path / "data" / "log" / "images")
    assert elsewhere["outdir_samples"].default == ""          # empty: "the three below"
    here = shared_options.templates()
    shared_options.anchor_output_dirs(here, tmp_path, tmp_path)
    assert here["outdir_txt2img_samples"].default == "outputs/txt2img-images"


def test_api_names_the_output_folder_the_images_are_saved_in(api, data_dir):
    from pathlib import Path

    folder = Path(api.get("/sdapi/v1/options").json()["outdir_txt2img_samples"])
    assert folder.is_absolute() and folder == data_dir / "outputs" / "txt2img-images"
    r = api.post("/sdapi/v1/txt2img", json={"prompt": "saved", "steps": 2, "width": 64, "height": 64, "seed": 3,
                                            "save_images": True})
    assert r.status_code == 200, r.text
    assert any(p.name.endswith("-3.png") for p in folder.rglob("*.png"))
