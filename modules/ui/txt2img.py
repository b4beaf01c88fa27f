"""The Gradio UI (for now: the checkpoint quicksetting and a txt2img tab).

The Generate button builds the same request model the API accepts and puts the job on the
same queue, so a click and an API call are the same job.
"""
from __future__ import annotations

import asyncio
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from modules import samplers, shared  # noqa: E402
from fastapi import HTTPException  # noqa: E402

from modules.api.api import error_message, processing_args  # noqa: E402
from modules.api.models import StableDiffusionTxt2ImgProcessingAPI  # noqa: E402
from modules.processing import StableDiffusionProcessingTxt2Img, process_images  # noqa: E402

logger = logging.getLogger(__name__)


def build_request(prompt: str, negative: str, sampler: str, schedule: str, steps: float, width: float,
                  height: float, batch_count: float, batch_size: float, cfg: float, seed: float
                  ) -> StableDiffusionTxt2ImgProcessingAPI:
    return StableDiffusionTxt2ImgProcessingAPI(
        prompt=prompt, negative_prompt=negative, sampler_name=sampler, scheduler=schedule,
        steps=int(steps), width=int(width), height=int(height), n_iter=int(batch_count),
        batch_size=int(batch_size), cfg_scale=float(cfg), seed=int(seed), save_images=True)


async def _wait_with_progress(job, progress: gr.Progress) -> object:
    fut = asyncio.wrap_future(job.future)
    while True:
        done, _ = await asyncio.wait({fut}, timeout=0.25)
        if done:
            return fut.result()
        state = shared.state
        if shared.queue.current_task == job.task_id:
            value, eta = state.progress()
            progress(value, desc=f"Step {state.sampling_step}/{state.sampling_steps}, ETA {eta:.0f}s")
        else:
            pos = shared.queue.position(job.task_id)
            progress(0, desc="Waiting..." if pos is None else f"In queue: {pos + 1}")


async def generate(prompt, negative, sampler, schedule, steps, width, height, batch_count, batch_size, cfg, seed,
                   progress=gr.Progress()):
    try:
        req = build_request(prompt, negative, sampler, schedule, steps, width, height, batch_count,
                            batch_size, cfg, seed)
        args = processing_args(req)        # the same checks and fields as POST /sdapi/v1/txt2img
    except ValueError as e:
        raise gr.Error(str(e)) from None
    except HTTPException as e:
        raise gr.Error(error_message(e.detail)) from None
    p = StableDiffusionProcessingTxt2Img(**args)
    p.do_not_save_samples = not req.save_images
    job = shared.queue.submit(lambda: process_images(p), name="txt2img")
    try:
        processed = await _wait_with_progress(job, progress)
    except asyncio.CancelledError:
        shared.queue.cancel(job.task_id)
        raise
    except Exception as e:
        raise gr.Error(str(e)) from None
    info_html = "<br>".join(t.replace("\n", "<br>") for t in processed.infotexts[:1])
    return [(im, None) for im in processed.images], processed.js(), f"<div class='infotext'>{info_html}</div>"


def _checkpoint_titles() -> list[str]:
    return [c.title for c in shared.registry.list()]


async def switch_checkpoint(title: str):
    info = shared.registry.match(title)
    if info is None:
        raise gr.Error(f"checkpoint {title!r} not found")
    job = shared.queue.submit(lambda: shared.model_manager.load(info), name="load-checkpoint")
    try:
        await asyncio.wrap_future(job.future)
    except Exception as e:
        raise gr.Error(f"could not load {title}: {e}") from None
    shared.opts.save()
    return gr.update(value=shared.opts.sd_model_checkpoint)


async def refresh_checkpoints():
    job = shared.queue.submit(shared.registry.refresh, name="refresh-checkpoints")
    await asyncio.wrap_future(job.future)
    return gr.update(choices=_checkpoint_titles(), value=shared.opts.sd_model_checkpoint)


def create_ui() -> gr.Blocks:
    sampler_names = [s.name for s in samplers.SAMPLERS]
    schedule_labels = [s.label for s in samplers.SCHEDULERS]
    with gr.Blocks(title="Stable Diffusion", analytics_enabled=False) as demo:
        with gr.Row(elem_id="quicksettings"):
            ckpt = gr.Dropdown(label="Stable Diffusion checkpoint", choices=_checkpoint_titles(),
                               value=shared.opts.sd_model_checkpoint, elem_id="setting_sd_model_checkpoint",
                               allow_custom_value=True)
            refresh = gr.Button("🔄", elem_id="refresh_sd_model_checkpoint", scale=0, min_width=40)
        ckpt.input(switch_checkpoint, [ckpt], [ckpt], concurrency_limit=None)
        refresh.click(refresh_checkpoints, [], [ckpt], concurrency_limit=None)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("txt2img", id="txt2img", elem_id="tab_txt2img"):
                with gr.Row():
                    with gr.Column(scale=6):
                        prompt = gr.Textbox(label="Prompt", lines=3, elem_id="txt2img_prompt",
                                            placeholder="Prompt (press Ctrl+Enter to generate)")
                        negative = gr.Textbox(label="Negative prompt", lines=2, elem_id="txt2img_neg_prompt")
                    with gr.Column(scale=1):
                        submit = gr.Button("Generate", variant="primary", elem_id="txt2img_generate")
                        interrupt = gr.Button("Interrupt", elem_id="txt2img_interrupt")
                        skip = gr.Button("Skip", elem_id="txt2img_skip")
                with gr.Row():
                    with gr.Column():
                        with gr.Row():
                            sampler = gr.Dropdown(label="Sampling method", choices=sampler_names,
                                                  value=sampler_names[0], elem_id="txt2img_sampling")
                            schedule = gr.Dropdown(label="Schedule type", choices=schedule_labels,
                                                   value=schedule_labels[0], elem_id="txt2img_scheduler")
                        steps = gr.Slider(1, 150, value=20, step=1, label="Sampling steps", elem_id="txt2img_steps")
                        with gr.Row():
                            width = gr.Slider(64, 2048, value=512, step=8, label="Width", elem_id="txt2img_width")
                            height = gr.Slider(64, 2048, value=512, step=8, label="Height", elem_id="txt2img_height")
                        with gr.Row():
                            batch_count = gr.Slider(1, 100, value=1, step=1, label="Batch count",
                                                    elem_id="txt2img_batch_count")
                            batch_size = gr.Slider(1, 8, value=1, step=1, label="Batch size",
                                                   elem_id="txt2img_batch_size")
                        cfg = gr.Slider(1, 30, value=7, step=0.5, label="CFG Scale", elem_id="txt2img_cfg_scale")
                        seed = gr.Number(label="Seed", value=-1, precision=0, elem_id="txt2img_seed")
                    with gr.Column():
                        gallery = gr.Gallery(label="Output", columns=2, format="png", elem_id="txt2img_gallery")
                        generation_info = gr.Textbox(visible=False, elem_id="generation_info_txt2img")
                        html_info = gr.HTML(elem_id="html_info_txt2img")
                inputs = [prompt, negative, sampler, schedule, steps, width, height, batch_count, batch_size, cfg, seed]
                submit.click(generate, inputs, [gallery, generation_info, html_info], api_name="txt2img",
                             concurrency_limit=None)
                interrupt.click(lambda: shared.state.interrupt(), [], [], concurrency_limit=None)
                skip.click(lambda: shared.state.skip(), [], [], concurrency_limit=None)
    return demo
