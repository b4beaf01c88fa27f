"""A1111's settings sections without a category: interrogate, and those of A1111's built-in
extensions canvas-zoom-and-pan (canvas hotkeys) and hypertile."""
from __future__ import annotations

from sdwebui.services.options.info import OptionHTML, OptionInfo, options_section

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
_INTERROGATE = "interrogate (CLIP, BLIP, DeepBooru) is not implemented"
_CANVAS = "the image editors are gradio's own, without the canvas-zoom-and-pan script"
_HYPERTILE = "Hypertile is not implemented"

INERT: dict[str, str] = {
    "interrogate_keep_models_in_memory": _INTERROGATE,
    "interrogate_return_ranks": _INTERROGATE,
    "interrogate_clip_num_beams": _INTERROGATE,
    "interrogate_clip_min_length": _INTERROGATE,
    "interrogate_clip_max_length": _INTERROGATE,
    "interrogate_clip_dict_limit": _INTERROGATE,
    "interrogate_clip_skip_categories": _INTERROGATE,
    "interrogate_deepbooru_score_threshold": _INTERROGATE,
    "deepbooru_sort_alpha": _INTERROGATE,
    "deepbooru_use_spaces": _INTERROGATE,
    "deepbooru_escape": _INTERROGATE,
    "deepbooru_filter_tags": _INTERROGATE,
    "canvas_hotkey_zoom": _CANVAS,
    "canvas_hotkey_adjust": _CANVAS,
    "canvas_hotkey_shrink_brush": _CANVAS,
    "canvas_hotkey_grow_brush": _CANVAS,
    "canvas_hotkey_move": _CANVAS,
    "canvas_hotkey_fullscreen": _CANVAS,
    "canvas_hotkey_reset": _CANVAS,
    "canvas_hotkey_overlap": _CANVAS,
    "canvas_show_tooltip": _CANVAS,
    "canvas_auto_expand": _CANVAS,
    "canvas_blur_prompt": _CANVAS,
    "canvas_disabled_functions": _CANVAS,
    "hypertile_enable_unet": _HYPERTILE,
    "hypertile_enable_unet_secondpass": _HYPERTILE,
    "hypertile_max_depth_unet": _HYPERTILE,
    "hypertile_max_tile_unet": _HYPERTILE,
    "hypertile_swap_size_unet": _HYPERTILE,
    "hypertile_enable_vae": _HYPERTILE,
    "hypertile_max_depth_vae": _HYPERTILE,
    "hypertile_max_tile_vae": _HYPERTILE,
    "hypertile_swap_size_vae": _HYPERTILE,
}

HYPERTILE_EXPLANATION = """
<a href='https://github.com/tfernd/HyperTile'>Hypertile</a> splits the self-attention of the U-Net and
the VAE into tiles, which makes large images faster to generate.
"""


