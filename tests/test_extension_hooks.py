"""A1111 extensions on the real server: fixture extensions (tests/fixtures/extensions) are copied
into a fresh data dir and `launch.py --api` is started as a user would. `hook-recorder` records
every Script hook and callback it gets (GET /hook-recorder/calls, a route it adds itself with
on_app_started); `broken-import` raises on import; `broken-hook` raises in a hook on request and
in its on_ui_tabs callback."""
from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.server_process import running_server

FIXTURES = Path(__file__).parent / "fixtures" / "extensions"
SMALL = {"steps": 3, "width": 64, "height": 64, "cfg_scale": 7}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ext-hooks")
    shutil.copytree(FIXTURES, data / "extensions")
    with running_server(data, ["--api", "--skip-install"], ready_path="/sdapi/v1/progress") as srv:
        srv.client = httpx.Client(base_url=srv.base, timeout=120)
        srv.data = data
        # the first load happens in the background; wait for it through a job on the queue
        assert srv.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "warm up"}).status_code == 200
        yield srv
        srv.client.close()


def calls(server, clear: bool = True) -> list[dict]:
    r = server.client.get("/hook-recorder/calls", params={"clear": clear})
    assert r.status_code == 200, r.text
    return r.json()


def hooks(records: list[dict]) -> list[str]:
    return [c["hook"] for c in records]


def decode(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")).astype(int)


def recorder(enabled: bool = True, tag: str = "t", square: int = 16) -> dict:
    return {"Hook Recorder": {"args": [enabled, tag, square]}}


def test_startup_callbacks_fired_with_their_arguments(server):
    records = calls(server, clear=False)
    names = hooks(records)
    imported = next(c for c in records if c["hook"] == "imported")
    assert imported["basedir"] == "hook-recorder" and imported["cmd_opts_has_api"] is True
    assert names.index("imported") < names.index("before_ui") < names.index("app_started")
    assert next(c for c in records if c["hook"] == "app_started")["demo"] is True
    seen = {(c["elem_id"], c["cls"]) for c in records if c["hook"] == "after_component"}
    assert {("txt2img_generate", "Button"), ("img2img_generate", "Button"), ("txt2img_prompt", "Textbox")} <= seen
    loaded = [c for c in records if c["hook"] == "model_loaded"]
    assert loaded and loaded[0]["title"].startswith("tiny-default-sd1.safetensors")


def test_scripts_and_script_info_list_the_extension_scripts(server):
    listed = server.client.get("/sdapi/v1/scripts").json()
    for tab in ("txt2img", "img2img"):
        assert {"hook recorder", "recorder loop", "exploder", "api payload"} <= set(listed[tab])
    info = {(i["name"], i["is_img2img"]): i for i in server.client.get("/sdapi/v1/script-info").json()}
    rec = info[("hook recorder", False)]
    assert rec["is_alwayson"] is True
    assert [(a["label"], a["value"]) for a in rec["args"]] == [("Hook Recorder", False), ("Tag", ""),
                                                                ("White square", 8)]
    assert rec["args"][2]["minimum"] == 0 and rec["args"][2]["maximum"] == 64
    loop = info[("recorder loop", True)]
    assert loop["is_alwayson"] is False and loop["args"][0]["value"] == 2


def test_every_generation_hook_fires_in_order_with_the_right_arguments(server):
    calls(server)
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "a cat", "seed": 1234,
                                                      "alwayson_scripts": recorder(tag="t1")})
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    records = [c for c in calls(server) if c.get("tag", "t1") == "t1"]
    script_hooks = [h for h in hooks(records) if not h.startswith("cfg_") and "image_saved" not in h]
    assert script_hooks == ["setup", "before_process", "process", "before_process_batch", "process_batch",
                            "post_sample", "postprocess_batch", "postprocess_batch_list", "postprocess_image",
                            "postprocess"]
    by = {c["hook"]: c for c in records}
    assert by["setup"]["is_api"] is True
    bp = by["before_process"]
    assert (bp["enabled"], bp["square"], bp["prompt"]) == (True, 16, "a cat")
    assert bp["cls"] == "StableDiffusionProcessingTxt2Img" and bp["txt2img"] and bp["base"] and not bp["img2img"]
    assert by["process"]["seeds"] == [1234] == info["all_seeds"]
    assert (by["process"]["steps"], by["process"]["width"], by["process"]["sampler"]) == (3, 64, "Euler")
    assert by["before_process_batch"]["seeds"] == [1234] and by["before_process_batch"]["batch_number"] == 0
    assert by["before_process_batch"]["subseeds"] == info["all_subseeds"]
    assert by["process_batch"]["prompts"] == ["a cat"]
    assert by["post_sample"]["shape"] == [1, 4, 8, 8]
    assert by["postprocess_batch"]["shape"] == [1, 3, 64, 64]
    assert by["postprocess_batch_list"]["count"] == 1 and by["postprocess_image"]["size"] == [64, 64]
    assert by["postprocess"]["images"] == 1 and by["postprocess"]["seed"] == 1234
    # the classifier-free-guidance callbacks: once per step, the UNet rows and the text shapes
    denoiser = [c for c in records if c["hook"] == "cfg_denoiser"]
    assert [c["step"] for c in denoiser] == [0, 1, 2] and {c["total"] for c in denoiser} == {3}
    assert denoiser[0]["x"] == [2, 4, 8, 8] and denoiser[0]["cond"][0] == 1 and denoiser[0]["uncond"][0] == 1
    assert [c["x"] for c in records if c["hook"] == "cfg_after_cfg"] == [[1, 4, 8, 8]] * 3
    assert len([c for c in records if c["hook"] == "cfg_denoised"]) == 3
    assert "Recorder tag: t1" in info["infotexts"][0]


