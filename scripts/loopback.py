"""A1111's "Loopback" script (img2img): the output of each img2img run is the input of the next,
`loops` times, with the denoising strength moving from the job's to the final one along a curve.

script_args (A1111's order): loops, final_denoising_strength, denoising_curve ("Aggressive" |
"Linear" | "Lazy"), append_interrogation ("None" | "CLIP" | "DeepBooru").
"""
import logging
import math

import gradio as gr

import modules.scripts as scripts
from modules import images, processing
from modules.processing import Processed
from modules.shared import opts, state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it

logger = logging.getLogger(__name__)

CURVES = {
    "Aggressive": lambda progress: math.sin(progress * math.pi * 0.5),
    "Linear": lambda progress: progress,
    "Lazy": lambda progress: 1 - math.cos(progress * math.pi * 0.5),
}
INTERROGATORS = ["None", "CLIP", "DeepBooru"]


def denoising_strength(loop: int, loops: int, initial: float, final: float, curve: str) -> float:
    """The strength for loop number `loop` (0-based): the job's at 0, `final` at the last loop."""
    if loops == 1:
        return initial
    return initial + (final - initial) * CURVES[curve](loop / (loops - 1))


class Script(scripts.Script):
    def title(self):
        return "Loopback"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        loops = gr.Slider(minimum=1, maximum=32, step=1, label='Loops', value=4, elem_id=self.elem_id("loops"))
        final_denoising_strength = gr.Slider(minimum=0, maximum=1, step=0.01, label='Final denoising strength',
                                             value=0.5, elem_id=self.elem_id("final_denoising_strength"))
        denoising_curve = gr.Dropdown(label="Denoising strength curve", choices=list(CURVES), value="Linear")
        append_interrogation = gr.Dropdown(label="Append interrogated prompt at each iteration",
                                           choices=INTERROGATORS, value="None")
        return [loops, final_denoising_strength, denoising_curve, append_interrogation]

    def run(self, p, loops, final_denoising_strength, denoising_curve, append_interrogation):
        loops, final_denoising_strength = int(loops), float(final_denoising_strength)
        if loops < 1:
            raise ProcessingError("script_args.0", f"loops must be at least 1, got {loops}")
        if denoising_curve not in CURVES:
            raise ProcessingError("script_args.2", f"denoising_curve must be one of {list(CURVES)}, "
                                                   f"got {denoising_curve!r}")
        if append_interrogation not in INTERROGATORS:
            raise ProcessingError("script_args.3", f"append_interrogation must be one of {INTERROGATORS}, "
                                                   f"got {append_interrogation!r}")
        if append_interrogation != "None":
            # no CLIP interrogator or DeepBooru tagger ships here (docs/compatibility.md)
            raise ProcessingError("script_args.3", f"append_interrogation {append_interrogation!r}: there is no "
                                                   "interrogator in this web UI; use \"None\"")
        processing.fix_seed(p)
        batch_count = p.n_iter
        p.extra_generation_params = {"Final denoising strength": final_denoising_strength,
                                     "Denoising curve": denoising_curve}
        p.batch_size = 1
        p.n_iter = 1
        initial_strength = p.denoising_strength
        original_init_images = p.init_images
        original_inpainting_fill = p.inpainting_fill
        state.job_count = loops * batch_count
        color_corrections = [processing.setup_color_correction(p.init_images[0])]

        initial_seed = initial_info = None
        history, history_info = [], []    # the images shown and the infotext each was made with
        for n in range(batch_count):
            p.init_images = original_init_images      # every batch starts again from the job's image
            p.denoising_strength = initial_strength
            last_image = last_info = None
            for i in range(loops):
                p.n_iter = 1
                p.batch_size = 1
                p.do_not_save_grid = True
                if opts.img2img_color_correction:
                    p.color_corrections = color_corrections
                state.job = f"Iteration {i + 1}/{loops}, batch {n + 1}/{batch_count}"
                processed = processing.process_images(p)
                if state.interrupted or state.stopping_generation:
                    break
                if initial_seed is None:
                    initial_seed, initial_info = processed.seed, processed.info
                p.seed = processed.seed + 1
                p.denoising_strength = denoising_strength(i + 1, loops, initial_strength, final_denoising_strength,
                                                          denoising_curve)
                if state.skipped:
                    break
                last_image = processed.images[processed.index_of_first_image]
                last_info = processed.infotexts[processed.index_of_first_image]
                p.init_images = [last_image]
                p.inpainting_fill = 1       # "original": later loops keep what the mask area became
                if batch_count == 1:
                    history.append(last_image)
                    history_info.append(last_info)
            if batch_count > 1 and last_image is not None and not state.skipped and not state.interrupted:
                history.append(last_image)
                history_info.append(last_info)
            p.inpainting_fill = original_inpainting_fill
            if state.interrupted or state.stopping_generation:
                break

        grids = []
        if len(history) > 1:
            grid = images.image_grid(history, rows=1)
            if opts.grid_save:
                images.save_image(grid, p.outpath_grids, "grid", initial_seed, p.prompt, opts.grid_format,
                                  info=initial_info, short_filename=not opts.grid_extended_filename, grid=True, p=p)
            if opts.return_grid:
                grids.append(grid)
        return Processed(p, grids + history, initial_seed, initial_info or "", index_of_first_image=len(grids),
                         infotexts=history_info[:len(grids)] + history_info)
