"""Upscalers and Extras: built-ins, tiny random-weight spandrel models written to a temp models dir,
size modes, blending, bad files and names."""
from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sdwebui.engine.processing.extras import ExtrasParams, run_extras_detailed, run_upscale as run_extras
from sdwebui.engine.upscaler_models import import_spandrel
from sdwebui.engine.upscalers import UpscalerError, UpscalerRegistry

CPU = torch.device("cpu")
TORCHVISION_INSTALLED = importlib.util.find_spec("torchvision") is not None


def _gradient(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), rng.integers(0, 256, (h, w))], -1)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    if mode == "RGBA":
        img.putalpha(Image.fromarray((xx * 255 // max(1, w - 1)).astype(np.uint8), "L"))
    return img


def _save(module: torch.nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.contiguous() for k, v in module.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(sd, str(path))
    else:
        torch.save(sd, str(path))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """models/ with tiny x2 ESRGAN (.pth), Real-ESRGAN compact (.safetensors), SwinIR (.pth),
    a corrupt file, a state dict no architecture matches, and a duplicate name."""
    import_spandrel()
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.SwinIR import SwinIR

    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    _save(ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2), d / "ESRGAN" / "tiny-esrgan.pth")
    _save(Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2),
          d / "RealESRGAN" / "tiny-compact.safetensors")
    with warnings.catch_warnings():  # torch.meshgrid indexing warning from SwinIR's constructor
        warnings.simplefilter("ignore", UserWarning)
        swinir = SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=2,
                        upsampler="pixelshuffledirect")
    _save(swinir, d / "SwinIR" / "tiny-swinir.pth")
    esrgan = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    _save(esrgan, d / "ESRGAN" / "tiny-esrgan-x4.safetensors")
    _save(DAT(img_size=16, embed_dim=32, split_size=[2, 4], depth=[1], num_heads=[2], upscale=2,
              upsampler="pixelshuffledirect"), d / "DAT" / "tiny-dat.pth")
    torch.save({"a": object}, str(d / "ESRGAN" / "pickled.pth"))  # not loadable with weights_only
    (d / "ESRGAN" / "broken.pth").write_bytes(b"this is not a model" * 10)
    torch.save({"foo.weight": torch.zeros(3, 3)}, str(d / "DAT" / "mystery.pth"))  # no architecture matches
    # Same stem as the ESRGAN file: names must stay unique, so the second is skipped.
    (d / "HAT").mkdir()
    (d / "HAT" / "tiny-esrgan.safetensors").write_bytes((d / "RealESRGAN" / "tiny-compact.safetensors").read_bytes())
    return d


@pytest.fixture(scope="module")
def registry(models_dir) -> UpscalerRegistry:
    return UpscalerRegistry(models_dir, CPU, torch.float32)


@pytest.fixture()
def builtins(tmp_path) -> UpscalerRegistry:
    return UpscalerRegistry(tmp_path, CPU, torch.float32)


# --- built-ins -------------------------------------------------------------------------------

def test_builtins_listed_first(builtins):
    infos = builtins.refresh()
    assert [i.name for i in infos] == ["None", "Lanczos", "Nearest"]
    assert all(i.model_path is None and i.model_url is None and i.scale == 4.0 for i in infos)


def test_nearest_checkerboard_exact_blocks(builtins):
    img = Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8), "L")
    out = builtins.upscale(img, 2, "Nearest")
    assert out.mode == "L" and out.size == (4, 4)
    expected = np.kron(np.array([[0, 255], [255, 0]]), np.ones((2, 2))).astype(np.uint8)
    assert (np.asarray(out) == expected).all()


def test_lanczos_and_none_sizes(builtins):
    img = _gradient(5, 3)
    out = builtins.upscale(img, 1.5, "lanczos")  # names are case-insensitive
    assert out.size == (8, 5) and out.mode == "RGB"  # round half up: 7.5 -> 8, 4.5 -> 5
    assert builtins.upscale(img, 2, "None").size == (10, 6)
    assert builtins.upscale(_gradient(40, 20), 0.5, "Lanczos").size == (20, 10)


