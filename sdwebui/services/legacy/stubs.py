"""Stand-ins for names of A1111 modules that belong wholly to its LDM backend, training, or its
optional model families (SD3, TAESD, GFPGAN, CodeFormer, DeepBooru, Alt-Diffusion, ngrok).
Importing them works; using them raises NotImplementedError naming the difference."""
from __future__ import annotations

from typing import Any

from sdwebui.services.legacy import unsupported, unsupported_class

_TRAIN = "training is not part of this backend"
_SAMPLE = "sampling runs in the project's own samplers; choose them by name (p.sampler_name)"
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
def txt2img_upscale(id_task: str, request: Any, gallery: Any, gallery_index: Any, generation_info: Any,
                    *args: Any) -> Any:
    raise NotImplementedError(
        "modules.txt2img.txt2img_upscale: A1111's hires-fix-the-selected-image button is not offered; run "
        "modules.txt2img.txt2img (or POST /sdapi/v1/txt2img) with enable_hr and the image's seed instead")


process_batch = unsupported("img2img.process_batch", "img2img batch from a folder runs through the img2img UI's Batch tab "
                            "(modules.img2img.img2img with mode 5); A1111's process_batch(p, ...) is not offered")
ScriptPostprocessingForMainUI = unsupported_class("scripts_auto_postprocessing.ScriptPostprocessingForMainUI",
                                                  "postprocessing scripts run in Extras only")
create_auto_preprocessing_script_data = unsupported("scripts_auto_postprocessing.create_auto_preprocessing_script_data",
                                                    "postprocessing scripts run in Extras only")
from sdwebui.engine.models.single_file import SDModel as WebuiSdModel  # noqa: E402,F401  (A1111's model type)