def test_script_changes_reach_the_image_and_the_prompts(server):
    base = {**SMALL, "prompt": "a dog", "seed": 77}
    off = server.client.post("/sdapi/v1/txt2img", json={**base, "alwayson_scripts": recorder(enabled=False)}).json()
    on = server.client.post("/sdapi/v1/txt2img", json={**base, "alwayson_scripts": recorder(square=16)}).json()
    plain = server.client.post("/sdapi/v1/txt2img", json=base).json()
    a, b, c = decode(off["images"][0]), decode(on["images"][0]), decode(plain["images"][0])
    assert np.array_equal(a, c), "a disabled script leaves the image alone"
    assert (b[:16, :16] == 255).all() and np.array_equal(b[16:, 16:], a[16:, 16:])
    rewritten = server.client.post("/sdapi/v1/txt2img", json={**base, "alwayson_scripts": recorder(tag="rewrite")})
    assert json.loads(rewritten.json()["info"])["infotexts"][0].startswith("a dog, rewritten")


def test_image_save_callbacks_and_a1111_save_image(server):
    calls(server)
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "kept", "seed": 5, "save_images": True,
                                                      "alwayson_scripts": recorder(tag="save")})
    assert r.status_code == 200, r.text
    records = calls(server)
    before = [c for c in records if c["hook"] == "before_image_saved"]
    saved = [c for c in records if c["hook"] == "image_saved"]
    assert before and before[0]["has_p"] and "Seed: 5" in before[0]["parameters"]
    sample = Path(saved[0]["filename"])
    assert sample.is_file() and sample.name.endswith("-5.png")
    assert Image.open(sample).info["parameters"].endswith(", Recorder: was here")
    extra = Path(next(c for c in records if c["hook"] == "saved_with_save_image")["path"])
    assert extra.is_file() and extra.name.startswith("recorder-")
    assert Image.open(extra).info["parameters"].startswith("saved by the recorder")


def test_selectable_script_runs_with_its_args(server):
    calls(server)
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "loop", "seed": 40,
                                                      "script_name": "recorder loop", "script_args": [3]})
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    assert len(r.json()["images"]) == 3
    assert [t.split("Seed: ")[1].split(",")[0] for t in info["infotexts"]] == ["40", "41", "42"]
    run = [c for c in calls(server) if c["hook"] == "run"]
    assert run == [{"hook": "run", "loops": 3, "prompt": "loop"}]


def test_img2img_hooks_get_an_img2img_object(server):
    calls(server)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    r = server.client.post("/sdapi/v1/img2img", json={**SMALL, "prompt": "red", "denoising_strength": 0.5,
                                                      "init_images": [base64.b64encode(buf.getvalue()).decode()],
                                                      "alwayson_scripts": recorder(tag="i2i")})
    assert r.status_code == 200, r.text
    bp = next(c for c in calls(server) if c["hook"] == "before_process")
    assert bp["img2img"] and bp["base"] and not bp["txt2img"]


def test_bad_script_requests_are_4xx_naming_the_choices(server):
    post = server.client.post
    r = post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "nope"})
    assert r.status_code == 422 and "recorder loop" in r.text
    r = post("/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"nope": {"args": []}}})
    assert r.status_code == 422 and "Hook Recorder" in r.text
    r = post("/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"hook recorder": {"args": [1, 2, 3, 4]}}})
    assert r.status_code == 422 and "takes 3 argument" in r.text
    r = post("/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"hook recorder": [True]}})
    assert r.status_code == 422 and "args" in r.text
    r = post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "hook recorder"})
    assert r.status_code == 422 and "always-on" in r.text


def test_a_failing_hook_fails_only_its_job_with_a_clear_error(server):
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "please explode"})
    assert r.status_code == 500
    assert "Exploder" in r.text and "boom from the exploder" in r.text
    ok = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "calm"})
    assert ok.status_code == 200 and ok.json()["images"]


def test_broken_extensions_are_reported_and_the_rest_works(server):
    log = server.log_tail(200_000)
    assert "this extension is broken on purpose" in log and "this tab cannot be built" in log
    config = server.client.get("/config").json()
    text = json.dumps(config)
    # the Extensions tab lists each extension with its errors; the good extension's tab is there
    assert "broken on purpose" in text and "this tab cannot be built" in text
    assert "hook_recorder_notes" in text
    names = [e["name"] for e in server.client.get("/sdapi/v1/extensions").json()]
    assert {"api-payload-display", "broken-hook", "broken-import", "hook-recorder"} <= set(names)


def test_extension_options_are_registered_and_persist(server):
    opts = server.client.get("/sdapi/v1/options").json()
    assert opts["hook_recorder_flag"] == 3 and opts["api_display_include_base64_images"] is False
    assert server.client.post("/sdapi/v1/options", json={"hook_recorder_flag": 7}).status_code == 200
    assert json.loads((server.data / "config.json").read_text())["hook_recorder_flag"] == 7
    r = server.client.post("/sdapi/v1/options", json={"hook_recorder_flag": 70})
    assert r.status_code == 422


def test_a_script_title_with_dots_is_one_part_of_the_error_location(server):
    r = server.client.post("/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"Dynamic Prompts v2.17.1": {"args": []}}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "alwayson_scripts", "Dynamic Prompts v2.17.1"]
