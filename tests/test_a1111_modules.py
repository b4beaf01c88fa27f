"""Every A1111 1.10 module name imports, and the names extensions use from them behave: the call
queue's wrappers and lock, A1111's task bookkeeping, the job state's fields, upscaler classes an
extension subclasses, face restorers, model_hijack, the sd_models tables on a loaded tiny model,
the CFGDenoiser the cfg callbacks see, and the clear error of what only A1111's LDM backend has."""
from __future__ import annotations

import base64
import importlib
import io
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

# A1111 v1.10.1's modules/ tree, as data: every name an extension may import
A1111_MODULES = """
api.api api.models cache call_queue cmd_args codeformer_model config_states dat_model deepbooru deepbooru_model
devices errors esrgan_model extensions extra_networks extra_networks_hypernet extras face_restoration
face_restoration_utils fifo_lock generation_parameters_copypaste gfpgan_model gitpython_hack gradio_extensons
hashes hat_model hypernetworks.hypernetwork hypernetworks.ui images img2img import_hook infotext_utils
infotext_versions initialize initialize_util interrogate launch_utils localization logging_config lowvram
mac_specific masking memmon modelloader models.diffusion.ddpm_edit models.diffusion.uni_pc
models.diffusion.uni_pc.sampler models.diffusion.uni_pc.uni_pc models.sd3.mmdit models.sd3.other_impls
models.sd3.sd3_cond models.sd3.sd3_impls models.sd3.sd3_model ngrok npu_specific options patches paths
paths_internal postprocessing processing processing_scripts.comments processing_scripts.refiner
processing_scripts.sampler processing_scripts.seed profiling progress prompt_parser realesrgan_model restart rng
rng_philox safe script_callbacks script_loading scripts scripts_auto_postprocessing scripts_postprocessing
sd_disable_initialization sd_emphasis sd_hijack sd_hijack_checkpoint sd_hijack_clip sd_hijack_clip_old
sd_hijack_ip2p sd_hijack_open_clip sd_hijack_optimizations sd_hijack_unet sd_hijack_utils sd_hijack_xlmr sd_models
sd_models_config sd_models_types sd_models_xl sd_samplers sd_samplers_cfg_denoiser sd_samplers_common
sd_samplers_compvis sd_samplers_extra sd_samplers_kdiffusion sd_samplers_lcm sd_samplers_timesteps
sd_samplers_timesteps_impl sd_schedulers sd_unet sd_vae sd_vae_approx sd_vae_taesd shared shared_cmd_options
shared_gradio_themes shared_init shared_items shared_options shared_state shared_total_tqdm styles
sub_quadratic_attention sysinfo textual_inversion.autocrop textual_inversion.dataset
textual_inversion.image_embedding textual_inversion.learn_schedule textual_inversion.saving_settings
textual_inversion.textual_inversion textual_inversion.ui timer torch_utils txt2img ui ui_checkpoint_merger
ui_common ui_components ui_extensions ui_extra_networks ui_extra_networks_checkpoints
ui_extra_networks_checkpoints_user_metadata ui_extra_networks_hypernets ui_extra_networks_textual_inversion
ui_extra_networks_user_metadata ui_gradio_extensions ui_loadsave ui_postprocessing ui_prompt_styles ui_settings
ui_tempdir ui_toprow upscaler upscaler_utils util xlmr xlmr_m18 xpu_specific
""".split()

