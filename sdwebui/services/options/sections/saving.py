"""A1111"s settings category "Saving images": saving images and grids, where they go, and the sub folders they go in."""
from __future__ import annotations

from sdwebui.services.options.info import OptionInfo, options_section

# A1111 takes any text here; these are the formats the image writer can save with metadata
IMAGE_FORMATS = ("png", "jpg", "jpeg", "webp", "avif")

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
INERT: dict[str, str] = {
    "save_images_before_face_restoration": "the image before face restoration is not saved separately",
    "save_images_before_highres_fix": "the first pass of hires fix is not saved separately",
    "save_images_before_color_correction": "img2img color correction is not implemented",
    "save_mask": "the inpainting mask is not saved separately",
    "save_mask_composite": "the masked composite is not saved separately",
    "export_for_4chan": "no extra JPEG copy of large images is written",
    "img_downscale_threshold": "no extra JPEG copy of large images is written",
    "target_side_length": "no extra JPEG copy of large images is written",
    "use_upscaler_name_as_suffix": "extras files are named by the filename pattern only",
    "save_init_img": "img2img input images are not saved",
    "clean_temp_dir_at_start": "gradio keeps uploads in its own temporary folder",
    "save_incomplete_images": "an interrupted image is returned but not saved",
    "notification_audio": "the page plays no notification sound",
    "notification_volume": "the page plays no notification sound",
    "outdir_init_images": "img2img input images are not saved",
}


def options() -> dict[str, OptionInfo]:
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("saving-images", "Saving images/grids", "saving"), {
        "samples_save": OptionInfo(True, "Always save all generated images", "checkbox"),
        "samples_format": OptionInfo("png", "File format for images", "dropdown", choices=IMAGE_FORMATS),
        "samples_filename_pattern": OptionInfo("", "Images filename pattern", "textbox"),
        "save_images_add_number": OptionInfo(True, "Add number to filename when saving", "checkbox"),
        "save_images_replace_action": OptionInfo("Replace", "Saving the image to an existing file", "radio", choices=("Replace", "Add number suffix")),
        "grid_save": OptionInfo(True, "Always save all generated image grids", "checkbox"),
        "grid_format": OptionInfo("png", "File format for grids", "dropdown", choices=IMAGE_FORMATS),
        "grid_extended_filename": OptionInfo(False, "Add extended info (seed, prompt) to filename when saving grid", "checkbox"),
        "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture", "checkbox"),
        "grid_prevent_empty_spots": OptionInfo(False, "Prevent empty spots in grid (when set to autodetect)", "checkbox"),
        "grid_zip_filename_pattern": OptionInfo("", "Archive filename pattern", "textbox"),
        "n_rows": OptionInfo(-1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size", "slider", component_args={"minimum": -1, "maximum": 16, "step": 1}),
        "font": OptionInfo("", "Font for image grids that have text", "textbox"),
        "grid_text_active_color": OptionInfo("#000000", "Text color for image grids", "colorpicker"),
        "grid_text_inactive_color": OptionInfo("#999999", "Inactive text color for image grids", "colorpicker"),
        "grid_background_color": OptionInfo("#ffffff", "Background color for image grids", "colorpicker"),
        "save_images_before_face_restoration": OptionInfo(False, "Save a copy of image before doing face restoration.", "checkbox"),
        "save_images_before_highres_fix": OptionInfo(False, "Save a copy of image before applying highres fix.", "checkbox"),
        "save_images_before_color_correction": OptionInfo(False, "Save a copy of image before applying color correction to img2img results", "checkbox"),
        "save_mask": OptionInfo(False, "For inpainting, save a copy of the greyscale mask", "checkbox"),
        "save_mask_composite": OptionInfo(False, "For inpainting, save a masked composite", "checkbox"),
        "jpeg_quality": OptionInfo(80, "Quality for saved jpeg and avif images", "slider", component_args={"minimum": 1, "maximum": 100, "step": 1}),
        "webp_lossless": OptionInfo(False, "Use lossless compression for webp images", "checkbox"),
        "export_for_4chan": OptionInfo(True, "Save copy of large images as JPG", "checkbox"),
        "img_downscale_threshold": OptionInfo(4.0, "File size limit for the above option, MB", "number"),
        "target_side_length": OptionInfo(4000, "Width/height limit for the above option, in pixels", "number"),
        "img_max_size_mp": OptionInfo(200, "Maximum image size", "number"),
        "use_original_name_batch": OptionInfo(True, "Use original name for output filename during batch process in extras tab", "checkbox"),
        "use_upscaler_name_as_suffix": OptionInfo(False, "Use upscaler name as filename suffix in the extras tab", "checkbox"),
        "save_selected_only": OptionInfo(True, "When using 'Save' button, only save a single selected image", "checkbox"),
        "save_write_log_csv": OptionInfo(True, "Write log.csv when saving images using 'Save' button", "checkbox"),
        "save_init_img": OptionInfo(False, "Save init images when using img2img", "checkbox"),
        "temp_dir": OptionInfo("", "Directory for temporary images; leave empty for default", "textbox"),
        "clean_temp_dir_at_start": OptionInfo(False, "Cleanup non-default temporary directory when starting webui", "checkbox"),
        "save_incomplete_images": OptionInfo(False, "Save incomplete images", "checkbox"),
        "notification_audio": OptionInfo(True, "Play notification sound after image generation", "checkbox").needs_reload_ui(),
        "notification_volume": OptionInfo(100, "Notification sound volume", "slider", component_args={"minimum": 0, "maximum": 100, "step": 1}),
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
        "use_save_to_dirs_for_ui": OptionInfo(False, 'When using "Save" button, save images to a subdirectory', "checkbox"),
        "directories_filename_pattern": OptionInfo("[date]", "Directory name pattern", "textbox"),
        "directories_max_prompt_words": OptionInfo(8, "Max prompt words for [prompt_words] pattern", "slider", component_args={"minimum": 1, "maximum": 20, "step": 1}),
    }))
    return t
