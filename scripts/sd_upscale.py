"""A1111's "SD upscale" script (img2img): the image is enlarged by the chosen upscaler, cut into
overlapping tiles of the job's width x height, every tile is redrawn by img2img, and the tiles are
joined back with soft seams (modules.images.split_grid / combine_grid).

script_args (A1111's order): info (the HTML note, ignored), overlap, upscaler_index (its index in
shared.sd_upscalers, or its name), scale_factor.
"""
import logging
import math

import gradio as gr
from PIL import Image

import modules.scripts as scripts
from modules import devices, images, processing, shared
from modules.processing import Processed
from modules.shared import opts, state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it

logger = logging.getLogger(__name__)


def find_upscaler(upscaler_index):
    """The shared.sd_upscalers entry an index or a name (any case) picks; a 4xx listing the names."""
    names = [u.name for u in shared.sd_upscalers]
    if isinstance(upscaler_index, str) and not upscaler_index.strip().lstrip("-").isdigit():
        lowered = [n.lower() for n in names]
        if upscaler_index.lower() not in lowered:
            raise ProcessingError("script_args.2", f"upscaler {upscaler_index!r} not found; available: {names}")
        return shared.sd_upscalers[lowered.index(upscaler_index.lower())]
    index = int(upscaler_index)
    if not 0 <= index < len(names):
        raise ProcessingError("script_args.2", f"upscaler index {index} out of range; available: {names}")
    return shared.sd_upscalers[index]


class Script(scripts.Script):
    def title(self):
        return "SD upscale"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Will upscale the image by the selected scale factor; "
                       "use width and height sliders to set tile size</p>")
        overlap = gr.Slider(minimum=0, maximum=256, step=16, label='Tile overlap', value=64,
                            elem_id=self.elem_id("overlap"))
        scale_factor = gr.Slider(minimum=1.0, maximum=4.0, step=0.05, label='Scale Factor', value=2.0,
                                 elem_id=self.elem_id("scale_factor"))
        names = [x.name for x in shared.sd_upscalers]
        upscaler_index = gr.Radio(label='Upscaler', choices=names, value=names[0] if names else None, type="index",
                                  elem_id=self.elem_id("upscaler_index"))
        return [info, overlap, upscaler_index, scale_factor]

    def run(self, p, _, overlap, upscaler_index, scale_factor):
        upscaler = find_upscaler(upscaler_index)
        overlap, scale_factor = int(overlap), float(scale_factor)
        if overlap >= min(p.width, p.height):
            raise ProcessingError("script_args.1", f"tile overlap {overlap} must be smaller than the tile size "
                                                   f"{p.width}x{p.height} (the job's width and height)")
        if not p.init_images:
            raise ProcessingError("init_images", "SD upscale needs an image in init_images")
        processing.fix_seed(p)
        p.extra_generation_params["SD upscale overlap"] = overlap
        p.extra_generation_params["SD upscale upscaler"] = upscaler.name

        init_img = images.flatten(p.init_images[0], opts.img2img_background_color)
        img = upscaler.scaler.upscale(init_img, scale_factor, upscaler.data_path) if upscaler.name != "None" else init_img
        devices.torch_gc()
        grid = images.split_grid(img, tile_w=p.width, tile_h=p.height, overlap=overlap)

        batch_size, upscale_count, seed = p.batch_size, p.n_iter, p.seed
        p.n_iter = 1
        p.do_not_save_grid = True
        p.do_not_save_samples = True    # the joined image is what gets saved
        work = [cell[2] for _y, _h, row in grid.tiles for cell in row]
        batch_count = math.ceil(len(work) / batch_size)
        state.job_count = batch_count * upscale_count
        logger.info("SD upscaling will process %d tiles (%dx%d) per upscale in %d batches", len(work),
                    len(grid.tiles[0][2]), len(grid.tiles), state.job_count)

        initial_info = None
        infotexts, result_images = [], []
        for n in range(upscale_count):
            start_seed = seed + n
            p.seed = start_seed
            redrawn = []
            for i in range(batch_count):
                if state.interrupted or state.stopping_generation:
                    break
                p.batch_size = batch_size
                p.init_images = work[i * batch_size:(i + 1) * batch_size]
                state.job = f"Batch {i + 1 + n * batch_count} out of {state.job_count}"
                processed = processing.process_images(p)
                if initial_info is None:
                    initial_info = processed.info
                p.seed = processed.seed + 1
                redrawn += processed.images[processed.index_of_first_image:]
            if not redrawn:
                break
            # tiles not redrawn (interrupted) stay black, as in A1111
            cells = [cell for _y, _h, row in grid.tiles for cell in row]
            for index, cell in enumerate(cells):
                cell[2] = redrawn[index] if index < len(redrawn) else Image.new("RGB", (p.width, p.height))
            combined = images.combine_grid(grid)
            result_images.append(combined)
            infotexts.append(initial_info)
            if opts.samples_save:
                images.save_image(combined, p.outpath_samples, "", start_seed, p.prompt, opts.samples_format,
                                  info=initial_info, p=p)
        return Processed(p, result_images, seed, initial_info or "", infotexts=infotexts)
