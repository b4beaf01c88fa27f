"""ControlNet as sd-webui-controlnet offers it to API clients: units under
`alwayson_scripts.ControlNet.args` (or `controlnet`), their infotext lines, the detected maps after
the images, and its options. The model work is the engine's (sdwebui/engine/control): this script
turns each enabled unit into a ControlNetUnit the sampling loop asks for residuals at every step.
"""
from __future__ import annotations

import logging

import gradio as gr
import numpy as np
from PIL import Image, ImageFilter, ImageOps

import controlnet_registry as registry
import controlnet_ui
from controlnet_units import UnitArgs, detect_map, parse_unit, pixel_perfect_resolution, prepare_module, to_image
from modules import script_callbacks, scripts, shared
from sdwebui.engine.control.controlnet_unit import ControlNetUnit
from sdwebui.engine.control.ip_adapter import CLIP_FILES, IPAdapterHooks, IPAdapterUnit, IPAdapterWeights, clip_embeddings
from sdwebui.engine.control.latent_edits import COLORFIX, INPAINT_ONLY, LatentEdit
from sdwebui.engine.control.preprocess import INPAINT, IP_ADAPTER, PreprocessorError
from sdwebui.engine.control.reference import REFERENCE, ReferenceHooks, ReferenceUnit
from sdwebui.engine.control.residuals import UNetControl
from sdwebui.engine.errors import ProcessingError

logger = logging.getLogger(__name__)

TITLE = "ControlNet"
VERSION = "v1.1.455"
SECTION = ("control_net", "ControlNet")


