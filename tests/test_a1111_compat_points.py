"""The A1111 names real extensions (issue 18) lean on, exercised by small extensions written here:
a CFGDenoiser subclass installed the way sd-dynamic-thresholding does it, the paste-parameter
bindings agent-scheduler and images-browser use, CheckpointInfo.filename as a str (model-converter),
and A1111's API object that agent-scheduler drives (its UI handlers: test_generate_inputs.py)."""
from __future__ import annotations

import base64
import io
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sdwebui.services.extensions import scripts as scripts_impl

SMALL = {"steps": 3, "width": 64, "height": 64, "seed": 11, "prompt": "a tree", "cfg_scale": 7}


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))), dtype=np.int16)


@contextmanager
def loaded_script(cls):
    """`cls` loaded as an always-on script of an extension; the app's scripts are put back after."""
    runners = (scripts_impl.scripts_txt2img, scripts_impl.scripts_img2img)
    saved_data = list(scripts_impl.scripts_data)
    saved_runners = [dict(r.__dict__) for r in runners]
    scripts_impl.scripts_data.append(scripts_impl.ScriptClassData(cls, __file__, str(Path(__file__).parent), None))
    scripts_impl.initialize_runners()
    try:
        yield
    finally:
        scripts_impl.scripts_data[:] = saved_data
        for runner, state in zip(runners, saved_runners):
            runner.__dict__.clear()
            runner.__dict__.update(state)


# --- a CFGDenoiser subclass, installed as sd-dynamic-thresholding installs its own -------------------

def _thresholding_script(limit: float | None, calls: list):
    """An always-on script that, like sd-dynamic-thresholding's process_batch, registers a sampler
    entry whose constructor wraps the original one and swaps in its own CFGDenoiser subclass, points
    p.sampler_name at it and re-creates p.sampler; postprocess_batch undoes it."""
    from modules import scripts, sd_samplers, sd_samplers_common, sd_samplers_compvis, sd_samplers_kdiffusion

    assert sd_samplers_compvis.VanillaStableDiffusionSampler is sd_samplers_compvis.CompVisSampler

    class Clamped(sd_samplers_kdiffusion.CFGDenoiserKDiffusion):
        def __init__(self, sampler):
            super().__init__(sampler)

        def combine_denoised(self, x_out, conds_list, uncond, cond_scale):
            calls.append((tuple(x_out.shape), conds_list, uncond.shape[0], cond_scale, self.step, self.total_steps))
            denoised = super().combine_denoised(x_out, conds_list, uncond, cond_scale)
            return denoised if limit is None else denoised.clamp(-limit, limit)

    class Thresholding(scripts.Script):
        def title(self):
            return "Clamp test"

        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def process_batch(self, p, *args, **kwargs):
            original = sd_samplers.all_samplers_map[p.sampler_name]

            def constructor(model):
                sampler = original.constructor(model)
                sampler.model_wrap_cfg = Clamped(sampler)
                return sampler
            p.orig_sampler_name, p.sampler_name = p.sampler_name, f"{p.sampler_name}_clamp"
            sd_samplers.all_samplers_map[p.sampler_name] = sd_samplers_common.SamplerData(
                p.sampler_name, constructor, original.aliases, original.options)
            if p.sampler is not None:
                p.sampler = sd_samplers.create_sampler(p.sampler_name, p.sd_model)

        def postprocess_batch(self, p, *args, **kwargs):
            del sd_samplers.all_samplers_map[p.sampler_name]
            p.sampler_name = p.orig_sampler_name
    return Thresholding


