"""Soft inpainting, as A1111 1.10's built-in extension of that name: the same title, section, element
ids, slider labels, defaults and ranges, argument order and infotext keys, so API payloads and pasted
infotexts of A1111 work here. The arithmetic is the engine's (sdwebui/engine/processing/soft_inpainting.py);
this script hooks it into a job:

- process: turns mask rounding off (the latent mask keeps the blurred edge) and writes the infotext;
- on_mask_blend: each step, a partially masked latent becomes a noise-dependent mix of the original and
  the denoised latents instead of a plain weighted sum; the final plain blend is skipped;
- post_sample: from how far the result's latents moved from the original's, builds each image's
  composite mask and original overlay;
- postprocess_maskoverlay: hands them to the final composite instead of the inpainting mask.
"""
import gradio as gr

from modules import images, scripts, shared
from modules.ui_components import InputAccordion
from sdwebui.engine.processing.soft_inpainting import SoftInpaintingSettings, difference_masks, latent_blend, \
    mask_only_masks, scheduled_nmask

ENABLED_LABEL = "Soft inpainting"
ENABLED_INFOTEXT = "Soft inpainting enabled"
ENABLED_ID = "soft_inpainting_enabled"

# per setting, in A1111's argument order: (field, label, infotext key, element id, min, max, step, what it does)
SLIDERS = [
    ("mask_blend_power", "Schedule bias", "Soft inpainting schedule bias", "mask_blend_power", 0, 8, 0.1,
     "Moves when the original content is held most: below 1 late in the denoising, above 1 early."),
    ("mask_blend_scale", "Preservation strength", "Soft inpainting preservation strength", "mask_blend_scale",
     0, 8, 0.05, "How much of the original a half-masked area keeps."),
    ("inpaint_detail_preservation", "Transition contrast boost", "Soft inpainting transition contrast boost",
     "inpaint_detail_preservation", 1, 32, 0.5,
     "Keeps mixed areas from turning flat and grey; high values may oversaturate."),
    ("composite_mask_influence", "Mask influence", "Soft inpainting mask influence", "composite_mask_influence",
     0, 1, 0.05, "How far the mask, beside the change itself, decides where original pixels come back."),
    ("composite_difference_threshold", "Difference threshold", "Soft inpainting difference threshold",
     "composite_difference_threshold", 0, 8, 0.25,
     "How much a region may change and still get its original pixels back (half of them at this value)."),
    ("composite_difference_contrast", "Difference contrast", "Soft inpainting difference contrast",
     "composite_difference_contrast", 0, 8, 0.25,
     "How sudden the change from original to new pixels is: low is gradual (may ghost), high is sharp."),
]
DEFAULTS = SoftInpaintingSettings()

HELP = """
**Denoising.** At every step a partially masked spot mixes the original and the new latents; the
mix favours the original while there is much noise and the new content toward the end.
*Schedule bias* shifts that balance in time, *Preservation strength* scales it, and
*Transition contrast boost* keeps the mixed spots from losing contrast.

**Pixel composite.** Afterwards the original pixels are put back where the image changed little.
*Difference threshold* is how much change still counts as "little", *Difference contrast* how sharp
that cut is, and *Mask influence* lets the mask shift the threshold (0: only the change counts,
1: mostly the mask).
"""


def uses_inpainting(p) -> bool:
    return any(getattr(p, name, None) is not None for name in ("image_mask", "mask", "nmask"))


def settings_from(args) -> SoftInpaintingSettings:
    return SoftInpaintingSettings(*(float(a) for a in args))


class Script(scripts.Script):
    section = "inpaint"

    def __init__(self):
        # the current batch's composite, from post_sample for postprocess_maskoverlay
        self.masks_for_overlay = None
        self.overlay_images = None

    def title(self):
        return "Soft Inpainting"

    def show(self, is_img2img):
        return scripts.AlwaysVisible if is_img2img else False

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        with InputAccordion(False, label=ENABLED_LABEL, elem_id=ENABLED_ID) as enabled:
            with gr.Group():
                gr.Markdown("Blends the new content into the original following the mask's opacity: "
                            "use a **high Mask blur**.")
                sliders = []
                for n, (field, label, _key, elem_id, lo, hi, step, info) in enumerate(SLIDERS):
                    if n == 3:
                        gr.Markdown("### Pixel Composite Settings")
                    sliders.append(gr.Slider(label=label, info=info, minimum=lo, maximum=hi, step=step,
                                             value=getattr(DEFAULTS, field), elem_id=elem_id))
                with gr.Accordion("Help", open=False):
                    gr.Markdown(HELP)
        self.infotext_fields = [(enabled, ENABLED_INFOTEXT)] + [(s, row[2]) for s, row in zip(sliders, SLIDERS)]
        self.paste_field_names = [key for _, key in self.infotext_fields]
        return [enabled, *sliders]

    def process(self, p, enabled, *args):
        self.masks_for_overlay = self.overlay_images = None
        if not enabled or not uses_inpainting(p):
            return
        p.mask_round = False     # the latent mask must keep the blurred edge: that is what is blended
        p.extra_generation_params[ENABLED_INFOTEXT] = True
        for row, value in zip(SLIDERS, args):
            p.extra_generation_params[row[2]] = value

    def on_mask_blend(self, p, mba, enabled, *args):
        if not enabled or not uses_inpainting(p):
            return
        if mba.is_final_blend:
            mba.blended_latent = mba.current_latent     # the steps' soft blend stands
            return
        settings = settings_from(args)
        mba.blended_latent = latent_blend(settings, mba.init_latent, mba.current_latent,
                                          scheduled_nmask(settings, mba.nmask, mba.sigma[0]))

    def post_sample(self, p, ps, enabled, *args):
        if not enabled or not uses_inpainting(p) or getattr(p, "nmask", None) is None:
            return
        originals = []
        for img in p.init_images:
            image = images.flatten(img, shared.opts.img2img_background_color)
            if p.paste_to is None and p.resize_mode != 3:
                image = images.resize_image(p.resize_mode, image, p.width, p.height)
            originals.append(image.convert("RGBA"))
        if len(originals) == 1:
            originals = originals * p.batch_size
        settings = settings_from(args)
        if getattr(ps.samples, "already_decoded", False):
            masks, overlays = mask_only_masks(settings, p.nmask, originals, p.width, p.height, p.paste_to)
        else:
            masks, overlays = difference_masks(settings, p.nmask, p.init_latent, ps.samples, originals,
                                               p.width, p.height, p.paste_to)
        self.masks_for_overlay, self.overlay_images = masks, overlays

    def postprocess_maskoverlay(self, p, ppmo, enabled, *args):
        if not enabled or not uses_inpainting(p) or self.masks_for_overlay is None:
            return
        ppmo.mask_for_overlay = self.masks_for_overlay[ppmo.index]
        ppmo.overlay_image = self.overlay_images[ppmo.index]
