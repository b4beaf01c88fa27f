"""Stand-ins for names of A1111 modules that belong wholly to its LDM backend, training, or its
optional model families (SD3, TAESD, GFPGAN, CodeFormer, DeepBooru, Alt-Diffusion, ngrok).
Importing them works; using them raises NotImplementedError naming the difference."""
from __future__ import annotations

from typing import Any

from sdwebui.services.legacy import unsupported, unsupported_class

_TRAIN = "training is not part of this backend"
_SAMPLE = "sampling runs on diffusers schedulers; choose them by name (p.sampler_name)"
_FACES = "no face restoration models ship with this backend; an extension may add one to shared.face_restorers"
_NO_SD3 = "SD3 checkpoints are not supported by this backend"

add = unsupported("sd_hijack_checkpoint.add", _TRAIN)
remove = unsupported("sd_hijack_checkpoint.remove", _TRAIN)
should_hijack_ip2p = unsupported("sd_hijack_ip2p.should_hijack_ip2p", "instruct-pix2pix checkpoints are not supported")
ddim = unsupported("sd_samplers_timesteps_impl.ddim", _SAMPLE)
plms = unsupported("sd_samplers_timesteps_impl.plms", _SAMPLE)
unipc = unsupported("sd_samplers_timesteps_impl.unipc", _SAMPLE)
restart_sampler = unsupported("sd_samplers_extra.restart_sampler", _SAMPLE)
ExtraNetworkHypernet = unsupported_class("extra_networks_hypernet.ExtraNetworkHypernet",
                                         "hypernetworks are not applied; use a LoRA instead")
# face restoration and captioning models
setup_model = unsupported("setup_model", _FACES)
DeepDanbooru = unsupported_class("deepbooru.DeepDanbooru", "no DeepBooru model here")
DeepDanbooruModel = unsupported_class("deepbooru_model.DeepDanbooruModel", "no DeepBooru model here")
InterrogateModels = unsupported_class("interrogate.InterrogateModels", "no CLIP/BLIP interrogator here")
# other model families
SD3Inferencer = unsupported_class("models.sd3.sd3_model.SD3Inferencer", _NO_SD3)
MMDiT = unsupported_class("models.sd3.mmdit.MMDiT", _NO_SD3)
SD3Cond = unsupported_class("models.sd3.sd3_cond.SD3Cond", _NO_SD3)
LatentInpaintDiffusion = unsupported_class("sd_models_xl / ddpm_edit LatentInpaintDiffusion", "LDM classes")
BertSeriesModelWithTransformation = unsupported_class("xlmr.BertSeriesModelWithTransformation", "no Alt-Diffusion")
connect = unsupported("ngrok.connect", "ngrok tunnels are not part of this backend; use --listen behind your own proxy")
efficient_dot_product_attention = unsupported("sub_quadratic_attention.efficient_dot_product_attention",
                                 "attention runs through PyTorch's scaled_dot_product_attention")
# textual inversion training and the built-in processing scripts
create_embedding = unsupported("textual_inversion.create_embedding", _TRAIN)
train_embedding = unsupported("textual_inversion.train_embedding", _TRAIN)
create_embedding_from_data = unsupported("textual_inversion.create_embedding_from_data",
                                         "embeddings are read from the embeddings folder; put the file there")
crop_image = unsupported("textual_inversion.autocrop.crop_image", _TRAIN)
PersonalizedBase = unsupported_class("textual_inversion.dataset.PersonalizedBase", _TRAIN)
LearnRateScheduler = unsupported_class("textual_inversion.learn_schedule.LearnRateScheduler", _TRAIN)
save_settings_to_file = unsupported("textual_inversion.saving_settings.save_settings_to_file", _TRAIN)
embedding_to_b64 = unsupported("textual_inversion.image_embedding.embedding_to_b64", _TRAIN)
embedding_from_b64 = unsupported("textual_inversion.image_embedding.embedding_from_b64",
                                 "embeddings stored inside PNG images are not read")
extract_image_data_embed = embedding_from_b64
_BUILTIN_SCRIPTS = "seed, sampler and refiner are fields of the processing object here, not built-in Scripts"
ScriptSeed = unsupported_class("processing_scripts.seed.ScriptSeed", _BUILTIN_SCRIPTS)
ScriptSampler = unsupported_class("processing_scripts.sampler.ScriptSampler", _BUILTIN_SCRIPTS)
ScriptRefiner = unsupported_class("processing_scripts.refiner.ScriptRefiner", _BUILTIN_SCRIPTS)
ScriptStripComments = unsupported_class("processing_scripts.comments.ScriptStripComments", _BUILTIN_SCRIPTS)


