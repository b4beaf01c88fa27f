"""LoRA / LyCORIS: files made in fixtures for the tiny models change the output by their weight,
are undone after the job, and are listed by /loras."""
from __future__ import annotations

import hashlib
import json

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sdwebui.engine.models.single_file import load_checkpoint
from tests.test_api import pixels, txt2img


def _linear_modules(model, component):
    module = {"unet": model.unet, "te": model.text_encoder, "te2": model.text_encoder_2}[component]
    return [(n, m) for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)]


def make_lora(path, model, *, kind="lora", layout="kohya", te_prefix="lora_te_", seed=0, strength=0.5):
    """A network touching every attention projection of the UNet and the first text encoder."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    targets = [("unet", n, m) for n, m in _linear_modules(model, "unet") if ".attn" in n]
    targets += [("te", n, m) for n, m in _linear_modules(model, "te") if "self_attn" in n][:8]
    for component, name, module in targets:
        out_f, in_f = module.weight.shape
        if layout == "kohya":
            full = name if component == "unet" or name.startswith("text_model.") else "text_model." + name
            base = ("lora_unet_" if component == "unet" else te_prefix) + full.replace(".", "_")
        else:
            full = name if component == "unet" or name.startswith("text_model.") else "text_model." + name
            base = ("unet." if component == "unet" else "text_encoder.") + full
        r = 4
        if kind == "lora":
            down = torch.randn(r, in_f, generator=g) * strength
            up = torch.randn(out_f, r, generator=g) * strength
            if layout == "kohya":
                sd[f"{base}.lora_down.weight"], sd[f"{base}.lora_up.weight"] = down, up
                sd[f"{base}.alpha"] = torch.tensor(2.0)
            else:
                sd[f"{base}.lora_A.weight"], sd[f"{base}.lora_B.weight"] = down, up
        elif kind == "loha":
            sd[f"{base}.hada_w1_a"] = torch.randn(out_f, r, generator=g) * strength
            sd[f"{base}.hada_w1_b"] = torch.randn(r, in_f, generator=g) * strength
            sd[f"{base}.hada_w2_a"] = torch.randn(out_f, r, generator=g) * strength
            sd[f"{base}.hada_w2_b"] = torch.randn(r, in_f, generator=g) * strength
            sd[f"{base}.alpha"] = torch.tensor(4.0)
        elif kind == "lokr":
            sd[f"{base}.lokr_w1"] = torch.randn(2, 2, generator=g) * strength
            sd[f"{base}.lokr_w2"] = torch.randn(out_f // 2, in_f // 2, generator=g) * strength
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path),
              metadata={"ss_output_name": path.stem + "-alias", "ss_network_dim": "4",
                        "ss_tag_frequency": json.dumps({"tags": {"cat": 3}})})
    return path


@pytest.fixture(scope="module")
def loras(api, data_dir, tiny_files):
    folder = data_dir / "models" / "Lora"
    folder.mkdir(parents=True, exist_ok=True)
    sd1 = load_checkpoint(tiny_files["sd1"])
    sdxl = load_checkpoint(tiny_files["sdxl"])
    made = {
        "kohya": make_lora(folder / "kohya.safetensors", sd1),
        "peft": make_lora(folder / "peft.safetensors", sd1, layout="peft", seed=1),
        "loha": make_lora(folder / "loha.safetensors", sd1, kind="loha", seed=2),
        "lokr": make_lora(folder / "lokr.safetensors", sd1, kind="lokr", seed=3),
        "xl": make_lora(folder / "xl.safetensors", sdxl, te_prefix="lora_te1_", seed=4),
    }
    assert api.post("/sdapi/v1/refresh-loras").status_code == 200
    return made


def loras_folder(api) -> Path:
    return Path(next(i for i in api.get("/sdapi/v1/loras").json() if i["name"] == "kohya")["path"]).parent


def gen(api, prompt, **kw):
    return pixels(txt2img(api, prompt=prompt, seed=13, steps=4, **kw)["images"][0])


def test_listed_with_metadata(api, loras):
    items = {i["name"]: i for i in api.get("/sdapi/v1/loras").json()}
    assert set(items) >= {"kohya", "peft", "loha", "lokr", "xl"}
    assert items["kohya"]["alias"] == "kohya-alias"
    assert items["kohya"]["metadata"]["ss_tag_frequency"] == {"tags": {"cat": 3}}


@pytest.mark.parametrize("name", ["kohya", "peft", "loha", "lokr"])
def test_weight_changes_output_and_is_undone(api, loras, name):
    base = gen(api, "a cat")
    assert np.array_equal(gen(api, f"a cat <lora:{name}:0>"), base)       # weight 0: no change
    with_lora = txt2img(api, prompt=f"a cat <lora:{name}:1>", seed=13, steps=4)
    assert not np.array_equal(pixels(with_lora["images"][0]), base)
    # A1111's hash of a .safetensors network: sha256 of the tensor data after the JSON header
    raw = (loras_folder(api) / f"{name}.safetensors").read_bytes()
    expected = hashlib.sha256(raw[8 + int.from_bytes(raw[:8], "little"):]).hexdigest()[:12]
    assert f': {expected}"' in json.loads(with_lora["info"])["infotexts"][0].split("Lora hashes: ")[1]
    assert np.array_equal(gen(api, "a cat"), base)                         # restored after the job


def test_alias_named_weights_and_unet_only(api, loras):
    base = gen(api, "a cat")
    by_alias = gen(api, "a cat <lora:kohya-alias:0.8>")
    assert np.array_equal(by_alias, gen(api, "a cat <lora:kohya:0.8>"))
    unet_only = gen(api, "a cat <lora:kohya:0:unet=1>")
    assert not np.array_equal(unet_only, base)
    assert not np.array_equal(unet_only, gen(api, "a cat <lora:kohya:1>"))


def test_sdxl_lora_with_ldm_names(api, loras):
    over = {"override_settings": {"sd_model_checkpoint": "tiny-sdxl"}}
    base = gen(api, "a cat", **over)
    assert not np.array_equal(gen(api, "a cat <lora:xl:1>", **over), base)


def test_unknown_or_foreign_lora_is_422(api, loras):
    r = api.post("/sdapi/v1/txt2img", json={"prompt": "a <lora:missing:1>", "width": 64, "height": 64, "steps": 2})
    assert r.status_code == 422 and "kohya" in r.text
    r = api.post("/sdapi/v1/txt2img", json={"prompt": "a <lora:xl:1>", "width": 64, "height": 64, "steps": 2})
    assert r.status_code == 422 and "another model family" in r.text
    base = gen(api, "a cat")
    assert np.array_equal(gen(api, "a cat"), base)
