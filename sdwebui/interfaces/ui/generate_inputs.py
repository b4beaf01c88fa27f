"""The Generate button's inputs as one ordered list, named as A1111's UI handlers name their
parameters, and those handlers (`modules.txt2img.txt2img(id_task, request, *args)`,
`modules.img2img.img2img`) taking them in that order.

Extensions re-submit the Generate button's inputs: agent-scheduler's "Enqueue" finds the button's
click among `Blocks.dependencies` (the one with four outputs), binds its own button to the same
inputs, reads the handler's parameter names with `inspect.getfullargspec`, stores the values by
name (as JSON) and the rest (`*args`, pickled), and later calls `wrap_gradio_call(txt2img)(*values)`.
So the order is fixed and told by the handler's signature: the task id, then A1111's parameters
that this UI has, in A1111's order and under A1111's names (`prompt_styles`, `override_settings_texts`,
...), then this UI's other plain fields (steps, sampler, seed: A1111's built-in scripts' arguments
there, named fields here), and as `*args` the image inputs (images are not JSON) followed by the
scripts' controls (the script runner's `inputs`, the selectable script's index first).
"""
from __future__ import annotations

import asyncio
import contextvars
import inspect
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import gradio as gr

# A1111 1.10's parameters of txt2img_create_processing / img2img after (id_task, request), in order
A1111_PARAMETERS = {
    "txt2img": ("prompt", "negative_prompt", "prompt_styles", "n_iter", "batch_size", "cfg_scale", "height", "width",
                "enable_hr", "denoising_strength", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x",
                "hr_resize_y", "hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt",
                "hr_negative_prompt", "override_settings_texts"),
    "img2img": ("mode", "prompt", "negative_prompt", "prompt_styles", "init_img", "sketch", "init_img_with_mask",
                "inpaint_color_sketch", "inpaint_color_sketch_orig", "init_img_inpaint", "init_mask_inpaint",
                "mask_blur", "mask_alpha", "inpainting_fill", "n_iter", "batch_size", "cfg_scale", "image_cfg_scale",
                "denoising_strength", "selected_scale_tab", "height", "width", "scale_by", "resize_mode",
                "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert", "img2img_batch_input_dir",
                "img2img_batch_output_dir", "img2img_batch_inpaint_mask_dir", "override_settings_texts",
                "img2img_batch_use_png_info", "img2img_batch_png_info_props", "img2img_batch_png_info_dir"),
}

# this UI's names (request fields, panel inputs) where A1111's differ
A1111_NAMES = {"styles": "prompt_styles", "override_settings": "override_settings_texts",
               "batch_input": "img2img_batch_input_dir", "batch_output": "img2img_batch_output_dir",
               "batch_mask": "img2img_batch_inpaint_mask_dir", "batch_use_png_info": "img2img_batch_use_png_info",
               "batch_png_info_props": "img2img_batch_png_info_props",
               "batch_png_info_dir": "img2img_batch_png_info_dir"}

# components whose values are images (or image editors' layers): they go after the named inputs
_IMAGE_INPUTS = (gr.Image, gr.ImageEditor)