# names popular extensions import (surveyed: ADetailer, ControlNet, agent-scheduler, multidiffusion,
# regional prompter, tag autocomplete, images browser, dynamic thresholding, lora block weight)
USED_NAMES = {
    "call_queue": "queue_lock wrap_gradio_gpu_call wrap_queued_call wrap_gradio_call",
    "progress": "add_task_to_queue start_task finish_task current_task create_task_id",
    "errors": "report display display_once run record_exception get_exceptions",
    "shared": "sd_upscalers face_restorers opts state cmd_opts OptionInfo options_section total_tqdm mem_mon "
              "hypernetworks loaded_hypernetworks prompt_styles interrogator device weight_load_location "
              "xformers_available hf_endpoint list_checkpoint_tiles refresh_checkpoints demo gradio_theme "
              "settings_components tab_names natural_sort_key listfiles walk_files html_path html reload_gradio_theme "
              "batch_cond_uncond hide_dirs data_path models_path config_filename styles_filename",
    "shared_items": "sd_vae_items list_checkpoint_tiles refresh_checkpoints",
    "upscaler": "Upscaler UpscalerData UpscalerNone UpscalerLanczos UpscalerNearest",
    "face_restoration": "FaceRestoration restore_faces",
    "sd_models": "checkpoint_tiles CheckpointInfo checkpoints_list select_checkpoint reload_model_weights model_hash "
                 "get_closet_checkpoint_match list_models model_data model_path",
    "sd_vae": "vae_dict refresh_vae_list load_vae_dict",
    "sd_samplers": "all_samplers samplers samplers_for_img2img find_sampler_config create_sampler sample_to_image",
    "sd_samplers_common": "InterruptedException Sampler SamplerData setup_img2img_steps sample_to_image",
    "sd_samplers_kdiffusion": "CFGDenoiser CFGDenoiserKDiffusion KDiffusionSampler samplers_k_diffusion",
    "sd_samplers_timesteps": "CompVisSampler CFGDenoiserTimesteps CompVisTimestepsDenoiser",
    "sd_samplers_cfg_denoiser": "CFGDenoiser catenate_conds subscript_cond pad_cond",
    "sd_hijack": "model_hijack", "sd_unet": "SdUnetOption SdUnet list_unets get_unet_option apply_unet",
    "extra_networks": "ExtraNetwork ExtraNetworkParams parse_prompt parse_prompts register_extra_network",
    "processing": "create_binary_mask StableDiffusionProcessing StableDiffusionProcessingTxt2Img "
                  "StableDiffusionProcessingImg2Img Processed fix_seed get_fixed_seed create_random_tensors "
                  "apply_overlay opt_f process_images",
    "images": "read_info_from_image resize_image flatten get_next_sequence_number GridAnnotation "
              "draw_grid_annotations save_image image_grid",
    "devices": "NansException autocast cond_cast_unet fp8 get_device_for get_optimal_device test_for_nans torch_gc",
    "prompt_parser": "ScheduledPromptConditioning MulticondLearnedConditioning get_learned_conditioning",
    "masking": "get_crop_region expand_crop_region fill", "rng": "ImageRNG randn", "safe": "Extra unsafe_torch_load",
    "lowvram": "send_everything_to_cpu", "memmon": "MemUsageMonitor", "modelloader": "load_file_from_url",
    "extras": "run_pnginfo", "hashes": "sha256_from_cache sha256", "sd_vae_approx": "cheap_approximation",
    "textual_inversion.textual_inversion": "Embedding EmbeddingDatabase",
    "sd_hijack_optimizations": "get_available_vram sub_quad_attention", "img2img": "process_batch img2img",
    "txt2img": "txt2img txt2img_create_processing", "scripts": "list_scripts script_callbacks",
}


@pytest.mark.parametrize("name", A1111_MODULES)
def test_every_a1111_module_imports(name):
    module = importlib.import_module(f"modules.{name}")
    for attr in getattr(module, "__all__", []):
        getattr(module, attr)       # every name it declares resolves (a facade's owner may not lack it)


def test_the_names_extensions_import_exist():
    missing = [f"modules.{m}.{n}" for m, names in USED_NAMES.items() for n in names.split()
               if not hasattr(importlib.import_module(f"modules.{m}"), n)]
    assert missing == []


def test_ldm_only_names_raise_an_error_that_names_the_difference():
    from modules import sd_hijack_optimizations, sd_samplers_timesteps

    with pytest.raises(NotImplementedError, match="diffusers"):
        sd_hijack_optimizations.sub_quad_attention()
    with pytest.raises(NotImplementedError, match="own samplers"):
        sd_samplers_timesteps.CompVisTimestepsDenoiser(None)

    class Mine(sd_samplers_timesteps.CompVisTimestepsDenoiser):     # extensions subclass these at import
        pass
    with pytest.raises(NotImplementedError):
        Mine()


# --- call queue and progress ---------------------------------------------------------------------------

def test_fifo_lock_is_reentrant_and_serves_waiters_in_order():
    from modules.fifo_lock import FIFOLock

    lock, order = FIFOLock(), []
    with lock:
        with lock:      # the same thread again: no deadlock
            pass
        threads = [threading.Thread(target=lambda i=i: (lock.acquire(), order.append(i), lock.release()))
                   for i in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.05)    # each waits before the next asks
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3] and not lock.locked()
    assert lock.acquire(blocking=False) and (lock.release() is None)


@pytest.fixture
def running_queue(monkeypatch):
    from sdwebui.services import runtime
    from sdwebui.services.job_state import State
    from sdwebui.services.queue import GenerationQueue

    state = State()
    queue = GenerationQueue(state)
    monkeypatch.setattr(runtime, "queue", queue)
    monkeypatch.setattr(runtime, "state", state)
    queue.start()
    yield queue
    queue.stop()


