"""A1111's "Poor man's outpainting" script (img2img): the picture is placed on a larger black canvas
and the tiles of the canvas that reach into the new border are inpainted one by one (masked to the
border), then joined back (modules.images.split_grid / combine_grid).

script_args (A1111's order): pixels, mask_blur, inpainting_fill (index: 0 fill, 1 original,
2 latent noise, 3 latent nothing), direction (a list of "left" / "right" / "up" / "down").
"""
import logging

import gradio as gr
from PIL import Image

import modules.scripts as scripts
from modules import devices, images
from modules.processing import Processed, process_images
from modules.shared import opts, state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it
from sdwebui.engine.processing import outpaint      # the outpainting arithmetic (no A1111 module holds it)

logger = logging.getLogger(__name__)

FILL_CHOICES = ['fill', 'original', 'latent noise', 'latent nothing']


class Script(scripts.Script):
    def title(self):
        return "Poor man's outpainting"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        if not is_img2img:
            return None
        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label='Mask blur', minimum=0, maximum=64, step=1, value=4,
                              elem_id=self.elem_id("mask_blur"))
        inpainting_fill = gr.Radio(label='Masked content', choices=FILL_CHOICES, value='fill', type="index",
                                   elem_id=self.elem_id("inpainting_fill"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(outpaint.DIRECTIONS),
                                     value=list(outpaint.DIRECTIONS), elem_id=self.elem_id("direction"))
        return [pixels, mask_blur, inpainting_fill, direction]

    def run(self, p, pixels, mask_blur, inpainting_fill, direction):
        pixels, mask_blur = int(pixels), int(mask_blur)
        if isinstance(inpainting_fill, str) and inpainting_fill in FILL_CHOICES:
            inpainting_fill = FILL_CHOICES.index(inpainting_fill)      # an API client may send the label
        if inpainting_fill not in range(len(FILL_CHOICES)):
            raise ProcessingError("script_args.2", f"inpainting_fill must be an index 0..3 or one of {FILL_CHOICES}, "
                                                   f"got {inpainting_fill!r}")
        direction = [direction] if isinstance(direction, str) else list(direction or [])
        if not p.init_images:
            raise ProcessingError("init_images", "Poor man's outpainting needs an image in init_images")
        if pixels >= min(p.width, p.height):
            raise ProcessingError("script_args.0", f"pixels to expand ({pixels}) must be smaller than the tile "
                                                   f"size {p.width}x{p.height} (the job's width and height)")
        init_img = p.init_images[0]
        try:
            grow = outpaint.expansion(init_img.width, init_img.height, pixels, direction)
        except ValueError as e:
            raise ProcessingError("script_args.3", str(e)) from None

        p.mask_blur = mask_blur * 2
        p.inpainting_fill = int(inpainting_fill)
        p.inpaint_full_res = False
        left, right, up, down = grow.left, grow.right, grow.up, grow.down
        canvas = Image.new("RGB", (grow.width, grow.height))
        canvas.paste(init_img, (left, up))

        def kept_box(margin: int) -> tuple:
            """The old picture, less `margin` along each side that grows."""
            return (left + (margin if left else 0), up + (margin if up else 0),
                    canvas.width - right - (margin if right else 0), canvas.height - down - (margin if down else 0))

        mask = outpaint.box_mask(canvas.size, kept_box(mask_blur * 2))
        latent_mask = outpaint.box_mask(canvas.size, kept_box(mask_blur // 2))
        devices.torch_gc()

        grid = images.split_grid(canvas, tile_w=p.width, tile_h=p.height, overlap=pixels)
        grid_mask = images.split_grid(mask, tile_w=p.width, tile_h=p.height, overlap=pixels)
        grid_latent_mask = images.split_grid(latent_mask, tile_w=p.width, tile_h=p.height, overlap=pixels)
        p.n_iter = 1
        p.batch_size = 1
        p.do_not_save_grid = True
        p.do_not_save_samples = True

        def inside(x: int, w: int, y: int, h: int) -> bool:
            # a tile wholly inside the old picture has nothing to outpaint
            return x >= left and x + w <= canvas.width - right and y >= up and y + h <= canvas.height - down

        work = []       # (cell, its mask, its latent mask) for every tile that reaches the border
        for (y, h, row), (_, _, row_mask), (_, _, row_latent) in zip(grid.tiles, grid_mask.tiles, grid_latent_mask.tiles):
            for cell, cell_mask, cell_latent in zip(row, row_mask, row_latent):
                if not inside(cell[0], cell[1], y, h):
                    work.append((cell, cell_mask[2], cell_latent[2]))
        logger.info("Poor man's outpainting will process %d tiles (grid %dx%d)", len(work), len(grid.tiles[0][2]),
                    len(grid.tiles))
        state.job_count = len(work)

        initial_seed = initial_info = None
        for i, (cell, cell_mask, cell_latent) in enumerate(work):
            if state.interrupted or state.stopping_generation:
                cell[2] = Image.new("RGB", (p.width, p.height))     # not redrawn: black, as A1111
                continue
            p.init_images = [cell[2]]
            p.image_mask = cell_mask
            p.latent_mask = cell_latent
            state.job = f"Batch {i + 1} out of {len(work)}"
            processed = process_images(p)
            if initial_seed is None:
                initial_seed, initial_info = processed.seed, processed.info
            p.seed = processed.seed + 1
            cell[2] = processed.images[processed.index_of_first_image]

        combined = images.combine_grid(grid)
        if opts.samples_save:
            images.save_image(combined, p.outpath_samples, "", initial_seed, p.prompt, opts.samples_format,
                              info=initial_info, p=p)
        return Processed(p, [combined], initial_seed if initial_seed is not None else -1, initial_info or "")