def strip_comments(text: str) -> str:
    """A1111's prompt comments: whole `#...` lines go, then `#...` to the end of a line."""
    import re

    text = re.sub(r"(^|\n)#[^\n]*(\n|$)", "\n", text)
    return re.sub(r"#[^\n]*(\n|$)", "\n", text)
# A1111's UI handlers, whose arguments follow A1111's own UI component order
_UI_HANDLER = ("this UI's handlers take its own components, not A1111's argument order; build a "
               "StableDiffusionProcessingTxt2Img/Img2Img and call modules.processing.process_images")


class UIArgumentOrderError(NotImplementedError):
    """A1111's UI handler called with A1111's positional UI argument list, which has no equivalent here."""


def _ui_handler_error(name: str) -> UIArgumentOrderError:
    return UIArgumentOrderError(
        f"modules.{name}: A1111's handler takes A1111's UI component order, in which steps, sampler, schedule "
        "type, seed and refiner are the arguments of its built-in Sampler/Seed/Refiner scripts at the start of "
        "the script arguments; in this UI they are fields of the generation request and the Generate button's "
        "inputs are keyed by field name (sdwebui/interfaces/ui/generation.py), so no positional list maps onto "
        "them. Queue the request through the API instead (POST /sdapi/v1/txt2img or /img2img, with "
        "alwayson_scripts for the scripts' arguments), or build StableDiffusionProcessingTxt2Img/Img2Img and "
        "call modules.processing.process_images")


def txt2img_create_processing(id_task: str, request: Any, prompt: str, negative_prompt: str, prompt_styles: Any,
                              n_iter: int, batch_size: int, cfg_scale: float, height: int, width: int,
                              enable_hr: bool, denoising_strength: float, hr_scale: float, hr_upscaler: str,
                              hr_second_pass_steps: int, hr_resize_x: int, hr_resize_y: int,
                              hr_checkpoint_name: str, hr_sampler_name: str, hr_scheduler: str, hr_prompt: str,
                              hr_negative_prompt: str, override_settings_texts: Any, *args: Any,
                              force_enable_hr: bool = False) -> Any:
    """A1111's signature (callers inspect it); calling it raises UIArgumentOrderError."""
    raise _ui_handler_error("txt2img.txt2img_create_processing")


def txt2img(id_task: str, request: Any, *args: Any) -> Any:
    raise _ui_handler_error("txt2img.txt2img")


def txt2img_upscale(id_task: str, request: Any, gallery: Any, gallery_index: Any, generation_info: Any,
                    *args: Any) -> Any:
    raise _ui_handler_error("txt2img.txt2img_upscale")


def img2img(id_task: str, request: Any, mode: int, prompt: str, negative_prompt: str, prompt_styles: Any,
            init_img: Any, sketch: Any, init_img_with_mask: Any, inpaint_color_sketch: Any,
            inpaint_color_sketch_orig: Any, init_img_inpaint: Any, init_mask_inpaint: Any, mask_blur: int,
            mask_alpha: float, inpainting_fill: int, n_iter: int, batch_size: int, cfg_scale: float,
            image_cfg_scale: float, denoising_strength: float, selected_scale_tab: int, height: int, width: int,
            scale_by: float, resize_mode: int, inpaint_full_res: bool, inpaint_full_res_padding: int,
            inpainting_mask_invert: int, img2img_batch_input_dir: str, img2img_batch_output_dir: str,
            img2img_batch_inpaint_mask_dir: str, override_settings_texts: Any, img2img_batch_use_png_info: bool,
            img2img_batch_png_info_props: list, img2img_batch_png_info_dir: str, img2img_batch_source_type: str,
            img2img_batch_upload: list, *args: Any) -> Any:
    """A1111's signature (agent-scheduler reads it); calling it raises UIArgumentOrderError."""
    raise _ui_handler_error("img2img.img2img")


process_batch = unsupported("img2img.process_batch", "img2img batch from a folder is not offered; " + _UI_HANDLER)
ScriptPostprocessingForMainUI = unsupported_class("scripts_auto_postprocessing.ScriptPostprocessingForMainUI",
                                                  "postprocessing scripts run in Extras only")
create_auto_preprocessing_script_data = unsupported("scripts_auto_postprocessing.create_auto_preprocessing_script_data",
                                                    "postprocessing scripts run in Extras only")
from sdwebui.engine.models.single_file import SDModel as WebuiSdModel  # noqa: E402,F401  (A1111's model type)