def test_unknown_name_and_bad_scale(builtins):
    with pytest.raises(UpscalerError) as e:
        builtins.get("R-ESRGAN 4x+", field="upscaler_2")
    assert e.value.field == "upscaler_2"
    assert "R-ESRGAN 4x+" in str(e.value) and "None, Lanczos, Nearest" in str(e.value)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(UpscalerError) as e:
            builtins.upscale(_gradient(4, 4), bad, "Lanczos")
        assert e.value.field == "upscaling_resize"
    with pytest.raises(UpscalerError, match="8192"):
        run_extras([_gradient(100, 10)], ExtrasParams(upscaler_1="Lanczos", upscaling_resize=100), builtins)


# --- Extras ----------------------------------------------------------------------------------

def test_extras_none_is_a_noop(builtins):
    img = _gradient(6, 4)
    (out,), html = run_extras([img], ExtrasParams(upscaler_1="None", upscaler_2="Lanczos",
                                                  extras_upscaler_2_visibility=1), builtins)
    assert out.size == img.size and (np.asarray(out) == np.asarray(img)).all()
    assert html == "<p></p>"


def test_extras_scale_by_infotext(builtins):
    img = _gradient(6, 4)
    img.info["parameters"] = "a cat\nSteps: 20"
    (out,), html = run_extras([img], ExtrasParams(upscaler_1="lanczos", upscaling_resize=2.0), builtins)
    assert out.size == (12, 8)
    assert html == "<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>"
    assert out.info["parameters"] == "a cat\nSteps: 20"
    assert out.info["postprocessing"] == "Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos"


def test_extras_resize_to_crop_and_no_crop(builtins):
    img = _gradient(40, 20)
    p = ExtrasParams(resize_mode=1, upscaling_resize_w=60, upscaling_resize_h=60, upscaler_1="Lanczos")
    res = run_extras_detailed([img], p, builtins)
    assert res.images[0].size == (60, 60)
    assert res.infotexts[0] == ("Postprocess upscale to: 60x60, Postprocess crop to: 60x60, "
                                "Postprocess upscaler: Lanczos")
    p.upscaling_crop = False
    res = run_extras_detailed([img], p, builtins)
    assert res.images[0].size == (120, 60)  # scale = max(60/40, 60/20) = 3
    assert "crop" not in res.infotexts[0]
    # Rounding never leaves the crop box short: 3 -> 7 wide is a 2.333.. scale.
    (out,), _ = run_extras([_gradient(3, 3)], ExtrasParams(resize_mode=1, upscaling_resize_w=7,
                                                           upscaling_resize_h=5, upscaler_1="Nearest"), builtins)
    assert out.size == (7, 5)
    with pytest.raises(UpscalerError) as e:
        run_extras([img], ExtrasParams(resize_mode=1, upscaling_resize_w=0, upscaler_1="Lanczos"), builtins)
    assert e.value.field == "upscaling_resize_w"


def test_extras_upscaler_2_blend(builtins):
    img = _gradient(7, 5)
    only1 = builtins.upscale(img, 3, "Lanczos")
    only2 = builtins.upscale(img, 3, "Nearest")
    assert not np.array_equal(np.asarray(only1), np.asarray(only2))

    def run(vis: float) -> tuple[np.ndarray, str]:
        (out,), html = run_extras([img], ExtrasParams(upscaling_resize=3, upscaler_1="Lanczos", upscaler_2="Nearest",
                                                      extras_upscaler_2_visibility=vis), builtins)
        return np.asarray(out).astype(int), html

    a0, html0 = run(0)
    a1, html1 = run(1)
    ah, _ = run(0.5)
    assert (a0 == np.asarray(only1)).all() and "upscaler 2" not in html0
    assert (a1 == np.asarray(only2)).all() and "Postprocess upscaler 2: Nearest" in html1
    assert np.abs(ah - (np.asarray(only1).astype(int) + np.asarray(only2)) / 2).max() <= 1
    with pytest.raises(UpscalerError) as e:
        run_extras([img], ExtrasParams(upscaler_1="Lanczos", upscaler_2="nope"), builtins)
    assert e.value.field == "upscaler_2"


def test_extras_batch_rgba(builtins):
    # face restoration is a postprocessing script of its own (tests/test_extras_postprocessing.py)
    imgs = [_gradient(8, 6, "RGBA"), _gradient(5, 5), Image.new("L", (3, 2), 100)]
    res = run_extras_detailed(imgs, ExtrasParams(upscaler_1="Lanczos"), builtins)
    assert [(i.size, i.mode) for i in res.images] == [((16, 12), "RGBA"), ((10, 10), "RGB"), ((6, 4), "L")]


