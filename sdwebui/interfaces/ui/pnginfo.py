"""The "PNG Info" tab: show the generation parameters stored in an image, and turn them into the
fields of a txt2img request for the send-to buttons (A1111's ``run_pnginfo`` and infotext paste rules).

The lead builds the tab (``with gr.Tab("PNG Info", id="pnginfo", elem_id="tab_pnginfo"):``) and calls
:func:`create_pnginfo_tab` inside it; the send-to buttons it returns are wired there, because the
targets live in other tabs.
"""
from __future__ import annotations

import html
import logging
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from sdwebui.engine.images import metadata as images_mod  # noqa: E402
from sdwebui.engine.sampling import samplers
from sdwebui.services import infotext_paste
from sdwebui.services import runtime as shared  # noqa: E402

logger = logging.getLogger(__name__)

NO_PARAMETERS_MESSAGE = "No generation parameters found in this image."

# Infotext key -> txt2img request field, with the type the value is converted to. Parsed infotext
# values are strings; the UI components and the request model need numbers.
_INT_FIELDS = {
    "Steps": "steps", "Seed": "seed", "Size-1": "width", "Size-2": "height", "Batch size": "batch_size",
    "Variation seed": "subseed", "Seed resize from-1": "seed_resize_from_w", "Seed resize from-2": "seed_resize_from_h",
    "Hires steps": "hr_second_pass_steps", "Hires resize-1": "hr_resize_x", "Hires resize-2": "hr_resize_y",
}
_FLOAT_FIELDS = {
    "CFG scale": "cfg_scale", "Variation seed strength": "subseed_strength",
    "Denoising strength": "denoising_strength", "Hires upscale": "hr_scale", "Refiner switch at": "refiner_switch_at",
    "Hires CFG Scale": "hr_cfg",
    "Distilled CFG Scale": "distilled_cfg_scale", "Hires Distilled CFG Scale": "hr_distilled_cfg",
}
_STR_FIELDS = {
    "Prompt": "prompt", "Negative prompt": "negative_prompt", "Hires upscaler": "hr_upscaler",
    "Hires checkpoint": "hr_checkpoint_name", "Hires prompt": "hr_prompt",
    "Hires negative prompt": "hr_negative_prompt", "Refiner": "refiner_checkpoint",
}
_SAME_SAMPLER, _SAME_SCHEDULER = "Use same sampler", "Use same scheduler"


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
def _plaintext_to_html(text: str) -> str:
    # Escaped, so a prompt with "<lora:...>" or markup shows as text instead of being rendered.
    return "<br>\n".join(html.escape(line) for line in text.split("\n"))


def pnginfo_html(infotext: str | None, items: dict[str, Any]) -> str:
    """A1111's PNG Info listing: one block per item, `parameters` (the infotext) first, all escaped.
    An image without an infotext says so first, then lists whatever other metadata it has."""
    blocks = []
    if infotext is None:
        blocks.append(f"<div class='pnginfo-message'><p>{html.escape(NO_PARAMETERS_MESSAGE)}</p></div>")
    entries = ({"parameters": infotext} if infotext is not None else {}) | dict(items)
    for key, value in entries.items():
        blocks.append(f"<div>\n<p><b>{_plaintext_to_html(str(key))}</b></p>\n"
                      f"<p>{_plaintext_to_html(str(value))}</p>\n</div>")
    return "\n".join(blocks)


def run_pnginfo(image: Image.Image | None) -> tuple[str, str]:
    """(HTML listing, raw infotext) for the uploaded image; ("", "") when the input was cleared.

    The raw infotext goes to the hidden Textbox the send-to buttons read, so it must be exactly what
    the image holds (empty when it holds none, so a paste changes nothing)."""
    if image is None:
        return "", ""
    try:
        infotext, items = images_mod.read_info(image)
    except Exception as e:  # a broken file must show a message, not an exception trace in the UI
        logger.warning("could not read image metadata: %s", e, exc_info=True)
        return f"<div><p>{html.escape(f'Could not read the image metadata: {e}')}</p></div>", ""
    return pnginfo_html(infotext, items), infotext or ""


def run_pnginfo_parts(image: Image.Image | None) -> tuple[str, str | None, str]:
    """A1111's `extras.run_pnginfo`: ("", infotext or None, HTML listing), the shape extensions unpack."""
    if image is None:
        return "", None, ""
    listing, infotext = run_pnginfo(image)
    return "", infotext or None, listing


