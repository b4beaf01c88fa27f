"""The Generate buttons' inputs as extensions re-submit them (agent-scheduler's "Enqueue"): the click
found among gradio 3's `Blocks.dependencies` and `Blocks.fns`, the handler's parameter names read with
`inspect`, the values stored by name (JSON) and the rest (`*args`, pickled), then
`wrap_gradio_call(modules.txt2img.txt2img)(*values)` called from the extension's own thread while it
holds the queue lock. Also A1111's Override settings dropdown, which that path uses to pick a checkpoint."""
from __future__ import annotations

import base64
import inspect
import io
import json
import pickle
import threading

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from sdwebui.interfaces.ui import gradio_compat

SIZE = {"steps": 3, "width": 64, "height": 64, "seed": 23, "cfg_scale": 7}


@pytest.fixture(scope="module")
def demo(api, tmp_path_factory):
    from sdwebui.interfaces.ui.app import create_ui
    from sdwebui.services import runtime

    saved = runtime.cmd_opts.ui_config_file
    runtime.cmd_opts.ui_config_file = str(tmp_path_factory.mktemp("ui") / "ui-config.json")
    try:
        yield create_ui()
    finally:
        runtime.cmd_opts.ui_config_file = saved


def _generate_fn(demo, tab: str):
    """As agent-scheduler finds it: the click of `<tab>_generate` with four outputs, then the function
    whose inputs are that click's, by iterating `Blocks.fns` as gradio 3's list."""
    button = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == f"{tab}_generate")
    deps = [d for d in demo.dependencies if d["trigger"] == "click" and button._id in d["targets"]]
    dep = next(d for d in deps if len(d["outputs"]) == 4)
    with gradio_compat.gradio3_fns(demo):       # as during the extensions' on_app_started callbacks
        key = next(fn for fn in demo.fns if [c._id for c in fn.inputs] == dep["inputs"])
        return demo.fns[int(key)]


def _defaults(fn) -> list:
    """The inputs' values as the page sends them untouched (each component's default, preprocessed)."""
    def value(c):
        if isinstance(c, gr.State):
            return c.value() if callable(c.value) else c.value     # a session's state starts so
        return c.preprocess(c.value)
    return [value(c) for c in fn.inputs]


def _stored_and_loaded(handler, values: list, **named) -> list:
    """agent-scheduler's round trip: `request` inserted, values by parameter name through JSON, the
    rest (`*args`) through pickle, then the list again in the handler's parameter order."""
    names = inspect.getfullargspec(handler).args
    values = list(values)
    values.insert(names.index("request"), None)
    by_name = dict(zip(names, values[:len(names)]))
    by_name.update(named)
    rest = pickle.loads(pickle.dumps(values[len(names):]))
    by_name = json.loads(json.dumps(by_name))
    return [by_name.get(n) for n in names] + rest


def _call_holding_the_lock(handler, args: list) -> tuple:
    from modules.call_queue import queue_lock, wrap_gradio_call

    out = {}

    def run():
        with queue_lock:
            out["result"] = wrap_gradio_call(handler, add_stats=True)(*args)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(300)
    return out["result"]


def _image(item) -> np.ndarray:
    image = item[0] if isinstance(item, tuple) else item
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _api_image(api, route: str, **payload) -> np.ndarray:
    r = api.post(f"/sdapi/v1/{route}", json=payload)
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB"), dtype=np.int16)


def test_fns_iterate_as_gradio_3s_list_and_stay_gradio_6s_dict(demo):
    with gradio_compat.gradio3_fns(demo):
        keys = list(demo.fns)
        assert keys and all(isinstance(k, int) for k in keys)
        fn = demo.fns[int(keys[0])]                 # looked up by a plain id, as gradio does
        assert keys[0].inputs is fn.inputs and keys[0].fn is fn.fn
        assert [c._id for c in keys[0].outputs] == [c._id for c in fn.outputs]
        with demo:
            added = gr.Button().click(lambda: None)     # an event an extension adds meanwhile
    assert all(type(k) is int for k in demo.fns) and int(keys[0]) in demo.fns     # gradio's dict again
    assert added["id"] in demo.fns