def test_wrap_gradio_gpu_call_runs_on_the_queue_under_the_lock(running_queue):
    from modules import call_queue, shared

    seen = {}

    def work(id_task, x):
        seen.update(thread=threading.current_thread(), locked=call_queue.queue_lock.held_by_current_thread(),
                     job=shared.state.job, current=running_queue.current_task)
        return [x * 2, "<p>done</p>"]

    out = call_queue.wrap_gradio_gpu_call(work)("task(txt2img-TEST123)", 21)
    assert out[0] == 42 and out[1].startswith("<p>done</p><div class='performance'>")
    assert seen["thread"] is running_queue.worker_thread and seen["locked"]
    assert seen["job"] == "txt2img" and seen["current"] == "task(txt2img-TEST123)"
    assert running_queue.is_finished("task(txt2img-TEST123)")


def test_wrap_gradio_call_turns_an_error_into_a1111s_outputs(running_queue):
    from modules import call_queue

    def boom(*args):
        raise ValueError("no <good>")

    out = call_queue.wrap_gradio_gpu_call(boom, extra_outputs=[None, "x"])("task(img2img-A)")
    assert out[:2] == (None, "x") and out[2].startswith("<div class='error'>ValueError: no &lt;good&gt;</div>")
    assert call_queue.wrap_queued_call(lambda: 5)() == 5


def test_a_task_reported_by_an_extension_shows_in_the_queue(running_queue):
    from modules import progress

    progress.add_task_to_queue("task(ext-1)")
    assert running_queue.position("task(ext-1)") == 0
    progress.start_task("task(ext-1)")
    assert running_queue.current_task == "task(ext-1)" and running_queue.pending_ids() == []
    progress.finish_task("task(ext-1)")
    assert running_queue.current_task is None and running_queue.is_finished("task(ext-1)")


# --- state ------------------------------------------------------------------------------------------

def test_state_has_a1111s_fields_and_methods():
    from modules.shared_state import State

    state = State()
    for field in ("job", "job_no", "job_count", "processing_has_refined_job_count", "job_timestamp",
                  "sampling_step", "sampling_steps", "current_latent", "current_image",
                  "current_image_sampling_step", "id_live_preview", "textinfo", "time_start", "server_start",
                  "skipped", "interrupted", "stopping_generation"):
        assert hasattr(state, field), field
    state.begin("extension job")
    assert state.dict()["job"] == "extension job" and state.time_start is not None
    state.current_latent = torch.zeros(1, 4, 8, 8)
    state.set_current_image()           # no preview maker: nothing, no error
    state.latent_to_image = lambda latent: Image.new("RGB", (latent.shape[-1], latent.shape[-2]))
    state.sampling_step = 3
    state.set_current_image()
    assert state.current_image.size == (8, 8) and state.id_live_preview == 1 and state.current_image_sampling_step == 3
    state.assign_current_image(Image.new("RGB", (2, 2)))
    assert state.id_live_preview == 2
    state.nextjob()
    assert state.job_no == 1
    state.end()
    assert state.job == "" and state.job_count == 0
    state.need_restart = True
    assert state.need_restart and state.wait_for_server_command(0.1) == "restart"
    assert state.wait_for_server_command(0.01) is None


# --- upscalers, face restorers ------------------------------------------------------------------------

def test_an_extensions_upscaler_joins_sd_upscalers_and_the_registry(tmp_path, monkeypatch):
    from modules import modelloader, shared, upscaler
    from sdwebui.engine.upscalers import UpscalerRegistry
    from sdwebui.services import runtime

    registry = UpscalerRegistry(tmp_path, torch.device("cpu"), torch.float32)
    monkeypatch.setattr(runtime, "upscalers", registry)

    class UpscalerDouble(upscaler.Upscaler):
        name = "Double"

        def __init__(self, dirname=None):
            super().__init__()
            self.scalers = [upscaler.UpscalerData("Double x2", None, self, scale=2)]

        def do_upscale(self, img, selected_model=None):
            return img.resize((img.width * 2, img.height * 2), Image.Resampling.NEAREST)

    try:
        modelloader.load_upscalers()
        by_name = {u.name: u for u in shared.sd_upscalers}
        assert list(by_name)[:3] == ["None", "Lanczos", "Nearest"] and "Double x2" in by_name
        assert isinstance(by_name["Lanczos"].scaler, upscaler.UpscalerLanczos)
        image = Image.new("RGB", (16, 8), "red")
        assert by_name["Lanczos"].scaler.upscale(image, 2).size == (32, 16)
        assert by_name["Double x2"].scaler.upscale(image, 4).size == (64, 32)     # two passes
        # the app's own upscaling (Extras, hires fix) finds it by name
        assert registry.upscale(image, 2, "Double x2").size == (32, 16)
    finally:
        del UpscalerDouble
        import gc
        gc.collect()
        modelloader.load_upscalers()