class ControlNetScript(scripts.Script):
    def title(self):
        return TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        # one argument per unit, each a unit object, as API clients send them (controlnet_ui.py)
        states, self.infotext_fields = controlnet_ui.build_panel(is_img2img)
        if shared.opts.data.get("control_net_sync_field_args", True) is False:
            self.infotext_fields = []
        self.paste_field_names = [f"ControlNet {i}" for i in range(len(states))]
        return states

    def _where(self, index: int) -> tuple:
        return "alwayson_scripts", TITLE, "args", str(index)

    def process(self, p, *units):
        p.controlnet_units = []
        # a new list: a job copied from another (X/Y/Z plot cells) must not keep, or add to, its units
        p.unet_controls = [c for c in p.unet_controls if not isinstance(c, (ControlNetUnit, ReferenceUnit, IPAdapterUnit))]
        self._reference_hooks = ReferenceHooks()
        self._ip_hooks = IPAdapterHooks()
        number = 0
        for index, raw in enumerate(units):
            unit = parse_unit(raw, self._where(index)) if raw is not None else None
            if unit is None or not unit.enabled:
                continue
            control = self._build(p, unit, self._where(index))
            p.unet_controls.append(control)
            p.controlnet_units.append((unit, control))
            text = unit.infotext()
            if any(c in str(getattr(unit, name)) for name, _ in UnitArgs.INFOTEXT for c in ",:"):
                logger.error("ControlNet unit %d: a value holds ',' or ':'; the unit is left out of the infotext", number)
            else:
                p.extra_generation_params[f"ControlNet {number}"] = text
            number += 1

    def _source_image(self, p, unit: UnitArgs, where: tuple) -> Image.Image:
        if unit.image is not None:
            return to_image(unit.image, ".".join((*where, "image")))
        init = getattr(p, "init_images", None)
        if init:
            return init[0]
        raise ProcessingError((*where, "image"), "controlnet is enabled but no input image is given")

    def _mask(self, p, unit: UnitArgs, size: tuple[int, int], where: tuple) -> np.ndarray:
        """The area to repaint (255) for an inpaint module: the unit's mask, else img2img's (inverted
        and blurred as the job's own inpainting uses it); none is an error."""
        if unit.mask is not None:
            mask = to_image(unit.mask, ".".join((*where, "mask")))
            if mask.size != size:
                raise ProcessingError((*where, "mask"), f"the mask is {mask.size[0]}x{mask.size[1]}, the image "
                                                        f"{size[0]}x{size[1]}: they must be the same size")
            return np.asarray(mask.convert("L"), dtype=np.uint8)
        mask = getattr(p, "image_mask", None)
        if mask is None:
            raise ProcessingError((*where, "mask"), f"preprocessor {unit.module} needs a mask: send one with the "
                                                    "unit, or use img2img's Inpaint tab")
        mask = mask.convert("L").resize(size)
        if getattr(p, "inpainting_mask_invert", 0):
            mask = ImageOps.invert(mask)
        if getattr(p, "mask_blur", 0):
            mask = mask.filter(ImageFilter.GaussianBlur(float(p.mask_blur)))
        return np.asarray(mask, dtype=np.uint8)

    def _build(self, p, unit: UnitArgs, where: tuple) -> UNetControl:
        if unit.module == INPAINT_ONLY and getattr(p, "image_mask", None) is not None:
            logger.warning("A1111 inpaint and ControlNet inpaint duplicated. Falls back to inpaint_global_harmonious.")
            unit.module = "inpaint"
        try:
            pre = prepare_module(unit)
        except ValueError as e:
            raise ProcessingError((*where, "module"), str(e)) from None
        net = None
        if pre.name not in REFERENCE:
            if unit.model in ("", "None"):
                raise ProcessingError((*where, "model"), "You have not selected any ControlNet Model.")
            unit.model, path = registry.find(unit.model, (*where, "model"))
            net = registry.load(path, p.sd_model, (*where, "model"))
        image = self._source_image(p, unit, where)
        resolution = unit.processor_res
        if unit.pixel_perfect:
            resolution = pixel_perfect_resolution(image.size, (p.width, p.height), unit.resize_mode)
        mask = self._mask(p, unit, image.size, where) if pre.name in INPAINT else None
        try:
            detected = detect_map(pre, unit, image, mask, resolution, seed=numpy_seed(p))
        except PreprocessorError as e:
            raise ProcessingError((*where, e.field), str(e)) from None
        passes = {"first", "hires"}
        if getattr(p, "enable_hr", False) and unit.hr_option != "Both":
            passes = {"first"} if unit.hr_option == "Low res only" else {"hires"}
        common = dict(resize_mode=unit.resize_mode, passes=frozenset(passes), weight=unit.weight,
                      guidance_start=unit.guidance_start, guidance_end=unit.guidance_end,
                      control_mode=unit.control_mode, for_unet=p.sd_model.unet)
        region = None
        if unit.effective_region_mask is not None:
            if pre.name in REFERENCE:
                raise ProcessingError((*where, "effective_region_mask"),
                                      f"effective_region_mask is not supported for module {pre.name}")
            picture = to_image(unit.effective_region_mask, ".".join((*where, "effective_region_mask")))
            region = np.asarray(picture.convert("RGB"), dtype=np.float32)[:, :, 0] / 255.0
        if isinstance(net, IPAdapterWeights) or pre.name in IP_ADAPTER:
            return self._ip_adapter(p, unit, pre, net, detected, common, where)
        if pre.name in REFERENCE:
            return ReferenceUnit(detected, module=pre.name, style_fidelity=unit.threshold_a, seed=numpy_seed(p),
                                 hooks=self._reference_hooks, **common)
        edit = None
        if pre.name in COLORFIX:
            edit = LatentEdit(pre.name, unit.weight, variation=unit.threshold_a, sharpness=unit.threshold_b)
        elif pre.name == INPAINT_ONLY:
            edit = LatentEdit(pre.name, unit.weight)
        return ControlNetUnit(net, detected, advanced_weighting=unit.advanced_weighting, edit=edit, region=region,
                              **common)

    def _ip_adapter(self, p, unit: UnitArgs, pre, net, picture: np.ndarray, common: dict, where: tuple):
        if not isinstance(net, IPAdapterWeights):
            raise ProcessingError((*where, "model"), f"preprocessor {pre.label} needs an IP-Adapter model; "
                                                     f"{unit.model} is not one")
        if pre.name not in IP_ADAPTER:
            raise ProcessingError((*where, "module"), f"{unit.model} is an IP-Adapter: use one of {list(IP_ADAPTER)}")
        relative = CLIP_FILES.get(pre.name) or net.clip_file()
        clip = registry.clip_vision(relative, p.sd_model, (*where, "module"))
        embeddings = clip_embeddings(clip, picture)
        width = net.embedding_width()
        got = embeddings["penultimate" if net.takes_hidden_states else "image_embeds"].shape[-1]
        if got != width:
            raise ProcessingError((*where, "module"), f"{unit.model} takes CLIP embeddings of width {width}; "
                                                      f"{relative} gives {got}: use the module for this model")
        keep = {k: v for k, v in common.items() if k in ("passes", "weight", "guidance_start", "guidance_end",
                                                          "for_unet")}
        return IPAdapterUnit(net, embeddings, hooks=self._ip_hooks, **keep)

    def postprocess_batch(self, p, *args, images=None, **kwargs):
        """What the extension restores on the decoded images: inpaint_only pastes the unmasked
        picture back (softened by control_net_inpaint_blur_sigma), recolor gives back the map's
        lightness."""
        if images is None or not len(images):
            return
        for unit, control in getattr(p, "controlnet_units", []):
            if unit.module == INPAINT_ONLY or unit.module.startswith("recolor_"):
                fitted = control.fitted(images.shape[2], images.shape[3])
                for i in range(images.shape[0]):
                    images[i] = restore_after_decode(unit.module, images[i], fitted)

    def postprocess(self, p, processed, *args):
        """The detected maps after the images: one per unit (the hires pass's first, then the first
        pass's, with hires fix)."""
        if shared.opts.data.get("control_net_no_detectmap", False):
            return
        for unit, control in getattr(p, "controlnet_units", []):
            if not unit.save_detected_map or not hasattr(control, "fitted"):     # IP-Adapter: no map
                continue
            sizes = [(p.height, p.width)]
            if getattr(p, "enable_hr", False) and getattr(p, "hr_upscale_to_x", 0):
                sizes.insert(0, (p.hr_upscale_to_y, p.hr_upscale_to_x))
            for height, width in sizes:
                fitted = control.fitted(height, width)
                if fitted.shape[2] == 4:      # an inpainting map: the area to repaint half transparent
                    fitted = fitted.copy()
                    fitted[:, :, 3] = np.where(fitted[:, :, 3] > 127, 128, 255)
                processed.images.append(Image.fromarray(fitted))