def options() -> dict[str, OptionInfo]:
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("interrogate", "Interrogate"), {
        "interrogate_keep_models_in_memory": OptionInfo(False, "Keep models in VRAM", "checkbox"),
        "interrogate_return_ranks": OptionInfo(False, "Include ranks of model tags matches in results.", "checkbox"),
        "interrogate_clip_num_beams": OptionInfo(1, "BLIP: num_beams", "slider", component_args={"minimum": 1, "maximum": 16, "step": 1}),
        "interrogate_clip_min_length": OptionInfo(24, "BLIP: minimum description length", "slider", component_args={"minimum": 1, "maximum": 128, "step": 1}),
        "interrogate_clip_max_length": OptionInfo(48, "BLIP: maximum description length", "slider", component_args={"minimum": 1, "maximum": 256, "step": 1}),
        "interrogate_clip_dict_limit": OptionInfo(1500, "CLIP: maximum number of lines in text file", "number"),
        "interrogate_clip_skip_categories": OptionInfo([], "CLIP: skip inquire categories", "checkboxgroup"),
        "interrogate_deepbooru_score_threshold": OptionInfo(0.5, "deepbooru: score threshold", "slider", component_args={"minimum": 0, "maximum": 1, "step": 0.01}),
        "deepbooru_sort_alpha": OptionInfo(True, "deepbooru: sort tags alphabetically", "checkbox"),
        "deepbooru_use_spaces": OptionInfo(True, "deepbooru: use spaces in tags", "checkbox"),
        "deepbooru_escape": OptionInfo(True, 'deepbooru: escape (\\) brackets', "checkbox"),
        "deepbooru_filter_tags": OptionInfo("", "deepbooru: filter out those tags", "textbox"),
    }))

    # A1111's built-in canvas-zoom-and-pan extension
    t.update(options_section(("canvas_hotkey", "Canvas Hotkeys"), {
        "canvas_hotkey_zoom": OptionInfo("Alt", "Zoom canvas", "radio", choices=("Shift", "Ctrl", "Alt")),
        "canvas_hotkey_adjust": OptionInfo("Ctrl", "Adjust brush size", "radio", choices=("Shift", "Ctrl", "Alt")),
        "canvas_hotkey_shrink_brush": OptionInfo("Q", "Shrink the brush size", "textbox"),
        "canvas_hotkey_grow_brush": OptionInfo("W", "Enlarge the brush size", "textbox"),
        "canvas_hotkey_move": OptionInfo("F", "Moving the canvas", "textbox"),
        "canvas_hotkey_fullscreen": OptionInfo("S", "Fullscreen Mode, maximizes the picture so that it fits into the screen and stretches it to its full width ", "textbox"),
        "canvas_hotkey_reset": OptionInfo("R", "Reset zoom and canvas position", "textbox"),
        "canvas_hotkey_overlap": OptionInfo("O", "Toggle overlap", "textbox"),
        "canvas_show_tooltip": OptionInfo(True, "Enable tooltip on the canvas", "checkbox"),
        "canvas_auto_expand": OptionInfo(True, "Automatically expands an image that does not fit completely in the canvas area, similar to manually pressing the S and R buttons", "checkbox"),
        "canvas_blur_prompt": OptionInfo(False, "Take the focus off the prompt when working with a canvas", "checkbox"),
        "canvas_disabled_functions": OptionInfo(["Overlap"], "Disable function that you don't use", "checkboxgroup", choices=("Zoom", "Adjust brush size", "Hotkey enlarge brush", "Hotkey shrink brush", "Moving canvas", "Fullscreen", "Reset Zoom", "Overlap")),
    }))

    # A1111's built-in hypertile extension (added when the Settings tab is built)
    t.update(options_section(("hypertile", "Hypertile"), {
        "hypertile_explanation": OptionHTML(HYPERTILE_EXPLANATION),
        "hypertile_enable_unet": OptionInfo(False, "Enable Hypertile U-Net", "checkbox", infotext="Hypertile U-Net"),
        "hypertile_enable_unet_secondpass": OptionInfo(False, "Enable Hypertile U-Net for hires fix second pass", "checkbox", infotext="Hypertile U-Net second pass"),
        "hypertile_max_depth_unet": OptionInfo(3, "Hypertile U-Net max depth", "slider", component_args={"minimum": 0, "maximum": 3, "step": 1}, infotext="Hypertile U-Net max depth"),
        "hypertile_max_tile_unet": OptionInfo(256, "Hypertile U-Net max tile size", "slider", component_args={"minimum": 0, "maximum": 512, "step": 16}, infotext="Hypertile U-Net max tile size"),
        "hypertile_swap_size_unet": OptionInfo(3, "Hypertile U-Net swap size", "slider", component_args={"minimum": 0, "maximum": 64, "step": 1}, infotext="Hypertile U-Net swap size"),
        "hypertile_enable_vae": OptionInfo(False, "Enable Hypertile VAE", "checkbox", infotext="Hypertile VAE"),
        "hypertile_max_depth_vae": OptionInfo(3, "Hypertile VAE max depth", "slider", component_args={"minimum": 0, "maximum": 3, "step": 1}, infotext="Hypertile VAE max depth"),
        "hypertile_max_tile_vae": OptionInfo(128, "Hypertile VAE max tile size", "slider", component_args={"minimum": 0, "maximum": 512, "step": 16}, infotext="Hypertile VAE max tile size"),
        "hypertile_swap_size_vae": OptionInfo(3, "Hypertile VAE swap size ", "slider", component_args={"minimum": 0, "maximum": 64, "step": 1}, infotext="Hypertile VAE swap size"),
    }))
    return t
