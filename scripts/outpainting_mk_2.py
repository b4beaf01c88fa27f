"""A1111's "Outpainting mk2" script (img2img): the picture grows on each chosen side in turn; the new
strip is first filled with noise shaped like the picture (engine: processing/outpaint.py), then
redrawn by img2img with a mask over it, the picture's own pixels kept.

script_args (A1111's order): info (the HTML note, ignored), pixels, mask_blur, direction (a list of
"left" / "right" / "up" / "down"), noise_q, color_variation.
"""
import logging
import math

import gradio as gr
from PIL import Image

import modules.scripts as scripts
from modules import images
from modules.processing import Processed, process_images
from modules.shared import opts, state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it
from sdwebui.engine.processing import outpaint      # the outpainting arithmetic (no A1111 module holds it)

logger = logging.getLogger(__name__)


def _round64(value: int) -> int:
    return math.ceil(value / 64) * 64


class Script(scripts.Script):
    def title(self):
        return "Outpainting mk2"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Recommended settings: Sampling Steps: 80-100, "
                       "Sampler: Euler a, Denoising strength: 0.8</p>")
        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label='Mask blur', minimum=0, maximum=64, step=1, value=8,
                              elem_id=self.elem_id("mask_blur"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(outpaint.DIRECTIONS),
                                     value=list(outpaint.DIRECTIONS), elem_id=self.elem_id("direction"))
        noise_q = gr.Slider(label="Fall-off exponent (lower=higher detail)", minimum=0.0, maximum=4.0, step=0.01,
                            value=1.0, elem_id=self.elem_id("noise_q"))
        color_variation = gr.Slider(label="Color variation", minimum=0.0, maximum=1.0, step=0.01, value=0.05,
                                    elem_id=self.elem_id("color_variation"))
        return [info, pixels, mask_blur, direction, noise_q, color_variation]

    def run(self, p, _, pixels, mask_blur, direction, noise_q, color_variation):
        pixels, mask_blur = int(pixels), int(mask_blur)
        direction = [direction] if isinstance(direction, str) else list(direction or [])
        init_img = p.init_images[0] if p.init_images else None
        if init_img is None:
            raise ProcessingError("init_images", "Outpainting mk2 needs an image in init_images")
        try:
            grow = outpaint.expansion(init_img.width, init_img.height, pixels, direction)
        except ValueError as e:
            raise ProcessingError("script_args.3", str(e)) from None

        process_width, process_height = p.width, p.height
        p.inpaint_full_res = False
        p.inpainting_fill = 1           # "original": the shaped noise is the starting point
        p.do_not_save_samples = True
        p.do_not_save_grid = True
        blur_x = mask_blur if grow.left or grow.right else 0
        blur_y = mask_blur if grow.up or grow.down else 0
        p.mask_blur_x, p.mask_blur_y = blur_x * 4, blur_y * 4
        first = {}      # the first run's seed and infotext stand for the result

        def expand(imgs: list, amount: int, side: str) -> list:
            """Grow every image of `imgs` by `amount` pixels on `side`, redrawing the new strip."""
            horizontal = side in ("left", "right")
            add_w, add_h = (amount, 0) if horizontal else (0, amount)
            noised, to_process, mask = [], [], None
            for img in imgs:
                res_w, res_h = img.width + add_w, img.height + add_h
                canvas = Image.new("RGB", (_round64(res_w), _round64(res_h)))
                canvas.paste(img, (amount if side == "left" else 0, amount if side == "up" else 0))
                # kept: the old picture, less a blur margin along the new edge
                keep = (amount + blur_x if side == "left" else 0, amount + blur_y if side == "up" else 0,
                        canvas.width - amount - blur_x if side == "right" else res_w,
                        canvas.height - amount - blur_y if side == "down" else res_h)
                full_mask = outpaint.box_mask(canvas.size, keep, mode="RGB")
                filled = outpaint.matched_noise_image(canvas, full_mask, float(noise_q), float(color_variation))
                noised.append(filled)
                # the region img2img redraws: the job's size at most, against the new edge
                target_w = min(process_width, res_w) if horizontal else canvas.width
                target_h = min(process_height, res_h) if not horizontal else canvas.height
                p.width, p.height = target_w, target_h
                crop = (0 if side == "left" else filled.width - target_w, 0 if side == "up" else filled.height - target_h,
                        target_w if side == "left" else filled.width, target_h if side == "up" else filled.height)
                mask = full_mask.crop(crop)
                to_process.append(filled.crop(crop))
            p.init_images = to_process
            p.image_mask = mask
            # the latent mask keeps a little more of the old picture than the pixel mask
            p.latent_mask = outpaint.box_mask((p.width, p.height), (
                amount + blur_x * 2 if side == "left" else 0, amount + blur_y * 2 if side == "up" else 0,
                mask.width - amount - blur_x * 2 if side == "right" else res_w,
                mask.height - amount - blur_y * 2 if side == "down" else res_h), mode="RGB")
            proc = process_images(p)
            first.setdefault("seed", proc.seed)
            first.setdefault("info", proc.info)
            out = []
            for filled, drawn in zip(noised, proc.images[proc.index_of_first_image:]):
                filled.paste(drawn, (0 if side == "left" else filled.width - drawn.width,
                                     0 if side == "up" else filled.height - drawn.height))
                out.append(filled.crop((0, 0, res_w, res_h)))
            return out

        batch_count, batch_size = p.n_iter, p.batch_size
        p.n_iter = 1
        sides = [(side, getattr(grow, side)) for side in outpaint.DIRECTIONS if getattr(grow, side) > 0]
        state.job_count = batch_count * len(sides)
        results = []
        for i in range(batch_count):
            if state.interrupted or state.stopping_generation:
                break
            imgs = [init_img] * batch_size
            state.job = f"Batch {i + 1} out of {batch_count}"
            for side, amount in sides:
                imgs = expand(imgs, amount, side)
            results += imgs

        unwanted_grid = len(results) < 2 and opts.grid_only_if_multiple
        grid = images.image_grid(results) if results and not unwanted_grid else None
        shown = [grid, *results] if grid is not None and opts.return_grid else results
        res = Processed(p, shown, first.get("seed", -1), first.get("info", ""),
                        index_of_first_image=len(shown) - len(results))
        if opts.samples_save:
            for img in results:
                images.save_image(img, p.outpath_samples, "", res.seed, p.prompt, opts.samples_format, info=res.info,
                                  p=p)
        if opts.grid_save and grid is not None:
            images.save_image(grid, p.outpath_grids, "grid", res.seed, p.prompt, opts.grid_format, info=res.info,
                              short_filename=not opts.grid_extended_filename, grid=True, p=p)
        return res
