"""The /sdapi/v1 API in-process: real app, real queue, tiny checkpoints."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

SMALL = {"width": 64, "height": 64, "steps": 4, "cfg_scale": 7}


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def pixels(b64: str) -> np.ndarray:
    return np.asarray(decode(b64).convert("RGB"), dtype=np.int16)


def txt2img(api, **kw):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_txt2img_shape_infotext_and_seed(api):
    out = txt2img(api, prompt="a red circle", negative_prompt="blurry", seed=1234, sampler_name="Euler a")
    assert len(out["images"]) == 1
    info = json.loads(out["info"])
    assert info["seed"] == 1234 and info["all_seeds"] == [1234]
    for key in ("prompt", "all_prompts", "negative_prompt", "subseed", "all_subseeds", "width", "height",
                "sampler_name", "cfg_scale", "steps", "batch_size", "sd_model_name", "sd_model_hash",
                "infotexts", "job_timestamp", "clip_skip", "version", "index_of_first_image"):
        assert key in info, key
    image = decode(out["images"][0])
    assert image.size == (64, 64)
    text = image.info["parameters"]
    assert text == info["infotexts"][0]
    lines = text.split("\n")
    assert lines[0] == "a red circle" and lines[1] == "Negative prompt: blurry"
    assert lines[2].startswith("Steps: 4, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, Seed: 1234, "
                               "Size: 64x64, Model hash: ")
    assert ", Model: alpha, " in lines[2] and "Version: v1.10.1" in lines[2]
    assert out["parameters"]["prompt"] == "a red circle" and out["parameters"]["seed"] == 1234


def test_same_seed_same_pixels_different_seed_different(api):
    a = txt2img(api, prompt="cat", seed=42)["images"][0]
    b = txt2img(api, prompt="cat", seed=42)["images"][0]
    c = txt2img(api, prompt="cat", seed=43)["images"][0]
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))


def test_prompt_changes_image(api):
    a = txt2img(api, prompt="cat", seed=7)["images"][0]
    b = txt2img(api, prompt="a photo of a dog on the beach", seed=7)["images"][0]
    assert not np.array_equal(pixels(a), pixels(b))


def test_batch_image_k_equals_single_run_with_seed_plus_k(api):
    out = txt2img(api, prompt="cat", seed=100, batch_size=2, n_iter=2, sampler_name="Euler a")
    info = json.loads(out["info"])
    assert info["all_seeds"] == [100, 101, 102, 103]
    assert len(out["images"]) == 4
    single = txt2img(api, prompt="cat", seed=101, sampler_name="Euler a")["images"][0]
    assert np.abs(pixels(out["images"][1]) - pixels(single)).max() <= 1
    third = txt2img(api, prompt="cat", seed=102, sampler_name="Euler a")["images"][0]
    # the same noise and steps; the UNet's kernels may round differently for another batch size
    assert np.abs(pixels(out["images"][2]) - pixels(third)).max() <= 1


def test_random_seed_is_reported_and_reproduces(api):
    out = txt2img(api, prompt="cat", seed=-1)
    seed = json.loads(out["info"])["seed"]
    assert 0 <= seed < 4294967294
    again = txt2img(api, prompt="cat", seed=seed)
    assert np.array_equal(pixels(out["images"][0]), pixels(again["images"][0]))


@pytest.mark.parametrize("sampler,scheduler,label", [
    ("DPM++ 2M Karras", None, "Karras"), ("DPM++ 2M", "automatic", "Karras"), ("Euler", "Karras", "Karras"),
    ("DDIM", None, None), ("UniPC", None, None), ("k_euler_a", None, "Automatic")])
def test_sampler_names(api, sampler, scheduler, label):
    out = txt2img(api, prompt="x", seed=1, sampler_name=sampler, scheduler=scheduler)
    text = json.loads(out["info"])["infotexts"][0]
    if label:
        assert f"Schedule type: {label}" in text


def test_sampler_index_used_when_no_sampler_name(api):
    out = txt2img(api, prompt="x", seed=1, sampler_index="LMS")
    assert json.loads(out["info"])["sampler_name"] == "LMS"


def test_unknown_sampler_is_422_listing_choices(api):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "sampler_name": "Nope"})
    assert r.status_code == 422
    assert "Euler a" in r.text and "sampler_name" in r.text
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "scheduler": "bogus"})
    assert r.status_code == 422 and "Karras" in r.text


@pytest.mark.parametrize("body,field", [
    ({"width": 65}, "width"), ({"height": 100}, "height"), ({"steps": 0}, "steps"), ({"steps": "many"}, "steps"),
    ({"batch_size": 0}, "batch_size"), ({"cfg_scale": "x"}, "cfg_scale"), ({"seed": "abc"}, "seed")])
def test_bad_fields_are_422_naming_the_field(api, body, field):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, **body})
    assert r.status_code == 422
    assert field in json.dumps(r.json()["detail"])


def test_unknown_fields_ignored_and_nulls_mean_default(api):
    out = txt2img(api, prompt="x", seed=3, some_future_field=1, styles=None, sampler_name=None, n_iter=None)
    assert json.loads(out["info"])["sampler_name"] == "Euler"


def test_send_images_false(api):
    out = txt2img(api, prompt="x", seed=3, send_images=False)
    assert out["images"] == []


def test_options_get_all_and_round_trip(api):
    r = api.get("/sdapi/v1/options")
    assert r.status_code == 200
    d = r.json()
    assert d["sd_model_checkpoint"].startswith("alpha.safetensors [")
    r = api.post("/sdapi/v1/options", json=d)
    assert r.status_code == 200, r.text
    assert api.get("/sdapi/v1/options").json() == d


def test_options_set_persists_and_bad_is_422(api, data_dir):
    assert api.post("/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 2}).status_code == 200
    saved = json.loads((data_dir / "config.json").read_text())
    assert saved["CLIP_stop_at_last_layers"] == 2
    out = txt2img(api, prompt="x", seed=3)
    assert "Clip skip: 2" in json.loads(out["info"])["infotexts"][0]
    r = api.post("/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 1, "samples_save": "perhaps"})
    assert r.status_code == 422 and "samples_save" in r.text
    assert api.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2  # nothing applied
    r = api.post("/sdapi/v1/options", json={"no_such_key": 1})
    assert r.status_code == 422 and "no_such_key" in r.text
    assert api.post("/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 1}).status_code == 200


def test_a_face_restorer_an_extension_registers_is_a_choice_of_the_setting(api, monkeypatch):
    """A1111 lists shared.face_restorers' names as face_restoration_model's choices: one appended
    after the start (an extension's) can be chosen through the API; before, a 422 names the choices."""
    from modules import face_restoration, shared

    class Mine(face_restoration.FaceRestoration):
        def name(self):
            return "Mine"

    r = api.post("/sdapi/v1/options", json={"face_restoration_model": "Mine"})
    assert r.status_code == 422 and "face_restoration_model" in r.text and "CodeFormer" in r.text
    monkeypatch.setattr(shared, "face_restorers", [*shared.face_restorers, Mine()])
    try:
        assert api.post("/sdapi/v1/options", json={"face_restoration_model": "Mine"}).status_code == 200
        assert api.get("/sdapi/v1/options").json()["face_restoration_model"] == "Mine"
    finally:
        assert api.post("/sdapi/v1/options", json={"face_restoration_model": "CodeFormer"}).status_code == 200


def test_switch_model_through_options(api):
    base = txt2img(api, prompt="cat", seed=5)["images"][0]
    r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "beta"})
    assert r.status_code == 200, r.text
    assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"].startswith("sub/beta.safetensors [")
    other = txt2img(api, prompt="cat", seed=5)
    assert "Model: beta" in json.loads(other["info"])["infotexts"][0]
    assert not np.array_equal(pixels(base), pixels(other["images"][0]))
    r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "does-not-exist"})
    assert r.status_code == 422 and "alpha.safetensors" in r.text
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    again = txt2img(api, prompt="cat", seed=5)["images"][0]
    assert np.array_equal(pixels(base), pixels(again))