def test_txt2img_handler_runs_the_inputs_an_extension_stored(demo, api):
    from modules import txt2img

    fn = _generate_fn(demo, "txt2img")
    names = inspect.getfullargspec(txt2img.txt2img_create_processing).args
    # A1111's names and order where A1111 has the parameter; this UI's sampler, steps and seed after them
    assert names[:5] == ["id_task", "request", "prompt", "negative_prompt", "prompt_styles"]
    assert names.index("override_settings_texts") < names.index("steps") < names.index("seed")
    assert inspect.getfullargspec(txt2img.txt2img).args == names
    checkpoints = api.get("/sdapi/v1/sd-models").json()
    other = next(m["title"] for m in checkpoints if "beta" in m["title"])
    args = _stored_and_loaded(txt2img.txt2img_create_processing, _defaults(fn), id_task="task(enqueued-1)",
                              prompt="a red cube", override_settings_texts=[f"Model hash: {other}"], **SIZE)
    images, info, info_html, log_html = _call_holding_the_lock(txt2img.txt2img, args)
    info = json.loads(info)
    assert info["seed"] == SIZE["seed"] and "Steps: 3" in info["infotexts"][0] and "a red cube" in info_html
    assert "Model: beta" in info["infotexts"][0]            # the checkpoint picked by the override text
    assert "Time taken" in log_html
    same = _api_image(api, "txt2img", prompt="a red cube", override_settings={"sd_model_checkpoint": other},
                      sampler_name=args[names.index("sampler_name")], **SIZE)
    assert np.array_equal(_image(images[0]), same)       # what the API makes of the same request
    p = txt2img.txt2img_create_processing(*args)          # the processing object, not run
    assert (p.prompt, p.steps, p.seed, p.width) == ("a red cube", 3, 23, 64)


def test_handler_errors_come_back_as_a1111s_error_output(demo):
    from modules import txt2img

    fn = _generate_fn(demo, "txt2img")
    args = _stored_and_loaded(txt2img.txt2img, _defaults(fn), id_task="task(enqueued-2)",
                              override_settings_texts=["Clip skip 2"], **SIZE)
    result = _call_holding_the_lock(txt2img.txt2img, args)
    assert result[0] is None and "Clip skip 2" in result[-1] and "error" in result[-1]
    with pytest.raises(TypeError, match="Generate button's inputs"):
        txt2img.txt2img("task(x)", None, *range(500))


def test_img2img_handler_takes_a1111s_mode_number_and_the_image_inputs(demo, api):
    from modules import img2img

    fn = _generate_fn(demo, "img2img")
    names = inspect.getfullargspec(img2img.img2img).args
    assert names[:4] == ["id_task", "request", "mode", "prompt"]
    source = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    values = _defaults(fn)
    image_at = next(i for i, c in enumerate(fn.inputs) if getattr(c, "elem_id", None) == "img2img_image")
    assert image_at >= len(names) - 1                     # images are in *args, not among the named values
    values[image_at] = source
    args = _stored_and_loaded(img2img.img2img, values, id_task="task(enqueued-3)", mode=0, prompt="a stone",
                              denoising_strength=0.5, **SIZE)
    images, info, _html, _log = _call_holding_the_lock(img2img.img2img, args)
    assert "Denoising strength: 0.5" in json.loads(info)["infotexts"][0]
    buf = io.BytesIO()
    source.save(buf, format="PNG")
    same = _api_image(api, "img2img", init_images=[base64.b64encode(buf.getvalue()).decode()], prompt="a stone",
                      denoising_strength=0.5, sampler_name=args[names.index("sampler_name")], **SIZE)
    assert np.array_equal(_image(images[0]), same)
    args[names.index("mode")] = 9
    assert "mode: 9 is not an img2img mode" in _call_holding_the_lock(img2img.img2img, args)[-1]


def test_paste_shows_the_settings_an_infotext_pins_in_override_settings(demo):
    from sdwebui.interfaces.ui.panel_paste import override_settings_update

    paste = next(fn for fn in demo.fns.values()
                 if any(getattr(c, "elem_id", None) == "txt2img_override_settings" for c in fn.outputs)
                 and getattr(fn.inputs[0], "elem_id", None) == "txt2img_prompt")
    at = [getattr(c, "elem_id", None) for c in paste.outputs].index("txt2img_override_settings")
    update = paste.fn("a hill\nSteps: 5, Seed: 1, Clip skip: 2, Size: 64x64")[at]
    assert update["value"] == ["Clip skip: 2"] and update["visible"] is True
    assert paste.fn("a hill\nSteps: 5, Seed: 1, Size: 64x64")[at]["visible"] is False   # cleared by the next
    assert override_settings_update({})["value"] == []
