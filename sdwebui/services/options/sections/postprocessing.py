"""A1111's settings category "Postprocessing": upscalers, face restoration and the extras operations."""
from __future__ import annotations

from typing import Callable

from sdwebui.services.options.info import OptionInfo, options_section

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
INERT: dict[str, str] = {
    "realesrgan_enabled_models": "the upscaler list shows every model found on disk",
    "dat_enabled_models": "the upscaler list shows every model found on disk",
    "DAT_tile": "upscalers run on the whole image",
    "DAT_tile_overlap": "upscalers run on the whole image",
    "upscaler_for_img2img": "img2img resizes its input with the resize mode's own filter",
    "postprocessing_enable_in_main_ui": "postprocessing operations run in the extras tab only",
    "ldsr_steps": "the LDSR upscaler is not implemented",
    "ldsr_cached": "the LDSR upscaler is not implemented",
    "SCUNET_tile": "the ScuNET upscaler is not implemented",
    "SCUNET_tile_overlap": "the ScuNET upscaler is not implemented",
    "SWIN_tile": "the SwinIR upscaler is not implemented",
    "SWIN_tile_overlap": "the SwinIR upscaler is not implemented",
    "SWIN_torch_compile": "the SwinIR upscaler is not implemented",
}


# A1111's own restorers, the setting's choices when no list of the registered ones is given
BUILTIN_FACE_RESTORERS = ("CodeFormer", "GFPGAN")


def options(face_restorer_choices: Callable[[], list[str]] | None = None) -> dict[str, OptionInfo]:
    """`face_restorer_choices` lists the registered face restorers (shared.face_restorers) when the
    runtime has them: read at each use, as A1111's lambda, so one an extension registers can be chosen
    and a saved choice of it survives the start (choices that are a callable are not checked at load)."""
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("upscaling", "Upscaling", "postprocessing"), {
        "ESRGAN_tile": OptionInfo(192, "Tile size for ESRGAN upscalers.", "slider", component_args={"minimum": 0, "maximum": 512, "step": 16}),
        "ESRGAN_tile_overlap": OptionInfo(8, "Tile overlap for ESRGAN upscalers.", "slider", component_args={"minimum": 0, "maximum": 48, "step": 1}),
        "realesrgan_enabled_models": OptionInfo(["R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B"], "Select which Real-ESRGAN models to show in the web UI.", "checkboxgroup"),
        "dat_enabled_models": OptionInfo(["DAT x2", "DAT x3", "DAT x4"], "Select which DAT models to show in the web UI.", "checkboxgroup"),
        "DAT_tile": OptionInfo(192, "Tile size for DAT upscalers.", "slider", component_args={"minimum": 0, "maximum": 512, "step": 16}),
        "DAT_tile_overlap": OptionInfo(8, "Tile overlap for DAT upscalers.", "slider", component_args={"minimum": 0, "maximum": 48, "step": 1}),
        "upscaler_for_img2img": OptionInfo(None, "Upscaler for img2img", "dropdown"),
        "set_scale_by_when_changing_upscaler": OptionInfo(False, "Automatically set the Scale by factor based on the name of the selected Upscaler.", "checkbox"),
    }))

    t.update(options_section(("face-restoration", "Face restoration", "postprocessing"), {
        "face_restoration": OptionInfo(False, "Restore faces", "checkbox", infotext="Face restoration"),
        "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model", "radio",
                                             choices=face_restorer_choices or BUILTIN_FACE_RESTORERS),
        "code_former_weight": OptionInfo(0.5, "CodeFormer weight", "slider", component_args={"minimum": 0, "maximum": 1, "step": 0.01}),
        "face_restoration_unload": OptionInfo(False, "Move face restoration model from VRAM into RAM after processing", "checkbox"),
    }))

    t.update(options_section(("postprocessing", "Postprocessing", "postprocessing"), {
        "postprocessing_enable_in_main_ui": OptionInfo([], "Enable postprocessing operations in txt2img and img2img tabs", "dropdown"),
        "postprocessing_disable_in_extras": OptionInfo([], "Disable postprocessing operations in extras tab", "dropdown"),
        "postprocessing_operation_order": OptionInfo([], "Postprocessing operation order", "dropdown"),
        "upscaling_max_images_in_cache": OptionInfo(5, "Maximum number of images in upscaling cache", "slider", component_args={"minimum": 0, "maximum": 10, "step": 1}),
        "postprocessing_existing_caption_action": OptionInfo("Ignore", "Action for existing captions", "radio", choices=("Ignore", "Keep", "Prepend", "Append")),
    }))

    # A1111's built-in LDSR, ScuNET and SwinIR extensions add these to the section above
    t.update(options_section(("upscaling", "Upscaling"), {
        "ldsr_steps": OptionInfo(100, "LDSR processing steps. Lower = faster", "slider", component_args={"minimum": 1, "maximum": 200, "step": 1}),
        "ldsr_cached": OptionInfo(False, "Cache LDSR model in memory", "checkbox"),
        "SCUNET_tile": OptionInfo(256, "Tile size for SCUNET upscalers.", "slider", component_args={"minimum": 0, "maximum": 512, "step": 16}),
        "SCUNET_tile_overlap": OptionInfo(8, "Tile overlap for SCUNET upscalers.", "slider", component_args={"minimum": 0, "maximum": 64, "step": 1}),
        "SWIN_tile": OptionInfo(192, "Tile size for all SwinIR.", "slider", component_args={"minimum": 16, "maximum": 512, "step": 16}),
        "SWIN_tile_overlap": OptionInfo(8, "Tile overlap, in pixels for SwinIR. Low values = visible seam.", "slider", component_args={"minimum": 0, "maximum": 48, "step": 1}),
        "SWIN_torch_compile": OptionInfo(False, "Use torch.compile to accelerate SwinIR.", "checkbox"),
    }))
    return t