def test_override_settings_scoped_to_request(api):
    out = txt2img(api, prompt="cat", seed=5, override_settings={"sd_model_checkpoint": "beta",
                                                                   "CLIP_stop_at_last_layers": 2})
    text = json.loads(out["info"])["infotexts"][0]
    assert "Model: beta" in text and "Clip skip: 2" in text
    opts = api.get("/sdapi/v1/options").json()
    assert opts["sd_model_checkpoint"].startswith("alpha") and opts["CLIP_stop_at_last_layers"] == 1
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "override_settings": {"CLIP_stop_at_last_layers": "x"}})
    assert r.status_code == 422 and "CLIP_stop_at_last_layers" in r.text


def test_sd_models_and_refresh(api, data_dir):
    models = api.get("/sdapi/v1/sd-models").json()
    assert [m["model_name"] for m in models] == ["alpha", "sub_beta", "tiny-flux", "tiny-sd1-inpainting",
                                                 "tiny-sd2v", "tiny-sd3", "tiny-sdxl"]
    assert set(models[0]) == {"title", "model_name", "hash", "sha256", "filename", "config", "family"}
    assert {m["model_name"]: m["family"] for m in models} == {
        "alpha": "sd1", "sub_beta": "sd1", "tiny-flux": "flux", "tiny-sd1-inpainting": "sd1", "tiny-sd2v": "sd2",
        "tiny-sd3": "sd3", "tiny-sdxl": "sdxl"}
    import shutil
    extra = data_dir / "models" / "Stable-diffusion" / "gamma.safetensors"
    shutil.copy(data_dir / "models" / "Stable-diffusion" / "alpha.safetensors", extra)
    try:
        assert api.post("/sdapi/v1/refresh-checkpoints").status_code == 200
        assert "gamma" in [m["model_name"] for m in api.get("/sdapi/v1/sd-models").json()]
    finally:
        extra.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")


