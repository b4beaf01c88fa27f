"""script_callbacks and the script loader in-process: callbacks that change a generation really
change it, ordering rules from metadata.ini apply, reloading scripts fires script_unloaded."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from sdwebui.services.extensions import callbacks as script_callbacks, scripts
from tests.ext_helpers import ext_env, make_ext  # noqa: F401  (fixture)

SMALL = {"steps": 3, "width": 64, "height": 64, "seed": 11, "prompt": "a tree"}


def pixels(response) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))).convert("RGB"))


@pytest.fixture
def registered():
    """register(category, fn): a callback that is removed again after the test."""
    added = []

    def register(category, fn):
        getattr(script_callbacks, f"on_{category}")(fn)
        added.append(fn)

    yield register
    for fn in added:
        script_callbacks.remove_callbacks_for_function(fn)


def test_cfg_denoiser_can_change_the_conditioning(api, registered):
    plain = pixels(api.post("/sdapi/v1/txt2img", json=SMALL))
    seen = []

    def zero_text(params):
        seen.append((params.sampling_step, tuple(params.text_cond.shape)))
        params.text_cond = params.text_cond * 0

    registered("cfg_denoiser", zero_text)
    changed = pixels(api.post("/sdapi/v1/txt2img", json=SMALL))
    assert [s for s, _ in seen] == [0, 1, 2]
    assert not np.array_equal(plain, changed)


def test_cfg_after_cfg_and_denoised_can_replace_the_prediction(api, registered):
    plain = pixels(api.post("/sdapi/v1/txt2img", json=SMALL))
    registered("cfg_denoised", lambda params: setattr(params, "x", params.x))        # untouched: same image
    assert np.array_equal(plain, pixels(api.post("/sdapi/v1/txt2img", json=SMALL)))
    registered("cfg_after_cfg", lambda params: setattr(params, "x", params.x * 0.5))
    assert not np.array_equal(plain, pixels(api.post("/sdapi/v1/txt2img", json=SMALL)))


def test_before_image_saved_can_replace_the_image_and_text(api, registered, data_dir):
    saved = []

    def grey(params):
        params.image = Image.new("RGB", params.image.size, (128, 128, 128))
        params.pnginfo["parameters"] = "replaced by a callback"
        params.pnginfo["extra"] = "chunk"

    registered("before_image_saved", grey)
    registered("image_saved", lambda params: saved.append(params.filename))
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "save_images": True, "seed": 4242})
    assert r.status_code == 200
    on_disk = Image.open(saved[0])
    assert on_disk.info["parameters"] == "replaced by a callback" and on_disk.info["extra"] == "chunk"
    assert np.asarray(on_disk.convert("RGB")).max() == 128
    # the returned image is the generated one: the callback only changes what is written
    assert pixels(r).std() > 0


def test_a_generation_callback_that_raises_fails_that_job_only(api, registered):
    def boom(params):
        raise RuntimeError("callback exploded")

    registered("cfg_denoiser", boom)
    r = api.post("/sdapi/v1/txt2img", json=SMALL)
    assert r.status_code == 500 and "callback exploded" in r.text and "cfg_denoiser" in r.text
    script_callbacks.remove_callbacks_for_function(boom)
    assert api.post("/sdapi/v1/txt2img", json=SMALL).status_code == 200


def test_a_ui_callback_that_raises_is_reported_not_raised(registered):
    def bad():
        raise RuntimeError("no tab today")

    registered("ui_tabs", bad)
    registered("ui_tabs", lambda: [("blocks", "Good", "good")])
    assert script_callbacks.ui_tabs_callback() == [("blocks", "Good", "good")]


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="unknown callback category"):
        script_callbacks.add_callback("no_such_thing", lambda: None)


@pytest.fixture
def isolated_scripts():
    """Load scripts from a test data dir, then put the app's scripts and callbacks back."""
    saved_data = list(scripts.scripts_data)
    saved_postprocessing = list(scripts.postprocessing_scripts_data)   # the Extras tab's scripts
    saved_callbacks = {k: list(v) for k, v in script_callbacks.callback_map.items()}
    saved_runners = [dict(r.__dict__) for r in (scripts.scripts_txt2img, scripts.scripts_img2img)]
    yield
    scripts.scripts_data[:] = saved_data
    scripts.postprocessing_scripts_data[:] = saved_postprocessing
    for k, v in saved_callbacks.items():
        script_callbacks.callback_map[k][:] = v
    script_callbacks._ordered_cache.clear()
    for runner, state in zip((scripts.scripts_txt2img, scripts.scripts_img2img), saved_runners):
        runner.__dict__.clear()
        runner.__dict__.update(state)


ORDER_SCRIPT = """
from modules import script_callbacks
import builtins
builtins.ORDER_LOG = getattr(builtins, "ORDER_LOG", [])
script_callbacks.on_before_ui(lambda: builtins.ORDER_LOG.append("{name}"))
script_callbacks.on_script_unloaded(lambda: builtins.ORDER_LOG.append("unloaded {name}"))
"""