def test_an_extension_denoiser_computes_the_guidance_with_a1111s_arguments(api):
    plain = pixels(api.post("/sdapi/v1/txt2img", json={**SMALL, "batch_size": 2}))
    calls: list = []
    with loaded_script(_thresholding_script(None, calls)):
        same = api.post("/sdapi/v1/txt2img", json={**SMALL, "batch_size": 2})
    # A1111's layout: the cond rows, then one uncond row per image; one (row, weight) per image
    assert calls == [((4, 4, 8, 8), [[(0, 1.0)], [(1, 1.0)]], 2, 7.0, i, 3) for i in range(3)]
    # the unchanged guidance, computed on x0 and converted back, makes the same picture
    assert np.abs(pixels(same) - plain).max() <= 2
    info = json.loads(same.json()["info"])
    assert info["sampler_name"] == "Euler" and "Sampler: Euler," in info["infotexts"][0]
    from modules import sd_samplers
    assert not [name for name in sd_samplers.all_samplers_map if name.endswith("_clamp")]


def test_an_extension_denoiser_that_changes_the_guidance_changes_the_image(api):
    plain = pixels(api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "a tree AND a cat :0.5"}))
    calls: list = []
    with loaded_script(_thresholding_script(0.05, calls)):
        clamped = pixels(api.post("/sdapi/v1/txt2img", json={**SMALL, "prompt": "a tree AND a cat :0.5"}))
    assert calls[0][1] == [[(0, 1.0), (1, 0.5)]]          # AND: the image's two sub-prompts and weights
    assert np.abs(clamped - plain).mean() > 5


def test_an_extension_denoiser_guides_the_hires_pass_too(api):
    """As A1111's hires pass makes its sampler with create_sampler from the job's sampler name, an
    extension that points that name at its own entry (sd-dynamic-thresholding) guides the second pass."""
    body = {**SMALL, "enable_hr": True, "hr_scale": 2, "hr_second_pass_steps": 2, "denoising_strength": 0.6,
            "hr_upscaler": "Latent"}
    plain = pixels(api.post("/sdapi/v1/txt2img", json=body))
    calls: list = []
    with loaded_script(_thresholding_script(0.05, calls)):
        clamped = pixels(api.post("/sdapi/v1/txt2img", json=body))
    shapes = [c[0] for c in calls]
    # the first pass at 8x8 latents, then the hires pass at 16x16
    assert shapes.count((2, 4, 8, 8)) == 3 and shapes.count((2, 4, 16, 16)) >= 1
    assert clamped.shape == plain.shape == (128, 128, 3) and np.abs(clamped - plain).mean() > 5


def test_an_extension_denoiser_on_a_v_prediction_model_keeps_the_picture(api):
    body = {**SMALL, "override_settings": {"sd_model_checkpoint": "tiny-sd2v.safetensors"}}
    plain = pixels(api.post("/sdapi/v1/txt2img", json=body))
    calls: list = []
    with loaded_script(_thresholding_script(None, calls)):
        same = pixels(api.post("/sdapi/v1/txt2img", json=body))
    assert len(calls) == 3 and np.abs(same - plain).max() <= 2


def test_create_sampler_gives_a1111s_sampler_object():
    from modules import sd_samplers, sd_samplers_kdiffusion, sd_samplers_timesteps

    sampler = sd_samplers.create_sampler("k_dpmpp_2m", None)
    assert isinstance(sampler, sd_samplers_kdiffusion.KDiffusionSampler)
    assert sampler.config is sd_samplers.all_samplers_map["DPM++ 2M"] and sampler.name == "DPM++ 2M"
    assert isinstance(sampler.model_wrap_cfg, sd_samplers_kdiffusion.CFGDenoiserKDiffusion)
    assert isinstance(sd_samplers.create_sampler("DDIM", None), sd_samplers_timesteps.CompVisSampler)
    with pytest.raises(ValueError, match="bad sampler name: 'nope'; valid: .*Euler a"):
        sd_samplers.create_sampler("nope", None)
    x_out = torch.tensor([[3.0], [1.0]])             # a cond row, then the uncond row
    assert sampler.model_wrap_cfg.combine_denoised(x_out, [[(0, 1.0)]], torch.zeros(1, 2), 2.0).item() == 5.0


