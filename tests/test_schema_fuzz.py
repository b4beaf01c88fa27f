"""The OpenAPI schema lists every route with its models, a bounded schemathesis run over it finds no
5xx, and hand-made bad input is a 4xx naming the field, with the server still serving afterwards.

Runs against a real `python launch.py --api --nowebui` subprocess of its own (its options are fuzzed,
so it must not share state with other tests), started with `--max-image-pixels 8192` so that any
generation the fuzzer gets through is at most 64x128 or 128x64. Everything is deterministic: hypothesis is
derandomized, has no example database, and never shrinks (failures are collected, not raised inside
hypothesis). Only status codes are asserted, never timings.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re

import httpx
import pytest
from PIL import Image, PngImagePlugin

schemathesis = pytest.importorskip("schemathesis")
import requests  # noqa: E402  (a schemathesis dependency)
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402

from sdwebui.interfaces.api.models import MAX_PROMPT_CHARS  # noqa: E402
from tests.server_process import running_server  # noqa: E402

MAX_PIXELS = 64 * 128
EXAMPLES = 25             # per operation and generation mode
GENERATION_EXAMPLES = 25  # txt2img / img2img / extras: the operations with the most to find


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz-data"),
                        ["--api", "--nowebui", "--max-image-pixels", str(MAX_PIXELS)]) as srv:
        # the first generation loads the model; later requests do not wait for it
        r = httpx.post(srv.base + "/sdapi/v1/txt2img", json={"width": 64, "height": 64, "steps": 1}, timeout=300)
        assert r.status_code == 200, r.text
        yield srv


@pytest.fixture(scope="module")
def openapi(server) -> dict:
    r = httpx.get(server.base + "/openapi.json")
    assert r.status_code == 200
    return r.json()


# images --------------------------------------------------------------------------------------

def encode(image: Image.Image, fmt: str = "PNG", data_url: bool = False, **save) -> str:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    b64 = base64.b64encode(buf.getvalue()).decode()
    return f"data:image/{fmt.lower()};base64,{b64}" if data_url else b64


def with_infotext(text: str) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    return encode(Image.new("RGB", (16, 16), (1, 2, 3)), pnginfo=info)


def bomb() -> str:
    """A 15000x15000 1-bit PNG of 36 KB: over PIL's decompression-bomb limit (2 x 89.5 Mpx)."""
    return encode(Image.new("1", (15000, 15000)))


BOMB = bomb()


RGB = encode(Image.new("RGB", (64, 64), (200, 30, 30)))
IMAGES = {
    "png": RGB,
    "data_url": encode(Image.new("RGB", (48, 80), (20, 30, 200)), data_url=True),
    "rgba": encode(Image.new("RGBA", (64, 64), (0, 255, 0, 128))),
    "jpeg": encode(Image.new("RGB", (64, 64), (90, 90, 90)), "JPEG", data_url=True),
    "palette": encode(Image.new("P", (32, 32), 3)),
    "wide": encode(Image.new("RGB", (1000, 8), (9, 9, 9))),  # 8000 px: under MAX_PIXELS
}
MASKS = {
    "mask": encode(Image.new("L", (64, 64), 255)),
    "small_mask": encode(Image.new("L", (16, 16), 128)),
    "rgb_mask": encode(Image.new("RGB", (64, 64), (255, 255, 255)), data_url=True),
}


# the schema ----------------------------------------------------------------------------------

# A1111 1.10's /sdapi/v1 routes (modules/api/api.py there) and the methods they answer
A1111_ROUTES = [
    ("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/img2img"), ("POST", "/sdapi/v1/extra-single-image"),
    ("POST", "/sdapi/v1/extra-batch-images"), ("POST", "/sdapi/v1/png-info"), ("GET", "/sdapi/v1/progress"),
    ("POST", "/sdapi/v1/interrogate"), ("POST", "/sdapi/v1/interrupt"), ("POST", "/sdapi/v1/skip"),
    ("GET", "/sdapi/v1/options"), ("POST", "/sdapi/v1/options"), ("GET", "/sdapi/v1/cmd-flags"),
    ("GET", "/sdapi/v1/samplers"), ("GET", "/sdapi/v1/schedulers"), ("GET", "/sdapi/v1/upscalers"),
    ("GET", "/sdapi/v1/latent-upscale-modes"), ("GET", "/sdapi/v1/sd-models"), ("GET", "/sdapi/v1/sd-modules"),
    ("GET", "/sdapi/v1/sd-vae"), ("GET", "/sdapi/v1/hypernetworks"), ("GET", "/sdapi/v1/face-restorers"),
    ("GET", "/sdapi/v1/realesrgan-models"), ("GET", "/sdapi/v1/prompt-styles"), ("GET", "/sdapi/v1/embeddings"),
    ("POST", "/sdapi/v1/refresh-embeddings"), ("POST", "/sdapi/v1/refresh-checkpoints"),
    ("POST", "/sdapi/v1/refresh-vae"), ("POST", "/sdapi/v1/create/embedding"),
    ("POST", "/sdapi/v1/create/hypernetwork"), ("GET", "/sdapi/v1/memory"), ("POST", "/sdapi/v1/unload-checkpoint"),
    ("POST", "/sdapi/v1/reload-checkpoint"), ("GET", "/sdapi/v1/scripts"), ("GET", "/sdapi/v1/script-info"),
    ("GET", "/sdapi/v1/extensions"), ("GET", "/sdapi/v1/loras"), ("POST", "/sdapi/v1/refresh-loras"),
    ("POST", "/sdapi/v1/server-kill"), ("POST", "/sdapi/v1/server-restart"), ("POST", "/sdapi/v1/server-stop"),
]
# routes that take a JSON body (A1111 documents a request model for each)
BODY_ROUTES = {"/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/extra-single-image",
               "/sdapi/v1/extra-batch-images", "/sdapi/v1/png-info", "/sdapi/v1/interrogate",
               "/sdapi/v1/options", "/sdapi/v1/create/embedding", "/sdapi/v1/create/hypernetwork"}