def test_metadata_callback_rules_order_callbacks_and_reload_unloads(ext_env, isolated_scripts):  # noqa: F811
    import builtins

    from sdwebui.services.extensions import discovery as extensions

    make_ext(ext_env.user, "aaa", {"scripts/first.py": ORDER_SCRIPT.format(name="aaa")})
    # "zzz" loads last alphabetically, but asks for its callback to run before aaa's
    make_ext(ext_env.user, "zzz", {"scripts/last.py": ORDER_SCRIPT.format(name="zzz"),
                                   "metadata.ini": "[callbacks/zzz/last.py/before_ui]\nBefore = aaa/first.py/before_ui\n"})
    extensions.list_extensions()
    builtins.ORDER_LOG = []
    scripts.load_scripts()
    names = [i.name for i in script_callbacks.callback_map["callbacks_before_ui"]]
    assert names == ["aaa/first.py/before_ui", "zzz/last.py/before_ui"]
    script_callbacks.before_ui_callback()
    assert builtins.ORDER_LOG == ["zzz", "aaa"]
    builtins.ORDER_LOG = []
    scripts.load_scripts()      # a reload tells the old scripts first
    assert builtins.ORDER_LOG[:2] == ["unloaded aaa", "unloaded zzz"]
    del builtins.ORDER_LOG


def test_broken_script_reported_on_its_extension(ext_env, isolated_scripts):  # noqa: F811
    from sdwebui.services.extensions import discovery as extensions

    make_ext(ext_env.user, "bad", {"scripts/bad.py": "raise SystemExit('nope')\n"})
    make_ext(ext_env.user, "good", {"scripts/good.py": (
        "from modules import scripts\n"
        "class Good(scripts.Script):\n"
        "    def title(self): return 'Good'\n"
        "    def show(self, is_img2img): return scripts.AlwaysVisible\n")})
    extensions.list_extensions()
    scripts.load_scripts()
    assert [d.script_class.__name__ for d in scripts.scripts_data] == ["Good"]
    bad = extensions.find("bad")
    assert bad.errors and "SystemExit" in bad.errors[0]
    runner = scripts.ScriptRunner("txt2img")
    runner.initialize_scripts()
    runner.ensure_ui()
    assert [s.title() for s in runner.alwayson_scripts] == ["Good"]
    assert runner.script_args_for(None, None, {"good": {"args": []}}) == [0]


def test_script_elem_ids_follow_a1111():
    class Both(scripts.Script):
        def title(self):
            return "My Script v2!"

    class OnlyImg(scripts.Script):
        def title(self):
            return "Img Only"

        def show(self, is_img2img):
            return is_img2img

    s = Both()
    s.is_img2img = True
    assert s.elem_id("x") == "script_img2img_my_script_v2_x"
    assert OnlyImg().elem_id("y") == "script_img_only_y"


def test_script_args_json_safe():
    import enum
    import math

    class Mode(enum.Enum):
        A = "a"

    class Unit:
        def __init__(self):
            self.enabled, self.weight = True, math.inf

    assert scripts.json_safe([Mode.A, Unit(), (1, 2), {"k": float("nan")}]) == [
        "a", {"enabled": True, "weight": None}, [1, 2], {"k": None}]
    assert json.dumps(scripts.json_safe(object())).startswith('"<object')


PACKAGED = {
    "mypkg/__init__.py": """
from modules import script_callbacks, scripts, shared

class Packaged(scripts.Script):
    instances = 0

    def __init__(self):
        Packaged.instances += 1
        if Packaged.instances == 1:     # as sd-dynamic-prompts: callbacks registered by the first instance
            script_callbacks.on_ui_settings(lambda: shared.opts.add_option(
                "packaged_flag", shared.OptionInfo(5, "Packaged flag", section=("packaged", "Packaged"))))

    def title(self):
        return "Packaged"

    def show(self, is_img2img):
        return scripts.AlwaysVisible
""",
    "scripts/entry.py": "from mypkg import Packaged\n\n__all__ = ['Packaged']\n",
}


def test_script_class_from_the_extensions_package_and_settings_registered_in_init(ext_env, isolated_scripts):  # noqa: F811
    """sd-dynamic-prompts' layout: scripts/ re-exports a Script from the extension's own package, and
    the Script's __init__ registers the on_ui_settings callback that adds its options."""
    from sdwebui.interfaces import startup
    from sdwebui.services import runtime as shared

    make_ext(ext_env.user, "packaged", PACKAGED)
    startup.load_extensions()
    assert "Packaged" in [s.title() for s in scripts.scripts_txt2img.alwayson_scripts]
    assert shared.opts.packaged_flag == 5


def test_img2img_extra_noise_and_its_callback(api, registered):
    """img2img_extra_noise adds the start noise once more (infotext "Extra noise"); on_extra_noise sees it
    with the image's latents and the noised start, and may replace it (A1111)."""
    from tests.test_img2img import b64, noise_image

    body = {**SMALL, "init_images": [b64(noise_image(64, 64, 5))], "denoising_strength": 0.6}
    plain = api.post("/sdapi/v1/img2img", json=body)
    extra = api.post("/sdapi/v1/img2img", json={**body, "override_settings": {"img2img_extra_noise": 0.5}})
    assert "Extra noise: 0.5" in json.loads(extra.json()["info"])["infotexts"][0]
    assert "Extra noise" not in json.loads(plain.json()["info"])["infotexts"][0]
    assert not np.array_equal(pixels(plain), pixels(extra))
    seen = []

    def quieter(params):
        seen.append((params.noise.shape, params.x.shape, params.xi.shape))
        params.noise = params.noise * 0

    registered("extra_noise", quieter)
    silenced = api.post("/sdapi/v1/img2img", json={**body, "override_settings": {"img2img_extra_noise": 0.5}})
    assert seen and seen[0] == ((1, 4, 8, 8),) * 3
    assert np.array_equal(pixels(silenced), pixels(plain))      # no extra noise left: the plain image
    txt = api.post("/sdapi/v1/txt2img", json={**SMALL, "override_settings": {"img2img_extra_noise": 0.5}})
    assert "Extra noise" not in json.loads(txt.json()["info"])["infotexts"][0]     # txt2img starts from noise