# --- CheckpointInfo -------------------------------------------------------------------------------

def test_checkpoint_info_filename_is_a_str_as_in_a1111(api):
    from modules import sd_models

    info = next(iter(sd_models.checkpoints_list.values()))
    assert isinstance(info.filename, str) and Path(info.filename).is_absolute()
    assert info.filename.endswith(".safetensors") and info.is_safetensors
    assert info.path == Path(info.filename) and sd_models.get_closet_checkpoint_match(info.filename) is info


def test_a_default_model_file_without_its_metadata_loads_with_the_default_architecture(tmp_path):
    """model-converter writes the default model's weights without the metadata declaring its size."""
    from safetensors.torch import load_file, save_file

    from sdwebui.engine.models.tiny import DEFAULT_MODEL_FILE
    from sdwebui.services.models.checkpoints import default_architecture_of

    stripped = tmp_path / "converted.safetensors"
    save_file({k: v.half() if v.is_floating_point() else v for k, v in load_file(DEFAULT_MODEL_FILE).items()},
              stripped)
    found = default_architecture_of(stripped)
    assert found["family"] == "sd1" and "unet" in json.dumps(found["configs"])
    assert default_architecture_of(DEFAULT_MODEL_FILE) == {}          # it has its metadata
    other = tmp_path / "other.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3)}, other)
    assert default_architecture_of(other) == {}


# --- paste bindings (agent-scheduler, images-browser) -----------------------------------------------

def _click_fns(blocks, button):
    return [fn for fn in blocks.fns.values() if (button._id, "click") in fn.targets]


def test_param_bindings_paste_an_infotext_into_a_tab_as_a1111_does(api):
    import gradio as gr

    from modules import generation_parameters_copypaste as copypaste, infotext_utils
    from sdwebui.interfaces.ui import paste_bindings

    assert copypaste is infotext_utils
    saved = list(copypaste.registered_param_bindings), dict(copypaste.paste_fields)
    copypaste.registered_param_bindings.clear()     # a UI built by an earlier test left its own
    try:
        with gr.Blocks() as blocks:
            prompt, steps, cfg = gr.Textbox(), gr.Number(value=20, precision=0), gr.Slider(value=7.0)
            source, button = gr.Textbox(), gr.Button()
            buttons = copypaste.create_buttons(["mytab"])
            paste_bindings.add_paste_fields("mytab", None, [(prompt, "Prompt"), (steps, "Steps"),
                                                            (cfg, lambda d: float(d["CFG scale"]) * 2)])
            copypaste.register_paste_params_button(copypaste.ParamBinding(button, "mytab",
                                                                          source_text_component=source))
            copypaste.bind_buttons(buttons, None, source)
            copypaste.register_paste_params_button(copypaste.ParamBinding(gr.Button(), "nowhere"))
            copypaste.connect_paste_params_buttons()
        assert buttons["mytab"].elem_id == "mytab_tab" and len(copypaste.registered_param_bindings) == 3
        (paste,) = _click_fns(blocks, button)
        assert [c._id for c in paste.inputs] == [source._id]
        updates = paste.fn("a castle\nNegative prompt: fog\nSteps: 17, Sampler: Euler a, CFG scale: 4.5, Seed: 7")
        assert [u["value"] for u in updates] == ["a castle", 17.0, 9.0]
        assert len(_click_fns(blocks, buttons["mytab"])) == 1
    finally:
        copypaste.registered_param_bindings[:] = saved[0]
        copypaste.paste_fields.clear()
        copypaste.paste_fields.update(saved[1])


