"""A1111's "Prompts from file or textbox" script: one job per line of a list. A plain line is a
prompt; a line with `--flag value` pairs sets those fields of the job, as A1111's `prompt_tags`:
`--prompt` and `--negative_prompt` take every word up to the next flag, the others one value each.

script_args (A1111's order): checkbox_iterate, checkbox_iterate_batch, prompt_position
("start" | "end"), prompt_txt.

Unlike A1111, which logs a line it cannot parse and runs the whole line as a prompt, a bad line
(unknown flag, missing or mistyped value, unknown sampler or checkpoint) is refused before anything
runs, with a 4xx naming the line and the flag (docs/compatibility.md).
"""
import copy
import logging
import random
import shlex

import gradio as gr

import modules.scripts as scripts
from modules import processing, sd_models, sd_samplers
from modules.processing import Processed
from modules.shared import state
from sdwebui.engine.errors import ProcessingError   # a 4xx naming the argument; A1111 has no name for it

logger = logging.getLogger(__name__)

FIELD = "script_args.3"     # prompt_txt: where a bad line is


def process_model_tag(tag: str) -> str:
    info = sd_models.get_closet_checkpoint_match(tag)
    if info is None:
        raise ValueError(f"unknown checkpoint {tag!r}")
    return info.name


def process_string_tag(tag: str) -> str:
    return tag


def process_int_tag(tag: str) -> int:
    return int(tag)


def process_float_tag(tag: str) -> float:
    return float(tag)


def process_boolean_tag(tag: str) -> bool:
    return tag == "true"     # A1111: anything else is false


def process_styles_tag(tag: str) -> list:
    # A1111 sets the string itself, whose characters are then taken as style names; a comma list here
    return [s.strip() for s in tag.split(",") if s.strip()]


def process_sampler_tag(tag: str) -> str:
    name = sd_samplers.samplers_map.get(tag.lower())
    if name is None:
        raise ValueError(f"unknown sampler {tag!r}; available: {[s.name for s in sd_samplers.samplers]}")
    return name


def process_sampler_index_tag(tag: str) -> str:
    # A1111 1.10 sets p.sampler_index, which nothing reads any more; here the index picks the sampler
    index = int(tag)
    if not 0 <= index < len(sd_samplers.samplers):
        raise ValueError(f"sampler index {index} out of range 0..{len(sd_samplers.samplers) - 1}")
    return sd_samplers.samplers[index].name


prompt_tags = {
    "sd_model": process_model_tag,
    "outpath_samples": process_string_tag,
    "outpath_grids": process_string_tag,
    "prompt_for_display": process_string_tag,
    "prompt": process_string_tag,
    "negative_prompt": process_string_tag,
    "styles": process_styles_tag,
    "seed": process_int_tag,
    "subseed_strength": process_float_tag,
    "subseed": process_int_tag,
    "seed_resize_from_h": process_int_tag,
    "seed_resize_from_w": process_int_tag,
    "sampler_index": process_sampler_index_tag,
    "sampler_name": process_sampler_tag,
    "batch_size": process_int_tag,
    "n_iter": process_int_tag,
    "steps": process_int_tag,
    "cfg_scale": process_float_tag,
    "width": process_int_tag,
    "height": process_int_tag,
    "restore_faces": process_boolean_tag,
    "tiling": process_boolean_tag,
    "do_not_save_samples": process_boolean_tag,
    "do_not_save_grid": process_boolean_tag,
}
# sampler_index picks the sampler by name; the job's field is sampler_name
TARGET_FIELD = {"sampler_index": "sampler_name"}


def cmdargs(line: str) -> dict:
    """The fields a `--flag value ...` line sets. Raises ValueError naming the flag when it is not
    one of prompt_tags, has no value, or its value does not convert."""
    words = shlex.split(line)
    res = {}
    pos = 0
    while pos < len(words):
        arg = words[pos]
        if not arg.startswith("--"):
            raise ValueError(f'expected a "--flag", got {arg!r}')
        tag = arg[2:]
        if tag not in prompt_tags:
            raise ValueError(f"unknown flag {arg}; valid flags: {', '.join('--' + t for t in prompt_tags)}")
        if pos + 1 >= len(words):
            raise ValueError(f"missing value for {arg}")
        if tag in ("prompt", "negative_prompt"):
            # the prompt is every word up to the next flag (shlex dropped the quotes)
            end = pos + 1
            while end < len(words) and (end == pos + 1 or not words[end].startswith("--")):
                end += 1
            res[tag] = " ".join(words[pos + 1:end])
            pos = end
            continue
        try:
            res[TARGET_FIELD.get(tag, tag)] = prompt_tags[tag](words[pos + 1])
        except ValueError as e:
            raise ValueError(f"{arg} {words[pos + 1]!r}: {e}") from None
        pos += 2
    return res