# ------------------------------------------------------------------------------------------------
# Pasting
# ------------------------------------------------------------------------------------------------
def _to_int(value: Any) -> int:
    # "20", "20.0" and 20 all mean 20 (A1111 converts through float for int components)
    return int(float(value))


def _parse(infotext: str) -> dict[str, Any]:
    """The infotext parsed with the same options as /sdapi/v1/png-info and A1111's paste."""
    return infotext_paste.parse_pasted(infotext, shared.opts, shared.prompt_styles)


def parse_for_paste(infotext: str) -> dict[str, Any]:
    """The parsed infotext keys (after extensions' infotext_pasted callbacks), for scripts' infotext_fields."""
    return _parse(infotext) if infotext and infotext.strip() else {}


def _sampler_and_scheduler(sampler: Any, scheduler: Any) -> tuple[str | None, str | None]:
    """A1111's get_sampler_and_scheduler: combined names ("DPM++ 2M Karras") are split, and a schedule
    type equal to the sampler's own default becomes "Automatic". Unknown names are kept as written so
    the request reports them instead of silently switching sampler."""
    try:
        s, sch = samplers.resolve(sampler, scheduler)
        return s.name, sch.label
    except samplers.SamplerError as e:
        logger.warning("pasted infotext: %s", e)
        return (None if sampler is None else str(sampler)), (None if scheduler is None else str(scheduler))


def _hires_sampler_and_scheduler(d: dict[str, Any], sampler: str | None,
                                 scheduler: str | None) -> tuple[str, str]:
    """A1111's get_hr_sampler_and_scheduler: the hires pass's sampler/schedule, or "Use same ..." when
    they equal the first pass's."""
    hr_sampler = d.get("Hires sampler", _SAME_SAMPLER)
    hr_scheduler = d.get("Hires schedule type", _SAME_SCHEDULER)
    if hr_sampler != _SAME_SAMPLER:
        hr_sched_arg = None if hr_scheduler == _SAME_SCHEDULER else hr_scheduler
        hr_sampler, resolved = _sampler_and_scheduler(hr_sampler, hr_sched_arg)
        if hr_scheduler != _SAME_SCHEDULER:
            hr_scheduler = resolved
    if hr_sampler == sampler:
        hr_sampler = _SAME_SAMPLER
    if hr_scheduler == scheduler:
        hr_scheduler = _SAME_SCHEDULER
    return str(hr_sampler), str(hr_scheduler)


def override_settings_from_params(d: dict[str, Any]) -> dict[str, Any]:
    """Settings the infotext pins (A1111's override settings on paste): every option declaring an
    `infotext` key ("Clip skip" -> CLIP_stop_at_last_layers, "RNG" -> randn_source, ...), cast to the
    option's type, kept only when it differs from the current value. Values the option would not
    accept (e.g. a VAE file that is not installed) are left out instead of failing the paste."""
    opts = shared.opts
    out: dict[str, Any] = {}
    if opts is None:
        # No settings loaded (used as a plain function): only clip skip, which the request needs most.
        if "Clip skip" in d and _to_int(d["Clip skip"]) != 1:
            out["CLIP_stop_at_last_layers"] = _to_int(d["Clip skip"])
        return out
    for key, info in opts.data_labels.items():
        name = info.infotext
        if not name or name not in d:
            continue
        if key == "sd_model_checkpoint":
            # A checkpoint is named by hash/title, which needs the registry; A1111's default
            # (disable_weights_auto_swap) is to ignore it anyway.
            if opts.disable_weights_auto_swap or shared.registry is None:
                continue
            match = shared.registry.match(str(d.get("Model") or "")) or shared.registry.match(str(d[name]))
            if match is None or match.title == opts.sd_model_checkpoint:
                continue
            out[key] = match.title
            continue
        value = d[name]
        if info.type is int and isinstance(value, str):
            try:
                value = _to_int(value)
            except ValueError:
                continue
        try:
            value = opts.validate(key, value)
        except Exception:
            logger.debug("pasted infotext: %s=%r is not a valid value for %s", name, value, key)
            continue
        if value != getattr(opts, key):
            out[key] = value
    return out


def _checkpoint_title(name: str) -> str:
    info = shared.registry.match(name) if shared.registry is not None and name != "Use same checkpoint" else None
    return info.title if info is not None else name


