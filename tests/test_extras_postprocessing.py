"""Extras as A1111 runs it: every postprocessing script (the built-in ones in scripts/ and
extensions-builtin/postprocessing-for-training, and an extension's) in A1111's order, through the
API's `scripts` field and the Extras tab; GFPGAN and CodeFormer on random-weight models of their
real architectures, made here; txt2img's restore_faces through the same restorer."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from tests.test_api import decode
from tests.test_img2img import b64, noise_image

BUILTIN_ORDER = ["Upscale", "GFPGAN", "CodeFormer", "Split oversized images", "Auto focal point crop",
                 "Auto-sized crop", "Create flipped copies", "Caption"]
NO_UPSCALE = {"upscaler_1": "None"}


def _batch(api, images, **body):
    r = api.post("/sdapi/v1/extra-batch-images",
                 json={"imageList": [{"data": b64(im), "name": f"{i}.png"} for i, im in enumerate(images)], **body})
    assert r.status_code == 200, r.text
    return [decode(i) for i in r.json()["images"]], r.json()["html_info"]


def _astronaut(size: int = 256) -> Image.Image:
    from skimage import data   # a real photograph with one face, shipped inside scikit-image

    return Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def runner(api):
    from sdwebui.services.extensions.postprocessing_runner import scripts_postproc

    return scripts_postproc


# --- the runner -------------------------------------------------------------------------------------

def test_builtin_scripts_load_in_a1111_order(runner):
    names = [s.name for s in runner.scripts_in_preferred_order()]
    assert names[:len(BUILTIN_ORDER)] == BUILTIN_ORDER
    assert "Simple Upscale" not in names            # A1111 keeps it out of the Extras tab
    files = {s.name: Path(s.filename) for s in runner.all_scripts()}
    assert files["Upscale"].parent.name == "scripts" and files["Upscale"].name == "postprocessing_upscale.py"
    assert files["Caption"].parts[-3] == "postprocessing-for-training"


def test_operation_order_setting_and_disable_in_extras(runner, monkeypatch):
    from sdwebui.services import runtime

    monkeypatch.setitem(runtime.opts.data, "postprocessing_operation_order", ["Create flipped copies", "GFPGAN"])
    monkeypatch.setitem(runtime.opts.data, "postprocessing_disable_in_extras", ["Caption"])
    names = [s.name for s in runner.scripts_in_preferred_order()]
    assert names[:3] == ["Create flipped copies", "GFPGAN", "Upscale"]
    assert "Caption" not in names


def test_args_layout_is_a1111s(runner):
    args = runner.create_args_for_run({"GFPGAN": {"enable": True, "gfpgan_visibility": 0.5}})
    scripts = runner.scripts_in_preferred_order()
    assert len(args) == scripts[-1].args_to
    gfpgan = next(s for s in scripts if s.name == "GFPGAN")
    assert list(gfpgan.controls) == ["enable", "gfpgan_visibility"]
    assert args[gfpgan.args_from:gfpgan.args_to] == [True, 0.5]
    upscale = scripts[0]
    assert list(upscale.controls)[:3] == ["upscale_enabled", "upscale_mode", "upscale_by"]
    assert args[upscale.args_from:upscale.args_to] == [None] * 10   # a script not named gets None, as A1111


# --- the training operations through the API ---------------------------------------------------

def test_flipped_copies(api):
    src = noise_image(24, 16, seed=3)
    out, _ = _batch(api, [src], **NO_UPSCALE,
                    scripts={"Create flipped copies": {"enable": True, "option": ["Horizontal", "Vertical", "Both"]}})
    a = np.asarray(src)
    assert len(out) == 4
    assert np.array_equal(np.asarray(out[0]), a)
    assert np.array_equal(np.asarray(out[1]), a[:, ::-1])
    assert np.array_equal(np.asarray(out[2]), a[::-1, :])
    assert np.array_equal(np.asarray(out[3]), a[::-1, ::-1])
    # the default option (Horizontal) when only `enable` is given
    out, _ = _batch(api, [src], **NO_UPSCALE, scripts={"create flipped copies": {"enable": True}})
    assert len(out) == 2 and np.array_equal(np.asarray(out[1]), a[:, ::-1])


def test_split_oversized_count_and_sizes(api):
    # a 64x256 strip, target 64x64 (the Upscale script's "scale to", no upscaler): 5 overlapping tiles
    src = noise_image(64, 256, seed=4)
    out, _ = _batch(api, [src], **NO_UPSCALE, resize_mode=1, upscaling_resize_w=64, upscaling_resize_h=64,
                    scripts={"Split oversized images": {"enable": True, "split_threshold": 0.5, "overlap_ratio": 0.2}})
    assert [im.size for im in out] == [(64, 64)] * 5
    a = np.asarray(src)
    assert np.array_equal(np.asarray(out[0]), a[:64]) and np.array_equal(np.asarray(out[-1]), a[-64:])
    # above the threshold nothing is split
    out, _ = _batch(api, [src], **NO_UPSCALE, resize_mode=1, upscaling_resize_w=64, upscaling_resize_h=64,
                    scripts={"Split oversized images": {"enable": True, "split_threshold": 0.2}})
    assert [im.size for im in out] == [(64, 256)]


def test_focal_point_crop_size_and_debug_image(api):
    out, _ = _batch(api, [_astronaut(128)], **NO_UPSCALE, resize_mode=1, upscaling_resize_w=48,
                    upscaling_resize_h=32, scripts={"Auto focal point crop": {"enable": True, "debug": True}})
    assert [im.size for im in out] == [(48, 32), (48, 48)]   # the crop, then the annotated scaled image


def test_autosized_crop(api):
    src = noise_image(200, 100, seed=5)
    out, _ = _batch(api, [src], **NO_UPSCALE, scripts={"Auto-sized crop": {
        "enable": True, "mindim": 64, "maxdim": 128, "minarea": 64 * 64, "maxarea": 128 * 128, "threshold": 0.1}})
    assert [im.size for im in out] == [(128, 64)]    # the largest size of the image's 2:1 aspect in bounds


def test_caption_without_models_is_422(api):
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(noise_image()), **NO_UPSCALE,
                                                        "scripts": {"Caption": {"enable": True}}})
    assert r.status_code == 422, r.text
    assert "Deepbooru" in r.text and "Caption" in r.text


@pytest.mark.parametrize("scripts,needle", [
    ({"Nope": {}}, "Create flipped copies"), ({"GFPGAN": {"strength": 1}}, "gfpgan_visibility"),
    ({"GFPGAN": {"gfpgan_visibility": "high"}}, "scripts.GFPGAN.gfpgan_visibility"),
    ({"Split oversized images": {"overlap_ratio": 2}}, "0.9"),
    ({"Create flipped copies": {"enable": True, "option": ["Sideways"]}}, "Horizontal")])
def test_unknown_script_argument_or_value_is_422(api, scripts, needle):
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(noise_image()), "scripts": scripts})
    assert r.status_code == 422, r.text
    assert needle in r.text and "scripts" in r.text


def test_upscale_infotext_and_max_side_length(api):
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(noise_image(40, 20)), "upscaler_1": "Nearest",
                                                        "upscaling_resize": 4, "max_side_length": 100})
    assert r.status_code == 200, r.text
    assert decode(r.json()["image"]).size == (100, 50)
    assert "Max side length: 100" in r.json()["html_info"]


# --- an extension's postprocessing script -----------------------------------------------------------

EXTENSION_SCRIPT = '''
from PIL import ImageOps
import gradio as gr
from modules import scripts_postprocessing


class Invert(scripts_postprocessing.ScriptPostprocessing):
    name = "Invert colours"
    order = 5000

    def ui(self):
        return {"enable": gr.Checkbox(False, label="Invert"), "tag": gr.Textbox("inverted", label="Tag")}

    def process(self, pp, enable, tag):
        if enable:
            pp.image = ImageOps.invert(pp.image.convert("RGB"))
            pp.info["Inverted"] = tag
'''


@pytest.fixture
def extension_script(api, tmp_path):
    """An extension's scripts/ file, loaded as load_scripts loads it, for this test only."""
    from sdwebui.services.extensions import scripts

    path = tmp_path / "pp-ext" / "scripts" / "invert.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(EXTENSION_SCRIPT))
    module = scripts._load_module(str(path))
    data = scripts.ScriptClassData(module.Invert, str(path), str(path.parent.parent), module)
    scripts.postprocessing_scripts_data.append(data)
    yield data
    scripts.postprocessing_scripts_data.remove(data)


