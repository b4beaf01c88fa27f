"""A1111's settings category "Stable Diffusion": the model, VAE, img2img, samplers, optimizations, compatibility and extra networks."""
from __future__ import annotations

from typing import Callable

from sdwebui.services.options.info import OptionHTML, OptionInfo, options_section


# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
INERT: dict[str, str] = {
    "sd_checkpoints_keep_in_cpu": "checkpoints beyond the resident one are kept in RAM by sd_checkpoint_cache",
    "enable_batch_seeds": "always on: each image of a batch gets its own seeded noise",
    "sdxl_clip_l_skip": "clip skip is not applied to SDXL's encoders",
    "upcast_attn": "attention precision follows the model's dtype (see --precision, --no-half)",
    "enable_prompt_comments": "comments (#...) in prompts are not stripped",
    "sdxl_crop_top": "SDXL's crop conditioning is always 0, 0",
    "sdxl_crop_left": "SDXL's crop conditioning is always 0, 0",
    "sdxl_refiner_low_aesthetic_score": "SDXL refiner checkpoints (aesthetic score conditioning) are not supported",
    "sdxl_refiner_high_aesthetic_score": "SDXL refiner checkpoints (aesthetic score conditioning) are not supported",
    "sd_vae_checkpoint_cache": "one VAE is loaded at a time",
    "sd_vae_overrides_per_model_preferences": "there are no per-model VAE preferences (user metadata) to override",
    "auto_vae_precision_bfloat16": "the VAE is not re-run on NaNs; see auto_vae_precision",
    "img2img_color_correction": "img2img color correction is not implemented",
    "img2img_editor_height": "the image editor keeps gradio's height",
    "return_mask": "the inpainting mask is not added to the results",
    "return_mask_composite": "the masked composite is not added to the results",
    "img2img_batch_show_results_limit": "img2img batch from a directory is not implemented",
    "overlay_inpaint": "the inpainted result is always pasted over the original outside the mask",
    "cross_attention_optimization": "diffusers picks the attention kernel (PyTorch SDPA)",
    "token_merging_ratio": "token merging (ToMe) is not implemented",
    "token_merging_ratio_img2img": "token merging (ToMe) is not implemented",
    "token_merging_ratio_hr": "token merging (ToMe) is not implemented",
    "persistent_cond_cache": "conditionings are computed once per job",
    "batch_cond_uncond": "always on: diffusers denoises cond and uncond in one batch",
    "fp8_storage": "weights are stored in the model's dtype; FP8 storage is not implemented",
    "cache_fp16_weight": "FP8 storage is not implemented",
    "use_old_emphasis_implementation": "only the current emphasis implementation exists",
    "no_dpmpp_sde_batch_determinism": "the Brownian-tree samplers always seed one tree per image from its seed",
    "hires_fix_use_firstpass_conds": "the second pass encodes its own prompt",
    "use_old_scheduling": "prompt editing always uses the 1.6+ timeline",
    "use_downcasted_alpha_bar": "alphas_cumprod are kept in float32",
    "refiner_switch_by_sample_steps": "the refiner switches at the fraction of sampling steps",
    "textual_inversion_print_at_load": "loaded embeddings are logged at debug level",
    "sd_hypernetwork": "hypernetworks are not supported",
    "sd_lora": "the Extra Networks page here does not offer it",
    "lora_bundled_ti_to_infotext": "networks with bundled embeddings are not supported",
    "lora_not_found_warning_console": "an unknown network in the prompt is a 4xx error naming it",
    "lora_not_found_gradio_warning": "an unknown network in the prompt is a 4xx error naming it",
    "lora_functional": "networks are always merged into the weights for the job",
    "auto_vae_precision": "always on: a VAE that produces NaNs decodes the image again in fp32",
    "ddim_discretize": "DDIM, DDIM CFG++, PLMS and UniPC use A1111 1.10's uniform timesteps, which do not read it either",
    "sd_noise_schedule": "the zero terminal SNR schedule is not implemented",
    "skip_early_cond": "CFG is applied on every step",
}

VAE_EXPLANATION = """
A VAE turns an RGB image into the latent space the model samples in, and a latent back into
pixels. txt2img uses it once, to decode the result; img2img also encodes the input image first.
"""