def test_failed_load_keeps_previous_model(api, data_dir):
    bad = data_dir / "models" / "Stable-diffusion" / "broken.safetensors"
    bad.write_bytes(b"\x00" * 4096)
    try:
        api.post("/sdapi/v1/refresh-checkpoints")
        before = api.get("/sdapi/v1/options").json()["sd_model_checkpoint"]
        r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "broken"})
        assert r.status_code == 422 and "broken.safetensors" in r.text and "previous model" in r.text
        assert api.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == before
        txt2img(api, prompt="still works", seed=1)
    finally:
        bad.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")


def test_samplers_and_schedulers_lists(api):
    samplers = api.get("/sdapi/v1/samplers").json()
    names = [s["name"] for s in samplers]
    assert names[0] == "DPM++ 2M"
    for required in ("Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE",
                     "DPM++ 2S a", "DPM++ 3M SDE", "DDIM", "PLMS", "UniPC", "LCM"):
        assert required in names
    assert all(isinstance(v, str) for s in samplers for v in s["options"].values())
    schedulers = api.get("/sdapi/v1/schedulers").json()
    labels = [s["label"] for s in schedulers]
    for required in ("Automatic", "Uniform", "Karras", "Exponential", "SGM Uniform"):
        assert required in labels


def test_save_images_writes_png_with_infotext(api, data_dir):
    out = txt2img(api, prompt="saved", seed=77, save_images=True)
    files = sorted((data_dir / "outputs" / "txt2img-images").rglob("*-77.png"))
    assert files, list((data_dir / "outputs").rglob("*"))
    assert Image.open(files[-1]).info["parameters"] == json.loads(out["info"])["infotexts"][0]


