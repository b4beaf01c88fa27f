"""A1111's "Prompt matrix" script: `a | b | c` in the prompt (or the negative prompt) gives one image
for every combination of the optional parts b, c ... after the fixed part a, and a grid of them
titled with each part, struck through where it is left out.

script_args (A1111's order): put_at_start, different_seeds, prompt_type ("positive" | "negative"),
variations_delimiter ("comma" | "space"), margin_size.
"""
import logging
import math

import gradio as gr

import modules.scripts as scripts
from modules import images, processing
from modules.shared import opts, state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it

logger = logging.getLogger(__name__)

PROMPT_TYPES = ["positive", "negative"]
DELIMITERS = {"comma": ", ", "space": " "}


def combinations(parts: list[str], put_at_start: bool, delimiter: str) -> list[str]:
    """The prompt of every combination of the optional parts: combination k holds part i+1 when bit i
    of k is set (A1111's numbering, which the grid's titles follow)."""
    fixed, optional = parts[0], parts[1:]
    prompts = []
    for k in range(2 ** len(optional)):
        chosen = [text.strip().strip(",") for i, text in enumerate(optional) if k & (1 << i)]
        prompts.append(delimiter.join(chosen + [fixed] if put_at_start else [fixed] + chosen))
    return prompts


class Script(scripts.Script):
    def title(self):
        return "Prompt matrix"

    def ui(self, is_img2img):
        gr.HTML('<br />')
        with gr.Row():
            with gr.Column():
                put_at_start = gr.Checkbox(label='Put variable parts at start of prompt', value=False,
                                           elem_id=self.elem_id("put_at_start"))
                different_seeds = gr.Checkbox(label='Use different seed for each picture', value=False,
                                              elem_id=self.elem_id("different_seeds"))
            with gr.Column():
                prompt_type = gr.Radio(PROMPT_TYPES, label="Select prompt", value="positive",
                                       elem_id=self.elem_id("prompt_type"))
                variations_delimiter = gr.Radio(list(DELIMITERS), label="Select joining char", value="comma",
                                                elem_id=self.elem_id("variations_delimiter"))
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
        return [put_at_start, different_seeds, prompt_type, variations_delimiter, margin_size]

    def run(self, p, put_at_start, different_seeds, prompt_type, variations_delimiter, margin_size):
        if prompt_type not in PROMPT_TYPES:
            raise ProcessingError("script_args.2", f"prompt_type must be one of {PROMPT_TYPES}, got {prompt_type!r}")
        if variations_delimiter not in DELIMITERS:
            raise ProcessingError("script_args.3", f"variations_delimiter must be one of {list(DELIMITERS)}, "
                                            f"got {variations_delimiter!r}")
        processing.fix_seed(p)
        source = p.prompt if prompt_type == "positive" else p.negative_prompt
        source = source[0] if isinstance(source, list) else source
        parts = source.split("|")
        prompts = combinations(parts, bool(put_at_start), DELIMITERS[variations_delimiter])

        p.n_iter = math.ceil(len(prompts) / p.batch_size)
        p.do_not_save_grid = True      # the batches' own grid is replaced by the matrix below
        logger.info("Prompt matrix will create %d images in %d batches", len(prompts), p.n_iter)
        if prompt_type == "positive":
            p.prompt = prompts
        else:
            p.negative_prompt = prompts
        p.seed = [p.seed + (i if different_seeds else 0) for i in range(len(prompts))]
        state.job_count = p.n_iter
        processed = processing.process_images(p)
        if not processed.images:
            return processed

        # rows: the vertical half of the optional parts (A1111 puts the first half across)
        cells = processed.images[processed.index_of_first_image:]
        grid = images.image_grid(cells, p.batch_size, rows=1 << ((len(parts) - 1) // 2))
        grid = images.draw_prompt_matrix(grid, cells[0].width, cells[0].height, parts, int(margin_size or 0))
        processed.images = [grid, *cells]
        processed.infotexts = [processed.infotexts[processed.index_of_first_image],
                               *processed.infotexts[processed.index_of_first_image:]]
        processed.index_of_first_image = 1
        if opts.grid_save:
            images.save_image(grid, p.outpath_grids, "prompt_matrix", extension=opts.grid_format, prompt=source,
                              seed=processed.seed, grid=True, p=p)
        return processed