def test_param_binding_to_txt2img_uses_the_tabs_own_paste_and_brings_the_tab_forward(api):
    import gradio as gr

    from modules import infotext_utils
    from sdwebui.interfaces.ui import paste_bindings
    from sdwebui.interfaces.ui.generation import Panel

    saved = list(infotext_utils.registered_param_bindings), dict(infotext_utils.paste_fields)
    try:
        with gr.Blocks() as blocks:
            with gr.Tabs() as tabs:
                with gr.Tab("txt2img", id="txt2img"):
                    panel = Panel("txt2img", {"prompt": gr.Textbox(), "steps": gr.Number(), "width": gr.Number(),
                                              "sampler_name": gr.Textbox()})
            source, image, button = gr.Textbox(), gr.Image(type="pil"), gr.Button()
            paste_bindings.register_tab("txt2img", panel, None, lambda: [gr.Tabs(selected="txt2img")], [tabs])
            infotext_utils.register_paste_params_button(infotext_utils.ParamBinding(
                button, "txt2img", source_text_component=source, source_image_component=image))
            infotext_utils.connect_paste_params_buttons()
        fills, switch = _click_fns(blocks, button)            # no image target on txt2img: no image event
        updates = fills.fn("a castle\nSteps: 17, Sampler: k_euler_a, Size: 96x80")
        # the panel's fields, then the txt2img scripts' infotext_fields (as the tab's own paste button)
        assert [u.get("value") for u in updates[:4]] == ["a castle", 17, 96, "Euler a"]
        assert len(updates) == len(fills.outputs) >= 4
        assert [c._id for c in switch.outputs] == [tabs._id] and switch.fn().selected == "txt2img"
    finally:
        infotext_utils.registered_param_bindings[:] = saved[0]
        infotext_utils.paste_fields.clear()
        infotext_utils.paste_fields.update(saved[1])


def test_create_override_settings_dict_maps_infotext_names_to_settings(api):
    from modules.generation_parameters_copypaste import create_override_settings_dict

    assert create_override_settings_dict(["Clip skip: 2", "ENSD: 31337", "Unknown: 1"]) == {
        "CLIP_stop_at_last_layers": 2, "eta_noise_seed_delta": 31337}
    with pytest.raises(ValueError, match="'Clip skip 2' is not 'Name: value'"):
        create_override_settings_dict(["Clip skip 2"])


# --- A1111's UI handlers and API objects (agent-scheduler) -----------------------------------------

def test_api_object_as_extensions_make_it_generates_synchronously(api):
    from fastapi import FastAPI

    from modules.api.api import Api
    from modules.api.models import StableDiffusionTxt2ImgProcessingAPI
    from modules.call_queue import queue_lock

    result = Api(FastAPI(), queue_lock).text2imgapi(StableDiffusionTxt2ImgProcessingAPI(**SMALL))
    assert len(result.images) == 1 and json.loads(result.info)["seed"] == SMALL["seed"]


def test_pydantic_1_names_for_the_extensions_models(api, tmp_path, monkeypatch):
    """agent-scheduler's models: a Config subclassing the API model's `__config__`, and Optional fields
    without a default, which pydantic 1 made optional (only for models defined in an extension)."""
    import dataclasses
    import importlib.util

    from sdwebui.services import runtime

    monkeypatch.setattr(runtime, "paths", dataclasses.replace(runtime.paths, extensions=tmp_path / "extensions"))
    folder = runtime.paths.extensions / "pydantic-probe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe_models.py").write_text(
        "from typing import Optional\n"
        "from pydantic import BaseModel, Field\n"
        "from modules.api.models import StableDiffusionTxt2ImgProcessingAPI as Txt2Img\n"
        "class Args(Txt2Img):\n"
        "    checkpoint: Optional[str] = Field(title='Checkpoint')\n"
        "    class Config(Txt2Img.__config__):\n"
        "        pass\n"
        "class Task(BaseModel):\n"
        "    id: str = Field(title='Id')\n"
        "    name: Optional[str] = Field(title='Name')\n")
    spec = importlib.util.spec_from_file_location("probe_models", folder / "probe_models.py")
    module = importlib.util.module_from_spec(spec)
    import sys
    sys.modules["probe_models"] = module
    try:
        spec.loader.exec_module(module)
        assert module.Args(prompt="x", unknown=1).checkpoint is None      # extra ignored, as the parent's config
        assert module.Task(id="a").name is None
        with pytest.raises(Exception, match="id"):
            module.Task()
    finally:
        sys.modules.pop("probe_models", None)
    from pydantic import BaseModel, Field

    class Ours(BaseModel):        # not an extension's: pydantic 2's rule stays
        name: str | None = Field(title="Name")
    with pytest.raises(Exception, match="name"):
        Ours()