def test_png_info_round_trip(api):
    out = txt2img(api, prompt="a, b: c", seed=9)
    r = api.post("/sdapi/v1/png-info", json={"image": out["images"][0]})
    assert r.status_code == 200
    params = r.json()["parameters"]
    assert params["Prompt"] == "a, b: c" and params["Seed"] == "9" and params["Size-1"] == "64"
    r = api.post("/sdapi/v1/png-info", json={"image": "not base64 at all!"})
    assert r.status_code == 422


def test_progress_idle_and_interrupt(api):
    r = api.get("/sdapi/v1/progress").json()
    assert r["progress"] == 0 and set(r["state"]) >= {"job", "job_count", "job_no", "sampling_step",
                                                      "sampling_steps", "interrupted", "skipped"}
    assert api.post("/sdapi/v1/interrupt").json() == {}
    # an interrupt while idle does not affect the next job (A1111 clears it at job start)
    out = txt2img(api, prompt="x", seed=1)
    assert len(out["images"]) == 1


def test_cmd_flags_hides_secrets(api):
    flags = api.get("/sdapi/v1/cmd-flags").json()
    assert flags["nowebui"] is True and "data_dir" in flags


def test_process_time_header(api):
    assert "x-process-time" in api.get("/sdapi/v1/samplers").headers


def test_progress_while_running_then_interrupt_returns_partial(api):
    import threading
    import time

    result = {}

    def run():
        result["r"] = api.post("/sdapi/v1/txt2img", json={**SMALL, "steps": 400, "seed": 1, "n_iter": 3})

    t = threading.Thread(target=run)
    t.start()
    seen = None
    deadline = time.time() + 60
    while time.time() < deadline:
        p = api.get("/sdapi/v1/progress").json()
        if p["state"]["sampling_step"] > 2 and p["state"]["job"] == "txt2img":
            seen = p
            break
        time.sleep(0.05)
    assert seen is not None, "never saw the job running"
    assert seen["state"]["job_count"] == 3 and seen["state"]["sampling_steps"] >= 400
    assert 0 < seen["progress"] < 1 and seen["eta_relative"] >= 0
    assert api.post("/sdapi/v1/interrupt").json() == {}
    t.join(60)
    r = result["r"]
    assert r.status_code == 200
    assert len(r.json()["images"]) == 1   # the interrupted first batch is returned, the rest skipped
    assert api.get("/sdapi/v1/progress").json()["state"]["interrupted"] is False


def test_pixel_limit(api):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "width": 8192, "height": 8192})
    assert r.status_code == 422 and "max-image-pixels" in r.text


@pytest.mark.parametrize("name,family", [("tiny-sd2v", "sd2-v"), ("tiny-sdxl", "sdxl"),
                                         ("tiny-sd1-inpainting", "sd1")])
def test_other_families_generate(api, name, family):
    from sdwebui.services import runtime as shared

    a = txt2img(api, prompt="a cat", seed=8, batch_size=2, override_settings={"sd_model_checkpoint": name})
    b = txt2img(api, prompt="a cat", seed=8, override_settings={"sd_model_checkpoint": name})
    info = json.loads(a["info"])
    assert f"Model: {name}" in info["infotexts"][0]
    assert info["is_using_inpainting_conditioning"] == ("inpainting" in name)
    assert np.abs(pixels(a["images"][0]) - pixels(b["images"][0])).max() <= 1
    assert not np.array_equal(pixels(a["images"][0]), pixels(a["images"][1]))
    loaded = shared.model_manager.sd_model
    assert loaded.sd_checkpoint_info.model_name == "alpha"   # restored after the request


def test_switching_frees_the_old_model(api):
    import gc
    import weakref

    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    old = weakref.ref(shared.model_manager.sd_model.unet)
    for name in ["beta", "alpha"] * 3:
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": name}).status_code == 200
    gc.collect()
    assert old() is None, "a replaced model is still referenced"
    assert shared.model_manager.sd_model.sd_checkpoint_info.model_name == "alpha"