def numpy_seed(p) -> int:
    """The seed random preprocessors (shuffle) and reference noise draw from: the job's first seed,
    plus its variation seed when that has a strength. The extension always adds the subseed, which is
    random unless set, so its pictures could not be made again from their infotext; these can."""
    seeds = getattr(p, "all_seeds", None) or [max(int(p.seed), 0)]
    subseeds = getattr(p, "all_subseeds", None) or [0]
    variation = int(subseeds[0]) if float(getattr(p, "subseed_strength", 0) or 0) > 0 else 0
    return (int(seeds[0]) + variation) & 0xFFFFFFFF


def restore_after_decode(module: str, image, fitted: np.ndarray):
    """One decoded image (3xHxW in 0..1, a torch tensor) with what the unit restores."""
    import cv2
    import torch

    if module == INPAINT_ONLY:
        if fitted.shape[2] != 4:
            return image
        sigma = int(shared.opts.data.get("control_net_inpaint_blur_sigma", 7))
        mask = (fitted[:, :, 3] > 127).astype(np.float32)
        if sigma > 0:
            mask = cv2.blur(cv2.dilate(mask, np.ones((sigma, sigma), np.uint8)), (sigma, sigma))
        raw = torch.from_numpy(fitted[:, :, :3].astype(np.float32) / 255.0).permute(2, 0, 1).to(image)
        m = torch.from_numpy(mask)[None].to(image)
        return (m * image.clip(0, 1) + (1 - m) * raw).clip(0, 1)
    rgb = (image.detach().float().cpu().permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
    code, back, channel = (cv2.COLOR_RGB2LAB, cv2.COLOR_LAB2RGB, 0) if module.endswith("luminance") else \
        (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB, 2)
    converted = cv2.cvtColor(rgb, code)
    converted[:, :, channel] = fitted[:, :, 0]
    out = cv2.cvtColor(converted, back).astype(np.float32) / 255.0
    return torch.from_numpy(out).permute(2, 0, 1).to(image).clip(0, 1)


def on_ui_settings():
    def add(key, default, label, component=None, args=None):
        shared.opts.add_option(key, shared.OptionInfo(default, label, component, args, section=SECTION))

    add("control_net_unit_count", 3, "Multi-ControlNet: ControlNet unit number (requires restart)", gr.Slider,
        {"minimum": 1, "maximum": 10, "step": 1})
    add("control_net_model_cache_size", 2, "Model cache size (requires restart)", gr.Slider,
        {"minimum": 1, "maximum": 10, "step": 1})
    add("control_net_models_path", "", "Extra path to scan for ControlNet models (e.g. training output directory)")
    add("control_net_modules_path", "", "Path to directory containing annotator model directories (requires restart)")
    add("control_net_no_detectmap", False, "Do not append detectmap to output")
    add("control_net_inpaint_blur_sigma", 7, "ControlNet inpainting Gaussian blur sigma", gr.Slider,
        {"minimum": 0, "maximum": 64, "step": 1})
    add("control_net_models_sort_models_by", "name", "Sort models by", gr.Radio,
        {"choices": ["name", "date", "path name"]})
    add("control_net_models_name_filter", "", "Filter models by name")
    add("control_net_sync_field_args", True, "Paste ControlNet parameters in infotext")
    add("control_net_allow_script_control", False, "Allow other script to control this extension")


script_callbacks.on_ui_settings(on_ui_settings)