def served(server, path: str) -> bool:
    """Whether the server has a route at `path`, asked without running it: a method no route takes
    is a 405 for a known path and a 404 for an unknown one."""
    r = httpx.request("PATCH", server.base + path)
    assert r.status_code in (404, 405), (path, r.status_code, r.text)
    return r.status_code == 405


def test_docs_page_serves_the_schema(server):
    r = httpx.get(server.base + "/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower() and "/openapi.json" in r.text


def test_openapi_lists_every_served_route(server, openapi):
    paths = openapi["paths"]
    served_paths = [path for path in dict.fromkeys(p for _, p in A1111_ROUTES) if served(server, path)]
    assert {"/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/options"} <= set(served_paths)
    missing = sorted({p for p in served_paths if p not in paths})
    assert not missing, f"served but not in /openapi.json: {missing}"
    wrong_methods = [(m, p) for m, p in A1111_ROUTES if p in paths and m.lower() not in paths[p]]
    assert not wrong_methods, f"A1111 methods missing from the schema: {wrong_methods}"
    # and nothing in the schema is a dead entry
    dead = [p for p in paths if not served(server, p)]
    assert not dead, dead


def _schema_of(openapi: dict, node: dict | None) -> dict | None:
    if not node:
        return None
    schema = node.get("content", {}).get("application/json", {}).get("schema")
    if schema and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert name in openapi["components"]["schemas"], schema["$ref"]
    return schema


def test_openapi_documents_request_and_response_models(openapi):
    problems = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if method == "post" and path in BODY_ROUTES:
                if not _schema_of(openapi, op.get("requestBody")):
                    problems.append(f"POST {path}: no request body model")
            if method == "get":
                schema = _schema_of(openapi, op.get("responses", {}).get("200"))
                if not schema:
                    problems.append(f"GET {path}: no response model")
    for name in ("StableDiffusionTxt2ImgProcessingAPI", "StableDiffusionImg2ImgProcessingAPI"):
        props = openapi["components"]["schemas"][name]["properties"]
        for field in ("prompt", "negative_prompt", "seed", "sampler_name", "scheduler", "steps", "cfg_scale",
                      "width", "height", "batch_size", "n_iter", "override_settings", "send_images", "save_images"):
            if field not in props:
                problems.append(f"{name} lacks {field}")
    assert not problems, "\n".join(problems)


# schemathesis --------------------------------------------------------------------------------

EXCLUDED = {
    ("POST", "/sdapi/v1/unload-checkpoint"),  # unloads the model: every later generation reloads it
    ("POST", "/sdapi/v1/server-kill"), ("POST", "/sdapi/v1/server-restart"), ("POST", "/sdapi/v1/server-stop"),
}
GENERATION = {"/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/extra-single-image",
              "/sdapi/v1/extra-batch-images"}

# Fields whose server-valid values can be expensive: a value the server would accept above `cheap`
# is lowered to `cheap` (values the server must reject are left alone, so rejection is still fuzzed).
COST_BOUNDS = {
    "steps": (6, 1000), "hr_second_pass_steps": (2, 1000), "n_iter": (2, 1000), "batch_size": (2, 64),
    "hr_scale": (2, 8), "hr_resize_x": (64, 16384), "hr_resize_y": (64, 16384),
    "firstphase_width": (64, 16384), "firstphase_height": (64, 16384),
    "seed_resize_from_w": (64, None), "seed_resize_from_h": (64, None),
    "upscaling_resize": (4, 8), "upscaling_resize_w": (256, 16384), "upscaling_resize_h": (256, 16384),
}


def _as_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def bound_cost(body) -> None:
    if not isinstance(body, dict):
        return
    for key, (cheap, top) in COST_BOUNDS.items():
        n = _as_number(body.get(key))
        if n is not None and n == n and cheap < n and (top is None or n <= top):
            body[key] = str(cheap) if isinstance(body[key], str) else cheap


SAMPLERS = [None, ("Euler a", None), ("Euler", "karras"), ("DPM++ 2M", "automatic"), ("DPM++ 2M SDE", "exponential"),
            ("DDIM", None), ("UniPC", None), ("LMS", "polyexponential"), ("Heun", "sgm_uniform"), ("DPM2 a", None),
            ("DPM++ 2S a", "simple"), ("LCM", None), ("PLMS", None), ("DPM++ 3M SDE", "normal"),
            ("DPM++ SDE", "ddim"), ("DPM++ 2M Karras", None), ("k_euler_a", "Automatic")]
# mostly sizes the server accepts (under MAX_PIXELS), and a few boundaries it may reject
SIZES = [None, (64, 64), (64, 64), (128, 64), (64, 128), (72, 64), (64, 120), (56, 64), (8, 8), (128, 128)]
INFOTEXT_PARTS = ["Steps: ", "Sampler: ", "Size: ", "Seed: ", "x", "\n", ", ", "Negative prompt: ", '"', ":", "64",
                  "-1", "1e309", "nan", "Hires upscale: ", "Lora hashes: ", "Model hash: ", "{", "}", "Clip skip: ",
                  "Schedule type: ", "Template: ", "\\", "Size-1: ", "Denoising strength: ", "RNG: ", "Ṁ", "\t"]

# Valid values the fuzzer would almost never find (an image, a sampler name), mixed into positive
# cases so that generation itself is fuzzed, not only validation.
TWEAKS = {
    "/sdapi/v1/txt2img": st.fixed_dictionaries({"size": st.sampled_from(SIZES), "sampler": st.sampled_from(SAMPLERS)}),
    "/sdapi/v1/img2img": st.fixed_dictionaries({
        "size": st.sampled_from(SIZES), "sampler": st.sampled_from(SAMPLERS),
        "image": st.sampled_from([None, *IMAGES]), "mask": st.sampled_from([None, None, *MASKS])}),
    "/sdapi/v1/extra-single-image": st.fixed_dictionaries({"image": st.sampled_from([None, *IMAGES])}),
    "/sdapi/v1/extra-batch-images": st.fixed_dictionaries({"images": st.lists(st.sampled_from(list(IMAGES)),
                                                                              max_size=2)}),
    "/sdapi/v1/png-info": st.fixed_dictionaries({"infotext": st.none() | st.lists(
        st.sampled_from(INFOTEXT_PARTS) | st.text(max_size=6), max_size=25).map("".join)}),
}


def apply_tweak(path: str, body, tweak) -> None:
    if not tweak or not isinstance(body, dict):
        return
    if tweak.get("size"):
        body["width"], body["height"] = tweak["size"]
    if tweak.get("sampler"):
        body["sampler_name"], body["scheduler"] = tweak["sampler"]
    if tweak.get("image"):
        if path == "/sdapi/v1/img2img":
            body["init_images"] = [IMAGES[tweak["image"]]]
        else:
            body["image"] = IMAGES[tweak["image"]]
    if tweak.get("mask"):
        body["mask"] = MASKS[tweak["mask"]]
    if tweak.get("images"):
        body["imageList"] = [{"data": IMAGES[k], "name": f"im{i}"} for i, k in enumerate(tweak["images"])]
    if tweak.get("infotext") is not None:
        body["image"] = with_infotext(tweak["infotext"])


def summarize(op, body) -> str:
    """The request body without the junk keys the fuzzer adds, long strings shortened."""
    if not isinstance(body, dict):
        return json.dumps(body, default=str)[:300]
    try:
        known = set(op.definition.raw["requestBody"]["content"]["application/json"]["schema"].get("properties", {}))
    except (KeyError, AttributeError, TypeError):
        known = set()
    if not known:
        ref = op.definition.raw.get("requestBody", {}).get("content", {}).get("application/json", {}) \
            .get("schema", {}).get("$ref", "")
        known = set(op.schema.raw_schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
                    .get("properties", {})) if ref else set()

    def short(v):
        if isinstance(v, str) and len(v) > 40:
            return v[:20] + f"...({len(v)} chars)"
        if isinstance(v, list):
            return [short(x) for x in v[:3]]
        if isinstance(v, dict):
            return {k: short(x) for k, x in list(v.items())[:5]}
        return v
    return json.dumps({k: short(v) for k, v in body.items() if k in known or not known}, default=str,
                      ensure_ascii=True)[:600]


def fuzz_operation(op, mode: GenerationMode, base: str, session: requests.Session, failures: list) -> int:
    path = op.path
    tweaks = TWEAKS.get(path) if mode == GenerationMode.POSITIVE else None
    n = GENERATION_EXAMPLES if path in GENERATION else EXAMPLES
    count = 0

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode), tweak=tweaks if tweaks is not None else st.none())
    def run(case, tweak):
        nonlocal count
        count += 1
        apply_tweak(path, case.body, tweak)
        bound_cost(case.body)
        try:
            response = case.call(base_url=base, session=session, timeout=300)
        except requests.RequestException as e:
            failures.append(f"{op.method.upper()} {path} [{mode.value}]: no response ({e}); body: "
                            f"{json.dumps(case.body, default=str)[:500]}")
            return
        flagged = False
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:  # reported below, shorter than schemathesis' own report
            flagged = True
        if flagged or response.status_code >= 500:
            failures.append(f"{op.method.upper()} {path} [{mode.value}] -> {response.status_code} "
                            f"{response.text[:300]}\n    request (schema fields only): {summarize(op, case.body)}")

    try:
        run()
    except Unsatisfiable:
        pass  # negative mode for an operation without parameters: nothing can be made invalid
    return count


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_schemathesis_finds_no_server_error(server, openapi, mode):
    schema = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    covered = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            op = result.ok()
            if (op.method.upper(), op.path) in EXCLUDED:
                continue
            count = fuzz_operation(op, mode, server.base, session, failures)
            covered.append((op.method.upper(), op.path, count))
            assert server.alive(), f"server died fuzzing {op.method.upper()} {op.path}:\n{server.log_tail()}"
    assert {p for _, p, _ in covered} >= {"/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/png-info"}
    if mode == GenerationMode.POSITIVE:
        assert all(n >= 1 for _, _, n in covered), covered
    # one entry per distinct error, with the first request that caused it and how often it came
    groups: dict[str, list[str]] = {}
    for f in failures:
        head, _, example = f.partition("\n")
        groups.setdefault(head, []).append(example)
    report = [f"{head}  (x{len(ex)})\n{ex[0]}" for head, ex in groups.items()]
    assert not report, f"{len(failures)} server errors:\n\n" + "\n\n".join(report[:15])