def test_extension_script_listed_and_run_with_its_args(api, runner, extension_script):
    from sdwebui.services import shared_items

    assert runner.scripts_in_preferred_order()[-1].name == "Invert colours"
    assert "Invert colours" in [s.name for s in shared_items.postprocessing_scripts()]
    src = noise_image(16, 16, seed=6)
    r = api.post("/sdapi/v1/extra-single-image", json={
        "image": b64(src), **NO_UPSCALE, "scripts": {"Invert colours": {"enable": True, "tag": "yes"}}})
    assert r.status_code == 200, r.text
    assert np.array_equal(np.asarray(decode(r.json()["image"])), 255 - np.asarray(src))
    assert "Inverted: yes" in r.json()["html_info"]


# --- the Extras tab -----------------------------------------------------------------------------------

def test_tab_builds_every_scripts_controls(api, runner):
    import gradio as gr

    from sdwebui.interfaces.ui import extras as extras_ui

    with gr.Blocks():
        ext = extras_ui.create_extras_tab()
    scripts = runner.scripts_in_preferred_order()
    assert len(ext["script_inputs"]) == scripts[-1].args_to      # A1111's flat argument list
    ids = {getattr(c, "elem_id", None) for c in ext["script_inputs"]}
    assert {"extras_upscaler_1", "extras_gfpgan_visibility", "extras_codeformer_visibility",
            "extras_codeformer_weight", "postprocess_split_threshold", "postprocess_focal_crop_face_weight",
            "postprocess_multicrop_objective"} <= ids
    assert ext["input_dir"].elem_id == "extras_batch_input_dir" and ext["tab_folder"].elem_id == \
        "extras_batch_directory_tab"


