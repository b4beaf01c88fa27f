"""A1111's "img2img alternative test" script (img2img): the image is redrawn from the noise that
running the Euler sampler backwards finds for it under its original prompt, so that edits of the
prompt change the picture while the rest stays close (engine: processing/img2img_alt.py and
sampling/inversion.py, on the job's own model and sampler).

script_args (A1111's order): info (the Markdown note, ignored), override_sampler, override_prompt,
original_prompt, original_negative_prompt, override_steps, st, override_strength, cfg, randomness,
sigma_adjustment.
"""
import gradio as gr

import modules.scripts as scripts
from modules import processing
# the noise inversion and the job's sample step it replaces have no A1111 module name
from sdwebui.engine.processing.img2img_alt import InversionCache, InversionSettings, use_inverted_noise


class Script(scripts.Script):
    def __init__(self):
        self.cache = InversionCache()

    def title(self):
        return "img2img alternative test"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        info = gr.Markdown('''
        * `CFG Scale` should be 2 or lower.
        ''')
        override_sampler = gr.Checkbox(label="Override `Sampling method` to Euler?(this method is built for it)",
                                       value=True, elem_id=self.elem_id("override_sampler"))
        override_prompt = gr.Checkbox(label="Override `prompt` to the same value as `original prompt`?(and "
                                            "`negative prompt`)", value=True, elem_id=self.elem_id("override_prompt"))
        original_prompt = gr.Textbox(label="Original prompt", lines=1, value="", elem_id=self.elem_id("original_prompt"))
        original_negative_prompt = gr.Textbox(label="Original negative prompt", lines=1, value="",
                                              elem_id=self.elem_id("original_negative_prompt"))
        override_steps = gr.Checkbox(label="Override `Sampling Steps` to the same value as `Decode steps`?",
                                     value=True, elem_id=self.elem_id("override_steps"))
        st = gr.Slider(label="Decode steps", minimum=1, maximum=150, step=1, value=50, elem_id=self.elem_id("st"))
        override_strength = gr.Checkbox(label="Override `Denoising strength` to 1?", value=True,
                                        elem_id=self.elem_id("override_strength"))
        cfg = gr.Slider(label="Decode CFG scale", minimum=0.0, maximum=15.0, step=0.1, value=1.0,
                        elem_id=self.elem_id("cfg"))
        randomness = gr.Slider(label="Randomness", minimum=0.0, maximum=1.0, step=0.01, value=0.0,
                               elem_id=self.elem_id("randomness"))
        sigma_adjustment = gr.Checkbox(label="Sigma adjustment for finding noise for image", value=False,
                                       elem_id=self.elem_id("sigma_adjustment"))
        return [info, override_sampler, override_prompt, original_prompt, original_negative_prompt, override_steps, st,
                override_strength, cfg, randomness, sigma_adjustment]

    def run(self, p, _, override_sampler, override_prompt, original_prompt, original_negative_prompt, override_steps,
            st, override_strength, cfg, randomness, sigma_adjustment):
        if override_sampler:
            p.sampler_name = "Euler"
        if override_prompt:
            p.prompt = original_prompt
            p.negative_prompt = original_negative_prompt
        if override_steps:
            p.steps = int(st)
        if override_strength:
            p.denoising_strength = 1.0
        settings = InversionSettings(original_prompt or "", original_negative_prompt or "", float(cfg), int(st),
                                     float(randomness), bool(sigma_adjustment))
        use_inverted_noise(p, settings, self.cache)
        return processing.process_images(p)