def paste_fields(infotext: str) -> dict[str, Any]:
    """txt2img request fields for an infotext, following A1111's paste rules.

    Only fields the infotext (or the parser's defaults) provides are present, so a caller can leave
    every other component as it is. `Size-1`/`Size-2` are width/height; values are numbers; the
    sampler and schedule type are resolved as A1111 does ("Automatic" stays "Automatic"); hires fix is
    enabled when the infotext has hires settings together with a denoising strength; clip skip and
    other settings go to `override_settings`; `styles` lists the styles found in the prompt (per the
    infotext_styles option). An empty infotext gives {}.
    """
    if not infotext or not infotext.strip():
        return {}
    d = _parse(infotext)
    out: dict[str, Any] = {}
    for key, name in _STR_FIELDS.items():
        if key in d:
            out[name] = str(d[key])
    for table, conv in ((_INT_FIELDS, _to_int), (_FLOAT_FIELDS, float)):
        for key, name in table.items():
            if key not in d:
                continue
            try:
                out[name] = conv(d[key])
            except (TypeError, ValueError):
                # one unreadable value must not lose the rest of the paste
                logger.warning("pasted infotext: %s=%r is not a number; ignored", key, d[key])

    if "Sampler" in d or "Schedule type" in d:
        sampler, scheduler = _sampler_and_scheduler(d.get("Sampler"), d.get("Schedule type"))
        if sampler is not None:
            out["sampler_name"] = sampler
        if scheduler is not None:
            out["scheduler"] = scheduler
        hr_sampler, hr_scheduler = _hires_sampler_and_scheduler(d, sampler, scheduler)
        out["hr_sampler_name"], out["hr_scheduler"] = hr_sampler, hr_scheduler

    # The parser always adds "Hires resize-1": 0, so (unlike A1111's check for the key) only a
    # non-zero resize counts; otherwise every img2img infotext (which has a denoising strength)
    # would turn hires fix on.
    has_hires = ("Hires upscale" in d or "Hires upscaler" in d
                 or bool(out.get("hr_resize_x")) or bool(out.get("hr_resize_y")))
    out["enable_hr"] = "Denoising strength" in d and has_hires
    if "Hires CFG Scale" not in d:   # no key: the hires pass used the first pass's CFG scale
        out["hr_cfg"] = 0.0
    for key, name in (("Distilled CFG Scale", "distilled_cfg_scale"), ("Hires Distilled CFG Scale", "hr_distilled_cfg")):
        if key not in d:             # written only for FLUX.1 dev: Forge's default otherwise
            out[name] = 3.5

    for key in ("refiner_checkpoint", "hr_checkpoint_name"):
        if out.get(key):        # "name [hash]" as written -> the title the checkpoint dropdowns list
            out[key] = _checkpoint_title(out[key])
    if isinstance(d.get("Styles array"), list):
        out["styles"] = list(d["Styles array"])
    overrides = override_settings_from_params(d)
    if overrides:
        out["override_settings"] = overrides
    return out


# ------------------------------------------------------------------------------------------------
# UI
# ------------------------------------------------------------------------------------------------
def create_pnginfo_tab() -> dict[str, Any]:
    """Build the tab's components (call inside the open gr.Tab) and wire the image -> info event.

    Returned keys: image, html_info, generation_info, send_to_txt2img, send_to_img2img,
    send_to_extras, and buttons ({"txt2img": ..., "img2img": ..., "extras": ...}).
    """
    with gr.Row(equal_height=False):
        with gr.Column(variant="panel"):
            # image_mode=None: no conversion, so nothing about the uploaded file is changed before
            # its metadata is read (Pillow's convert keeps .info, but there is no reason to convert).
            image = gr.Image(label="Source", sources=["upload", "clipboard"], type="pil", image_mode=None,
                             elem_id="pnginfo_image", height=480)
        with gr.Column(variant="panel"):
            html_info = gr.HTML(elem_id="html_info_pnginfo")
            generation_info = gr.Textbox(visible=False, elem_id="pnginfo_generation_info")
            with gr.Row(elem_id="pnginfo_send_buttons"):
                # elem_ids as A1111's send-to buttons ("<tab>_tab"), which its JS and extensions look up
                send_txt2img = gr.Button("Send to txt2img", elem_id="txt2img_tab")
                send_img2img = gr.Button("Send to img2img", elem_id="img2img_tab")
                send_extras = gr.Button("Send to extras", elem_id="extras_tab")
    image.change(run_pnginfo, [image], [html_info, generation_info], show_progress="hidden",
                 concurrency_limit=None)
    buttons = {"txt2img": send_txt2img, "img2img": send_img2img, "extras": send_extras}
    return {"image": image, "html_info": html_info, "generation_info": generation_info,
            "send_to_txt2img": send_txt2img, "send_to_img2img": send_img2img, "send_to_extras": send_extras,
            "buttons": buttons}