def test_a_scripts_infotext_field_function_may_return_its_own_update():
    """sd-dynamic-thresholding's infotext_fields return gr.Dropdown.update(value=...): the paste keeps
    that update (wrapping it again put the dict in the dropdown, and Generate then failed)."""
    import gradio as gr

    from sdwebui.interfaces.ui.generation import _script_value

    update = _script_value(gr.Dropdown(choices=["Constant", "Linear Up"]),
                           lambda d: gr.update(value=d.get("Mimic mode", "Constant")), {"Mimic mode": "Linear Up"})
    assert update == {"__type__": "update", "value": "Linear Up"}


def test_the_batch_sampler_is_made_through_sd_samplers_create_sampler(api, monkeypatch):
    """As A1111's processing, each job makes its sampler object with sd_samplers.create_sampler, looked
    up at call time: an extension's wrapper sees it and may install its own denoiser."""
    from modules import sd_samplers, sd_samplers_kdiffusion

    made, original = [], sd_samplers.create_sampler

    class Halved(sd_samplers_kdiffusion.CFGDenoiserKDiffusion):
        def combine_denoised(self, x_out, conds_list, uncond, cond_scale):
            return super().combine_denoised(x_out, conds_list, uncond, cond_scale) * 0.5

    def wrapper(name, model):
        sampler = original(name, model)
        made.append((name, type(sampler).__name__))
        sampler.model_wrap_cfg = Halved(sampler)
        return sampler

    plain = pixels(api.post("/sdapi/v1/txt2img", json={**SMALL, "sampler_name": "DPM++ 2M"}))
    monkeypatch.setattr(sd_samplers, "create_sampler", wrapper)
    halved = pixels(api.post("/sdapi/v1/txt2img", json={**SMALL, "sampler_name": "DPM++ 2M"}))
    assert made == [("DPM++ 2M", "KDiffusionSampler")] and np.abs(halved - plain).mean() > 5


def test_shared_sd_model_waits_for_the_start_up_load_and_never_deadlocks_the_queue(api, monkeypatch):
    """A1111's shared.sd_model loads the model at first use; here the start-up load is queued while the
    UI is built, so an extension's ui() reading shared.sd_model.is_sdxl then waits for it instead of
    getting None. Code on the queue itself never waits for a load queued behind it."""
    import threading

    from modules import shared as a1111_shared
    from sdwebui.services import runtime

    manager, queue = runtime.model_manager, runtime.queue
    info = queue.run(runtime.ensure_model_loaded).sd_checkpoint_info
    queue.run(manager.unload)                           # as at start: nothing loaded yet
    gate = threading.Event()
    on_queue = queue.submit(lambda: (gate.wait(60), a1111_shared.sd_model)[1], name="before-the-load")
    load = queue.submit(lambda: manager.load(info), name="load-checkpoint")
    monkeypatch.setattr(runtime, "startup_load", (queue, load.future))
    seen: dict = {}
    reader = threading.Thread(target=lambda: seen.update(model=a1111_shared.sd_model))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive(), "shared.sd_model answered before the start-up load ran"
    gate.set()
    assert on_queue.future.result(timeout=60) is None  # ran before the load, on the queue: no deadlock
    reader.join(60)
    assert seen["model"] is manager.sd_model and seen["model"].sd_checkpoint_info is info
    assert a1111_shared.sd_model is manager.sd_model    # the load is done: no more waiting