def test_tab_batch_from_folder_saves_copies_with_suffixes(api, runner, tmp_path):
    from sdwebui.interfaces.ui import extras as extras_ui

    src_dir, out_dir = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    noise_image(20, 10, seed=7).save(src_dir / "one.png")
    (src_dir / "notes.txt").write_text("not an image")      # skipped, as A1111
    args = runner.create_args_for_run({"Upscale": {"upscale_enabled": True, "upscale_mode": 0, "upscale_by": 2,
                                                   "upscaler_1_name": "Nearest"},
                                       "Create flipped copies": {"enable": True, "option": ["Horizontal"]}})
    gallery, html = asyncio.run(extras_ui.run_extras_ui(extras_ui.TAB_FOLDER, None, None, str(src_dir), str(out_dir),
                                                        False, *args))
    assert gallery == []                      # "Show result images" off
    assert sorted(p.name for p in out_dir.iterdir()) == ["one-1.png", "one.png"]
    saved = Image.open(out_dir / "one-1.png")
    assert saved.size == (40, 20) and "Postprocess upscaler: Nearest" in saved.info["postprocessing"]


def test_sources_sent_as_data_give_what_the_files_give(api, runner, tmp_path):
    """Cluster mode sends a worker the inputs as data (read_sources); run from them the job saves the
    same files, by the same names, with the same pixels as from the folder and the uploads."""
    from sdwebui.services import postprocessing

    src_dir = tmp_path / "in"
    src_dir.mkdir()
    for name, seed in (("one.png", 3), ("two.png", 4)):
        noise_image(20, 10, seed=seed).save(src_dir / name)
    (src_dir / "notes.txt").write_text("not an image")
    args = runner.create_args_for_run({"Upscale": {"upscale_enabled": True, "upscale_mode": 0, "upscale_by": 2,
                                                   "upscaler_1_name": "Nearest"},
                                       "Create flipped copies": {"enable": True, "option": ["Horizontal"]}})
    mode = postprocessing.MODE_FOLDER
    sources = postprocessing.read_sources(mode, None, None, str(src_dir))
    assert all(isinstance(item, postprocessing.SourceFile) for item, _ in sources) and len(sources) == 3
    results = {}
    for how, given in (("files", None), ("data", sources)):
        out_dir = tmp_path / how
        images, html, _ = postprocessing.run_postprocessing(mode, None, None, str(src_dir), str(out_dir), True, *args,
                                                            sources=given)
        results[how] = ([im.tobytes() for im in images], html,
                        {p.name: Image.open(p).tobytes() for p in sorted(out_dir.iterdir())})
    assert results["data"] == results["files"]
    assert sorted(results["data"][2]) == ["one-1.png", "one.png", "two-1.png", "two.png"]
    with pytest.raises(postprocessing.ExtrasInputError, match="does not exist"):
        postprocessing.read_sources(mode, None, None, str(tmp_path / "missing"))


# --- face restoration -----------------------------------------------------------------------------