def parse_lines(text: str) -> list[dict]:
    """One field dict per non-empty line; a ProcessingError naming the line for a bad one."""
    jobs = []
    for number, line in enumerate((x.strip() for x in (text or "").splitlines()), start=1):
        if not line:
            continue
        if "--" not in line:
            jobs.append({"prompt": line})
            continue
        try:
            jobs.append(cmdargs(line))
        except ValueError as e:
            raise ProcessingError(FIELD, f"line {number} ({line!r}): {e}") from None
    return jobs


def load_prompt_file(file):
    """The uploaded file's lines into the textbox (the file control is then cleared)."""
    if file is None:
        return None, gr.update(), gr.update(lines=7)
    data = file if isinstance(file, bytes) else open(file, "rb").read()
    lines = [x.strip() for x in data.decode("utf8", errors="ignore").split("\n")]
    return None, "\n".join(lines), gr.update(lines=7)


class Script(scripts.Script):
    def title(self):
        return "Prompts from file or textbox"

    def ui(self, is_img2img):
        checkbox_iterate = gr.Checkbox(label="Iterate seed every line", value=False,
                                       elem_id=self.elem_id("checkbox_iterate"))
        checkbox_iterate_batch = gr.Checkbox(label="Use same random seed for all lines", value=False,
                                             elem_id=self.elem_id("checkbox_iterate_batch"))
        prompt_position = gr.Radio(["start", "end"], label="Insert prompts at the", value="start",
                                   elem_id=self.elem_id("prompt_position"))
        prompt_txt = gr.Textbox(label="List of prompt inputs", lines=1, value="", elem_id=self.elem_id("prompt_txt"))
        file = gr.File(label="Upload prompt inputs", type='binary', elem_id=self.elem_id("file"))
        file.change(fn=load_prompt_file, inputs=[file], outputs=[file, prompt_txt, prompt_txt], show_progress=False)
        # one line until the text has a line break (a 1-line box would send Enter as Generate)
        prompt_txt.change(lambda tb: gr.update(lines=7) if "\n" in tb else gr.update(lines=2), inputs=[prompt_txt],
                          outputs=[prompt_txt], show_progress=False)
        return [checkbox_iterate, checkbox_iterate_batch, prompt_position, prompt_txt]

    def run(self, p, checkbox_iterate, checkbox_iterate_batch, prompt_position, prompt_txt: str):
        if prompt_position not in ("start", "end"):
            raise ProcessingError("script_args.2", f"prompt_position must be 'start' or 'end', got {prompt_position!r}")
        jobs = parse_lines(prompt_txt)
        p.do_not_save_grid = True
        job_count = sum(job.get("n_iter", p.n_iter) for job in jobs)
        logger.info("Will process %d lines in %d jobs.", len(jobs), job_count)
        if (checkbox_iterate or checkbox_iterate_batch) and p.seed == -1:
            p.seed = int(random.randrange(4294967294))
        state.job_count = job_count

        images, all_prompts, infotexts = [], [], []
        for job in jobs:
            if state.interrupted or state.stopping_generation:
                break
            state.job = f"{state.job_no + 1} out of {state.job_count}"
            copy_p = copy.copy(p)
            # fresh dicts per line: a line's checkpoint or generation params must not leak into the next
            copy_p.override_settings = dict(p.override_settings)
            copy_p.extra_generation_params = dict(p.extra_generation_params)
            copy_p.warnings = []
            for key, value in job.items():
                if key == "sd_model":
                    copy_p.override_settings["sd_model_checkpoint"] = value
                else:
                    setattr(copy_p, key, value)
            for field in ("prompt", "negative_prompt"):
                if job.get(field) and getattr(p, field):
                    own = getattr(p, field)
                    setattr(copy_p, field, f"{job[field]} {own}" if prompt_position == "start" else f"{own} {job[field]}")
            proc = processing.process_images(copy_p)
            images += proc.images
            all_prompts += proc.all_prompts
            infotexts += proc.infotexts
            if checkbox_iterate:
                p.seed = p.seed + p.batch_size * p.n_iter
        return Processed(p, images, p.seed, "", all_prompts=all_prompts, infotexts=infotexts)