OPTION_VALUES = (st.none() | st.booleans() | st.integers(-(2 ** 40), 2 ** 40) | st.integers(-3, 100)
                 | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=12)
                 | st.lists(st.text(max_size=6), max_size=3) | st.dictionaries(st.text(max_size=4), st.integers(),
                                                                                max_size=2))


def test_options_fuzz_never_breaks_the_server(server):
    """POST /options has no body model to fuzz from, so it is fuzzed here: random updates of known
    options (except paths) are a 200 or a 4xx, and whatever was accepted still lets a txt2img run."""
    http = httpx.Client(base_url=server.base, timeout=300)
    snapshot = http.get("/sdapi/v1/options").json()
    keys = sorted(k for k in snapshot if not re.search(r"dir|path|filename|outdir|pattern", k, re.I))
    values = OPTION_VALUES | st.sampled_from([json.loads(json.dumps(v)) for v in snapshot.values()])
    failures: list[str] = []

    @settings(max_examples=60, derandomize=True, database=None, deadline=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(update=st.dictionaries(st.sampled_from(keys), values, min_size=1, max_size=3))
    def run(update):
        r = http.post("/sdapi/v1/options", json=update)
        if r.status_code >= 500:
            failures.append(f"POST /options {json.dumps(update)[:300]} -> {r.status_code} {r.text[:300]}")
            return
        if r.status_code != 200:
            body = r.text
            if not any(k in body for k in update):
                failures.append(f"POST /options {json.dumps(update)[:300]} -> {r.status_code} names no key: "
                                f"{body[:300]}")
            return
        try:
            g = http.post("/sdapi/v1/txt2img", json={"prompt": "cat", "width": 64, "height": 64, "steps": 2,
                                                     "seed": 1})
            if g.status_code >= 500:
                failures.append(f"txt2img after options {json.dumps(update)[:300]} -> {g.status_code} "
                                f"{g.text[:300]}")
        finally:
            restore = {k: snapshot[k] for k in update}
            back = http.post("/sdapi/v1/options", json=restore)
            if back.status_code != 200:
                failures.append(f"restoring {json.dumps(restore)[:300]} -> {back.status_code} {back.text[:300]}")

    run()
    distinct = list(dict.fromkeys(failures))
    assert not distinct, f"{len(failures)} failures:\n" + "\n".join(distinct[:15])
    assert http.get("/sdapi/v1/options").json() == snapshot
    http.close()


# hand-made bad input -------------------------------------------------------------------------

T2I = {"prompt": "cat", "width": 64, "height": 64, "steps": 2}
I2I = {**T2I, "init_images": [RGB]}
HR = {**T2I, "enable_hr": True, "hr_scale": 1}   # a hires pass within this server's pixel limit
PATH_LIKE = "../../etc/passwd"

BAD = [
    # (id, path, json body or raw bytes, allowed statuses, text the error must contain)
    ("steps-string", "txt2img", {**T2I, "steps": "many"}, {422}, "steps"),
    ("steps-negative", "txt2img", {**T2I, "steps": -1}, {422}, "steps"),
    ("steps-zero", "txt2img", {**T2I, "steps": 0}, {422}, "steps"),
    ("steps-huge", "txt2img", {**T2I, "steps": 10 ** 9}, {422}, "steps"),
    ("steps-fraction", "txt2img", {**T2I, "steps": 2.5}, {422}, "steps"),
    ("width-string", "txt2img", {**T2I, "width": "wide"}, {422}, "width"),
    ("width-negative", "txt2img", {**T2I, "width": -64}, {422}, "width"),
    ("width-zero", "txt2img", {**T2I, "width": 0}, {422}, "width"),
    ("size-huge", "txt2img", {**T2I, "width": 16384, "height": 16384}, {422}, "width"),
    ("width-astronomic", "txt2img", {**T2I, "width": 10 ** 12}, {422}, "width"),
    ("width-not-multiple-of-8", "txt2img", {**T2I, "width": 63}, {422}, "width"),
    ("height-below-minimum", "txt2img", {**T2I, "height": 7}, {422}, "height"),
    ("size-8x8", "txt2img", {**T2I, "width": 8, "height": 8}, {200, 422}, None),
    ("over-pixel-limit", "txt2img", {**T2I, "width": 136, "height": 64}, {422}, "width"),
    ("batch-size-zero", "txt2img", {**T2I, "batch_size": 0}, {422}, "batch_size"),
    ("batch-size-huge", "txt2img", {**T2I, "batch_size": 10 ** 6}, {422}, "batch_size"),
    ("n-iter-negative", "txt2img", {**T2I, "n_iter": -3}, {422}, "n_iter"),
    ("cfg-string", "txt2img", {**T2I, "cfg_scale": "high"}, {422}, "cfg_scale"),
    ("cfg-negative", "txt2img", {**T2I, "cfg_scale": -1}, {422}, "cfg_scale"),
    ("cfg-nan", "txt2img", b'{"width": 64, "height": 64, "steps": 2, "cfg_scale": NaN}', {422}, "cfg_scale"),
    ("cfg-infinity", "txt2img", b'{"width": 64, "height": 64, "steps": 2, "cfg_scale": Infinity}', {422},
     "cfg_scale"),
    ("denoising-above-1", "txt2img", {**T2I, "denoising_strength": 2}, {422}, "denoising_strength"),
    ("seed-string", "txt2img", {**T2I, "seed": "random"}, {422}, "seed"),
    ("seed-below-minus-1", "txt2img", {**T2I, "seed": -2}, {422}, "seed"),
    ("seed-2**70", "txt2img", {**T2I, "seed": 2 ** 70}, {200, 422}, None),
    ("subseed-2**70", "txt2img", {**T2I, "subseed": 2 ** 70, "subseed_strength": 0.5}, {200, 422}, None),
    ("seed-resize-huge", "txt2img", {**T2I, "seed_resize_from_w": 10 ** 6, "seed_resize_from_h": 10 ** 6},
     {200, 422}, None),
    ("sampler-number", "txt2img", {**T2I, "sampler_name": 123}, {422}, "sampler_name"),
    ("sampler-path", "txt2img", {**T2I, "sampler_name": PATH_LIKE}, {422}, "sampler_name"),
    ("scheduler-unknown", "txt2img", {**T2I, "scheduler": "nope"}, {422}, "scheduler"),
    ("prompt-number", "txt2img", {**T2I, "prompt": 123}, {422}, "prompt"),
    ("prompt-list", "txt2img", {**T2I, "prompt": ["a", "b"]}, {422}, "prompt"),
    ("prompt-100k", "txt2img", {**T2I, "prompt": "a red cat, " * 10_000}, {422}, "prompt"),
    ("negative-prompt-100k", "txt2img", {**T2I, "negative_prompt": "blurry " * 15_000}, {422}, "negative_prompt"),
    ("styles-string", "txt2img", {**T2I, "styles": "nope"}, {422}, "styles"),
    ("styles-path", "txt2img", {**T2I, "styles": [PATH_LIKE]}, {422}, "styles"),
    ("override-not-dict", "txt2img", {**T2I, "override_settings": "x"}, {422}, "override_settings"),
    ("override-ckpt-path", "txt2img", {**T2I, "override_settings": {"sd_model_checkpoint": PATH_LIKE}}, {404, 422},
     "sd_model_checkpoint"),
    ("override-bad-value", "txt2img", {**T2I, "override_settings": {"CLIP_stop_at_last_layers": "x"}}, {422},
     "CLIP_stop_at_last_layers"),
    ("override-vae-path", "txt2img", {**T2I, "override_settings": {"sd_vae": PATH_LIKE}}, {404, 422}, "sd_vae"),
    ("refiner-path", "txt2img", {**T2I, "refiner_checkpoint": PATH_LIKE, "refiner_switch_at": 0.5},
     {404, 422}, "refiner_checkpoint"),
    ("hr-checkpoint-path", "txt2img", {**HR, "hr_checkpoint_name": PATH_LIKE},
     {404, 422}, "hr_checkpoint_name"),
    ("hr-huge-target", "txt2img", {**HR, "hr_resize_x": 16384, "hr_resize_y": 16384},
     {200, 422}, None),
    ("body-not-json", "txt2img", b"{{{ not json", {422}, None),
    ("body-list", "txt2img", [1, 2, 3], {422}, None),
    ("body-empty", "txt2img", b"", {422}, None),
    ("body-deeply-nested", "txt2img", b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {400, 413, 422},
     None),
    ("init-missing", "img2img", T2I, {422}, "init_images"),
    ("init-empty", "img2img", {**T2I, "init_images": []}, {422}, "init_images"),
    ("init-not-list", "img2img", {**T2I, "init_images": RGB}, {422}, "init_images"),
    ("init-number", "img2img", {**T2I, "init_images": [123]}, {422}, "init_images"),
    ("init-broken-base64", "img2img", {**T2I, "init_images": ["!!!not base64!!!"]}, {422}, "init_images"),
    ("init-not-an-image", "img2img", {**T2I, "init_images": [base64.b64encode(b"hello world").decode()]}, {422},
     "init_images"),
    ("init-empty-data-url", "img2img", {**T2I, "init_images": ["data:image/png;base64,"]}, {422}, "init_images"),
    ("init-data-url-garbage", "img2img", {**T2I, "init_images": ["data:image/png;base64,@@@@"]}, {422},
     "init_images"),
    ("init-second-broken", "img2img", {**T2I, "init_images": [RGB, "garbage"]}, {422}, "init_images.1"),
    ("init-decompression-bomb", "img2img", {**T2I, "init_images": [BOMB]}, {413, 422}, "init_images"),
    ("init-extreme-aspect-fill", "img2img", {**T2I, "init_images": [IMAGES["wide"]], "resize_mode": 2},
     {200, 422}, None),
    ("init-extreme-aspect-only-masked", "img2img", {**T2I, "init_images": [IMAGES["wide"]],
                                                    "mask": IMAGES["wide"]}, {200, 422}, None),
    ("mask-broken", "img2img", {**I2I, "mask": "garbage"}, {422}, "mask"),
    ("mask-not-an-image", "img2img", {**I2I, "mask": base64.b64encode(b"GIF89a....").decode()}, {422}, "mask"),
    ("resize-mode-unknown", "img2img", {**I2I, "resize_mode": 7}, {422}, "resize_mode"),
    ("mask-blur-negative", "img2img", {**I2I, "mask_blur": -1}, {422}, "mask_blur"),
    ("inpainting-fill-unknown", "img2img", {**I2I, "inpainting_fill": 9}, {422}, "inpainting_fill"),
    ("denoising-1.5", "img2img", {**I2I, "denoising_strength": 1.5}, {422}, "denoising_strength"),
    ("img2img-ckpt-path", "img2img", {**I2I, "override_settings": {"sd_model_checkpoint": PATH_LIKE}},
     {404, 422}, "sd_model_checkpoint"),
    ("pnginfo-missing", "png-info", {}, {422}, "image"),
    ("pnginfo-number", "png-info", {"image": 123}, {422}, "image"),
    ("pnginfo-garbage", "png-info", {"image": "garbage"}, {422}, "image"),
    ("pnginfo-decompression-bomb", "png-info", {"image": BOMB}, {413, 422}, "image"),
    ("options-not-json", "options", b"{{{ not json", {422}, "body"),
    ("options-list", "options", [1, 2], {422}, "body"),
    ("options-ckpt-path", "options", {"sd_model_checkpoint": PATH_LIKE}, {404, 422}, "sd_model_checkpoint"),
    ("options-vae-path", "options", {"sd_vae": PATH_LIKE}, {404, 422}, "sd_vae"),
    ("options-bad-type", "options", {"jpeg_quality": "high"}, {422}, "jpeg_quality"),
    ("options-out-of-range", "options", {"jpeg_quality": 1000}, {422}, "jpeg_quality"),
    ("options-bad-choice", "options", {"samples_format": "exe"}, {422}, "samples_format"),
    ("options-unknown-key", "options", {"no_such_option": 1}, {200, 422}, None),
    ("options-deeply-nested", "options", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {400, 413, 422},
     None),
    ("extras-broken-image", "extra-single-image", {"image": "garbage", "upscaler_1": "Lanczos"}, {422}, "image"),
    ("extras-upscaler-path", "extra-single-image", {"image": RGB, "upscaler_1": PATH_LIKE}, {404, 422},
     "upscaler_1"),
    ("extras-scale-huge", "extra-single-image", {"image": RGB, "upscaler_1": "Lanczos", "upscaling_resize": 1000},
     {422}, "upscaling_resize"),
    ("extras-size-huge", "extra-single-image", {"image": RGB, "upscaler_1": "Lanczos", "resize_mode": 1,
                                                "upscaling_resize_w": 16384, "upscaling_resize_h": 16384},
     {422}, "upscaling_resize"),
    ("extras-bomb", "extra-single-image", {"image": BOMB, "upscaler_1": "Lanczos"}, {413, 422}, "image"),
    ("extras-batch-broken", "extra-batch-images", {"imageList": [{"data": RGB, "name": "a"},
                                                                 {"data": "garbage", "name": "b"}]}, {422},
     "imageList.1"),
    ("extras-batch-not-list", "extra-batch-images", {"imageList": "x"}, {422}, "imageList"),
    ("interrogate-unknown-model", "interrogate", {"image": RGB, "model": PATH_LIKE}, {422}, "model"),
    ("interrogate-broken-image", "interrogate", {"image": "garbage", "model": "clip"}, {422}, "image"),
    # gigantic prompts: a limit of MAX_PROMPT_CHARS characters per prompt field
    ("prompt-1MB", "txt2img", {**T2I, "prompt": "a" * 2 ** 20}, {422}, "prompt"),
    ("prompt-over-limit", "txt2img", {**T2I, "prompt": "x" * (MAX_PROMPT_CHARS + 1)}, {422}, "prompt"),
    ("negative-prompt-1MB", "txt2img", {**T2I, "negative_prompt": "b " * 2 ** 19}, {422}, "negative_prompt"),
    ("hr-prompt-1MB", "txt2img", {**HR, "hr_prompt": "c" * 2 ** 20}, {422}, "hr_prompt"),
    ("hr-negative-prompt-1MB", "txt2img", {**HR, "hr_negative_prompt": "d" * 2 ** 20}, {422},
     "hr_negative_prompt"),
    ("img2img-prompt-1MB", "img2img", {**I2I, "prompt": "e" * 2 ** 20}, {422}, "prompt"),
    ("infotext-1MB", "txt2img", {**T2I, "infotext": "Steps: 2, " * 2 ** 17}, {422}, "infotext"),
    # step counts and more numbers
    ("hr-steps-huge", "txt2img", {**HR, "hr_second_pass_steps": 10 ** 9}, {422},
     "hr_second_pass_steps"),
    ("hr-steps-negative", "txt2img", {**HR, "hr_second_pass_steps": -1}, {422},
     "hr_second_pass_steps"),
    ("steps-1e400", "txt2img", b'{"width": 64, "height": 64, "steps": 1e400}', {422}, "steps"),
    ("steps-null-byte", "txt2img", {**T2I, "steps": "2\u0000"}, {422}, "steps"),
    ("n-iter-huge", "txt2img", {**T2I, "n_iter": 10 ** 6}, {422}, "n_iter"),
    ("hr-scale-negative", "txt2img", {**HR, "hr_scale": -2}, {422}, "hr_scale"),
    ("img2img-steps-zero", "img2img", {**I2I, "steps": 0}, {422}, "steps"),
    ("img2img-size-huge", "img2img", {**I2I, "width": 16384, "height": 16384}, {422}, "width"),
    # path-like and absolute names: never a file outside the model dirs
    ("override-ckpt-absolute", "txt2img", {**T2I, "override_settings": {"sd_model_checkpoint": "/etc/passwd"}},
     {404, 422}, "sd_model_checkpoint"),
    ("override-vae-absolute", "txt2img", {**T2I, "override_settings": {"sd_vae": "/etc/passwd"}}, {404, 422},
     "sd_vae"),
    ("refiner-absolute", "txt2img", {**T2I, "refiner_checkpoint": "/etc/passwd", "refiner_switch_at": 0.5},
     {404, 422}, "refiner_checkpoint"),
    ("hr-checkpoint-absolute", "txt2img", {**HR, "hr_checkpoint_name": "/etc/passwd"},
     {404, 422}, "hr_checkpoint_name"),
    ("hr-checkpoint-encoded", "txt2img", {**HR, "hr_checkpoint_name": "..%2f..%2fetc%2fpasswd"},
     {404, 422}, "hr_checkpoint_name"),
    ("hr-upscaler-path", "txt2img", {**HR, "hr_upscaler": PATH_LIKE}, {404, 422}, "hr_upscaler"),
    ("hr-sampler-path", "txt2img", {**HR, "hr_sampler_name": PATH_LIKE}, {422},
     "hr_sampler_name"),
    ("script-name-path", "txt2img", {**T2I, "script_name": PATH_LIKE}, {404, 422}, "script_name"),
    ("script-name-absolute", "img2img", {**I2I, "script_name": "/etc/passwd"}, {404, 422}, "script_name"),
    ("alwayson-script-path", "txt2img", {**T2I, "alwayson_scripts": {PATH_LIKE: {"args": []}}}, {404, 422},
     "alwayson_scripts"),
    ("lora-path-in-prompt", "txt2img", {**T2I, "prompt": f"cat <lora:{PATH_LIKE}:1>"}, {404, 422}, "prompt"),
    ("lora-absolute-in-prompt", "txt2img", {**T2I, "prompt": "cat <lora:/etc/passwd:1>"}, {404, 422}, "prompt"),
    ("lora-backslash-in-prompt", "txt2img", {**T2I, "prompt": "cat <lora:..\\..\\config:1>"}, {404, 422},
     "prompt"),
    ("options-ckpt-absolute", "options", {"sd_model_checkpoint": "/etc/passwd"}, {404, 422}, "sd_model_checkpoint"),
    ("options-vae-absolute", "options", {"sd_vae": "/etc/passwd"}, {404, 422}, "sd_vae"),
    ("extras-upscaler-absolute", "extra-single-image", {"image": RGB, "upscaler_1": "/etc/passwd"}, {404, 422},
     "upscaler_1"),
    ("extras-upscaler2-path", "extra-single-image", {"image": RGB, "upscaler_1": "Lanczos", "upscaler_2": PATH_LIKE,
                                                     "extras_upscaler_2_visibility": 0.5}, {404, 422}, "upscaler_2"),
]


def named_fields(detail) -> str:
    """The error detail as text, with each location also written dotted ("init_images.1")."""
    locs = [".".join(str(x) for x in d.get("loc", [])[1:]) for d in detail if isinstance(d, dict)] \
        if isinstance(detail, list) else []
    return json.dumps(detail) + " " + " ".join(locs)


def _post(server, path: str, body, timeout: float = 300) -> httpx.Response:
    url = server.base + "/sdapi/v1/" + path
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=timeout)
    return httpx.post(url, json=body, timeout=timeout)