def test_restore_faces_uses_the_restorer_the_settings_choose(monkeypatch, tmp_path):
    import json

    from modules import face_restoration, shared
    from sdwebui.services import runtime, shared_items
    from sdwebui.services.options import registry
    from sdwebui.services.options.store import OptionError, Options

    class Flip(face_restoration.FaceRestoration):
        def name(self):
            return "Flip"

        def restore(self, np_image):
            return np_image[::-1]

    # settings and restorers of this test's own: once the app has started (an earlier test module),
    # shared.face_restorers holds A1111's CodeFormer and GFPGAN and the settings choose CodeFormer
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"face_restoration_model": "Saved Earlier"}))
    opts = Options(registry.templates(face_restorer_choices=shared_items.face_restorer_names), config)
    opts.load()         # a saved extension's restorer is kept: extensions register theirs after the settings load
    assert opts.face_restoration_model == "Saved Earlier"
    monkeypatch.setattr(runtime, "opts", opts)
    monkeypatch.setattr(shared, "face_restorers", [])
    image = np.arange(6).reshape(3, 2)
    assert face_restoration.restore_faces(image) is image      # none registered: unchanged
    with pytest.raises(OptionError, match="'Flip' is not one of \\['CodeFormer', 'GFPGAN'\\]"):
        shared.opts.set("face_restoration_model", "Flip")
    monkeypatch.setattr(shared, "face_restorers", [Flip()])
    assert face_restoration.restore_faces(image) is image      # registered, but not the one chosen
    shared.opts.set("face_restoration_model", "Flip")          # a choice once registered, as A1111 lists them
    assert opts.data_labels["face_restoration_model"].get_choices() == ["CodeFormer", "GFPGAN", "Flip"]
    assert (face_restoration.restore_faces(image) == image[::-1]).all()


def test_interrogator_says_it_is_not_here():
    from modules import shared

    with pytest.raises(NotImplementedError, match="interrogator"):
        shared.interrogator.interrogate(None)


# --- hijack leftovers ----------------------------------------------------------------------------------

def test_model_hijack_carries_what_extensions_read():
    from modules import sd_hijack, sd_hijack_utils
    from sdwebui.services import runtime

    hijack = sd_hijack.model_hijack
    assert hijack.embedding_db is runtime.embeddings and hijack.optimization_method == "sdp"
    hijack.comments.append("x")
    hijack.clear_comments()
    assert hijack.comments == [] and hijack.extra_generation_params == {}
    assert hijack.get_prompt_lengths("a cat") == (2, 75)
    hijack.hijack(None), hijack.undo_hijack(None)     # nothing to patch, no error

    import json
    original = json.dumps
    sd_hijack_utils.CondFunc("json.dumps", lambda orig, obj, **kw: "patched" if obj == 1 else orig(obj, **kw))
    try:
        assert json.dumps(1) == "patched" and json.dumps(2) == "2"
    finally:
        json.dumps = original
    with pytest.raises(ImportError, match="LDM"):
        sd_hijack_utils.CondFunc("ldm.modules.attention.CrossAttention.forward", lambda orig: None)


def test_sd_unet_lists_extension_options_and_refuses_to_run_them():
    from modules import script_callbacks, sd_unet

    class Option(sd_unet.SdUnetOption):
        label, model_name = "TRT test", "nothing"

    def offer(options):
        options.append(Option())

    script_callbacks.on_list_unets(offer)
    try:
        assert [o.label for o in sd_unet.list_unets()] == ["TRT test"]
        assert sd_unet.get_unet_option("None") is None
        with pytest.raises(NotImplementedError, match="diffusers"):
            sd_unet.apply_unet("TRT test")
    finally:
        script_callbacks.remove_callbacks_for_function(offer)
        sd_unet.list_unets()


def test_extra_networks_parse_and_activate_a_registered_handler():
    from modules import extra_networks

    text, data = extra_networks.parse_prompt("a cat <mine:x:0.5:k=v> <lora:y>")
    assert text == "a cat  " and data["mine"][0].positional == ["x", "0.5"] and data["mine"][0].named == {"k": "v"}

    calls = []

    class Mine(extra_networks.ExtraNetwork):
        def activate(self, p, params_list):
            calls.append(("on", [p.items for p in params_list]))

        def deactivate(self, p):
            calls.append(("off",))

    handler = Mine("mine")
    extra_networks.register_extra_network(handler)
    try:
        extra_networks.activate(None, data)
        extra_networks.deactivate(None, data)
        assert calls == [("on", [["x", "0.5", "k=v"]]), ("off",)]
    finally:
        extra_networks.extra_network_registry.pop("mine")