def _tiny_gfpgan(path: Path) -> Path:
    """GFPGAN's real architecture (spandrel's GFPGANv1Clean) at a 32-pixel face size, random weights."""
    from sdwebui.engine.upscaler_models import import_spandrel

    import_spandrel()
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(0)
    net = GFPGAN(out_size=32, num_style_feat=16, channel_multiplier=1, decoder_load_path=None, fix_decoder=False,
                 num_mlp=2, input_is_latent=True, different_w=True, narrow=1 / 32, sft_half=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": net.state_dict()}, path)    # the layout of GFPGAN's published files
    return path


@pytest.fixture
def gfpgan_file(api, data_dir):
    from sdwebui.services import face_restorers

    path = _tiny_gfpgan(data_dir / "models" / "GFPGAN" / "GFPGANv1.4.pth")
    yield path
    path.unlink()
    face_restorers._loaded.clear()


def test_gfpgan_restores_the_face(api, gfpgan_file):
    src = _astronaut(256)
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(src), **NO_UPSCALE, "gfpgan_visibility": 1})
    assert r.status_code == 200, r.text
    out = np.asarray(decode(r.json()["image"])).astype(int)
    diff = np.abs(out - np.asarray(src)).sum(axis=2)
    assert diff.max() > 50                                  # the face changed
    assert diff[:, :64].max() == 0 and diff[-64:].max() == 0  # far from the face nothing did
    assert "GFPGAN visibility: 1" in r.json()["html_info"]
    half = api.post("/sdapi/v1/extra-single-image", json={"image": b64(src), **NO_UPSCALE, "gfpgan_visibility": 0.5})
    half_diff = np.abs(np.asarray(decode(half.json()["image"])).astype(int) - np.asarray(src)).sum(axis=2)
    assert 0 < half_diff.max() < diff.max()


def test_missing_codeformer_weights_is_422_naming_file_and_folder(api, data_dir):
    r = api.post("/sdapi/v1/extra-single-image", json={"image": b64(noise_image()), **NO_UPSCALE,
                                                        "codeformer_visibility": 1})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "codeformer_visibility"]
    assert "codeformer-v0.1.0.pth" in detail["msg"] and str(data_dir / "models" / "Codeformer") in detail["msg"]


def test_txt2img_restore_faces_uses_the_same_restorer(api, gfpgan_file, monkeypatch):
    from sdwebui.services import face_restorers

    calls = []
    restore = face_restorers.gfpgan_face_restorer.restore
    monkeypatch.setattr(face_restorers.gfpgan_face_restorer, "restore", lambda a, w=None: calls.append(a.shape)
                        or restore(a, w))
    body = {"prompt": "a face", "steps": 2, "width": 64, "height": 64, "batch_size": 2, "restore_faces": True,
            "override_settings": {"face_restoration_model": "GFPGAN"}}
    r = api.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 200, r.text
    assert calls == [(64, 64, 3), (64, 64, 3)]
    info = json.loads(r.json()["info"])
    assert "Face restoration: GFPGAN" in info["infotexts"][0] and info["face_restoration_model"] == "GFPGAN"
    # CodeFormer chosen and its file missing: a 4xx before anything is generated
    body["override_settings"] = {"face_restoration_model": "CodeFormer"}
    r = api.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 422 and "codeformer-v0.1.0.pth" in r.text and "restore_faces" in r.text


# CodeFormer's architecture has no size to shrink (its VQGAN is fixed at 512): its smallest real
# config runs in a subprocess from the start of the run (an early scenario), through a real app.
CODEFORMER_SCENARIO = '''
import json, sys, numpy as np, torch
from pathlib import Path
from PIL import Image
from skimage import data
from sdwebui.engine.upscaler_models import import_spandrel
import_spandrel()
from spandrel_extra_arches.architectures.CodeFormer import CodeFormer
root = Path(sys.argv[1])
torch.manual_seed(0)
net = CodeFormer(dim_embd=64, n_head=8, n_layers=1, codebook_size=16, connect_list=["32"])
(root / "models" / "Codeformer").mkdir(parents=True)
torch.save({"params_ema": net.state_dict()}, root / "models" / "Codeformer" / "codeformer-v0.1.0.pth")
from fastapi.testclient import TestClient
from sdwebui.interfaces import app as webui
from sdwebui.interfaces.cli import flags
ns = flags.parse_args(["--nowebui", "--data-dir", str(root)], use_env=False)
from tests.test_img2img import b64
from tests.test_api import decode
src = Image.fromarray(data.astronaut()).resize((256, 256))
with TestClient(webui.create_app(ns, load_model=False)) as client:
    r = client.post("/sdapi/v1/extra-single-image", json={"image": b64(src), "upscaler_1": "None",
                    "codeformer_visibility": 1, "codeformer_weight": 0.5})
    assert r.status_code == 200, r.text
    diff = np.abs(np.asarray(decode(r.json()["image"])).astype(int) - np.asarray(src)).sum(axis=2)
    out = {"max": int(diff.max()), "far": int(diff[:, :64].max()), "info": r.json()["html_info"]}
print("RESULT" + json.dumps(out))
'''


def _codeformer_scenario(tmp: Path, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CODEFORMER_SCENARIO, str(tmp)], capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"}, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


@pytest.mark.early(scenario=_codeformer_scenario)
def test_codeformer_restores_the_face(early_result):
    out = early_result()
    assert out["max"] > 50 and out["far"] == 0      # the face changed, the left edge did not
    assert "CodeFormer visibility: 1.0, CodeFormer weight: 0.5" in out["info"]