# --- model files ---------------------------------------------------------------------------

@pytest.mark.skipif(TORCHVISION_INSTALLED, reason="torchvision is installed here")
def test_torchvision_stays_missing(registry):
    # spandrel is imported with a placeholder torchvision that must not outlive the import.
    registry.list()
    assert "torchvision" not in sys.modules and importlib.util.find_spec("torchvision") is None


def test_models_listed_and_skipped(registry, models_dir):
    infos = {i.name: i for i in registry.refresh()}
    assert list(infos)[:3] == ["None", "Lanczos", "Nearest"]
    assert infos["tiny-esrgan"].scale == 2.0 and infos["tiny-esrgan"].model_name == "ESRGAN"
    assert infos["tiny-esrgan"].model_path == str((models_dir / "ESRGAN" / "tiny-esrgan.pth").resolve())
    assert infos["tiny-compact"].scale == 2.0 and infos["tiny-compact"].model_name == "RealESRGAN Compact"
    assert infos["tiny-swinir"].scale == 2.0 and infos["tiny-swinir"].model_name == "SwinIR"
    skipped = {s.name: s.reason for s in registry.skipped()}
    assert infos["tiny-esrgan-x4"].scale == 4.0 and infos["tiny-dat"].model_name == "DAT"
    assert set(skipped) == {"broken", "pickled", "mystery", "tiny-esrgan"}
    assert "cannot read" in skipped["broken"]
    assert "pickled objects" in skipped["pickled"]
    assert "unsupported" in skipped["mystery"]
    assert "duplicate" in skipped["tiny-esrgan"]
    assert "broken" not in infos and "mystery" not in infos


def test_corrupt_model_gives_clear_error(registry):
    with pytest.raises(UpscalerError) as e:
        run_extras([_gradient(8, 8)], ExtrasParams(upscaler_1="broken"), registry)
    assert e.value.field == "upscaler_1" and "broken.pth" in str(e.value) and "cannot be used" in str(e.value)


@pytest.mark.parametrize("name", ["tiny-esrgan", "tiny-esrgan-x4", "tiny-compact", "tiny-swinir", "tiny-dat"])
def test_model_upscale(registry, name):
    img = _gradient(20, 16)
    out = registry.upscale(img, 2, name)
    assert out.size == (40, 32) and out.mode == "RGB"
    assert registry.upscale(img.convert("L"), 1.5, name).mode == "L"
    lanczos = np.asarray(registry.upscale(img, 2, "Lanczos")).astype(int)
    assert np.abs(np.asarray(out).astype(int) - lanczos).mean() > 5  # the model really ran


def test_model_multiple_passes_and_fractional_scale(registry):
    img = _gradient(10, 8)
    assert registry.upscale(img, 4, "tiny-compact").size == (40, 32)  # two x2 passes
    assert registry.upscale(img, 3, "tiny-compact").size == (30, 24)  # x4 then Lanczos down
    assert registry.upscale(img, 0.5, "tiny-compact").size == (5, 4)  # no pass, just Lanczos


def test_model_tiling_matches_whole_image(registry):
    # The compact model sees only a few pixels around each one, so tiles with context are seamless.
    img = _gradient(50, 37)
    whole = np.asarray(registry.upscale(img, 2, "tiny-compact")).astype(int)
    old = registry.tile_size
    registry.tile_size = 16
    try:
        tiled = np.asarray(registry.upscale(img, 2, "tiny-compact")).astype(int)
    finally:
        registry.tile_size = old
    assert np.abs(whole - tiled).max() <= 1


def test_model_rgba_keeps_alpha_and_extras(registry):
    img = _gradient(12, 10, "RGBA")
    (out,), html = run_extras([img], ExtrasParams(upscaler_1="tiny-esrgan", upscaler_2="tiny-compact",
                                                  extras_upscaler_2_visibility=0.5), registry)
    assert out.mode == "RGBA" and out.size == (24, 20)
    alpha = img.getchannel("A").resize((24, 20), Image.Resampling.LANCZOS)
    assert (np.asarray(out.getchannel("A")) == np.asarray(alpha)).all()
    assert html == ("<p>Postprocess upscale by: 2.0, Postprocess upscaler: tiny-esrgan, "
                    "Postprocess upscaler 2: tiny-compact</p>")