def test_small_helpers():
    from modules import images, masking, processing, sd_samplers_common

    mask = Image.new("L", (64, 32))
    mask.paste(255, (10, 4, 20, 8))
    assert masking.get_crop_region(mask, 2) == (8, 2, 22, 10)
    assert masking.get_crop_region_v2(Image.new("L", (8, 8))) is None
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    rgba.putpixel((1, 1), (0, 0, 0, 255))
    assert processing.create_binary_mask(rgba).getbbox() == (1, 1, 2, 2)
    assert images.flatten(rgba, "#ffffff").getpixel((0, 0)) == (255, 255, 255)

    class P:
        steps, denoising_strength = 20, 0.5
    assert sd_samplers_common.setup_img2img_steps(P()) == (20, 10)
    assert sd_samplers_common.setup_img2img_steps(P(), 10) == (20, 9)
    noise = processing.create_random_tensors((4, 8, 8), [1, 2])
    assert noise.shape == (2, 4, 8, 8) and torch.equal(noise, processing.create_random_tensors((4, 8, 8), [1, 2]))


# --- on the running app with a tiny model ------------------------------------------------------------

SMALL = {"steps": 3, "width": 64, "height": 64, "seed": 5, "prompt": "a tree"}


def test_sd_model_and_the_model_tables_on_a_loaded_tiny_model(api):
    from modules import sd_models, sd_samplers_common, sd_vae, shared

    assert api.post("/sdapi/v1/txt2img", json=SMALL).status_code == 200
    model = shared.sd_model
    info = model.sd_checkpoint_info
    assert model.sd_model_hash == info.shorthash and model.sd_model_checkpoint == str(info.filename)
    assert (model.is_sd1, model.is_sd2, model.is_sdxl, model.is_sd3) == (True, False, False, False)
    assert model.cond_stage_key == "txt" and model.latent_channels == 4 and model.parameterization == "eps"
    assert info.title in sd_models.checkpoints_list and info.title in sd_models.checkpoint_tiles()
    assert sd_models.get_closet_checkpoint_match(info.name_for_extra) == info
    assert sd_models.model_data.get_sd_model() is model and isinstance(sd_vae.vae_dict, dict)
    assert shared.list_checkpoint_tiles() == sd_models.checkpoint_tiles()
    state = shared.state            # A1111's set_current_image(): a preview from current_latent
    before = state.id_live_preview
    state.current_latent = torch.zeros(1, 4, 8, 8)
    state.set_current_image()           # not due: fewer than show_progress_every_n_steps steps since the last
    assert state.id_live_preview == before
    state.sampling_step = state.current_image_sampling_step + shared.opts.show_progress_every_n_steps
    state.set_current_image()
    assert state.current_image.size == (64, 64) and state.id_live_preview == before + 1
    state.sampling_step = state.current_image_sampling_step = 0
    image = sd_samplers_common.sample_to_image(torch.zeros(1, 4, 8, 8), approximation=0)
    assert image.size == (64, 64)
    # no approximation given: show_progress_type's (Approx NN; without its weights file, Approx cheap)
    assert sd_samplers_common.sample_to_image(torch.zeros(1, 4, 8, 8)).size == (8, 8)
    assert sd_samplers_common.sample_to_image(torch.zeros(1, 4, 8, 8), approximation=2).size == (8, 8)


def test_cfg_callbacks_get_a1111s_parameter_objects_and_change_the_image(api):
    from modules import script_callbacks, sd_samplers_cfg_denoiser

    def pixels(response):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0]))))

    plain = pixels(api.post("/sdapi/v1/txt2img", json=SMALL))
    seen = []

    def on_denoiser(params):
        d = params.denoiser
        seen.append((isinstance(d, sd_samplers_cfg_denoiser.CFGDenoiser), d.step, d.total_steps,
                     d.inner_model is not None, params.sampling_step, float(params.sigma) > 0,
                     tuple(params.x.shape)))
        params.x = params.x * 1.5

    script_callbacks.on_cfg_denoiser(on_denoiser)
    try:
        changed = pixels(api.post("/sdapi/v1/txt2img", json=SMALL))
    finally:
        script_callbacks.remove_callbacks_for_function(on_denoiser)
    assert seen == [(True, i, 3, True, i, True, (2, 4, 8, 8)) for i in range(3)]
    assert not np.array_equal(plain, changed)