def test_a_save_during_a_checkpoint_override_keeps_the_users_checkpoint(api, data_dir):
    """override_settings.sd_model_checkpoint lasts one job: config.json written while that job runs
    (another client's options write) still names the user's checkpoint."""
    from sdwebui.services.extensions import callbacks as script_callbacks
    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    alpha_title = shared.opts.sd_model_checkpoint
    seen = []

    def save_meanwhile(params):
        if not seen:
            shared.opts.save()
            seen.append((shared.opts.sd_model_checkpoint,
                         json.loads((data_dir / "config.json").read_text())["sd_model_checkpoint"]))

    script_callbacks.on_cfg_denoiser(save_meanwhile)
    try:
        out = txt2img(api, prompt="x", seed=3, override_settings={"sd_model_checkpoint": "beta"})
    finally:
        script_callbacks.remove_callbacks_for_function(save_meanwhile)
    assert "Model: beta" in json.loads(out["info"])["infotexts"][0]
    during, saved = seen[0]
    assert during.startswith("sub/beta") or "beta" in during     # the job sees its own checkpoint
    assert saved == alpha_title                                   # config.json keeps the user's
    assert shared.opts.sd_model_checkpoint == alpha_title
    assert shared.model_manager.checkpoint_info.title == alpha_title


def test_checkpoint_cache_keeps_recent_models_in_ram(api, monkeypatch):
    """sd_checkpoint_cache: switching back to a recently used checkpoint reuses the model kept in
    RAM (no file load) and gives the same pixels; setting it back to 0 frees them."""
    from sdwebui.services.models import checkpoints as sd_models
    from sdwebui.services import runtime as shared

    loads = []
    real = sd_models.load_checkpoint
    monkeypatch.setattr(sd_models, "load_checkpoint", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha", "sd_checkpoint_cache": 1}
                    ).status_code == 200
    before = txt2img(api, prompt="cache", seed=12)["images"][0]
    alpha = shared.model_manager.sd_model
    loads.clear()
    for name in ("beta", "alpha", "beta", "alpha"):
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": name}).status_code == 200
    assert len(loads) == 1, "only the first switch to beta reads a file"
    assert shared.model_manager.sd_model is alpha
    assert txt2img(api, prompt="cache", seed=12)["images"][0] == before
    assert api.post("/sdapi/v1/options", json={"sd_checkpoint_cache": 0}).status_code == 200
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "beta"}).status_code == 200
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    assert not shared.model_manager.ram_cache and shared.model_manager.sd_model is not alpha


@pytest.mark.parametrize("mode,checkpoint", [("model", "alpha"), ("sequential", "alpha"), ("model", "tiny-sd3"),
                                             ("sequential", "tiny-flux")])
def test_offload_hooks_give_the_same_image(api, mode, checkpoint):
    """--medvram / --lowvram put accelerate's offload hooks on the model (on a GPU they move each part
    there only while it runs). Here the execution device is the CPU, which checks that the engine works
    through the hooks unchanged: same pixels, and the hooks come off again."""
    import torch

    from sdwebui.services.models import offload
    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": checkpoint}).status_code == 200
    before = txt2img(api, prompt="offload", seed=21)["images"][0]
    model = shared.model_manager.sd_model
    shared.queue.run(lambda: offload.enable(model, torch.device("cpu"), mode), name="test-offload")
    try:
        assert model.offload == mode and hasattr(model.unet, "_hf_hook")
        assert txt2img(api, prompt="offload", seed=21)["images"][0] == before
    finally:
        shared.queue.run(lambda: offload.disable(model), name="test-offload-off")
    assert not hasattr(model.unet, "_hf_hook")
    assert txt2img(api, prompt="offload", seed=21)["images"][0] == before
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200


