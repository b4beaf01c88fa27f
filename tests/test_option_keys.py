"""All of A1111 1.10's option keys, with A1111's defaults, labels, sections and categories (the list
below is data: A1111's `modules/shared_options.py`, `processing_scripts/comments.py` and the options its
built-in extensions register), the rest of A1111's OptionInfo/Options interface, and the inert keys'
table in docs/compatibility.md."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sdwebui.services.infotext_paste import parse_pasted
from sdwebui.services.options import registry
from sdwebui.services.options.info import OptionHTML, OptionInfo, categories, options_section
from sdwebui.services.options.store import OptionError, Options
from tests.ext_helpers import ext_env  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
HTML = "HTML"   # an explanation row (OptionHTML): its text is ours, it holds no value

# key: (default, label, (section id, section label), category id[, {"choices": ..., "range": (min, max)}])
A1111_1_10 = {
    "samples_save": (True, "Always save all generated images", ("saving-images", "Saving images/grids"), "saving"),
    "samples_format": ("png", "File format for images", ("saving-images", "Saving images/grids"), "saving"),
    "samples_filename_pattern": ("", "Images filename pattern", ("saving-images", "Saving images/grids"), "saving"),
    "save_images_add_number": (True, "Add number to filename when saving", ("saving-images", "Saving images/grids"), "saving"),
    "save_images_replace_action": ("Replace", "Saving the image to an existing file", ("saving-images", "Saving images/grids"), "saving"),
    "grid_save": (True, "Always save all generated image grids", ("saving-images", "Saving images/grids"), "saving"),
    "grid_format": ("png", "File format for grids", ("saving-images", "Saving images/grids"), "saving"),
    "grid_extended_filename": (False, "Add extended info (seed, prompt) to filename when saving grid", ("saving-images", "Saving images/grids"), "saving"),
    "grid_only_if_multiple": (True, "Do not save grids consisting of one picture", ("saving-images", "Saving images/grids"), "saving"),
    "grid_prevent_empty_spots": (False, "Prevent empty spots in grid (when set to autodetect)", ("saving-images", "Saving images/grids"), "saving"),
    "grid_zip_filename_pattern": ("", "Archive filename pattern", ("saving-images", "Saving images/grids"), "saving"),
    "n_rows": (-1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size", ("saving-images", "Saving images/grids"), "saving", {"range": (-1, 16)}),
    "font": ("", "Font for image grids that have text", ("saving-images", "Saving images/grids"), "saving"),
    "grid_text_active_color": ("#000000", "Text color for image grids", ("saving-images", "Saving images/grids"), "saving"),
    "grid_text_inactive_color": ("#999999", "Inactive text color for image grids", ("saving-images", "Saving images/grids"), "saving"),
    "grid_background_color": ("#ffffff", "Background color for image grids", ("saving-images", "Saving images/grids"), "saving"),
    "save_images_before_face_restoration": (False, "Save a copy of image before doing face restoration.", ("saving-images", "Saving images/grids"), "saving"),
    "save_images_before_highres_fix": (False, "Save a copy of image before applying highres fix.", ("saving-images", "Saving images/grids"), "saving"),
    "save_images_before_color_correction": (False, "Save a copy of image before applying color correction to img2img results", ("saving-images", "Saving images/grids"), "saving"),
    "save_mask": (False, "For inpainting, save a copy of the greyscale mask", ("saving-images", "Saving images/grids"), "saving"),
    "save_mask_composite": (False, "For inpainting, save a masked composite", ("saving-images", "Saving images/grids"), "saving"),
    "jpeg_quality": (80, "Quality for saved jpeg and avif images", ("saving-images", "Saving images/grids"), "saving", {"range": (1, 100)}),
    "webp_lossless": (False, "Use lossless compression for webp images", ("saving-images", "Saving images/grids"), "saving"),
    "export_for_4chan": (True, "Save copy of large images as JPG", ("saving-images", "Saving images/grids"), "saving"),
    "img_downscale_threshold": (4.0, "File size limit for the above option, MB", ("saving-images", "Saving images/grids"), "saving"),
    "target_side_length": (4000, "Width/height limit for the above option, in pixels", ("saving-images", "Saving images/grids"), "saving"),
    "img_max_size_mp": (200, "Maximum image size", ("saving-images", "Saving images/grids"), "saving"),
    "use_original_name_batch": (True, "Use original name for output filename during batch process in extras tab", ("saving-images", "Saving images/grids"), "saving"),
    "use_upscaler_name_as_suffix": (False, "Use upscaler name as filename suffix in the extras tab", ("saving-images", "Saving images/grids"), "saving"),
    "save_selected_only": (True, "When using 'Save' button, only save a single selected image", ("saving-images", "Saving images/grids"), "saving"),
    "save_write_log_csv": (True, "Write log.csv when saving images using 'Save' button", ("saving-images", "Saving images/grids"), "saving"),
    "save_init_img": (False, "Save init images when using img2img", ("saving-images", "Saving images/grids"), "saving"),
    "temp_dir": ("", "Directory for temporary images; leave empty for default", ("saving-images", "Saving images/grids"), "saving"),
    "clean_temp_dir_at_start": (False, "Cleanup non-default temporary directory when starting webui", ("saving-images", "Saving images/grids"), "saving"),
    "save_incomplete_images": (False, "Save incomplete images", ("saving-images", "Saving images/grids"), "saving"),
    "notification_audio": (True, "Play notification sound after image generation", ("saving-images", "Saving images/grids"), "saving"),
    "notification_volume": (100, "Notification sound volume", ("saving-images", "Saving images/grids"), "saving", {"range": (0, 100)}),
    "outdir_samples": ("", "Output directory for images; if empty, defaults to three directories below", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_txt2img_samples": ("outputs/txt2img-images", "Output directory for txt2img images", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_img2img_samples": ("outputs/img2img-images", "Output directory for img2img images", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_extras_samples": ("outputs/extras-images", "Output directory for images from extras tab", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_grids": ("", "Output directory for grids; if empty, defaults to two directories below", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_txt2img_grids": ("outputs/txt2img-grids", "Output directory for txt2img grids", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_img2img_grids": ("outputs/img2img-grids", "Output directory for img2img grids", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_save": ("log/images", "Directory for saving images using the Save button", ("saving-paths", "Paths for saving"), "saving"),
    "outdir_init_images": ("outputs/init-images", "Directory for saving init images when using img2img", ("saving-paths", "Paths for saving"), "saving"),
    "save_to_dirs": (True, "Save images to a subdirectory", ("saving-to-dirs", "Saving to a directory"), "saving"),
    "grid_save_to_dirs": (True, "Save grids to a subdirectory", ("saving-to-dirs", "Saving to a directory"), "saving"),
    "use_save_to_dirs_for_ui": (False, 'When using "Save" button, save images to a subdirectory', ("saving-to-dirs", "Saving to a directory"), "saving"),
    "directories_filename_pattern": ("[date]", "Directory name pattern", ("saving-to-dirs", "Saving to a directory"), "saving"),
    "directories_max_prompt_words": (8, "Max prompt words for [prompt_words] pattern", ("saving-to-dirs", "Saving to a directory"), "saving"),
    "ESRGAN_tile": (192, "Tile size for ESRGAN upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 512)}),
    "ESRGAN_tile_overlap": (8, "Tile overlap for ESRGAN upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 48)}),
    "realesrgan_enabled_models": (["R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B"], "Select which Real-ESRGAN models to show in the web UI.", ("upscaling", "Upscaling"), "postprocessing"),
    "dat_enabled_models": (["DAT x2", "DAT x3", "DAT x4"], "Select which DAT models to show in the web UI.", ("upscaling", "Upscaling"), "postprocessing"),
    "DAT_tile": (192, "Tile size for DAT upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 512)}),
    "DAT_tile_overlap": (8, "Tile overlap for DAT upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 48)}),
    "upscaler_for_img2img": (None, "Upscaler for img2img", ("upscaling", "Upscaling"), "postprocessing"),
    "set_scale_by_when_changing_upscaler": (False, "Automatically set the Scale by factor based on the name of the selected Upscaler.", ("upscaling", "Upscaling"), "postprocessing"),
    "face_restoration": (False, "Restore faces", ("face-restoration", "Face restoration"), "postprocessing"),
    "face_restoration_model": ("CodeFormer", "Face restoration model", ("face-restoration", "Face restoration"), "postprocessing"),
    "code_former_weight": (0.5, "CodeFormer weight", ("face-restoration", "Face restoration"), "postprocessing", {"range": (0, 1)}),
    "face_restoration_unload": (False, "Move face restoration model from VRAM into RAM after processing", ("face-restoration", "Face restoration"), "postprocessing"),
    "auto_launch_browser": ("Local", "Automatically open webui in browser on startup", ("system", "System"), "system"),
    "enable_console_prompts": (False, "Print prompts to console when generating with txt2img and img2img.", ("system", "System"), "system"),
    "show_warnings": (False, "Show warnings in console.", ("system", "System"), "system"),
    "show_gradio_deprecation_warnings": (True, "Show gradio deprecation warnings in console.", ("system", "System"), "system"),
    "memmon_poll_rate": (8, "VRAM usage polls per second during generation.", ("system", "System"), "system", {"range": (0, 40)}),
    "samples_log_stdout": (False, "Always print all generation info to standard output", ("system", "System"), "system"),
    "multiple_tqdm": (True, "Add a second progress bar to the console that shows progress for an entire job.", ("system", "System"), "system"),
    "enable_upscale_progressbar": (True, "Show a progress bar in the console for tiled upscaling.", ("system", "System"), "system"),
    "print_hypernet_extra": (False, "Print extra hypernetwork information to console.", ("system", "System"), "system"),
    "list_hidden_files": (True, "Load models/files in hidden directories", ("system", "System"), "system"),
    "disable_mmap_load_safetensors": (False, "Disable memmapping for loading .safetensors files.", ("system", "System"), "system"),
    "hide_ldm_prints": (True, "Prevent Stability-AI's ldm/sgm modules from printing noise to console.", ("system", "System"), "system"),
    "dump_stacks_on_signal": (False, "Print stack traces before exiting the program with ctrl+c.", ("system", "System"), "system"),
    "profiling_explanation": ("HTML", "", ("profiler", "Profiler"), "system"),
    "profiling_enable": (False, "Enable profiling", ("profiler", "Profiler"), "system"),
    "profiling_activities": (["CPU"], "Activities", ("profiler", "Profiler"), "system", {"choices": ("CPU", "CUDA")}),
    "profiling_record_shapes": (True, "Record shapes", ("profiler", "Profiler"), "system"),
    "profiling_profile_memory": (True, "Profile memory", ("profiler", "Profiler"), "system"),
    "profiling_with_stack": (True, "Include python stack", ("profiler", "Profiler"), "system"),
    "profiling_filename": ("trace.json", "Profile filename", ("profiler", "Profiler"), "system"),
    "api_enable_requests": (True, "Allow http:// and https:// URLs for input images in API", ("API", "API"), "system"),
    "api_forbid_local_requests": (True, "Forbid URLs to local resources", ("API", "API"), "system"),
    "api_useragent": ("", "User agent for requests", ("API", "API"), "system"),
    "unload_models_when_training": (False, "Move VAE and CLIP to RAM when training if possible. Saves VRAM.", ("training", "Training"), "training"),
    "pin_memory": (False, "Turn on pin_memory for DataLoader. Makes training slightly faster but can increase memory usage.", ("training", "Training"), "training"),
    "save_optimizer_state": (False, "Saves Optimizer state as separate *.optim file. Training of embedding or HN can be resumed with the matching optim file.", ("training", "Training"), "training"),
    "save_training_settings_to_txt": (True, "Save textual inversion and hypernet settings to a text file whenever training starts.", ("training", "Training"), "training"),
    "dataset_filename_word_regex": ("", "Filename word regex", ("training", "Training"), "training"),
    "dataset_filename_join_string": (" ", "Filename join string", ("training", "Training"), "training"),
    "training_image_repeats_per_epoch": (1, "Number of repeats for a single input image per epoch; used only for displaying epoch number", ("training", "Training"), "training"),
    "training_write_csv_every": (500, "Save an csv containing the loss to log directory every N steps, 0 to disable", ("training", "Training"), "training"),
    "training_xattention_optimizations": (False, "Use cross attention optimizations while training", ("training", "Training"), "training"),
    "training_enable_tensorboard": (False, "Enable tensorboard logging.", ("training", "Training"), "training"),
    "training_tensorboard_save_images": (False, "Save generated images within tensorboard.", ("training", "Training"), "training"),
    "training_tensorboard_flush_every": (120, "How often, in seconds, to flush the pending tensorboard events and summaries to disk.", ("training", "Training"), "training"),
    "sd_model_checkpoint": (None, "Stable Diffusion checkpoint", ("sd", "Stable Diffusion"), "sd"),
    "sd_checkpoints_limit": (1, "Maximum number of checkpoints loaded at the same time", ("sd", "Stable Diffusion"), "sd", {"range": (1, 10)}),
    "sd_checkpoints_keep_in_cpu": (True, "Only keep one model on device", ("sd", "Stable Diffusion"), "sd"),
    "sd_checkpoint_cache": (0, "Checkpoints to cache in RAM", ("sd", "Stable Diffusion"), "sd", {"range": (0, 10)}),
    "sd_unet": ("Automatic", "SD Unet", ("sd", "Stable Diffusion"), "sd"),
    "enable_quantization": (False, "Enable quantization in K samplers for sharper and cleaner results. This may change existing seeds", ("sd", "Stable Diffusion"), "sd"),
    "emphasis": ("Original", "Emphasis mode", ("sd", "Stable Diffusion"), "sd"),
    "enable_batch_seeds": (True, "Make K-diffusion samplers produce same images in a batch as when making a single image", ("sd", "Stable Diffusion"), "sd"),
    "comma_padding_backtrack": (20, "Prompt word wrap length limit", ("sd", "Stable Diffusion"), "sd", {"range": (0, 74)}),
    "sdxl_clip_l_skip": (False, "Clip skip SDXL", ("sd", "Stable Diffusion"), "sd"),
    "CLIP_stop_at_last_layers": (1, "Clip skip", ("sd", "Stable Diffusion"), "sd", {"range": (1, 12)}),
    "upcast_attn": (False, "Upcast cross attention layer to float32", ("sd", "Stable Diffusion"), "sd"),
    "randn_source": ("GPU", "Random number generator source.", ("sd", "Stable Diffusion"), "sd", {"choices": ("GPU", "CPU", "NV")}),
    "tiling": (False, "Tiling", ("sd", "Stable Diffusion"), "sd"),
    "hires_fix_refiner_pass": ("second pass", "Hires fix: which pass to enable refiner for", ("sd", "Stable Diffusion"), "sd", {"choices": ("first pass", "second pass", "both passes")}),
    "sdxl_crop_top": (0, "crop top coordinate", ("sdxl", "Stable Diffusion XL"), "sd"),
    "sdxl_crop_left": (0, "crop left coordinate", ("sdxl", "Stable Diffusion XL"), "sd"),
    "sdxl_refiner_low_aesthetic_score": (2.5, "SDXL low aesthetic score", ("sdxl", "Stable Diffusion XL"), "sd"),
    "sdxl_refiner_high_aesthetic_score": (6.0, "SDXL high aesthetic score", ("sdxl", "Stable Diffusion XL"), "sd"),
    "sd3_enable_t5": (False, "Enable T5", ("sd3", "Stable Diffusion 3"), "sd"),
    "sd_vae_explanation": ("HTML", "", ("vae", "VAE"), "sd"),
    "sd_vae_checkpoint_cache": (0, "VAE Checkpoints to cache in RAM", ("vae", "VAE"), "sd", {"range": (0, 10)}),
    "sd_vae": ("Automatic", "SD VAE", ("vae", "VAE"), "sd"),
    "sd_vae_overrides_per_model_preferences": (True, "Selected VAE overrides per-model preferences", ("vae", "VAE"), "sd"),
    "auto_vae_precision_bfloat16": (False, "Automatically convert VAE to bfloat16", ("vae", "VAE"), "sd"),
    "auto_vae_precision": (True, "Automatically revert VAE to 32-bit floats", ("vae", "VAE"), "sd"),
    "sd_vae_encode_method": ("Full", "VAE type for encode", ("vae", "VAE"), "sd", {"choices": ("Full", "TAESD")}),
    "sd_vae_decode_method": ("Full", "VAE type for decode", ("vae", "VAE"), "sd", {"choices": ("Full", "TAESD")}),
    "inpainting_mask_weight": (1.0, "Inpainting conditioning mask strength", ("img2img", "img2img"), "sd", {"range": (0.0, 1.0)}),
    "initial_noise_multiplier": (1.0, "Noise multiplier for img2img", ("img2img", "img2img"), "sd", {"range": (0.0, 1.5)}),
    "img2img_extra_noise": (0.0, "Extra noise multiplier for img2img and hires fix", ("img2img", "img2img"), "sd", {"range": (0.0, 1.0)}),
    "img2img_color_correction": (False, "Apply color correction to img2img results to match original colors.", ("img2img", "img2img"), "sd"),
    "img2img_fix_steps": (False, "With img2img, do exactly the amount of steps the slider specifies.", ("img2img", "img2img"), "sd"),
    "img2img_background_color": ("#ffffff", "With img2img, fill transparent parts of the input image with this color.", ("img2img", "img2img"), "sd"),
    "img2img_editor_height": (720, "Height of the image editor", ("img2img", "img2img"), "sd", {"range": (80, 1600)}),
    "img2img_sketch_default_brush_color": ("#ffffff", "Sketch initial brush color", ("img2img", "img2img"), "sd"),
    "img2img_inpaint_mask_brush_color": ("#ffffff", "Inpaint mask brush color", ("img2img", "img2img"), "sd"),
    "img2img_inpaint_sketch_default_brush_color": ("#ffffff", "Inpaint sketch initial brush color", ("img2img", "img2img"), "sd"),
    "return_mask": (False, "For inpainting, include the greyscale mask in results for web", ("img2img", "img2img"), "sd"),
    "return_mask_composite": (False, "For inpainting, include masked composite in results for web", ("img2img", "img2img"), "sd"),
    "img2img_batch_show_results_limit": (32, "Show the first N batch img2img results in UI", ("img2img", "img2img"), "sd", {"range": (-1, 1000)}),
    "overlay_inpaint": (True, "Overlay original for inpaint", ("img2img", "img2img"), "sd"),
    "cross_attention_optimization": ("Automatic", "Cross attention optimization", ("optimizations", "Optimizations"), "sd"),
    "s_min_uncond": (0.0, "Negative Guidance minimum sigma", ("optimizations", "Optimizations"), "sd", {"range": (0.0, 15.0)}),
    "s_min_uncond_all": (False, "Negative Guidance minimum sigma all steps", ("optimizations", "Optimizations"), "sd"),
    "token_merging_ratio": (0.0, "Token merging ratio", ("optimizations", "Optimizations"), "sd", {"range": (0.0, 0.9)}),
    "token_merging_ratio_img2img": (0.0, "Token merging ratio for img2img", ("optimizations", "Optimizations"), "sd", {"range": (0.0, 0.9)}),
    "token_merging_ratio_hr": (0.0, "Token merging ratio for high-res pass", ("optimizations", "Optimizations"), "sd", {"range": (0.0, 0.9)}),
    "pad_cond_uncond": (False, "Pad prompt/negative prompt", ("optimizations", "Optimizations"), "sd"),
    "pad_cond_uncond_v0": (False, "Pad prompt/negative prompt (v0)", ("optimizations", "Optimizations"), "sd"),
    "persistent_cond_cache": (True, "Persistent cond cache", ("optimizations", "Optimizations"), "sd"),
    "batch_cond_uncond": (True, "Batch cond/uncond", ("optimizations", "Optimizations"), "sd"),
    "fp8_storage": ("Disable", "FP8 weight", ("optimizations", "Optimizations"), "sd", {"choices": ("Disable", "Enable for SDXL", "Enable")}),
    "cache_fp16_weight": (False, "Cache FP16 weight for LoRA", ("optimizations", "Optimizations"), "sd"),
    "auto_backcompat": (True, "Automatic backward compatibility", ("compatibility", "Compatibility"), "sd"),
    "use_old_emphasis_implementation": (False, "Use old emphasis implementation. Can be useful to reproduce old seeds.", ("compatibility", "Compatibility"), "sd"),
    "use_old_karras_scheduler_sigmas": (False, "Use old karras scheduler sigmas (0.1 to 10).", ("compatibility", "Compatibility"), "sd"),
    "no_dpmpp_sde_batch_determinism": (False, "Do not make DPM++ SDE deterministic across different batch sizes.", ("compatibility", "Compatibility"), "sd"),
    "use_old_hires_fix_width_height": (False, "For hires fix, use width/height sliders to set final resolution rather than first pass (disables Upscale by, Resize width/height to).", ("compatibility", "Compatibility"), "sd"),
    "hires_fix_use_firstpass_conds": (False, "For hires fix, calculate conds of second pass using extra networks of first pass.", ("compatibility", "Compatibility"), "sd"),
    "use_old_scheduling": (False, "Use old prompt editing timelines.", ("compatibility", "Compatibility"), "sd"),
    "use_downcasted_alpha_bar": (False, "Downcast model alphas_cumprod to fp16 before sampling. For reproducing old seeds.", ("compatibility", "Compatibility"), "sd"),
    "refiner_switch_by_sample_steps": (False, "Switch to refiner by sampling steps instead of model timesteps. Old behavior for refiner.", ("compatibility", "Compatibility"), "sd"),
    "interrogate_keep_models_in_memory": (False, "Keep models in VRAM", ("interrogate", "Interrogate"), None),
    "interrogate_return_ranks": (False, "Include ranks of model tags matches in results.", ("interrogate", "Interrogate"), None),
    "interrogate_clip_num_beams": (1, "BLIP: num_beams", ("interrogate", "Interrogate"), None, {"range": (1, 16)}),
    "interrogate_clip_min_length": (24, "BLIP: minimum description length", ("interrogate", "Interrogate"), None, {"range": (1, 128)}),
    "interrogate_clip_max_length": (48, "BLIP: maximum description length", ("interrogate", "Interrogate"), None, {"range": (1, 256)}),
    "interrogate_clip_dict_limit": (1500, "CLIP: maximum number of lines in text file", ("interrogate", "Interrogate"), None),
    "interrogate_clip_skip_categories": ([], "CLIP: skip inquire categories", ("interrogate", "Interrogate"), None),
    "interrogate_deepbooru_score_threshold": (0.5, "deepbooru: score threshold", ("interrogate", "Interrogate"), None, {"range": (0, 1)}),
    "deepbooru_sort_alpha": (True, "deepbooru: sort tags alphabetically", ("interrogate", "Interrogate"), None),
    "deepbooru_use_spaces": (True, "deepbooru: use spaces in tags", ("interrogate", "Interrogate"), None),
    "deepbooru_escape": (True, 'deepbooru: escape (\\) brackets', ("interrogate", "Interrogate"), None),
    "deepbooru_filter_tags": ("", "deepbooru: filter out those tags", ("interrogate", "Interrogate"), None),
    "extra_networks_show_hidden_directories": (True, "Show hidden directories", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_dir_button_function": (False, "Add a '/' to the beginning of directory buttons", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_hidden_models": ("When searched", "Show cards for models in hidden directories", ("extra_networks", "Extra Networks"), "sd", {"choices": ("Always", "When searched", "Never")}),
    "extra_networks_default_multiplier": (1.0, "Default multiplier for extra networks", ("extra_networks", "Extra Networks"), "sd", {"range": (0.0, 2.0)}),
    "extra_networks_card_width": (0, "Card width for Extra Networks", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_card_height": (0, "Card height for Extra Networks", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_card_text_scale": (1.0, "Card text scale", ("extra_networks", "Extra Networks"), "sd", {"range": (0.0, 2.0)}),
    "extra_networks_card_show_desc": (True, "Show description on card", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_card_description_is_html": (False, "Treat card description as HTML", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_card_order_field": ("Path", "Default order field for Extra Networks cards", ("extra_networks", "Extra Networks"), "sd", {"choices": ("Path", "Name", "Date Created", "Date Modified")}),
    "extra_networks_card_order": ("Ascending", "Default order for Extra Networks cards", ("extra_networks", "Extra Networks"), "sd", {"choices": ("Ascending", "Descending")}),
    "extra_networks_tree_view_style": ("Dirs", "Extra Networks directory view style", ("extra_networks", "Extra Networks"), "sd", {"choices": ("Tree", "Dirs")}),
    "extra_networks_tree_view_default_enabled": (True, "Show the Extra Networks directory view by default", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_tree_view_default_width": (180, "Default width for the Extra Networks directory tree view", ("extra_networks", "Extra Networks"), "sd"),
    "extra_networks_add_text_separator": (" ", "Extra networks separator", ("extra_networks", "Extra Networks"), "sd"),
    "ui_extra_networks_tab_reorder": ("", "Extra networks tab order", ("extra_networks", "Extra Networks"), "sd"),
    "textual_inversion_print_at_load": (False, "Print a list of Textual Inversion embeddings when loading model", ("extra_networks", "Extra Networks"), "sd"),
    "textual_inversion_add_hashes_to_infotext": (True, "Add Textual Inversion hashes to infotext", ("extra_networks", "Extra Networks"), "sd"),
    "sd_hypernetwork": ("None", "Add hypernetwork to prompt", ("extra_networks", "Extra Networks"), "sd"),
    "keyedit_precision_attention": (0.1, "Precision for (attention:1.1) when editing the prompt with Ctrl+up/down", ("ui_prompt_editing", "Prompt editing"), "ui", {"range": (0.01, 0.2)}),
    "keyedit_precision_extra": (0.05, "Precision for <extra networks:0.9> when editing the prompt with Ctrl+up/down", ("ui_prompt_editing", "Prompt editing"), "ui", {"range": (0.01, 0.2)}),
    "keyedit_delimiters": ('.,\\/!?%^*;:{}=`~() ', "Word delimiters when editing the prompt with Ctrl+up/down", ("ui_prompt_editing", "Prompt editing"), "ui"),
    "keyedit_delimiters_whitespace": (["Tab", "Carriage Return", "Line Feed"], "Ctrl+up/down whitespace delimiters", ("ui_prompt_editing", "Prompt editing"), "ui"),
    "keyedit_move": (True, "Alt+left/right moves prompt elements", ("ui_prompt_editing", "Prompt editing"), "ui"),
    "disable_token_counters": (False, "Disable prompt token counters", ("ui_prompt_editing", "Prompt editing"), "ui"),
    "include_styles_into_token_counters": (True, "Count tokens of enabled styles", ("ui_prompt_editing", "Prompt editing"), "ui"),
    "return_grid": (True, "Show grid in gallery", ("ui_gallery", "Gallery"), "ui"),
    "do_not_show_images": (False, "Do not show any images in gallery", ("ui_gallery", "Gallery"), "ui"),
    "js_modal_lightbox": (True, "Full page image viewer: enable", ("ui_gallery", "Gallery"), "ui"),
    "js_modal_lightbox_initially_zoomed": (True, "Full page image viewer: show images zoomed in by default", ("ui_gallery", "Gallery"), "ui"),
    "js_modal_lightbox_gamepad": (False, "Full page image viewer: navigate with gamepad", ("ui_gallery", "Gallery"), "ui"),
    "js_modal_lightbox_gamepad_repeat": (250, "Full page image viewer: gamepad repeat period", ("ui_gallery", "Gallery"), "ui"),
    "sd_webui_modal_lightbox_icon_opacity": (1, "Full page image viewer: control icon unfocused opacity", ("ui_gallery", "Gallery"), "ui", {"range": (0.0, 1)}),
    "sd_webui_modal_lightbox_toolbar_opacity": (0.9, "Full page image viewer: tool bar opacity", ("ui_gallery", "Gallery"), "ui", {"range": (0.0, 1)}),
    "gallery_height": ("", "Gallery height", ("ui_gallery", "Gallery"), "ui"),
    "open_dir_button_choice": ("Subdirectory", "What directory the [📂] button opens", ("ui_gallery", "Gallery"), "ui", {"choices": ("Output Root", "Subdirectory", "Subdirectory (even temp dir)")}),
    "compact_prompt_box": (False, "Compact prompt layout", ("ui_alternatives", "UI alternatives"), "ui"),
    "samplers_in_dropdown": (True, "Use dropdown for sampler selection instead of radio group", ("ui_alternatives", "UI alternatives"), "ui"),
    "dimensions_and_batch_together": (True, "Show Width/Height and Batch sliders in same row", ("ui_alternatives", "UI alternatives"), "ui"),
    "sd_checkpoint_dropdown_use_short": (False, "Checkpoint dropdown: use filenames without paths", ("ui_alternatives", "UI alternatives"), "ui"),
    "hires_fix_show_sampler": (False, "Hires fix: show hires checkpoint and sampler selection", ("ui_alternatives", "UI alternatives"), "ui"),
    "hires_fix_show_prompts": (False, "Hires fix: show hires prompt and negative prompt", ("ui_alternatives", "UI alternatives"), "ui"),
    "txt2img_settings_accordion": (False, "Settings in txt2img hidden under Accordion", ("ui_alternatives", "UI alternatives"), "ui"),
    "img2img_settings_accordion": (False, "Settings in img2img hidden under Accordion", ("ui_alternatives", "UI alternatives"), "ui"),
    "interrupt_after_current": (True, "Don't Interrupt in the middle", ("ui_alternatives", "UI alternatives"), "ui"),
    "localization": ("None", "Localization", ("ui", "User interface"), "ui"),
    "quicksettings_list": (["sd_model_checkpoint"], "Quicksettings list", ("ui", "User interface"), "ui"),
    "ui_tab_order": ([], "UI tab order", ("ui", "User interface"), "ui"),
    "hidden_tabs": ([], "Hidden UI tabs", ("ui", "User interface"), "ui"),
    "ui_reorder_list": ([], "UI item order for txt2img/img2img tabs", ("ui", "User interface"), "ui"),
    "gradio_theme": ("Default", "Gradio theme", ("ui", "User interface"), "ui"),
    "gradio_themes_cache": (True, "Cache gradio themes locally", ("ui", "User interface"), "ui"),
    "show_progress_in_title": (True, "Show generation progress in window title.", ("ui", "User interface"), "ui"),
    "send_seed": (True, "Send seed when sending prompt or image to other interface", ("ui", "User interface"), "ui"),
    "send_size": (True, "Send size when sending prompt or image to another interface", ("ui", "User interface"), "ui"),
    "enable_reloading_ui_scripts": (False, "Reload UI scripts when using Reload UI option", ("ui", "User interface"), "ui"),
    "infotext_explanation": ("HTML", "", ("infotext", "Infotext"), "ui"),
    "enable_pnginfo": (True, "Write infotext to metadata of the generated image", ("infotext", "Infotext"), "ui"),
    "save_txt": (False, "Create a text file with infotext next to every generated image", ("infotext", "Infotext"), "ui"),
    "add_model_name_to_info": (True, "Add model name to infotext", ("infotext", "Infotext"), "ui"),
    "add_model_hash_to_info": (True, "Add model hash to infotext", ("infotext", "Infotext"), "ui"),
    "add_vae_name_to_info": (True, "Add VAE name to infotext", ("infotext", "Infotext"), "ui"),
    "add_vae_hash_to_info": (True, "Add VAE hash to infotext", ("infotext", "Infotext"), "ui"),
    "add_user_name_to_info": (False, "Add user name to infotext when authenticated", ("infotext", "Infotext"), "ui"),
    "add_version_to_infotext": (True, "Add program version to infotext", ("infotext", "Infotext"), "ui"),
    "disable_weights_auto_swap": (True, "Disregard checkpoint information from pasted infotext", ("infotext", "Infotext"), "ui"),
    "infotext_skip_pasting": ([], "Disregard fields from pasted infotext", ("infotext", "Infotext"), "ui"),
    "infotext_styles": ("Apply if any", "Infer styles from prompts of pasted infotext", ("infotext", "Infotext"), "ui", {"choices": ("Ignore", "Apply", "Discard", "Apply if any")}),
    "show_progressbar": (True, "Show progressbar", ("ui", "Live previews"), "ui"),
    "live_previews_enable": (True, "Show live previews of the created image", ("ui", "Live previews"), "ui"),
    "live_previews_image_format": ("png", "Live preview file format", ("ui", "Live previews"), "ui", {"choices": ("jpeg", "png", "webp")}),
    "show_progress_grid": (True, "Show previews of all images generated in a batch as a grid", ("ui", "Live previews"), "ui"),
    "show_progress_every_n_steps": (10, "Live preview display period", ("ui", "Live previews"), "ui", {"range": (-1, 32)}),
    "show_progress_type": ("Approx NN", "Live preview method", ("ui", "Live previews"), "ui", {"choices": ("Full", "Approx NN", "Approx cheap", "TAESD")}),
    "live_preview_allow_lowvram_full": (False, "Allow Full live preview method with lowvram/medvram", ("ui", "Live previews"), "ui"),
    "live_preview_content": ("Prompt", "Live preview subject", ("ui", "Live previews"), "ui", {"choices": ("Combined", "Prompt", "Negative prompt")}),
    "live_preview_refresh_period": (1000, "Progressbar and preview update period", ("ui", "Live previews"), "ui"),
    "live_preview_fast_interrupt": (False, "Return image with chosen live preview method on interrupt", ("ui", "Live previews"), "ui"),
    "js_live_preview_in_modal_lightbox": (False, "Show Live preview in full page image viewer", ("ui", "Live previews"), "ui"),
    "prevent_screen_sleep_during_generation": (True, "Prevent screen sleep during generation", ("ui", "Live previews"), "ui"),
    "hide_samplers": ([], "Hide samplers in user interface", ("sampler-params", "Sampler parameters"), "sd"),
    "eta_ddim": (0.0, "Eta for DDIM", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 1.0)}),
    "eta_ancestral": (1.0, "Eta for k-diffusion samplers", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 1.0)}),
    "ddim_discretize": ("uniform", "img2img DDIM discretize", ("sampler-params", "Sampler parameters"), "sd", {"choices": ("uniform", "quad")}),
    "s_churn": (0.0, "sigma churn", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 100.0)}),
    "s_tmin": (0.0, "sigma tmin", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 10.0)}),
    "s_tmax": (0.0, "sigma tmax", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 999.0)}),
    "s_noise": (1.0, "sigma noise", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 1.1)}),
    "sigma_min": (0.0, "sigma min", ("sampler-params", "Sampler parameters"), "sd"),
    "sigma_max": (0.0, "sigma max", ("sampler-params", "Sampler parameters"), "sd"),
    "rho": (0.0, "rho", ("sampler-params", "Sampler parameters"), "sd"),
    "eta_noise_seed_delta": (0, "Eta noise seed delta", ("sampler-params", "Sampler parameters"), "sd"),
    "always_discard_next_to_last_sigma": (False, "Always discard next-to-last sigma", ("sampler-params", "Sampler parameters"), "sd"),
    "sgm_noise_multiplier": (False, "SGM noise multiplier", ("sampler-params", "Sampler parameters"), "sd"),
    "uni_pc_variant": ("bh1", "UniPC variant", ("sampler-params", "Sampler parameters"), "sd", {"choices": ("bh1", "bh2", "vary_coeff")}),
    "uni_pc_skip_type": ("time_uniform", "UniPC skip type", ("sampler-params", "Sampler parameters"), "sd", {"choices": ("time_uniform", "time_quadratic", "logSNR")}),
    "uni_pc_order": (3, "UniPC order", ("sampler-params", "Sampler parameters"), "sd", {"range": (1, 50)}),
    "uni_pc_lower_order_final": (True, "UniPC lower order final", ("sampler-params", "Sampler parameters"), "sd"),
    "sd_noise_schedule": ("Default", "Noise schedule for sampling", ("sampler-params", "Sampler parameters"), "sd", {"choices": ("Default", "Zero Terminal SNR")}),
    "skip_early_cond": (0.0, "Ignore negative prompt during early sampling", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.0, 1.0)}),
    "beta_dist_alpha": (0.6, "Beta scheduler - alpha", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.01, 1.0)}),
    "beta_dist_beta": (0.6, "Beta scheduler - beta", ("sampler-params", "Sampler parameters"), "sd", {"range": (0.01, 1.0)}),
    "postprocessing_enable_in_main_ui": ([], "Enable postprocessing operations in txt2img and img2img tabs", ("postprocessing", "Postprocessing"), "postprocessing"),
    "postprocessing_disable_in_extras": ([], "Disable postprocessing operations in extras tab", ("postprocessing", "Postprocessing"), "postprocessing"),
    "postprocessing_operation_order": ([], "Postprocessing operation order", ("postprocessing", "Postprocessing"), "postprocessing"),
    "upscaling_max_images_in_cache": (5, "Maximum number of images in upscaling cache", ("postprocessing", "Postprocessing"), "postprocessing", {"range": (0, 10)}),
    "postprocessing_existing_caption_action": ("Ignore", "Action for existing captions", ("postprocessing", "Postprocessing"), "postprocessing", {"choices": ("Ignore", "Keep", "Prepend", "Append")}),
    "disabled_extensions": ([], "Disable these extensions", (None, "Hidden options"), None),
    "disable_all_extensions": ("none", "Disable all extensions (preserves the list of disabled extensions)", (None, "Hidden options"), None, {"choices": ("none", "extra", "all")}),
    "restore_config_state_file": ("", "Config state file to restore from, under 'config-states/' folder", (None, "Hidden options"), None),
    "sd_checkpoint_hash": ("", "SHA256 hash of the current checkpoint", (None, "Hidden options"), None),
    "enable_prompt_comments": (True, "Enable comments", ("sd", "Stable Diffusion"), "sd"),
    "ldsr_steps": (100, "LDSR processing steps. Lower = faster", ("upscaling", "Upscaling"), "postprocessing", {"range": (1, 200)}),
    "ldsr_cached": (False, "Cache LDSR model in memory", ("upscaling", "Upscaling"), "postprocessing"),
    "sd_lora": ("None", "Add network to prompt", ("extra_networks", "Extra Networks"), "sd"),
    "lora_preferred_name": ("Alias from file", "When adding to prompt, refer to Lora by", ("extra_networks", "Extra Networks"), "sd", {"choices": ("Alias from file", "Filename")}),
    "lora_add_hashes_to_infotext": (True, "Add Lora hashes to infotext", ("extra_networks", "Extra Networks"), "sd"),
    "lora_bundled_ti_to_infotext": (True, "Add Lora name as TI hashes for bundled Textual Inversion", ("extra_networks", "Extra Networks"), "sd"),
    "lora_show_all": (False, "Always show all networks on the Lora page", ("extra_networks", "Extra Networks"), "sd"),
    "lora_hide_unknown_for_versions": ([], "Hide networks of unknown versions for model versions", ("extra_networks", "Extra Networks"), "sd", {"choices": ("SD1", "SD2", "SDXL")}),
    "lora_in_memory_limit": (0, "Number of Lora networks to keep cached in memory", ("extra_networks", "Extra Networks"), "sd"),
    "lora_not_found_warning_console": (False, "Lora not found warning in console", ("extra_networks", "Extra Networks"), "sd"),
    "lora_not_found_gradio_warning": (False, "Lora not found warning popup in webui", ("extra_networks", "Extra Networks"), "sd"),
    "lora_functional": (False, "Lora/Networks: use old method that takes longer when you have multiple Loras active and produces same results as kohya-ss/sd-webui-additional-networks extension", ("compatibility", "Compatibility"), "sd"),
    "SCUNET_tile": (256, "Tile size for SCUNET upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 512)}),
    "SCUNET_tile_overlap": (8, "Tile overlap for SCUNET upscalers.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 64)}),
    "SWIN_tile": (192, "Tile size for all SwinIR.", ("upscaling", "Upscaling"), "postprocessing", {"range": (16, 512)}),
    "SWIN_tile_overlap": (8, "Tile overlap, in pixels for SwinIR. Low values = visible seam.", ("upscaling", "Upscaling"), "postprocessing", {"range": (0, 48)}),
    "SWIN_torch_compile": (False, "Use torch.compile to accelerate SwinIR.", ("upscaling", "Upscaling"), "postprocessing"),
    "canvas_hotkey_zoom": ("Alt", "Zoom canvas", ("canvas_hotkey", "Canvas Hotkeys"), None, {"choices": ("Shift", "Ctrl", "Alt")}),
    "canvas_hotkey_adjust": ("Ctrl", "Adjust brush size", ("canvas_hotkey", "Canvas Hotkeys"), None, {"choices": ("Shift", "Ctrl", "Alt")}),
    "canvas_hotkey_shrink_brush": ("Q", "Shrink the brush size", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_hotkey_grow_brush": ("W", "Enlarge the brush size", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_hotkey_move": ("F", "Moving the canvas", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_hotkey_fullscreen": ("S", "Fullscreen Mode, maximizes the picture so that it fits into the screen and stretches it to its full width ", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_hotkey_reset": ("R", "Reset zoom and canvas position", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_hotkey_overlap": ("O", "Toggle overlap", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_show_tooltip": (True, "Enable tooltip on the canvas", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_auto_expand": (True, "Automatically expands an image that does not fit completely in the canvas area, similar to manually pressing the S and R buttons", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_blur_prompt": (False, "Take the focus off the prompt when working with a canvas", ("canvas_hotkey", "Canvas Hotkeys"), None),
    "canvas_disabled_functions": (["Overlap"], "Disable function that you don't use", ("canvas_hotkey", "Canvas Hotkeys"), None, {"choices": ("Zoom", "Adjust brush size", "Hotkey enlarge brush", "Hotkey shrink brush", "Moving canvas", "Fullscreen", "Reset Zoom", "Overlap")}),
    "settings_in_ui": ("HTML", "", ("settings_in_ui", "Settings in UI"), "ui"),
    "extra_options_txt2img": ([], "Settings for txt2img", ("settings_in_ui", "Settings in UI"), "ui"),
    "extra_options_img2img": ([], "Settings for img2img", ("settings_in_ui", "Settings in UI"), "ui"),
    "extra_options_cols": (1, "Number of columns for added settings", ("settings_in_ui", "Settings in UI"), "ui", {"range": (1, 20)}),
    "extra_options_accordion": (False, "Place added settings into an accordion", ("settings_in_ui", "Settings in UI"), "ui"),
    "hypertile_explanation": ("HTML", "", ("hypertile", "Hypertile"), None),
    "hypertile_enable_unet": (False, "Enable Hypertile U-Net", ("hypertile", "Hypertile"), None),
    "hypertile_enable_unet_secondpass": (False, "Enable Hypertile U-Net for hires fix second pass", ("hypertile", "Hypertile"), None),
    "hypertile_max_depth_unet": (3, "Hypertile U-Net max depth", ("hypertile", "Hypertile"), None, {"range": (0, 3)}),
    "hypertile_max_tile_unet": (256, "Hypertile U-Net max tile size", ("hypertile", "Hypertile"), None, {"range": (0, 512)}),
    "hypertile_swap_size_unet": (3, "Hypertile U-Net swap size", ("hypertile", "Hypertile"), None, {"range": (0, 64)}),
    "hypertile_enable_vae": (False, "Enable Hypertile VAE", ("hypertile", "Hypertile"), None),
    "hypertile_max_depth_vae": (3, "Hypertile VAE max depth", ("hypertile", "Hypertile"), None, {"range": (0, 3)}),
    "hypertile_max_tile_vae": (128, "Hypertile VAE max tile size", ("hypertile", "Hypertile"), None, {"range": (0, 512)}),
    "hypertile_swap_size_vae": (3, "Hypertile VAE swap size ", ("hypertile", "Hypertile"), None, {"range": (0, 64)}),}

# where this implementation deliberately differs from the list above (docs/compatibility.md says why)
CHOICE_DIFFERENCES: dict[str, tuple] = {}


@pytest.fixture
def opts(tmp_path):
    return Options(registry.templates(vae_choices=lambda: ["Automatic", "None"]), tmp_path / "config.json")


def _category(opts: Options, info: OptionInfo) -> str | None:
    # A1111 gives every option of a section the category of the section's first option (Options.reorder)
    return opts._section_categories().get(info.section)


def test_every_a1111_key_exists_with_a1111s_default_label_and_section(opts):
    assert len(A1111_1_10) == 329
    for key, (default, label, section, category, *extra) in A1111_1_10.items():
        info = opts.data_labels.get(key)
        assert info is not None, key
        assert info.section == section, key
        assert _category(opts, info) == category, key
        if default == HTML:
            assert info.do_not_save and info.component == "html" and info.default, key
            continue
        assert info.label == label, key
        assert info.default == default and type(info.default) is type(default), key
        assert opts.get_default(key) == default and getattr(opts, key) == default, key
        spec = extra[0] if extra else {}
        if "choices" in spec:
            assert tuple(info.get_choices()) == CHOICE_DIFFERENCES.get(key, spec["choices"]), key
        if "range" in spec:
            assert (info.minimum, info.maximum) == spec["range"], key
            assert info.component == "slider", key


def test_every_value_key_round_trips_through_config_json(opts, tmp_path):
    values = opts.as_dict()
    assert not [k for k, i in opts.data_labels.items() if i.do_not_save and k in values]
    opts.save()
    again = Options(registry.templates(), tmp_path / "config.json")
    again.load()
    assert again.as_dict() == json.loads(json.dumps(values, default=str))


def test_categories_are_a1111s_in_order():
    assert [(c.id, c.label) for c in categories.mapping.values()][:6] == [
        ("saving", "Saving images"), ("sd", "Stable Diffusion"), ("ui", "User Interface"), ("system", "System"),
        ("postprocessing", "Postprocessing"), ("training", "Training")]


def test_option_info_chains_and_attributes():
    info = (OptionInfo(3, "Steps", "slider", {"minimum": 1, "maximum": 9, "step": 2}, None, ("s", "S"))
            .info("in steps").link("wiki", "https://example.org/w").needs_reload_ui().needs_restart().html("<b>!</b>"))
    assert info.comment_before == "[<a href='https://example.org/w' target='_blank'>wiki</a>]"
    assert info.comment_after == ("<span class='info'>(in steps)</span> <span class='info'>(requires Reload UI)</span>"
                                  " <span class='info'>(requires restart)</span><b>!</b>")
    assert (info.minimum, info.maximum, info.type, info.component) == (1, 9, int, "slider")
    assert (info.restrict_api, info.do_not_save, info.refresh, info.onchange, info.category_id) == (False, False, None, None, None)
    # A1111's positional order: ..., refresh, comment_before, comment_after, infotext, restrict_api, category_id
    full = OptionInfo(1, "x", None, None, None, ("a", "A"), None, "before", "after", "X info", True, "sd")
    assert (full.comment_before, full.comment_after, full.infotext, full.restrict_api, full.category_id) == (
        "before", "after", "X info", True, "sd")
    sec = options_section(("a", "A", "sd"), {"k": OptionInfo(1)})["k"]
    assert sec.section == ("a", "A") and sec.category_id == "sd"
    # a fractional slider step makes a whole-number default a float setting (A1111 would store 0.5)
    assert OptionInfo(1, "", "slider", {"minimum": 0, "maximum": 1, "step": 0.01}).type is float


def test_explanation_rows_hold_no_value(opts, tmp_path):
    assert isinstance(opts.data_labels["sd_vae_explanation"], OptionHTML)
    assert "sd_vae_explanation" not in opts.data and "sd_vae_explanation" not in opts.as_dict()
    assert opts.set("sd_vae_explanation", "changed") is False
    opts.add_option("ext_explanation", OptionHTML("<p>about</p>"))
    assert "ext_explanation" not in opts.data and opts.data_labels["ext_explanation"].default == "<p>about</p>"
    opts.save()
    assert "sd_vae_explanation" not in json.loads((tmp_path / "config.json").read_text())


def test_options_interface_as_a1111s(opts):
    calls = []
    opts.onchange("sdxl_crop_top", lambda: calls.append(opts.sdxl_crop_top))   # call=True runs it now
    assert calls == [0]
    assert opts.set("sdxl_crop_top", 8) is True and calls == [0, 8]
    assert opts.set("sdxl_crop_top", 8) is False and calls == [0, 8]
    assert opts.set("api_useragent", "me", is_api=True) is False and opts.api_useragent == ""   # restrict_api
    assert opts.set("api_useragent", "me") is True
    opts.add_option("ext_steps", OptionInfo(4, "Ext steps", section=("ext", "Ext")))
    assert opts.data["ext_steps"] == 4 and opts.get_default("ext_steps") == 4 and opts.get_default("nope") is None
    assert opts.typemap == {int: float}
    assert opts.same_type(1, 2.5) and opts.same_type(None, "x") and not opts.same_type("1", 1)
    assert opts.cast_value("eta_noise_seed_delta", "12") == 12
    assert opts.cast_value("samples_save", "False") is False and opts.cast_value("s_noise", "0.5") == 0.5
    assert opts.cast_value("sdxl_crop_top", None) is None
    d = json.loads(opts.dumpjson())
    assert d["sdxl_crop_top"] == 8 and d["sd_vae_explanation"].startswith("A VAE")
    assert d["_comments_before"]["sdxl_crop_top"] == "" and "Reload UI" in d["_comments_after"]["gallery_height"]
    assert ["Saving images/grids", "Saving images"] in d["_categories"] and d["_categories"][-1] == ["Defaults", "Other"]
    assert all(section != "Hidden options" for section, _ in d["_categories"])


def test_reorder_groups_by_category_then_section(opts):
    opts.add_option("late_saving", OptionInfo(1, "Late", section=("saving-images", "Saving images/grids")))
    opts.reorder()
    keys = list(opts.data_labels)
    assert keys.index("late_saving") < keys.index("sd_model_checkpoint")   # joins its section's category
    assert opts.data_labels["late_saving"].category_id == "saving"


def test_bad_values_name_the_key(opts):
    for key, bad in (("canvas_hotkey_zoom", "Meta"), ("hypertile_max_tile_unet", 1024), ("sdxl_crop_top", "x"),
                     ("sd_webui_modal_lightbox_icon_opacity", 2), ("lora_hide_unknown_for_versions", ["SD9"])):
        with pytest.raises(OptionError) as e:
            opts.set(key, bad)
        assert e.value.key == key
    assert opts.set("sd_webui_modal_lightbox_icon_opacity", 0.5) is True   # a float although the default is 1


def test_old_config_files_are_migrated(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"quicksettings": "sd_model_checkpoint, sd_vae", "sd_vae_as_default": True,
                                "ui_reorder": "inpaint, sampler"}))
    o = Options(registry.templates(), path)
    o.load()
    assert o.quicksettings_list == ["sd_model_checkpoint", "sd_vae"]
    assert o.sd_vae_overrides_per_model_preferences is False
    assert o.ui_reorder_list == ["inpaint", "sampler"]


def test_auto_backcompat_and_hires_settings_reach_pasting(opts):
    old = "a [b:c:3]\nSteps: 20, Sampler: Euler, Seed: 1, Size: 512x512, Version: v1.5.0"
    assert parse_pasted(old, opts, None)["Old prompt editing timelines"] is True
    opts.set("auto_backcompat", False)
    assert "Old prompt editing timelines" not in parse_pasted(old, opts, None)
    hires = "a\nSteps: 20, Seed: 1, Size: 512x512, Hires resize: 1024x768, Denoising strength: 0.5"
    assert parse_pasted(hires, opts, None)["Size-1"] == "512"
    opts.set("use_old_hires_fix_width_height", True)
    assert parse_pasted(hires, opts, None)["Size-1"] == 1024


# --- docs --------------------------------------------------------------------------------------------------
def _docs_inert_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    block = text.split("<!-- inert-options:start -->", 1)[1].split("<!-- inert-options:end -->", 1)[0]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([^`]+)` \| (.+?) \|$", block, re.M)}


def test_inert_keys_are_registered_and_listed_in_the_docs():
    templates = registry.templates()
    assert set(registry.INERT) <= set(templates)
    assert _docs_inert_rows() == registry.INERT


# --- the API -----------------------------------------------------------------------------------------------
def test_api_bad_value_names_the_key_in_loc(api):
    r = api.post("/sdapi/v1/options", json={"canvas_hotkey_zoom": "Meta"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "canvas_hotkey_zoom"] and "Alt" in detail[0]["msg"]
    r = api.post("/sdapi/v1/options", json={"no_such_option": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "no_such_option"]
    r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "nope"})
    assert r.json()["detail"][0]["loc"] == ["body", "sd_model_checkpoint"]


def test_api_new_keys_round_trip_and_survive_a_restart(api, data_dir):
    before = api.get("/sdapi/v1/options").json()
    assert before["hypertile_max_tile_vae"] == 128 and before["img2img_background_color"] == "#ffffff"
    assert "sd_vae_explanation" not in before
    new = {"hypertile_max_tile_vae": 256, "canvas_hotkey_zoom": "Shift", "lora_hide_unknown_for_versions": ["SDXL"],
           "sd_vae_explanation": "ignored, as A1111 does"}
    try:
        assert api.post("/sdapi/v1/options", json=new).status_code == 200
        got = api.get("/sdapi/v1/options").json()
        assert {k: got[k] for k in list(new)[:3]} == {k: new[k] for k in list(new)[:3]}
        saved = json.loads((data_dir / "config.json").read_text())
        assert saved["canvas_hotkey_zoom"] == "Shift" and "sd_vae_explanation" not in saved
        restarted = Options(registry.templates(), data_dir / "config.json")
        restarted.load()
        assert restarted.hypertile_max_tile_vae == 256 and restarted.lora_hide_unknown_for_versions == ["SDXL"]
    finally:
        assert api.post("/sdapi/v1/options", json={k: before[k] for k in list(new)[:3]}).status_code == 200


def test_api_frozen_settings_answer_403_naming_the_key(api, monkeypatch):
    from sdwebui.services import runtime as shared

    monkeypatch.setattr(shared.cmd_opts, "freeze_specific_settings", "canvas_hotkey_zoom, sdxl_crop_top", raising=False)
    monkeypatch.setattr(shared.cmd_opts, "freeze_settings_in_sections", "hypertile", raising=False)
    for key, value in (("sdxl_crop_top", 64), ("hypertile_enable_vae", True)):
        r = api.post("/sdapi/v1/options", json={key: value})
        assert r.status_code == 403 and r.json()["detail"][0]["loc"] == ["body", key], r.text
    current = api.get("/sdapi/v1/options").json()
    # the dict GET returns can still be posted back: the frozen values are unchanged
    assert api.post("/sdapi/v1/options", json={"sdxl_crop_top": current["sdxl_crop_top"]}).status_code == 200


# --- the settings flags ------------------------------------------------------------------------------------
def _refused(r, key: str, flag: str) -> bool:
    detail = r.json()["detail"]
    return r.status_code == 403 and detail[0]["loc"] == ["body", key] and key in detail[0]["msg"] \
        and flag in detail[0]["msg"]


def test_hide_ui_dir_config_refuses_path_settings_with_403(api, monkeypatch):
    from sdwebui.services import runtime as shared
    from sdwebui.services.options import apply

    monkeypatch.setattr(shared.cmd_opts, "hide_ui_dir_config", True)
    before = api.get("/sdapi/v1/options").json()
    # as in A1111, the values are still read through the API
    assert {"outdir_samples", "samples_filename_pattern", "temp_dir"} <= set(before)
    for key, value in (("outdir_samples", "/srv/elsewhere"), ("outdir_txt2img_samples", "/tmp/x"),
                       ("samples_filename_pattern", "[seed]"), ("directories_max_prompt_words", 3),
                       ("temp_dir", "/tmp/t"), ("clean_temp_dir_at_start", True)):
        r = api.post("/sdapi/v1/options", json={key: value})
        assert _refused(r, key, "--hide-ui-dir-config"), (key, r.text)
    assert api.get("/sdapi/v1/options").json() == before
    # GET's dict posted back changes nothing, so it is accepted; other settings still change
    assert api.post("/sdapi/v1/options", json=before).status_code == 200
    assert api.post("/sdapi/v1/options", json={"jpeg_quality": before["jpeg_quality"] - 1}).status_code == 200
    assert api.post("/sdapi/v1/options", json={"jpeg_quality": before["jpeg_quality"]}).status_code == 200
    # A1111's hide_dirs options are hidden; its other restricted_opts are shown read-only
    assert apply.hidden("outdir_samples") and apply.hidden("save_images_add_number")
    assert not apply.hidden("temp_dir") and "--hide-ui-dir-config" in apply.read_only_reason("temp_dir")
    assert not apply.hidden("samples_save") and apply.read_only_reason("samples_save") is None
    monkeypatch.setattr(shared.cmd_opts, "hide_ui_dir_config", False)
    assert not apply.hidden("outdir_samples") and apply.read_only_reason("outdir_samples") is None


def test_extension_option_built_with_shared_hide_dirs_is_hidden_and_refused(api, monkeypatch):
    from modules import shared as a1111_shared
    from sdwebui.services import runtime as shared
    from sdwebui.services.options import apply

    monkeypatch.setattr(shared.cmd_opts, "hide_ui_dir_config", True)
    shared.opts.add_option("my_ext_folder", OptionInfo("", "My extension's folder", "textbox",
                                                       component_args=a1111_shared.hide_dirs, section=("x", "X")))
    try:
        assert apply.hidden("my_ext_folder")
        assert _refused(api.post("/sdapi/v1/options", json={"my_ext_folder": "/etc"}), "my_ext_folder", "visible=False")
    finally:
        del shared.opts.data_labels["my_ext_folder"]
        shared.opts.data.pop("my_ext_folder", None)


def test_settings_tab_leaves_hidden_paths_out_and_greys_frozen_ones(api, monkeypatch):
    from sdwebui.services import runtime as shared
    from sdwebui.interfaces.ui import img2img as img2img_ui
    from tests.test_ui_settings import build, by_id, run

    monkeypatch.setattr(shared.cmd_opts, "hide_ui_dir_config", True)
    monkeypatch.setattr(shared.cmd_opts, "freeze_specific_settings", "samples_format", raising=False)
    monkeypatch.setattr(shared.cmd_opts, "freeze_settings_in_sections", "hypertile", raising=False)
    c = by_id(build())
    assert not {"setting_outdir_samples", "setting_samples_filename_pattern", "setting_outdir_save"} & set(c)
    for key in ("temp_dir", "samples_format", "hypertile_enable_unet"):
        assert c[f"setting_{key}"].interactive is False, key
    assert c["setting_samples_save"].interactive is True
    # img2img's Batch from a folder of the server is refused too (A1111 asserts)
    with pytest.raises(Exception, match="--hide-ui-dir-config"):
        run(img2img_ui.run_batch({}, {"batch_input": str(ROOT)}, None, None).__anext__())


def test_localization_choices_follow_the_folder_and_the_page_uses_the_choice(api, tmp_path, monkeypatch):
    from modules import localization as a1111_localization
    from sdwebui.services import runtime as shared
    from sdwebui.interfaces.ui import page_assets

    (tmp_path / "xx_XX.json").write_text(json.dumps({"Generate": "Erzeugen"}), encoding="utf-8")
    monkeypatch.setattr(shared.cmd_opts, "localizations_dir", str(tmp_path))
    info = shared.opts.data_labels["localization"]
    assert info.get_choices() == ["None", "xx_XX"]
    (tmp_path / "yy.json").write_text("{}", encoding="utf-8")
    assert info.get_choices() == ["None", "xx_XX", "yy"]      # listed again at each read
    assert a1111_localization.localizations["xx_XX"] == [str(tmp_path / "xx_XX.json")]
    r = api.post("/sdapi/v1/options", json={"localization": "zz"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "localization"]
    assert "xx_XX" in r.json()["detail"][0]["msg"]
    assert "Erzeugen" not in page_assets.head_html()
    try:
        assert api.post("/sdapi/v1/options", json={"localization": "xx_XX"}).status_code == 200
        assert 'window.localization = {"Generate": "Erzeugen"};' in page_assets.head_html()
    finally:
        assert api.post("/sdapi/v1/options", json={"localization": "None"}).status_code == 200


def test_choices_from_disk_keep_their_saved_value_at_start(tmp_path):
    """The VAEs and localizations are listed after config.json is read: a saved one is kept."""
    (tmp_path / "config.json").write_text(json.dumps({"sd_vae": "my.safetensors", "localization": "de_DE"}))
    opts = Options(registry.templates(vae_choices=lambda: ["Automatic", "None"],
                                      localization_choices=lambda: ["None"]), tmp_path / "config.json")
    opts.load()
    assert opts.sd_vae == "my.safetensors" and opts.localization == "de_DE"
    with pytest.raises(OptionError, match="not one of"):
        opts.set("localization", "fr_FR")


def test_restore_config_state_file_restores_extensions_at_start(ext_env):
    from sdwebui.services.extensions import manager
    from sdwebui.services import runtime as shared
    from tests.ext_helpers import make_ext

    make_ext(ext_env.user, "kept")
    make_ext(ext_env.user, "unknown")
    state = ext_env.data / "config_states" / "s.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"webui": {}, "extensions": {"kept": {"enabled": False}}}))
    assert manager.restore_pending_config_state() == []       # nothing pending
    shared.opts.set("restore_config_state_file", str(state))
    lines = manager.restore_pending_config_state()
    assert any(line.startswith("! unknown: not in the saved state") for line in lines), lines
    saved = json.loads(ext_env.config.read_text())
    assert saved["restore_config_state_file"] == "" and set(saved["disabled_extensions"]) == {"kept", "unknown"}
