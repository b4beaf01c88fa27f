"""A1111's built-in scripts other than X/Y/Z plot, driven through the API with A1111's script_args
lists (positions, as API clients send them): prompt matrix, prompts from file or textbox, SD
upscale, loopback, outpainting mk2, poor man's outpainting, img2img alternative test, custom code."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import server_process
from tests.test_img2img import b64, noise_image

SMALL = {"width": 64, "height": 64, "steps": 3, "cfg_scale": 7, "seed": 5, "sampler_name": "Euler a"}
TXT2IMG_ONLY = ["prompt matrix", "prompts from file or textbox"]
IMG2IMG_ONLY = ["sd upscale", "loopback", "outpainting mk2", "poor man's outpainting", "img2img alternative test"]


def image(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def run(api, tab: str, script_name: str, script_args: list, status: int = 200, **kw) -> dict:
    r = api.post(f"/sdapi/v1/{tab}", json={**SMALL, **kw, "script_name": script_name, "script_args": script_args})
    assert r.status_code == status, r.text
    return r.json()


def infotexts(res: dict) -> list[str]:
    return json.loads(res["info"])["infotexts"]


# --- listing ----------------------------------------------------------------------------------

def test_scripts_listed_per_tab_with_their_args(api):
    listed = api.get("/sdapi/v1/scripts").json()
    for name in TXT2IMG_ONLY:
        assert name in listed["txt2img"] and name in listed["img2img"]
    for name in IMG2IMG_ONLY:
        assert name in listed["img2img"] and name not in listed["txt2img"]
    assert "custom code" not in listed["txt2img"] + listed["img2img"]     # no --allow-code here

    info = {(s["name"], s["is_img2img"]): s for s in api.get("/sdapi/v1/script-info").json()}
    labels = lambda name, img2img=True: [a["label"] for a in info[(name, img2img)]["args"]]  # noqa: E731
    values = lambda name, img2img=True: [a["value"] for a in info[(name, img2img)]["args"]]  # noqa: E731
    assert labels("prompt matrix", False) == ["Put variable parts at start of prompt",
                                              "Use different seed for each picture", "Select prompt",
                                              "Select joining char", "Grid margins (px)"]
    assert values("prompt matrix", False) == [False, False, "positive", "comma", 0]
    assert labels("prompts from file or textbox", False) == ["Iterate seed every line",
                                                             "Use same random seed for all lines",
                                                             "Insert prompts at the", "List of prompt inputs"]
    assert labels("sd upscale")[1:] == ["Tile overlap", "Upscaler", "Scale Factor"]
    assert values("sd upscale")[1] == 64 and values("sd upscale")[3] == 2.0
    assert values("loopback") == [4, 0.5, "Linear", "None"]
    assert labels("outpainting mk2")[1:] == ["Pixels to expand", "Mask blur", "Outpainting direction",
                                             "Fall-off exponent (lower=higher detail)", "Color variation"]
    assert values("outpainting mk2")[1:] == [128, 8, ["left", "right", "up", "down"], 1.0, 0.05]
    assert values("poor man's outpainting") == [128, 4, "fill", ["left", "right", "up", "down"]]
    assert len(info[("img2img alternative test", True)]["args"]) == 11
    assert values("img2img alternative test")[1:] == [True, True, "", "", True, 50, True, 1.0, 0.0, False]


def test_script_controls_in_the_ui_with_a1111_element_ids(api, tmp_path, monkeypatch):
    from sdwebui.interfaces.ui.app import create_ui
    from sdwebui.services import runtime

    monkeypatch.setattr(runtime.cmd_opts, "ui_config_file", str(tmp_path / "ui-config.json"))
    demo = create_ui()
    blocks = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    for elem_id in ("script_txt2img_prompt_matrix_margin_size", "script_img2img_prompt_matrix_prompt_type",
                    "script_txt2img_prompts_from_file_or_textbox_prompt_txt", "script_sd_upscale_upscaler_index",
                    "script_loopback_loops", "script_outpainting_mk2_direction", "script_poor_mans_outpainting_pixels",
                    "script_img2img_alternative_test_sigma_adjustment"):
        assert elem_id in blocks, elem_id
    assert "script_txt2img_loopback_loops" not in blocks and not any("custom_code" in i for i in blocks)
    choices = [c[0] if isinstance(c, (list, tuple)) else c for c in blocks["img2img_script_list"].choices]
    assert {"Prompt matrix", "SD upscale", "Loopback", "Outpainting mk2", "img2img alternative test"} <= set(choices)
    # each script's controls sit in a group shown only when it is picked in the Script dropdown
    assert blocks["img2img_script_sd_upscale"].visible is False


def test_custom_code_refused_without_allow_code(api):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "custom code", "script_args": ["pass", 2]})
    assert r.status_code == 422 and "custom code" in r.text.lower()


# --- prompt matrix ------------------------------------------------------------------------------

def test_prompt_matrix_grid_and_cell_prompts(api, data_dir):
    from modules import images

    grids = data_dir / "outputs" / "txt2img-grids"
    before = set(grids.rglob("*prompt_matrix*")) if grids.exists() else set()
    res = run(api, "txt2img", "prompt matrix", [False, False, "positive", "comma", 0], prompt="a cat|red|blue")
    saved = set(grids.rglob("*prompt_matrix*")) - before      # grid_save: into the grids folder, as A1111
    assert len(saved) == 1 and Image.open(saved.pop()).size == image(res["images"][0]).size
    assert len(res["images"]) == 5      # the matrix, then one image per combination
    texts = infotexts(res)
    prompts = [t.split("\n")[0] for t in texts[1:]]
    assert prompts == ["a cat", "a cat, red", "a cat, blue", "a cat, red, blue"]
    assert all("Seed: 5," in t for t in texts[1:])
    assert json.loads(res["info"])["index_of_first_image"] == 1
    # 2 x 2 cells of 64 px with the titles: the grid's size follows from the cells and the annotations
    expected = images.draw_prompt_matrix(Image.new("RGB", (128, 128)), 64, 64, ["a cat", "red", "blue"], 0).size
    grid = image(res["images"][0])
    assert grid.size == expected and grid.width > 128 and grid.height > 128
    cells = [image(d) for d in res["images"][1:]]
    w, h = grid.size    # the titles are above and on the left: the last cell is the bottom right corner
    assert np.array_equal(arr(grid.crop((w - 64, h - 64, w, h))), arr(cells[3]))

    wider = run(api, "txt2img", "prompt matrix", [True, True, "positive", "space", 10], prompt="a cat|red|blue")
    texts = infotexts(wider)
    assert [t.split("\n")[0] for t in texts[1:]] == ["a cat", "red a cat", "blue a cat", "red blue a cat"]
    assert [f"Seed: {5 + i}," in t for i, t in enumerate(texts[1:])] == [True] * 4
    assert image(wider["images"][0]).width > grid.width       # the margins between cells


def test_prompt_matrix_on_the_negative_prompt_and_bad_choice(api):
    res = run(api, "txt2img", "prompt matrix", [False, False, "negative", "comma", 0], prompt="a cat",
              negative_prompt="ugly|blurry")
    texts = infotexts(res)
    assert len(res["images"]) == 3
    assert "Negative prompt: ugly, blurry" in texts[2] and texts[1].startswith("a cat")
    r = run(api, "txt2img", "prompt matrix", [False, False, "sideways", "comma", 0], status=422, prompt="a|b")
    assert "positive" in r["detail"][0]["msg"] and r["detail"][0]["loc"][-2:] == ["script_args", "2"]


# --- prompts from file ---------------------------------------------------------------------------

def test_prompts_from_file_runs_each_line_with_its_flags(api):
    lines = "a dog\n--prompt \"a cat\" on a mat --seed 11 --steps 2\n--prompt a bird --negative_prompt blurry " \
            "--seed 12 --cfg_scale 3.5 --sampler_name euler\n\n"
    res = run(api, "txt2img", "prompts from file or textbox", [False, False, "start", lines])
    texts = infotexts(res)
    assert len(res["images"]) == 3 and len(texts) == 3
    assert texts[0].startswith("a dog") and "Steps: 3," in texts[0]
    assert texts[1].startswith("a cat on a mat") and "Seed: 11," in texts[1] and "Steps: 2," in texts[1]
    assert texts[2].startswith("a bird\nNegative prompt: blurry") and "Seed: 12," in texts[2]
    assert "CFG scale: 3.5," in texts[2] and "Sampler: Euler," in texts[2]


def test_prompts_from_file_iterates_seed_and_places_prompt(api):
    res = run(api, "txt2img", "prompts from file or textbox", [True, False, "end", "red\nblue"], prompt="a house")
    texts = infotexts(res)
    assert texts[0].startswith("a house red") and "Seed: 5," in texts[0]
    assert texts[1].startswith("a house blue") and "Seed: 6," in texts[1]


@pytest.mark.parametrize("line, named", [
    ("--prompt x --bogus 3", "--bogus"),
    ("--prompt x --steps many", "--steps"),
    ("--prompt x --sampler_name nosuch", "nosuch"),
    ("--prompt x --seed", "--seed"),
])
def test_prompts_from_file_refuses_a_bad_line(api, line, named):
    r = run(api, "txt2img", "prompts from file or textbox", [False, False, "start", "fine\n" + line], status=422)
    detail = r["detail"][0]
    assert named in detail["msg"] and "line 2" in detail["msg"] and detail["loc"][-2:] == ["script_args", "3"]
    if named == "--bogus":
        assert "--negative_prompt" in detail["msg"]     # the valid flags are listed


# --- SD upscale ----------------------------------------------------------------------------------

def test_sd_upscale_doubles_and_redraws_tiles(api):
    init = noise_image(64, 64, seed=3)
    res = run(api, "img2img", "sd upscale", ["", 32, "Lanczos", 2.0], init_images=[b64(init)],
              denoising_strength=0.5)
    assert len(res["images"]) == 1
    out = image(res["images"][0])
    assert out.size == (128, 128)
    text = infotexts(res)[0]
    assert "SD upscale overlap: 32" in text and "SD upscale upscaler: Lanczos" in text
    plain = arr(init.resize((128, 128), Image.Resampling.LANCZOS))
    diff = np.abs(arr(out) - plain)
    # every tile was redrawn: each quarter of the result differs from the plain upscale
    for y in (0, 64):
        for x in (0, 64):
            assert diff[y:y + 64, x:x + 64].mean() > 5

    r = run(api, "img2img", "sd upscale", ["", 32, "NoSuchUpscaler", 2.0], status=422, init_images=[b64(init)])
    assert "Lanczos" in r["detail"][0]["msg"]       # the valid names are listed


# --- loopback ------------------------------------------------------------------------------------

def test_loopback_feeds_each_output_back(api):
    init = b64(noise_image(64, 64, seed=4))
    res = run(api, "img2img", "loopback", [3, 0.5, "Linear", "None"], init_images=[init], denoising_strength=0.6)
    info = json.loads(res["info"])
    assert len(res["images"]) == 4 and info["index_of_first_image"] == 1      # the strip, then each loop
    texts = info["infotexts"][1:]
    assert ["Seed: 5," in texts[0], "Seed: 6," in texts[1], "Seed: 7," in texts[2]] == [True] * 3
    assert "Denoising strength: 0.6," in texts[0] and "Final denoising strength: 0.5" in texts[0]
    # loop 2 is img2img of loop 1's output with the next seed and the strength on the curve
    second = api.post("/sdapi/v1/img2img", json={**SMALL, "init_images": [res["images"][1]], "seed": 6,
                                                  "denoising_strength": 0.6 + (0.5 - 0.6) * 0.5}).json()
    assert np.array_equal(arr(image(second["images"][0])), arr(image(res["images"][2])))
    assert image(res["images"][0]).size == (192, 64)

    r = run(api, "img2img", "loopback", [2, 0.5, "Linear", "CLIP"], status=422, init_images=[init])
    assert "interrogator" in r["detail"][0]["msg"]


# --- outpainting -------------------------------------------------------------------------------

def test_outpainting_mk2_grows_the_named_sides(api):
    init = noise_image(64, 64, seed=6)
    res = run(api, "img2img", "outpainting mk2", ["", 64, 0, ["left", "up"], 1.0, 0.05], init_images=[b64(init)],
              width=128, height=128, denoising_strength=0.8)
    assert len(res["images"]) == 1
    out = image(res["images"][0])
    assert out.size == (128, 128)
    centre = arr(out)[64:, 64:]
    assert np.abs(centre - arr(init)).mean() < 2       # the picture itself is kept
    assert arr(out)[:64, :].mean() > 5 and arr(out)[:, :64].mean() > 5     # the new strips are drawn

    wide = image(run(api, "img2img", "outpainting mk2", ["", 64, 0, ["right"], 1.0, 0.05],
                     init_images=[b64(init)], width=64, height=64)["images"][0])
    assert wide.size == (128, 64) and np.abs(arr(wide)[:, :64] - arr(init)).mean() < 2


def test_poor_mans_outpainting_grows_the_named_sides(api):
    init = noise_image(64, 64, seed=7)
    res = run(api, "img2img", "poor man's outpainting", [32, 0, 1, ["right", "down"]], init_images=[b64(init)],
              denoising_strength=0.8)
    assert len(res["images"]) == 1
    out = image(res["images"][0])
    assert out.size == (128, 128)
    assert np.abs(arr(out)[:64, :64] - arr(init)).mean() < 3
    assert arr(out)[64:, :].mean() > 5 and arr(out)[:, 64:].mean() > 5


def test_outpainting_refuses_unknown_direction(api):
    init = b64(noise_image(64, 64))
    r = run(api, "img2img", "poor man's outpainting", [32, 0, 1, ["sideways"]], status=422, init_images=[init])
    assert "sideways" in r["detail"][0]["msg"] and "left" in r["detail"][0]["msg"]


# --- img2img alternative test ------------------------------------------------------------------

def test_img2img_alternative_redraws_from_inverted_noise(api):
    init = noise_image(64, 64, seed=8)
    args = ["", True, True, "a cat", "", True, 4, True, 1.0, 0.0, False]
    res = run(api, "img2img", "img2img alternative test", args, init_images=[b64(init)])
    out = arr(image(res["images"][0]))
    assert out.shape == (64, 64, 3)
    text = infotexts(res)[0]
    assert text.startswith("a cat\n") and "Sampler: Euler," in text and "Steps: 4," in text
    assert "Decode steps: 4" in text and "Randomness: 0.0" in text and "Denoising strength: 1.0" in text
    # with no randomness the start is the image's own noise, so the seed does not matter (Euler adds none)
    other_seed = run(api, "img2img", "img2img alternative test", args, init_images=[b64(init)], seed=99)
    assert np.array_equal(arr(image(other_seed["images"][0])), out)
    # the redraw starts from the inverted noise alone (A1111: init + (noise - init / sigma0) * sigma0); the
    # script keeps the last inversion for pictures whose latents are that close (A1111's test, tenths summed
    # under 100), which any two pictures are for the tiny VAE: the same redraw
    red = Image.new("RGB", (64, 64), (200, 30, 30))
    other_image = run(api, "img2img", "img2img alternative test", args, init_images=[b64(red)])
    assert np.array_equal(arr(image(other_image["images"][0])), out)
    # with randomness the seed's noise is mixed in
    mixed = [run(api, "img2img", "img2img alternative test", args[:9] + [0.5, False], init_images=[b64(init)],
                 seed=seed)["images"][0] for seed in (1, 2)]
    assert not np.array_equal(arr(image(mixed[0])), arr(image(mixed[1])))
    adjusted = run(api, "img2img", "img2img alternative test", args[:10] + [True], init_images=[b64(init)])
    assert "Sigma Adjustment: True" in infotexts(adjusted)[0]
    assert not np.array_equal(arr(image(adjusted["images"][0])), out)


def test_noise_inversion_uses_k_diffusion_sigmas():
    import torch

    from sdwebui.engine.sampling import inversion

    alphas = torch.linspace(0.999, 0.005, 1000, dtype=torch.float64)
    training = ((1 - alphas) / alphas).sqrt()
    sigmas = inversion.ascending_sigmas(training, 10)
    assert len(sigmas) == 11 and sigmas[0] == 0 and torch.isclose(sigmas[-1], training[-1])
    assert bool((sigmas[1:] > sigmas[:-1]).all())
    assert abs(inversion.sigma_to_t(float(training[500]), training) - 500) < 1e-6
    assert abs(inversion.sigma_to_t(float(training[-1]), training) - 999) < 1e-6


# --- custom code (its own server: the flag is read at start) -------------------------------------

CODE = "from modules.processing import process_images\np.steps = 2\np.batch_size = 2\nreturn process_images(p)"


def _custom_code_server(tmp: Path, env: dict[str, str]) -> dict:
    with server_process.running_server(tmp, ["--nowebui", "--allow-code"], env=env) as server:
        import httpx

        listed = httpx.get(server.base + "/sdapi/v1/scripts", timeout=60).json()
        payload = {**SMALL, "script_name": "custom code", "script_args": [CODE, 2]}
        ran = httpx.post(server.base + "/sdapi/v1/txt2img", json=payload, timeout=300)
        shown = httpx.post(server.base + "/sdapi/v1/txt2img", timeout=300, json={
            **SMALL, "script_name": "custom code", "script_args": ["display([], 42, 'nothing')", 2]})
        broken = httpx.post(server.base + "/sdapi/v1/txt2img", timeout=300, json={
            **SMALL, "script_name": "custom code", "script_args": ["def (", 2]})
        return {"listed": listed, "ran": (ran.status_code, ran.json()), "shown": (shown.status_code, shown.json()),
                "broken": (broken.status_code, broken.text)}


@pytest.mark.early(scenario=_custom_code_server)
def test_custom_code_with_allow_code(early_result):
    result = early_result()
    assert "custom code" in result["listed"]["txt2img"] and "custom code" in result["listed"]["img2img"]
    status, body = result["ran"]
    assert status == 200, body
    texts = json.loads(body["info"])["infotexts"]
    assert len(body["images"]) >= 2 and all("Steps: 2," in t for t in texts)
    status, body = result["shown"]
    assert status == 200 and body["images"] == [] and json.loads(body["info"])["seed"] == 42
    status, text = result["broken"]
    assert status == 422 and "does not compile" in text


def test_noise_inversion_follows_the_picture(tiny_files):
    """What the redraw depends on: the noise inverted from the picture (Euler run backwards)."""
    import torch

    from sdwebui.engine.models.single_file import load_checkpoint
    from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning
    from sdwebui.engine.sampling import inversion

    model = load_checkpoint(tiny_files["sd1"])
    batch = ScheduledConditioning(PromptEncoder(model), ["a cat"], [""], 4).at(0)
    found = [inversion.find_noise_for_image(model, torch.full((1, 4, 8, 8), value), batch.context, batch.pooled,
                                            1.0, 4, width=64, height=64) for value in (0.1, -0.3)]
    assert found[0].shape == (1, 4, 8, 8) and not torch.allclose(found[0], found[1])
    assert torch.equal(found[0], inversion.find_noise_for_image(model, torch.full((1, 4, 8, 8), 0.1), batch.context,
                                                                batch.pooled, 1.0, 4, width=64, height=64))