@dataclass
class GenerateInputs:
    """One tab's Generate inputs in their order: `task` (the task id box), `named` ((name, component),
    A1111's names), `images` ((panel key, component)), then the scripts' controls."""
    tab: str
    task: gr.components.Component
    named: list[tuple[str, gr.components.Component]] = field(default_factory=list)
    images: list[tuple[str, gr.components.Component]] = field(default_factory=list)
    scripts: list[gr.components.Component] = field(default_factory=list)

    @property
    def components(self) -> list[gr.components.Component]:
        return [self.task, *(c for _, c in self.named), *(c for _, c in self.images), *self.scripts]

    def signature(self) -> inspect.Signature:
        """(id_task, request, <named>..., *args): what `inspect` tells of the tab's handler."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter("id_task", kind, annotation=str), inspect.Parameter("request", kind)]
        params += [inspect.Parameter(name, kind) for name, _ in self.named]
        params.append(inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL))
        return inspect.Signature(params)


def order_inputs(tab: str, task: gr.components.Component, fields: dict, extras: dict,
                 scripts: list) -> GenerateInputs:
    """The tab's inputs in handler order. `fields`: request field name -> component; `extras`: panel
    input name -> component (UI-only inputs: images, the mode, the batch folders, ...)."""
    inputs = GenerateInputs(tab, task, scripts=list(scripts))
    plain: dict[str, gr.components.Component] = {}
    for key, comp in [*fields.items(), *extras.items()]:
        if isinstance(comp, _IMAGE_INPUTS):
            inputs.images.append((key, comp))
        else:
            plain[A1111_NAMES.get(key, key)] = comp
    known = A1111_PARAMETERS.get(tab, ())
    inputs.named = [(name, plain.pop(name)) for name in known if name in plain] + list(plain.items())
    return inputs


@dataclass
class _Handler:
    inputs: GenerateInputs
    keys: dict[gr.components.Component, str]       # component -> this UI's name (field or panel input)
    call: Callable[[dict, str | None, str | None], AsyncIterator[tuple]]   # (data, task id, user) -> outputs


_handlers: dict[str, _Handler] = {}


def register(inputs: GenerateInputs, keys: dict, call: Callable[..., AsyncIterator[tuple]]) -> None:
    """The tab's Generate, once built: what `txt2img`/`img2img` below run, and their signature."""
    _handlers[inputs.tab] = _Handler(inputs, keys, call)
    handler = {"txt2img": txt2img, "img2img": img2img}.get(inputs.tab)
    if handler is not None:
        handler.__signature__ = inputs.signature()
    if inputs.tab == "txt2img":
        txt2img_create_processing.__signature__ = inputs.signature()


# set while txt2img_create_processing runs the Generate path: it stops at the processing object
prepare_only: contextvars.ContextVar[bool] = contextvars.ContextVar("prepare_only", default=False)


def _run(tab: str, id_task: str, request: Any, args: tuple) -> tuple:
    """A tab's Generate from a thread of the caller's (A1111's handlers are synchronous): the
    button's inputs in order, the outputs (gallery, generation info JSON, info HTML, log HTML)."""
    handler = _handlers.get(tab)
    if handler is None:
        raise RuntimeError(f"modules.{tab}.{tab}: the web UI is not built (launched with --nowebui); queue the "
                           f"request through the API instead (POST /sdapi/v1/{tab})")
    components = handler.inputs.components
    if len(args) + 1 > len(components):
        raise TypeError(f"modules.{tab}.{tab} takes at most {len(components) + 1} arguments (the Generate button's "
                        f"inputs, see its signature); {len(args) + 2} given")
    data = dict(zip(components, (id_task, *args)))
    user = getattr(request, "username", None)

    async def last() -> tuple:
        out = None
        async for out in handler.call(data, id_task, user):
            pass
        return out

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(last())
    raise RuntimeError(f"modules.{tab}.{tab} runs a whole job: call it from a thread of your own, not from the "
                       "server's event loop")


def txt2img(id_task: str, request: Any, *args: Any) -> tuple:
    """A1111's txt2img UI handler: the txt2img Generate button's inputs in order (see the signature,
    set when the UI is built); returns (images, generation info JSON, info HTML, log HTML)."""
    return _run("txt2img", id_task, request, args)


def txt2img_create_processing(id_task: str, request: Any, *args: Any) -> Any:
    """A1111's: the txt2img processing object the Generate inputs make (checked as the API checks a
    request), not run."""
    token = prepare_only.set(True)
    try:
        return _run("txt2img", id_task, request, args)
    finally:
        prepare_only.reset(token)


def img2img(id_task: str, request: Any, *args: Any) -> tuple:
    """A1111's img2img UI handler: the img2img Generate button's inputs in order, `mode` first."""
    return _run("img2img", id_task, request, args)


__all__ = ["A1111_PARAMETERS", "GenerateInputs", "img2img", "order_inputs", "prepare_only", "register", "txt2img",
           "txt2img_create_processing"]