# --- the torchvision stand-in against every architecture the project lists ------------------------

def _tiny_listed_models() -> dict[str, tuple[str, torch.nn.Module]]:
    """One tiny random-weight model per architecture the model folders are named after
    (upscalers.MODEL_DIRS): folder -> (architecture name spandrel must detect, model)."""
    import_spandrel()
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.SCUNet import SCUNet
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(1)
    with warnings.catch_warnings():  # meshgrid indexing warnings from the transformer constructors
        warnings.simplefilter("ignore", UserWarning)
        return {
            "ESRGAN": ("ESRGAN", ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2)),
            "RealESRGAN": ("RealESRGAN Compact", Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)),
            "SwinIR": ("SwinIR", SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                                        upscale=2, upsampler="pixelshuffledirect")),
            "DAT": ("DAT", DAT(img_size=16, embed_dim=32, split_size=[2, 4], depth=[1], num_heads=[2], upscale=2,
                               upsampler="pixelshuffledirect")),
            "HAT": ("HAT", HAT(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                               squeeze_factor=4, num_feat=16, upscale=2)),
            # SCUNet's smallest width is 64 (two 32-wide attention heads); config = blocks per stage
            "ScuNET": ("SCUNet", SCUNet(in_nc=3, config=[1] * 7, dim=64)),
        }


@pytest.mark.skipif(TORCHVISION_INSTALLED, reason="tests the stand-in, and torchvision is installed here")
def test_stand_in_serves_every_listed_architecture(tmp_path):
    """spandrel runs here without torchvision (docs/dependencies.md): each architecture the project lists
    loads from a file through the stand-in, is detected as itself and upscales."""
    from sdwebui.engine.upscalers import MODEL_DIRS

    models = _tiny_listed_models()
    assert set(models) == set(MODEL_DIRS)  # a folder added to MODEL_DIRS needs a model here too
    for folder, (_, module) in models.items():
        _save(module, tmp_path / folder / f"tiny-{folder.lower()}.safetensors")
    registry = UpscalerRegistry(tmp_path, CPU, torch.float32)
    infos = {i.name: i for i in registry.refresh()}
    assert not registry.skipped()
    img = _gradient(40, 24)
    lanczos = np.asarray(registry.upscale(img, 2, "Lanczos")).astype(int)
    for folder, (arch, _) in models.items():
        info = infos[f"tiny-{folder.lower()}"]
        assert info.model_name == arch, folder
        out = registry.upscale(img, 2, info.name)
        assert out.size == (80, 48) and out.mode == "RGB"
        assert np.abs(np.asarray(out).astype(int) - lanczos).mean() > 5, folder  # the model really ran
    assert "torchvision" not in sys.modules


def test_stand_in_covers_what_spandrel_imports_from_torchvision():
    """Only the two non-upscaler architectures (LaMa, RestoreFormer) import torchvision, and only names the
    stand-in provides. A spandrel release that imports more fails here, not at a user's first upscale."""
    import ast

    from sdwebui.engine import upscaler_models

    spec = importlib.util.find_spec("spandrel")
    assert spec is not None and spec.submodule_search_locations
    root = Path(list(spec.submodule_search_locations)[0])
    stub = upscaler_models._torchvision_stub()
    users: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torchvision":
                assert node.module in stub, (path, node.module)
                for alias in node.names:
                    assert hasattr(stub[node.module], alias.name), (path, node.module, alias.name)
                users.setdefault(path.relative_to(root).parts[1], set()).update(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "torchvision" for a in node.names), path
    assert set(users) == {"LaMa", "RestoreFormer"}
    with pytest.raises(RuntimeError, match="needs torchvision"):
        stub["torchvision.transforms.functional"].normalize(torch.zeros(1))


def test_a_torchvision_that_does_not_import_is_replaced_by_the_stand_in(tmp_path):
    """PyPI's torchvision next to a CPU torch fails at import (docs/dependencies.md); spandrel must still load."""
    import os
    import subprocess

    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    code = ("import sys; from sdwebui.engine.upscaler_models import import_spandrel; s = import_spandrel(); "
            "from spandrel.architectures.ESRGAN import ESRGAN; "
            "print(sorted(n for n in sys.modules if n.startswith('torchvision')), callable(ESRGAN))")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] True"
    assert "torchvision is installed but does not import (RuntimeError: operator torchvision::nms" in out.stderr