def options(vae_choices: Callable[[], list[str]] | None = None,
            module_choices: Callable[[], list[str]] | None = None) -> dict[str, OptionInfo]:
    """`vae_choices` lists the VAE files on disk (the runtime's VAE registry) when it exists;
    `module_choices` the VAE and text encoder files a Flux / SD3 checkpoint may take its parts from."""
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("sd", "Stable Diffusion", "sd"), {
        "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", "dropdown", type=str | None, infotext="Model hash"),
        "sd_checkpoints_limit": OptionInfo(1, "Maximum number of checkpoints loaded at the same time", "slider", component_args={"minimum": 1, "maximum": 10, "step": 1}),
        "sd_checkpoints_keep_in_cpu": OptionInfo(True, "Only keep one model on device", "checkbox"),
        "sd_checkpoint_cache": OptionInfo(0, "Checkpoints to cache in RAM", "slider", component_args={"minimum": 0, "maximum": 10, "step": 1}),
        "sd_unet": OptionInfo("Automatic", "SD Unet", "dropdown", choices=("Automatic", "None")),
        "enable_quantization": OptionInfo(False, "Enable quantization in K samplers for sharper and cleaner results. This may change existing seeds", "checkbox").needs_reload_ui(),
        "emphasis": OptionInfo("Original", "Emphasis mode", "radio", choices=("Original", "No norm", "None", "Ignore"), infotext="Emphasis"),
        "enable_batch_seeds": OptionInfo(True, "Make K-diffusion samplers produce same images in a batch as when making a single image", "checkbox"),
        "comma_padding_backtrack": OptionInfo(20, "Prompt word wrap length limit", "slider", component_args={"minimum": 0, "maximum": 74, "step": 1}),
        "sdxl_clip_l_skip": OptionInfo(False, "Clip skip SDXL", "checkbox"),
        "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip", "slider", component_args={"minimum": 1, "maximum": 12, "step": 1}, infotext="Clip skip"),
        "upcast_attn": OptionInfo(False, "Upcast cross attention layer to float32", "checkbox"),
        "randn_source": OptionInfo("GPU", "Random number generator source.", "radio", choices=("GPU", "CPU", "NV"), infotext="RNG"),
        "tiling": OptionInfo(False, "Tiling", "checkbox", infotext="Tiling"),
        "hires_fix_refiner_pass": OptionInfo("second pass", "Hires fix: which pass to enable refiner for", "radio", choices=("first pass", "second pass", "both passes"),
                                             infotext="Hires refiner"),
        "enable_prompt_comments": OptionInfo(True, "Enable comments", "checkbox"),
    }))

    t.update(options_section(("sdxl", "Stable Diffusion XL", "sd"), {
        "sdxl_crop_top": OptionInfo(0, "crop top coordinate", "number"),
        "sdxl_crop_left": OptionInfo(0, "crop left coordinate", "number"),
        "sdxl_refiner_low_aesthetic_score": OptionInfo(2.5, "SDXL low aesthetic score", "number"),
        "sdxl_refiner_high_aesthetic_score": OptionInfo(6.0, "SDXL high aesthetic score", "number"),
    }))

    t.update(options_section(("sd3", "Stable Diffusion 3", "sd"), {
        "forge_additional_modules": OptionInfo([], "VAE / Text Encoder (Flux, SD3: the files a checkpoint without them takes them from)", "dropdown", choices=module_choices).info("Forge's option; empty: ae.safetensors, clip_l*, clip_g*, t5xxl* found in models/VAE and models/text_encoder"),
        "sd3_enable_t5": OptionInfo(False, "Enable T5", "checkbox").info("load T5 text encoder; increases memory use by a lot, potentially improving quality of generation; an SD3 model in use is loaded again with it"),
    }))

    t.update(options_section(("vae", "VAE", "sd"), {
        "sd_vae_explanation": OptionHTML(VAE_EXPLANATION),
        "sd_vae_checkpoint_cache": OptionInfo(0, "VAE Checkpoints to cache in RAM", "slider", component_args={"minimum": 0, "maximum": 10, "step": 1}),
        "sd_vae": OptionInfo("Automatic", "SD VAE", "dropdown", choices=vae_choices, infotext="VAE"),
        "sd_vae_overrides_per_model_preferences": OptionInfo(True, "Selected VAE overrides per-model preferences", "checkbox"),
        "auto_vae_precision_bfloat16": OptionInfo(False, "Automatically convert VAE to bfloat16", "checkbox"),
        "auto_vae_precision": OptionInfo(True, "Automatically revert VAE to 32-bit floats", "checkbox"),
        "sd_vae_encode_method": OptionInfo("Full", "VAE type for encode", "radio", choices=("Full", "TAESD"), infotext="VAE Encoder"),
        "sd_vae_decode_method": OptionInfo("Full", "VAE type for decode", "radio", choices=("Full", "TAESD"), infotext="VAE Decoder"),
        # not in A1111 (an extension there): big images pass the VAE in overlapping tiles so memory stays bounded
        "vae_tiled_min_size": OptionInfo(2048, "Encode/decode images larger than this in tiles (pixels per side; 0 = never)",
                                         "number", minimum=0, maximum=65536),
    }))

    t.update(options_section(("img2img", "img2img", "sd"), {
        "inpainting_mask_weight": OptionInfo(1.0, "Inpainting conditioning mask strength", "slider", component_args={"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext="Conditional mask weight"),
        "initial_noise_multiplier": OptionInfo(1.0, "Noise multiplier for img2img", "slider", component_args={"minimum": 0.0, "maximum": 1.5, "step": 0.001}, infotext="Noise multiplier"),
        "img2img_extra_noise": OptionInfo(0.0, "Extra noise multiplier for img2img and hires fix", "slider", component_args={"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext="Extra noise"),
        "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results to match original colors.", "checkbox"),
        "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies.", "checkbox"),
        "img2img_background_color": OptionInfo("#ffffff", "With img2img, fill transparent parts of the input image with this color.", "colorpicker"),
        "img2img_editor_height": OptionInfo(720, "Height of the image editor", "slider", component_args={"minimum": 80, "maximum": 1600, "step": 1}).needs_reload_ui(),
        "img2img_sketch_default_brush_color": OptionInfo("#ffffff", "Sketch initial brush color", "colorpicker").needs_reload_ui(),
        "img2img_inpaint_mask_brush_color": OptionInfo("#ffffff", "Inpaint mask brush color", "colorpicker").needs_reload_ui(),
        "img2img_inpaint_sketch_default_brush_color": OptionInfo("#ffffff", "Inpaint sketch initial brush color", "colorpicker").needs_reload_ui(),
        "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results for web", "checkbox"),
        "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results for web", "checkbox"),
        "img2img_batch_show_results_limit": OptionInfo(32, "Show the first N batch img2img results in UI", "slider", component_args={"minimum": -1, "maximum": 1000, "step": 1}),
        "overlay_inpaint": OptionInfo(True, "Overlay original for inpaint", "checkbox"),
    }))

    t.update(options_section(("optimizations", "Optimizations", "sd"), {
        "cross_attention_optimization": OptionInfo("Automatic", "Cross attention optimization", "dropdown"),
        "s_min_uncond": OptionInfo(0.0, "Negative Guidance minimum sigma", "slider", component_args={"minimum": 0.0, "maximum": 15.0, "step": 0.01}, infotext="NGMS"),
        "s_min_uncond_all": OptionInfo(False, "Negative Guidance minimum sigma all steps", "checkbox", infotext="NGMS all steps"),
        "token_merging_ratio": OptionInfo(0.0, "Token merging ratio", "slider", component_args={"minimum": 0.0, "maximum": 0.9, "step": 0.1}, infotext="Token merging ratio"),
        "token_merging_ratio_img2img": OptionInfo(0.0, "Token merging ratio for img2img", "slider", component_args={"minimum": 0.0, "maximum": 0.9, "step": 0.1}),
        "token_merging_ratio_hr": OptionInfo(0.0, "Token merging ratio for high-res pass", "slider", component_args={"minimum": 0.0, "maximum": 0.9, "step": 0.1}, infotext="Token merging ratio hr"),
        "pad_cond_uncond": OptionInfo(False, "Pad prompt/negative prompt", "checkbox", infotext="Pad conds"),
        "pad_cond_uncond_v0": OptionInfo(False, "Pad prompt/negative prompt (v0)", "checkbox", infotext="Pad conds v0"),
        "persistent_cond_cache": OptionInfo(True, "Persistent cond cache", "checkbox"),
        "batch_cond_uncond": OptionInfo(True, "Batch cond/uncond", "checkbox"),
        "fp8_storage": OptionInfo("Disable", "FP8 weight", "radio", choices=("Disable", "Enable for SDXL", "Enable")),
        "cache_fp16_weight": OptionInfo(False, "Cache FP16 weight for LoRA", "checkbox"),
    }))

    t.update(options_section(("compatibility", "Compatibility", "sd"), {
        "auto_backcompat": OptionInfo(True, "Automatic backward compatibility", "checkbox"),
        "use_old_emphasis_implementation": OptionInfo(False, "Use old emphasis implementation. Can be useful to reproduce old seeds.", "checkbox"),
        "use_old_karras_scheduler_sigmas": OptionInfo(False, "Use old karras scheduler sigmas (0.1 to 10).", "checkbox"),
        "no_dpmpp_sde_batch_determinism": OptionInfo(False, "Do not make DPM++ SDE deterministic across different batch sizes.", "checkbox"),
        "use_old_hires_fix_width_height": OptionInfo(False, "For hires fix, use width/height sliders to set final resolution rather than first pass (disables Upscale by, Resize width/height to).", "checkbox"),
        "hires_fix_use_firstpass_conds": OptionInfo(False, "For hires fix, calculate conds of second pass using extra networks of first pass.", "checkbox"),
        "use_old_scheduling": OptionInfo(False, "Use old prompt editing timelines.", "checkbox", infotext="Old prompt editing timelines"),
        "use_downcasted_alpha_bar": OptionInfo(False, "Downcast model alphas_cumprod to fp16 before sampling. For reproducing old seeds.", "checkbox", infotext="Downcast alphas_cumprod"),
        "refiner_switch_by_sample_steps": OptionInfo(False, "Switch to refiner by sampling steps instead of model timesteps. Old behavior for refiner.", "checkbox", infotext="Refiner switch by sampling steps"),
        # from A1111's built-in Lora extension
        "lora_functional": OptionInfo(False, "Lora/Networks: use old method that takes longer when you have multiple Loras active and produces same results as kohya-ss/sd-webui-additional-networks extension", "checkbox"),
    }))

    t.update(options_section(("extra_networks", "Extra Networks", "sd"), {
        "extra_networks_show_hidden_directories": OptionInfo(True, "Show hidden directories", "checkbox"),
        "extra_networks_dir_button_function": OptionInfo(False, "Add a '/' to the beginning of directory buttons", "checkbox"),
        "extra_networks_hidden_models": OptionInfo("When searched", "Show cards for models in hidden directories", "radio", choices=("Always", "When searched", "Never")),
        "extra_networks_default_multiplier": OptionInfo(1.0, "Default multiplier for extra networks", "slider", component_args={"minimum": 0.0, "maximum": 2.0, "step": 0.01}),
        "extra_networks_card_width": OptionInfo(0, "Card width for Extra Networks", "number"),
        "extra_networks_card_height": OptionInfo(0, "Card height for Extra Networks", "number"),
        "extra_networks_card_text_scale": OptionInfo(1.0, "Card text scale", "slider", component_args={"minimum": 0.0, "maximum": 2.0, "step": 0.01}),
        "extra_networks_card_show_desc": OptionInfo(True, "Show description on card", "checkbox"),
        "extra_networks_card_description_is_html": OptionInfo(False, "Treat card description as HTML", "checkbox"),
        "extra_networks_card_order_field": OptionInfo("Path", "Default order field for Extra Networks cards", "dropdown", choices=("Path", "Name", "Date Created", "Date Modified")).needs_reload_ui(),
        "extra_networks_card_order": OptionInfo("Ascending", "Default order for Extra Networks cards", "dropdown", choices=("Ascending", "Descending")).needs_reload_ui(),
        "extra_networks_tree_view_style": OptionInfo("Dirs", "Extra Networks directory view style", "radio", choices=("Tree", "Dirs")).needs_reload_ui(),
        "extra_networks_tree_view_default_enabled": OptionInfo(True, "Show the Extra Networks directory view by default", "checkbox").needs_reload_ui(),
        "extra_networks_tree_view_default_width": OptionInfo(180, "Default width for the Extra Networks directory tree view", "number").needs_reload_ui(),
        "extra_networks_add_text_separator": OptionInfo(" ", "Extra networks separator", "textbox"),
        "ui_extra_networks_tab_reorder": OptionInfo("", "Extra networks tab order", "textbox").needs_reload_ui(),
        "textual_inversion_print_at_load": OptionInfo(False, "Print a list of Textual Inversion embeddings when loading model", "checkbox"),
        "textual_inversion_add_hashes_to_infotext": OptionInfo(True, "Add Textual Inversion hashes to infotext", "checkbox"),
        "sd_hypernetwork": OptionInfo("None", "Add hypernetwork to prompt", "dropdown"),
        # A1111's built-in Lora extension registers these (there without a category: its section's is "sd")
        "sd_lora": OptionInfo("None", "Add network to prompt", "dropdown"),
        "lora_preferred_name": OptionInfo("Alias from file", "When adding to prompt, refer to Lora by", "radio", choices=("Alias from file", "Filename")),
        "lora_add_hashes_to_infotext": OptionInfo(True, "Add Lora hashes to infotext", "checkbox"),
        "lora_bundled_ti_to_infotext": OptionInfo(True, "Add Lora name as TI hashes for bundled Textual Inversion", "checkbox"),
        "lora_show_all": OptionInfo(False, "Always show all networks on the Lora page", "checkbox"),
        "lora_hide_unknown_for_versions": OptionInfo([], "Hide networks of unknown versions for model versions", "checkboxgroup", choices=("SD1", "SD2", "SDXL")),
        "lora_in_memory_limit": OptionInfo(0, "Number of Lora networks to keep cached in memory", "number", component_args={"precision": 0}),
        "lora_not_found_warning_console": OptionInfo(False, "Lora not found warning in console", "checkbox"),
        "lora_not_found_gradio_warning": OptionInfo(False, "Lora not found warning popup in webui", "checkbox"),
    }))

    t.update(options_section(("sampler-params", "Sampler parameters", "sd"), {
        "hide_samplers": OptionInfo([], "Hide samplers in user interface", "checkboxgroup"),
        "eta_ddim": OptionInfo(0.0, "Eta for DDIM", "slider", component_args={"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext="Eta DDIM"),
        "eta_ancestral": OptionInfo(1.0, "Eta for k-diffusion samplers", "slider", component_args={"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext="Eta"),
        "ddim_discretize": OptionInfo("uniform", "img2img DDIM discretize", "radio", choices=("uniform", "quad")),
        "s_churn": OptionInfo(0.0, "sigma churn", "slider", component_args={"minimum": 0.0, "maximum": 100.0, "step": 0.01}, infotext="Sigma churn"),
        "s_tmin": OptionInfo(0.0, "sigma tmin", "slider", component_args={"minimum": 0.0, "maximum": 10.0, "step": 0.01}, infotext="Sigma tmin"),
        "s_tmax": OptionInfo(0.0, "sigma tmax", "slider", component_args={"minimum": 0.0, "maximum": 999.0, "step": 0.01}, infotext="Sigma tmax"),
        "s_noise": OptionInfo(1.0, "sigma noise", "slider", component_args={"minimum": 0.0, "maximum": 1.1, "step": 0.001}, infotext="Sigma noise"),
        "sigma_min": OptionInfo(0.0, "sigma min", "number", infotext="Schedule min sigma"),
        "sigma_max": OptionInfo(0.0, "sigma max", "number", infotext="Schedule max sigma"),
        "rho": OptionInfo(0.0, "rho", "number", infotext="Schedule rho"),
        "eta_noise_seed_delta": OptionInfo(0, "Eta noise seed delta", "number", minimum=0, infotext="ENSD"),
        "always_discard_next_to_last_sigma": OptionInfo(False, "Always discard next-to-last sigma", "checkbox", infotext="Discard penultimate sigma"),
        "sgm_noise_multiplier": OptionInfo(False, "SGM noise multiplier", "checkbox", infotext="SGM noise multiplier"),
        "uni_pc_variant": OptionInfo("bh1", "UniPC variant", "radio", choices=("bh1", "bh2", "vary_coeff"), infotext="UniPC variant"),
        "uni_pc_skip_type": OptionInfo("time_uniform", "UniPC skip type", "radio", choices=("time_uniform", "time_quadratic", "logSNR"), infotext="UniPC skip type"),
        "uni_pc_order": OptionInfo(3, "UniPC order", "slider", component_args={"minimum": 1, "maximum": 50, "step": 1}, infotext="UniPC order"),
        "uni_pc_lower_order_final": OptionInfo(True, "UniPC lower order final", "checkbox", infotext="UniPC lower order final"),
        "sd_noise_schedule": OptionInfo("Default", "Noise schedule for sampling", "radio", choices=("Default", "Zero Terminal SNR"), infotext="Noise Schedule"),
        "skip_early_cond": OptionInfo(0.0, "Ignore negative prompt during early sampling", "slider", component_args={"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext="Skip Early CFG"),
        "beta_dist_alpha": OptionInfo(0.6, "Beta scheduler - alpha", "slider", component_args={"minimum": 0.01, "maximum": 1.0, "step": 0.01}, infotext="Beta scheduler alpha"),
        "beta_dist_beta": OptionInfo(0.6, "Beta scheduler - beta", "slider", component_args={"minimum": 0.01, "maximum": 1.0, "step": 0.01}, infotext="Beta scheduler beta"),
    }))
    return t