@pytest.mark.parametrize("path,body,allowed,field", [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_bad_input_is_a_4xx_naming_the_field(server, path, body, allowed, field):
    if not served(server, "/sdapi/v1/" + path):
        pytest.skip(f"/sdapi/v1/{path} is not served")
    r = _post(server, path, body)
    assert r.status_code < 500, f"{r.status_code}: {r.text[:1000]}"
    assert r.status_code in allowed, f"{r.status_code}: {r.text[:1000]}"
    if r.status_code >= 400:
        err = r.json()
        assert err.get("detail"), err
        if field is not None:
            assert field in named_fields(err["detail"]), f"the error does not name {field!r}: {err}"
    assert server.alive(), server.log_tail()


def test_model_files_outside_the_model_dirs_are_never_loaded(server, tmp_path):
    """A real, loadable checkpoint (and VAE) by absolute path, outside every model dir: refused
    everywhere a model name is taken, and the loaded model does not change."""
    ckpt = next((server.data / "models" / "Stable-diffusion").glob("*.safetensors"))
    outside = tmp_path / "outside" / "outside.safetensors"
    outside.parent.mkdir()
    outside.write_bytes(ckpt.read_bytes())
    before = httpx.get(server.base + "/sdapi/v1/options").json()["sd_model_checkpoint"]
    names = [str(outside), str(outside.with_suffix("")),
             str(ckpt.parent) + "/" + os.path.relpath(outside, ckpt.parent),   # models/Stable-diffusion/../../..
             "../" * 10 + str(outside).lstrip("/")]
    cases = []
    for name in names:
        cases += [("options", {"sd_model_checkpoint": name}, "sd_model_checkpoint"),
                  ("options", {"sd_vae": name}, "sd_vae"),
                  ("txt2img", {**T2I, "override_settings": {"sd_model_checkpoint": name}}, "sd_model_checkpoint"),
                  ("txt2img", {**T2I, "override_settings": {"sd_vae": name}}, "sd_vae"),
                  ("txt2img", {**HR, "hr_checkpoint_name": name}, "hr_checkpoint_name"),
                  ("txt2img", {**T2I, "refiner_checkpoint": name, "refiner_switch_at": 0.5}, "refiner_checkpoint")]
    for path, body, field in cases:
        r = _post(server, path, body)
        assert 400 <= r.status_code < 500 and field in named_fields(r.json()["detail"]), (path, body, r.text[:300])
    assert httpx.get(server.base + "/sdapi/v1/options").json()["sd_model_checkpoint"] == before
    assert not any("outside" in m["filename"] for m in httpx.get(server.base + "/sdapi/v1/sd-models").json())
    assert server.alive()


ODD_IMAGES = {
    "grayscale-16bit": encode(Image.new("I;16", (64, 64), 30000)),
    "one-bit": encode(Image.new("1", (64, 64), 1)),
    "la": encode(Image.new("LA", (64, 64), (100, 50))),
    "cmyk-jpeg": encode(Image.new("CMYK", (64, 64), (0, 50, 100, 0)), "JPEG"),
    "gif": encode(Image.new("P", (64, 64), 1), "GIF", data_url=True),
    "webp": encode(Image.new("RGB", (64, 64), (5, 6, 7)), "WEBP", data_url=True),
    "bmp": encode(Image.new("RGB", (30, 70), (5, 6, 7)), "BMP"),
    "float-tiff": encode(Image.new("F", (64, 64), 0.5), "TIFF"),
    "tiny-1x1": encode(Image.new("RGB", (1, 1), (5, 6, 7))),
    "wide-1000x8": encode(Image.new("RGB", (1000, 8), (5, 6, 7))),
}


@pytest.mark.parametrize("name", list(ODD_IMAGES))
def test_odd_but_valid_images_never_5xx(server, name):
    image = ODD_IMAGES[name]
    for path, body in (("img2img", {**T2I, "init_images": [image], "mask": image}),
                       ("img2img", {**T2I, "init_images": [image]}),
                       ("png-info", {"image": image}),
                       ("extra-single-image", {"image": image, "upscaler_1": "Lanczos", "upscaling_resize": 2})):
        if not served(server, "/sdapi/v1/" + path):
            continue
        r = _post(server, path, body)
        assert r.status_code < 500, f"{path}: {r.status_code}: {r.text[:1000]}"
        if r.status_code >= 400:
            assert any(k in json.dumps(r.json()["detail"]) for k in ("init_images", "mask", "image")), r.text
    assert server.alive()


def test_progress_query_parameter_is_validated(server):
    r = httpx.get(server.base + "/sdapi/v1/progress", params={"skip_current_image": "maybe"})
    assert r.status_code == 422 and "skip_current_image" in r.text


def test_over_large_body_is_a_413(server):
    """256 MiB: above any sane request (a 4096x4096 PNG in base64 is at most ~70 MB), in a field the
    server ignores, so nothing but the size is wrong with it."""
    padding = "x" * (256 * 2 ** 20)
    body = json.dumps({**T2I, "padding": padding}).encode()
    del padding
    try:
        r = httpx.post(server.base + "/sdapi/v1/txt2img", content=body, headers={"content-type": "application/json"},
                       timeout=300)
    except httpx.HTTPError as e:  # a server may also close the connection early
        pytest.fail(f"no response: {e!r}")
    assert r.status_code == 413, f"{r.status_code}: {r.text[:300]}"
    assert server.alive()


def test_server_still_serving_and_generating(server):
    assert server.alive(), server.log_tail()
    r = httpx.post(server.base + "/sdapi/v1/txt2img", json={**T2I, "seed": 3}, timeout=300)
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["info"])["all_seeds"] == [3]
