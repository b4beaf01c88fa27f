"""IP-Adapter units through the real app: a tiny plain adapter in the original layout in
models/ControlNet and a tiny CLIP vision encoder at the annotator folder's clip_vision/clip_h.pth,
both made for the tiny SD1 UNet the server serves."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_api import pixels
from tests.test_controlnet import generate, ring, unit  # noqa: F401 - fixtures
from tests.test_controlnet_steering import controlnet_file, differs, photo, reference  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("controlnet_file", "ip_adapter_files")
IP = "ip-adapter_sd15"


@pytest.fixture(scope="module")
def ip_adapter_files(data_dir):
    from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_clip_vision, write_tiny_ip_adapter

    unet = build_tiny_components("sd1", seed=0).unet
    model = write_tiny_ip_adapter(data_dir / "models" / "ControlNet" / f"{IP}.pth", unet, seed=7)
    clip = write_tiny_clip_vision(data_dir / "extensions" / "sd-webui-controlnet" / "annotator" / "downloads" /
                                  "clip_vision" / "clip_h.pth", seed=2)
    yield model
    model.unlink(missing_ok=True)
    clip.unlink()


def ip(photo, **kw) -> dict:
    return {"enabled": True, "module": "ip-adapter_clip_sd15", "model": IP, "image": photo, **kw}


def test_an_ip_adapter_steers_by_its_picture(api, photo):
    plain = generate(api, [])["images"][0]
    out = generate(api, [ip(photo)])
    assert len(out["images"]) == 1 and differs(out["images"][0], plain)          # no map for an embedding
    assert 'ControlNet 0: "Module: ip-adapter_clip_sd15, Model: ip-adapter_sd15 [' in \
        json.loads(out["info"])["infotexts"][0]
    other = generate(api, [ip(generate(api, [])["images"][0])])["images"][0]
    assert differs(other, out["images"][0])                                        # another picture, another image
    assert np.array_equal(pixels(generate(api, [ip(photo, weight=0)])["images"][0]), pixels(plain))
    late = generate(api, [ip(photo, guidance_start=0.5)])["images"][0]
    assert differs(late, plain) and differs(late, out["images"][0])
    auto = generate(api, [ip(photo, module="ip-adapter-auto")])["images"][0]
    assert np.array_equal(pixels(auto), pixels(out["images"][0]))                  # auto picks clip_h here
    # the UNet is itself again after the job
    assert np.array_equal(pixels(generate(api, [])["images"][0]), pixels(plain))


def test_an_ip_adapter_beside_a_controlnet_and_a_reference_unit(api, photo, ring):
    both = generate(api, [ip(photo), unit(ring, save_detected_map=False)])["images"][0]
    alone = generate(api, [unit(ring, save_detected_map=False)])["images"][0]
    assert differs(both, alone)
    with_reference = generate(api, [reference(photo, save_detected_map=False), ip(photo)])["images"][0]
    assert differs(with_reference, both)


@pytest.mark.parametrize("bad, field, words", [
    ({"module": "ip-adapter_clip_sdxl"}, "module", "clip_vision/clip_g.pth"),
    ({"model": "control_v11p_sd15_canny"}, "model", "needs an IP-Adapter model"),
    ({"module": "canny"}, "module", "is an IP-Adapter"),
])
def test_ip_adapter_mistakes_are_422_naming_the_field(api, photo, bad, field, words):
    r = api.post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": 2, "width": 64, "height": 64,
                                            "override_settings": {"sd_model_checkpoint": "alpha"},
                                            "alwayson_scripts": {"controlnet": {"args": [ip(photo, **bad)]}}})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == field and words in detail["msg"], detail


def test_an_ip_adapter_for_another_family_and_detect_are_refused(api, photo, data_dir):
    from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_ip_adapter

    xl = write_tiny_ip_adapter(data_dir / "models" / "ControlNet" / "ip-adapter_tiny_xl.pth",
                               build_tiny_components("sdxl", seed=3).unet)
    try:
        api.get("/controlnet/model_list")                      # refresh: the new file is listed
        r = api.post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": 2, "width": 64, "height": 64,
                                                "override_settings": {"sd_model_checkpoint": "alpha"},
                                                "alwayson_scripts": {"controlnet": {"args": [
                                                    ip(photo, model="ip-adapter_tiny_xl")]}}})
        assert r.status_code == 422 and "does not fit the loaded checkpoint" in r.text
    finally:
        xl.unlink()
    r = api.post("/controlnet/detect", json={"controlnet_module": "ip-adapter_clip_sd15",
                                             "controlnet_input_images": [photo]})
    assert r.status_code == 422 and "Module not supported" in r.text


def test_a_plus_ip_adapter_takes_the_hidden_states(api, photo, data_dir):
    """A "plus" adapter (the resampler over the encoder's penultimate hidden states)."""
    from sdwebui.engine.models.tiny import build_tiny_components, write_tiny_ip_adapter

    plus = write_tiny_ip_adapter(data_dir / "models" / "ControlNet" / "ip-adapter-plus_sd15.pth",
                                 build_tiny_components("sd1", seed=0).unet, embed_dim=32, plus=True, seed=4)
    try:
        api.get("/controlnet/model_list")
        plain = generate(api, [])["images"][0]
        out = generate(api, [ip(photo, model="ip-adapter-plus_sd15")])["images"][0]
        assert differs(out, plain)
        assert np.array_equal(pixels(generate(api, [ip(photo, model="ip-adapter-plus_sd15", weight=0)])["images"][0]),
                              pixels(plain))
    finally:
        plus.unlink()