def test_unload_and_reload(api):
    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/unload-checkpoint").json() == {}
    assert shared.model_manager.sd_model is None
    out = txt2img(api, prompt="x", seed=2)           # loads again on demand
    assert "Model: alpha" in json.loads(out["info"])["infotexts"][0]
    assert api.post("/sdapi/v1/reload-checkpoint").json() == {}
    assert shared.model_manager.sd_model is not None


def test_vae_list_override_and_setting(api):
    vaes = api.get("/sdapi/v1/sd-vae").json()
    assert [v["model_name"] for v in vaes] == ["tiny-vae.safetensors"]
    base = txt2img(api, prompt="cat", seed=4)
    with_vae = txt2img(api, prompt="cat", seed=4, override_settings={"sd_vae": "tiny-vae.safetensors"})
    text = json.loads(with_vae["info"])["infotexts"][0]
    assert "VAE: tiny-vae" in text and "VAE hash: " in text
    assert json.loads(with_vae["info"])["sd_vae_name"] == "tiny-vae"
    assert not np.array_equal(pixels(base["images"][0]), pixels(with_vae["images"][0]))
    again = txt2img(api, prompt="cat", seed=4)          # the override ended with its request
    assert np.array_equal(pixels(base["images"][0]), pixels(again["images"][0]))
    assert "VAE" not in json.loads(again["info"])["infotexts"][0]
    assert api.post("/sdapi/v1/options", json={"sd_vae": "tiny-vae.safetensors"}).status_code == 200
    assert "VAE: tiny-vae" in json.loads(txt2img(api, prompt="cat", seed=4)["info"])["infotexts"][0]
    r = api.post("/sdapi/v1/options", json={"sd_vae": "nope.pt"})
    assert r.status_code == 422 and "tiny-vae.safetensors" in r.text
    assert api.post("/sdapi/v1/options", json={"sd_vae": "Automatic"}).status_code == 200
    assert "VAE" not in json.loads(txt2img(api, prompt="cat", seed=4)["info"])["infotexts"][0]


def test_list_routes_shapes(api):
    modes = api.get("/sdapi/v1/latent-upscale-modes").json()
    assert modes[0] == {"name": "Latent"} and {"name": "Latent (nearest-exact)"} in modes
    for route in ("sd-modules", "hypernetworks"):
        r = api.get(f"/sdapi/v1/{route}")
        assert r.status_code == 200 and r.json() == []
    assert api.get("/sdapi/v1/face-restorers").json() == [{"name": "CodeFormer", "cmd_dir": None},
                                                          {"name": "GFPGAN", "cmd_dir": None}]
    # the built-in extensions (Lora, which has no Script, api-payload-display, sd-webui-controlnet, soft-inpainting) are the
    # only ones here; A1111's built-in scripts (root scripts/, tests/test_xyz_grid.py ...) are selectable ones
    listed = api.get("/sdapi/v1/scripts").json()
    assert "api payload" in listed["txt2img"] and "api payload" in listed["img2img"]
    info = api.get("/sdapi/v1/script-info").json()
    assert [(i["name"], i["is_img2img"]) for i in info if i["is_alwayson"]] == [
        ("api payload", False), ("controlnet", False), ("api payload", True), ("controlnet", True),
        ("soft inpainting", True)]
    exts = api.get("/sdapi/v1/extensions").json()
    assert [(e["name"], e["enabled"]) for e in exts] == [("Lora", True), ("api-payload-display", True),
                                                         ("postprocessing-for-training", True), ("sd-webui-controlnet", True),
                                                         ("soft-inpainting", True)]
    mem = api.get("/sdapi/v1/memory").json()
    assert set(mem["ram"]) == {"free", "used", "total"} and mem["ram"]["used"] > 0
    assert "cuda" in mem


def test_interrogate_is_a_clear_501(api):
    from tests.test_img2img import b64, noise_image

    r = api.post("/sdapi/v1/interrogate", json={"image": b64(noise_image()), "model": "clip"})
    assert r.status_code == 501 and "interrogator" in r.json()["detail"]
    assert r.json()["error"] == "HTTPException"
    assert api.post("/sdapi/v1/interrogate", json={"image": "", "model": "clip"}).status_code == 422
    assert api.post("/sdapi/v1/interrogate", json={"image": "x", "model": "blip9"}).status_code == 422


