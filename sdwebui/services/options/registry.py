"""A1111's option keys, defaults, labels and sections for the features that exist.

Keys are spelled exactly as in A1111 1.10 so existing clients and config.json files work.
Choices that depend on files on disk (checkpoints, VAEs) are callables filled in by
modules.shared once the registries exist.
"""
from __future__ import annotations

from sdwebui.services.options.store import OptionInfo, options_section

IMAGE_FORMATS = ("png", "jpg", "jpeg", "webp", "avif")


def templates(vae_choices=None) -> dict[str, OptionInfo]:
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("saving-images", "Saving images/grids", "saving"), {
        "samples_save": OptionInfo(True, "Always save all generated images", "checkbox"),
        "samples_format": OptionInfo("png", "File format for images", "dropdown", choices=IMAGE_FORMATS),
        "samples_filename_pattern": OptionInfo("", "Images filename pattern", "textbox"),
        "save_images_add_number": OptionInfo(True, "Add number to filename when saving", "checkbox"),
        "grid_save": OptionInfo(True, "Always save all generated image grids", "checkbox"),
        "grid_format": OptionInfo("png", "File format for grids", "dropdown", choices=IMAGE_FORMATS),
        "return_grid": OptionInfo(True, "Show grid in gallery", "checkbox"),
        "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture", "checkbox"),
        "grid_prevent_empty_spots": OptionInfo(False, "Prevent empty spots in grid (when set to autodetect)", "checkbox"),
        "grid_extended_filename": OptionInfo(False, "Add extended info (seed, prompt) to filename when saving grid", "checkbox"),
        "n_rows": OptionInfo(-1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size", "slider",
                             minimum=-1, maximum=16),
        "save_images_replace_action": OptionInfo("Replace", "Saving the image to an existing file", "radio",
                                                 choices=("Replace", "Add number suffix")),
        "enable_pnginfo": OptionInfo(True, "Save text information about generation parameters as chunks to png files", "checkbox"),
        "save_txt": OptionInfo(False, "Create a text file with infotext next to every generated image", "checkbox"),
        "jpeg_quality": OptionInfo(80, "Quality for saved jpeg and avif images", "slider", minimum=1, maximum=100),
        "webp_lossless": OptionInfo(False, "Use lossless compression for webp images", "checkbox"),
        "save_incomplete_images": OptionInfo(False, "Save incomplete images", "checkbox"),
    }))

    t.update(options_section(("saving-paths", "Paths for saving", "saving"), {
        "outdir_samples": OptionInfo("", "Output directory for images; if empty, defaults to three directories below", "textbox"),
        "outdir_txt2img_samples": OptionInfo("outputs/txt2img-images", "Output directory for txt2img images", "textbox"),
        "outdir_img2img_samples": OptionInfo("outputs/img2img-images", "Output directory for img2img images", "textbox"),
        "outdir_extras_samples": OptionInfo("outputs/extras-images", "Output directory for images from extras tab", "textbox"),
        "outdir_grids": OptionInfo("", "Output directory for grids; if empty, defaults to two directories below", "textbox"),
        "outdir_txt2img_grids": OptionInfo("outputs/txt2img-grids", "Output directory for txt2img grids", "textbox"),
        "outdir_img2img_grids": OptionInfo("outputs/img2img-grids", "Output directory for img2img grids", "textbox"),
        "outdir_save": OptionInfo("log/images", "Directory for saving images using the Save button", "textbox"),
        "outdir_init_images": OptionInfo("outputs/init-images", "Directory for saving init images when using img2img", "textbox"),
    }))

    t.update(options_section(("saving-to-dirs", "Saving to a directory", "saving"), {
        "save_to_dirs": OptionInfo(True, "Save images to a subdirectory", "checkbox"),
        "grid_save_to_dirs": OptionInfo(True, "Save grids to a subdirectory", "checkbox"),
        "directories_filename_pattern": OptionInfo("[date]", "Directory name pattern", "textbox"),
        "directories_max_prompt_words": OptionInfo(8, "Max prompt words for [prompt_words] pattern", "slider", minimum=1, maximum=20),
    }))

    t.update(options_section(("sd", "Stable Diffusion", "sd"), {
        "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", "dropdown", type=str | None, infotext="Model hash"),
        "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint", "textbox"),
        "sd_checkpoints_limit": OptionInfo(1, "Maximum number of checkpoints loaded at the same time", "slider", minimum=1, maximum=10),
        "sd_checkpoints_keep_in_cpu": OptionInfo(True, "Only keep one model on device", "checkbox"),
        "sd_checkpoint_cache": OptionInfo(0, "Checkpoints to cache in RAM", "slider", minimum=0, maximum=10),
        "sd_unet": OptionInfo("Automatic", "SD Unet", "dropdown", choices=("Automatic", "None")),
        "enable_quantization": OptionInfo(False, "Enable quantization in K samplers for sharper and cleaner results", "checkbox"),
        "emphasis": OptionInfo("Original", "Emphasis mode", "radio", choices=("Original", "No norm", "None", "Ignore"), infotext="Emphasis"),
        "enable_batch_seeds": OptionInfo(True, "Make K-diffusion samplers produce same images in a batch as when making a single image", "checkbox"),
        "comma_padding_backtrack": OptionInfo(20, "Prompt word wrap length limit", "slider", minimum=0, maximum=74),
        "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip", "slider", minimum=1, maximum=12, infotext="Clip skip"),
        "upcast_attn": OptionInfo(False, "Upcast cross attention layer to float32", "checkbox"),
        "randn_source": OptionInfo("GPU", "Random number generator source", "radio", choices=("GPU", "CPU"), infotext="RNG"),
        "tiling": OptionInfo(False, "Tiling", "checkbox", infotext="Tiling"),
        "hires_fix_refiner_pass": OptionInfo("second pass", "Hires fix: which pass to enable refiner for", "radio",
                                             choices=("first pass", "second pass", "both passes")),
    }))

    t.update(options_section(("vae", "VAE", "sd"), {
        "sd_vae": OptionInfo("Automatic", "SD VAE", "dropdown", choices=vae_choices, infotext="VAE"),
        "sd_vae_overrides_per_model_preferences": OptionInfo(True, "Selected VAE overrides per-model preferences", "checkbox"),
        "auto_vae_precision": OptionInfo(True, "Automatically revert VAE to 32-bit floats", "checkbox"),
        "sd_vae_encode_method": OptionInfo("Full", "VAE type for encode", "radio", choices=("Full", "TAESD"), infotext="VAE Encoder"),
        "sd_vae_decode_method": OptionInfo("Full", "VAE type for decode", "radio", choices=("Full", "TAESD"), infotext="VAE Decoder"),
        # not in A1111 (an extension there): big images pass the VAE in overlapping tiles so memory stays bounded
        "vae_tiled_min_size": OptionInfo(2048, "Encode/decode images larger than this in tiles (pixels per side; 0 = never)",
                                         "number", minimum=0, maximum=65536),
    }))

    t.update(options_section(("img2img", "img2img", "sd"), {
        "inpainting_mask_weight": OptionInfo(1.0, "Inpainting conditioning mask strength", "slider", minimum=0.0, maximum=1.0, infotext="Conditional mask weight"),
        "initial_noise_multiplier": OptionInfo(1.0, "Noise multiplier for img2img", "slider", minimum=0.0, maximum=1.5, infotext="Noise multiplier"),
        "img2img_extra_noise": OptionInfo(0.0, "Extra noise multiplier for img2img and hires fix", "slider", minimum=0.0, maximum=1.0, infotext="Extra noise"),
        "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results to match original colors.", "checkbox"),
        "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies.", "checkbox"),
        "img2img_background_color": OptionInfo("#ffffff", "With img2img, fill transparent parts of the input image with this color.", "textbox"),
    }))

    t.update(options_section(("sampler-params", "Sampler parameters", "sd"), {
        "hide_samplers": OptionInfo([], "Hide samplers in user interface", "checkboxgroup"),
        "eta_ddim": OptionInfo(0.0, "Eta for DDIM", "slider", minimum=0.0, maximum=1.0, infotext="Eta DDIM"),
        "eta_ancestral": OptionInfo(1.0, "Eta for k-diffusion samplers", "slider", minimum=0.0, maximum=1.0, infotext="Eta"),
        "ddim_discretize": OptionInfo("uniform", "img2img DDIM discretize", "radio", choices=("uniform", "quad")),
        "s_churn": OptionInfo(0.0, "sigma churn", "slider", minimum=0.0, maximum=100.0, infotext="Sigma churn"),
        "s_tmin": OptionInfo(0.0, "sigma tmin", "slider", minimum=0.0, maximum=10.0, infotext="Sigma tmin"),
        "s_tmax": OptionInfo(0.0, "sigma tmax", "slider", minimum=0.0, maximum=999.0, infotext="Sigma tmax"),
        "s_noise": OptionInfo(1.0, "sigma noise", "slider", minimum=0.0, maximum=1.1, infotext="Sigma noise"),
        "sigma_min": OptionInfo(0.0, "sigma min", "number", infotext="Schedule min sigma"),
        "sigma_max": OptionInfo(0.0, "sigma max", "number", infotext="Schedule max sigma"),
        "rho": OptionInfo(0.0, "rho", "number", infotext="Schedule rho"),
        "eta_noise_seed_delta": OptionInfo(0, "Eta noise seed delta", "number", minimum=0, infotext="ENSD"),
        "always_discard_next_to_last_sigma": OptionInfo(False, "Always discard next-to-last sigma", "checkbox", infotext="Discard penultimate sigma"),
    }))

    t.update(options_section(("infotext", "Infotext", "ui"), {
        "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext", "checkbox"),
        "add_model_name_to_info": OptionInfo(True, "Add model name to infotext", "checkbox"),
        "add_user_name_to_info": OptionInfo(False, "Add user name to infotext when authenticated", "checkbox"),
        "add_version_to_infotext": OptionInfo(True, "Add program version to infotext", "checkbox"),
        "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext", "checkbox"),
        "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext", "checkbox"),
        "disable_weights_auto_swap": OptionInfo(True, "Disregard checkpoint information from pasted infotext", "checkbox"),
        "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext", "dropdown"),
        "infotext_styles": OptionInfo("Apply if any", "Infer styles from prompts of pasted infotext", "radio",
                                      choices=("Ignore", "Apply", "Discard", "Apply if any")),
    }))

    t.update(options_section(("ui", "User interface", "ui"), {
        "quicksettings_list": OptionInfo(["sd_model_checkpoint"], "Quicksettings list", "dropdown"),
        "send_seed": OptionInfo(True, "Send seed when sending prompt or image to other interface", "checkbox"),
        "send_size": OptionInfo(True, "Send size when sending prompt or image to another interface", "checkbox"),
        "js_modal_lightbox": OptionInfo(True, "Full page image viewer: enable", "checkbox"),
        "gallery_height": OptionInfo("", "Gallery height", "textbox"),
    }))

    t.update(options_section(("ui_alternatives", "UI alternatives", "ui"), {
        "samplers_in_dropdown": OptionInfo(True, "Use dropdown for sampler selection instead of radio group", "checkbox"),
        "dimensions_and_batch_together": OptionInfo(True, "Show Width/Height and Batch sliders in same row", "checkbox"),
    }))

    t.update(options_section(("live-previews", "Live previews", "ui"), {
        "live_previews_enable": OptionInfo(True, "Show live previews of the created image", "checkbox"),
        "live_previews_image_format": OptionInfo("png", "Live preview file format", "radio", choices=("jpeg", "png", "webp")),
        "show_progressbar": OptionInfo(True, "Show progressbar", "checkbox"),
        "show_progress_every_n_steps": OptionInfo(10, "Live preview display period", "slider", minimum=-1, maximum=32),
        "show_progress_type": OptionInfo("Approx NN", "Live preview method", "radio", choices=("Full", "Approx NN", "Approx cheap", "TAESD")),
        "live_preview_content": OptionInfo("Prompt", "Live preview subject", "radio", choices=("Combined", "Prompt", "Negative prompt")),
        "interrupt_after_current": OptionInfo(True, "Don't Interrupt in the middle", "checkbox"),
    }))

    t.update(options_section(("face-restoration", "Face restoration", "postprocessing"), {
        "face_restoration": OptionInfo(False, "Restore faces", "checkbox", infotext="Face restoration"),
        "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model", "radio", choices=("CodeFormer", "GFPGAN")),
        "code_former_weight": OptionInfo(0.5, "CodeFormer weight", "slider", minimum=0.0, maximum=1.0),
        "face_restoration_unload": OptionInfo(False, "Move face restoration model from VRAM into RAM after processing", "checkbox"),
    }))

    t.update(options_section(("system", "System", "system"), {
        "auto_launch_browser": OptionInfo("Local", "Automatically open webui in browser on startup", "radio",
                                          choices=("Disable", "Local", "Remote")),
        "enable_console_prompts": OptionInfo(False, "Print prompts to console when generating with txt2img and img2img.", "checkbox"),
        "show_warnings": OptionInfo(False, "Show warnings in console.", "checkbox"),
        "memmon_poll_rate": OptionInfo(8, "VRAM usage polls per second during generation.", "slider", minimum=0, maximum=40),
        "samples_log_stdout": OptionInfo(False, "Always print all generation info to standard output", "checkbox"),
        "multiple_tqdm": OptionInfo(True, "Add a second progress bar to the console that shows progress for an entire job.", "checkbox"),
        "enable_upscale_progressbar": OptionInfo(True, "Show a progress bar in the console for tiled upscaling.", "checkbox"),
        "print_hypernet_extra": OptionInfo(False, "Print extra hypernetwork information to console.", "checkbox"),
        "list_hidden_files": OptionInfo(True, "Load models/files in hidden directories", "checkbox"),
        "disable_mmap_load_safetensors": OptionInfo(False, "Disable memmapping for loading .safetensors files.", "checkbox"),
        "hide_ldm_prints": OptionInfo(True, "Prevent Stability-AI's ldm/sgm modules from printing noise to console.", "checkbox"),
        "dump_stacks_on_signal": OptionInfo(False, "Print stack traces before exiting the program with ctrl+c.", "checkbox"),
    }))

    t.update(options_section(("API", "API", "system"), {
        "api_enable_requests": OptionInfo(True, "Allow http:// and https:// URLs for input images in API", "checkbox", restrict_api=True),
        "api_forbid_local_requests": OptionInfo(True, "Forbid URLs to local resources", "checkbox", restrict_api=True),
        "api_useragent": OptionInfo("", "User agent for requests", "textbox", restrict_api=True),
    }))

    t.update(options_section(("extensions", "Extensions", "system"), {
        "disabled_extensions": OptionInfo([], "Disable these extensions"),
        "disable_all_extensions": OptionInfo("none", "Disable all extensions (preserves the list of disabled extensions)", "radio",
                                             choices=("none", "extra", "all")),
    }))
    return t
