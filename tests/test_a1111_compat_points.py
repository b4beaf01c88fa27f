"""The A1111 names real extensions (issue 18) lean on, exercised by small extensions written here:
a CFGDenoiser subclass installed the way sd-dynamic-thresholding does it, the paste-parameter
bindings agent-scheduler and images-browser use, CheckpointInfo.filename as a str (model-converter),
and A1111's own UI functions txt2img.txt2img / img2img.img2img that agent-scheduler drives."""
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