def test_server_stop_routes_need_the_flag(api):
    assert api.post("/sdapi/v1/server-stop").status_code == 404
    assert api.post("/sdapi/v1/server-kill").status_code == 404


def test_embeddings_loaded_used_and_skipped(api, data_dir):
    import torch
    from safetensors.torch import save_file

    folder = data_dir / "embeddings"
    torch.manual_seed(0)
    torch.save({"string_to_param": {"*": torch.randn(3, 32)}, "name": "emb", "step": 500}, folder / "myemb.pt")
    save_file({"emb_params": torch.randn(2, 1024)}, str(folder / "sd2only.safetensors"))
    try:
        got = api.get("/sdapi/v1/embeddings").json()
        assert got["loaded"]["myemb"] == {"step": 500, "sd_checkpoint": None, "sd_checkpoint_name": None,
                                          "shape": 32, "vectors": 3, "reason": None}
        assert "another model family" in got["skipped"]["sd2only"]["reason"]
        base = txt2img(api, prompt="a cat", seed=2)
        used = txt2img(api, prompt="a cat, myemb", seed=2)
        text = json.loads(used["info"])["infotexts"][0]
        assert "TI hashes: \"myemb: " in text
        assert not np.array_equal(pixels(base["images"][0]), pixels(used["images"][0]))
        weighted = txt2img(api, prompt="a cat, (myemb:0.5)", seed=2)
        assert not np.array_equal(pixels(used["images"][0]), pixels(weighted["images"][0]))
        assert "TI hashes" not in json.loads(base["info"])["infotexts"][0]
    finally:
        (folder / "myemb.pt").unlink()
        (folder / "sd2only.safetensors").unlink()
        api.post("/sdapi/v1/refresh-embeddings")
    assert api.get("/sdapi/v1/embeddings").json() == {"loaded": {}, "skipped": {}}


def test_styles_listed_and_applied(api, data_dir):
    from sdwebui.services import runtime as shared

    (data_dir / "styles.csv").write_text('name,prompt,negative_prompt\n'
                                         'wrap,"best, {prompt}, art",ugly\nplain,oil painting,\n', encoding="utf-8")
    shared.prompt_styles.reload()
    try:
        styles = api.get("/sdapi/v1/prompt-styles").json()
        assert {"name": "wrap", "prompt": "best, {prompt}, art", "negative_prompt": "ugly"} in styles
        out = txt2img(api, prompt="cat", negative_prompt="blur", styles=["wrap", "plain"], seed=1)
        info = json.loads(out["info"])
        assert info["all_prompts"] == ["best, cat, art, oil painting"]
        assert info["all_negative_prompts"] == ["blur, ugly"]
        r = api.post("/sdapi/v1/txt2img", json={**SMALL, "styles": ["nope"]})
        assert r.status_code == 422 and "wrap" in r.text
    finally:
        (data_dir / "styles.csv").unlink()
        shared.prompt_styles.reload()


def test_grid_with_save_images(api, data_dir):
    out = txt2img(api, prompt="grid", seed=300, batch_size=2, save_images=True)
    info = json.loads(out["info"])
    assert len(out["images"]) == 3 and info["index_of_first_image"] == 1
    assert decode(out["images"][0]).size == (128, 64)          # 2 images side by side
    grids = list((data_dir / "outputs" / "txt2img-grids").rglob("grid-*.png"))
    assert grids
    samples = list((data_dir / "outputs" / "txt2img-images").rglob("*-30[01].png"))
    assert len(samples) == 2


def test_unknown_scripts_are_422(api):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "no such plot"})
    assert r.status_code == 422 and "Script 'no such plot' not found" in r.text
    # a built-in script with arguments it cannot run names the position of the bad one
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "x/y/z plot"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "script_args", "1"]
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"regional prompter": {"args": []}}})
    assert r.status_code == 422 and "regional prompter" in r.text
    assert api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": None, "alwayson_scripts": {}}).status_code == 200


def test_png_info_gives_back_every_field_we_wrote(api):
    out = txt2img(api, prompt="a (cat:1.2), b", negative_prompt="ugly, blurry", seed=77, subseed=5,
                  subseed_strength=0.3, sampler_name="DPM++ 2M", scheduler="Karras", enable_hr=True,
                  hr_scale=1.5, hr_upscaler="Lanczos", denoising_strength=0.6, tiling=True,
                  override_settings={"CLIP_stop_at_last_layers": 2})
    written = json.loads(out["info"])["infotexts"][0]
    parsed = api.post("/sdapi/v1/png-info", json={"image": out["images"][0]}).json()
    assert parsed["info"] == written
    p = parsed["parameters"]
    expected = {"Prompt": "a (cat:1.2), b", "Negative prompt": "ugly, blurry", "Steps": "4", "Sampler": "DPM++ 2M",
                "Schedule type": "Karras", "CFG scale": "7.0", "Seed": "77", "Size-1": "64", "Size-2": "64",
                "Model": "alpha", "Variation seed": "5", "Variation seed strength": "0.3",
                "Denoising strength": "0.6", "Clip skip": "2", "Tiling": "True", "Hires upscale": "1.5",
                "Hires upscaler": "Lanczos"}
    for key, value in expected.items():
        assert str(p[key]) == value, (key, p[key])
    assert p["Version"].startswith("v1.10.1")


def test_jpeg_and_webp_carry_the_infotext(api, data_dir):
    for fmt in ("jpg", "webp"):
        out = txt2img(api, prompt=f"in {fmt}", seed=5, save_images=True, override_settings={"samples_format": fmt})
        written = json.loads(out["info"])["infotexts"][0]
        assert api.post("/sdapi/v1/png-info", json={"image": out["images"][0]}).json()["info"] == written
        saved = sorted((data_dir / "outputs" / "txt2img-images").rglob(f"*-5.{fmt}"))
        assert saved
        from sdwebui.engine.images.metadata import read_infotext
        assert read_infotext(Image.open(saved[-1])) == written


def test_large_images_pass_the_vae_in_tiles(api, monkeypatch):
    """vae_tiled_min_size: above it (px per side) the VAE decodes and encodes in overlapping tiles, so
    its memory stays at one tile's; below it (default 2048) nothing changes."""
    from diffusers import AutoencoderKL

    calls = []
    real_decode, real_encode = AutoencoderKL.tiled_decode, AutoencoderKL._tiled_encode
    monkeypatch.setattr(AutoencoderKL, "tiled_decode", lambda self, *a, **k: calls.append("decode") or real_decode(self, *a, **k))
    monkeypatch.setattr(AutoencoderKL, "_tiled_encode", lambda self, *a, **k: calls.append("encode") or real_encode(self, *a, **k))
    body = {"prompt": "tiles", "seed": 9, "steps": 2, "width": 256, "height": 256}
    plain = api.post("/sdapi/v1/txt2img", json=body)
    assert plain.status_code == 200 and calls == []
    tiled = api.post("/sdapi/v1/txt2img", json={**body, "override_settings": {"vae_tiled_min_size": 128}})
    assert tiled.status_code == 200 and calls == ["decode"]
    image = Image.open(io.BytesIO(base64.b64decode(tiled.json()["images"][0])))
    assert image.size == (256, 256)
    calls.clear()
    i2i = api.post("/sdapi/v1/img2img", json={**body, "denoising_strength": 0.5, "init_images": [tiled.json()["images"][0]],
                                              "override_settings": {"vae_tiled_min_size": 128}})
    assert i2i.status_code == 200 and calls == ["encode", "decode"]
