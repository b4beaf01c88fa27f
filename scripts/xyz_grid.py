"""A1111's built-in "X/Y/Z plot" script: one image per combination of up to three axes' values, laid out
as a grid with the values as titles (a grid of grids along Z).

It is an extension script like any other (it imports A1111's names from `modules`). Its module names
are A1111's: extensions find this module through `scripts.scripts_data` (its `__module__` is
"xyz_grid.py") and append their own `AxisOption`s to `axis_options`. API clients send the axis types
as indices into the axes valid for the tab (`AxisOption`, plus `AxisOptionTxt2Img` on txt2img or
`AxisOptionImg2Img` on img2img), in the order of `axis_options`.
"""
from __future__ import annotations

import logging
import random
from collections import namedtuple
from copy import copy
from typing import Any, Callable

import gradio as gr

import modules.scripts as scripts
from modules import images, processing, sd_models, sd_samplers, sd_schedulers, sd_vae, shared
from modules.processing import Processed, StableDiffusionProcessingTxt2Img
from modules.ui_components import ToolButton
# A1111's module names (extensions use them) whose code is the services' (no A1111 module has it)
from sdwebui.services.models.switch_scope import ModelSwitchScope
from sdwebui.services.xyz_plot import (  # noqa: F401 (A1111's names)
    boolean_choice, do_nothing, draw_xyz_grid, format_nothing, format_remove_path, format_value,
    format_value_add_label, format_value_join_list, loop_order)
from sdwebui.services.plot_values import (  # noqa: F401
    PlotArgsError as XYZPlotError, axis_values, csv_string_to_list_strip, list_to_csv_string, pick_option,
    re_range, re_range_count, re_range_count_float, re_range_float, str_permutations)

logger = logging.getLogger(__name__)

fill_values_symbol = "\U0001f4d2"  # 📒

AxisInfo = namedtuple("AxisInfo", ["axis", "values"])


# --- apply / confirm / format functions (A1111's names: extensions build their axes with them) ----
def apply_field(field: str) -> Callable:
    def fun(p, x, xs):
        setattr(p, field, x)
    return fun


def apply_override(field: str, boolean: bool = False) -> Callable:
    """Sets `override_settings[field]` of the cell's job (a "True"/"False" choice as a bool)."""
    def fun(p, x, xs):
        if boolean:
            x = str(x).lower() == "true"
        p.override_settings[field] = x
    return fun


def apply_prompt(p, x, xs):
    if xs[0] not in p.prompt and xs[0] not in p.negative_prompt:
        raise XYZPlotError(1, f"Prompt S/R did not find {xs[0]!r} in the prompt or the negative prompt")
    p.prompt = p.prompt.replace(xs[0], x)
    p.negative_prompt = p.negative_prompt.replace(xs[0], x)


def apply_order(p, x, xs):
    """The prompt with the tokens of `x` (all found in it) put in the order `x` lists them."""
    positions = sorted((p.prompt.find(token), token) for token in x)
    rest, parts = p.prompt, []
    for _, token in positions:
        at = rest.find(token)
        parts.append(rest[:at])
        rest = rest[at + len(token):]
    p.prompt = "".join(part + token for part, token in zip(parts, x)) + rest


def confirm_samplers(p, xs):
    for x in xs:
        if x.lower() not in sd_samplers.samplers_map:
            raise XYZPlotError(1, f"unknown sampler {x!r}; available: {[s.name for s in sd_samplers.samplers]}")


def apply_checkpoint(p, x, xs):
    info = sd_models.get_closet_checkpoint_match(x)
    if info is None:
        raise XYZPlotError(1, f"unknown checkpoint {x!r}")
    p.override_settings["sd_model_checkpoint"] = info.name


def confirm_checkpoints(p, xs):
    for x in xs:
        if sd_models.get_closet_checkpoint_match(x) is None:
            raise XYZPlotError(1, f"unknown checkpoint {x!r}; available: {sorted(sd_models.checkpoints_list)}")


def confirm_checkpoints_or_none(p, xs):
    confirm_checkpoints(p, [x for x in xs if x not in (None, "", "None", "none")])


def confirm_range(min_val: float, max_val: float, axis_label: str) -> Callable:
    """A confirm function: every value within [min_val, max_val]."""
    def confirm_range_fun(p, xs):
        for x in xs:
            if not min_val <= x <= max_val:
                raise XYZPlotError(1, f'{axis_label} value "{x}" out of range [{min_val}, {max_val}]')
    return confirm_range_fun


def apply_size(p, x: str, xs) -> None:
    width, _, height = x.partition("x")
    try:
        p.width, p.height = int(width.strip()), int(height.strip())
    except ValueError:
        raise XYZPlotError(1, f"size {x!r} is not WIDTHxHEIGHT (e.g. 512x768)") from None


def find_vae(name: str) -> str:
    name = name.strip().lower()
    if name in ("auto", "automatic"):
        return "Automatic"
    if name == "none":
        return "None"
    found = next((k for k in sd_vae.vae_dict if k.lower() == name), None)
    if found is None:
        logger.warning("X/Y/Z plot: no VAE named %r; using Automatic", name)
        return "Automatic"
    return found


def apply_vae(p, x, xs):
    p.override_settings["sd_vae"] = find_vae(x)


def apply_styles(p, x: str, _):
    p.styles.extend(x.split(","))


def apply_uni_pc_order(p, x, xs):
    p.override_settings["uni_pc_order"] = min(x, p.steps - 1)


def apply_face_restore(p, opt, x):
    opt = opt.lower()
    if opt in ("codeformer", "gfpgan"):
        p.face_restoration_model = "CodeFormer" if opt == "codeformer" else "GFPGAN"
        p.restore_faces = True
    else:
        p.restore_faces = opt in ("true", "yes", "y", "1")


class AxisOption:
    def __init__(self, label, type, apply, format_value=format_value_add_label, confirm=None, cost=0.0, choices=None,
                 prepare=None):
        self.label = label
        self.type = type
        self.apply = apply
        self.format_value = format_value
        self.confirm = confirm
        self.cost = cost        # slow to change (a model switch): such an axis is the outer loop
        self.prepare = prepare
        self.choices = choices


class AxisOptionImg2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = True


class AxisOptionTxt2Img(AxisOption):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_img2img = False


def _visible_samplers(samplers) -> list[str]:
    return [x.name for x in samplers if x.name not in shared.opts.hide_samplers]


# A1111's axes in A1111's order: API clients send positions in this list (filtered by tab)
axis_options = [
    AxisOption("Nothing", str, do_nothing, format_value=format_nothing),
    AxisOption("Seed", int, apply_field("seed")),
    AxisOption("Var. seed", int, apply_field("subseed")),
    AxisOption("Var. strength", float, apply_field("subseed_strength")),
    AxisOption("Steps", int, apply_field("steps")),
    AxisOptionTxt2Img("Hires steps", int, apply_field("hr_second_pass_steps")),
    AxisOption("CFG Scale", float, apply_field("cfg_scale")),
    AxisOptionImg2Img("Image CFG Scale", float, apply_field("image_cfg_scale")),
    AxisOption("Prompt S/R", str, apply_prompt, format_value=format_value),
    AxisOption("Prompt order", str_permutations, apply_order, format_value=format_value_join_list),
    AxisOptionTxt2Img("Sampler", str, apply_field("sampler_name"), format_value=format_value, confirm=confirm_samplers,
                      choices=lambda: _visible_samplers(sd_samplers.samplers)),
    AxisOptionTxt2Img("Hires sampler", str, apply_field("hr_sampler_name"), confirm=confirm_samplers,
                      choices=lambda: _visible_samplers(sd_samplers.samplers_for_img2img)),
    AxisOptionImg2Img("Sampler", str, apply_field("sampler_name"), format_value=format_value, confirm=confirm_samplers,
                      choices=lambda: _visible_samplers(sd_samplers.samplers_for_img2img)),
    AxisOption("Checkpoint name", str, apply_checkpoint, format_value=format_remove_path, confirm=confirm_checkpoints,
               cost=1.0, choices=lambda: sorted(sd_models.checkpoints_list, key=str.casefold)),
    AxisOption("Negative Guidance minimum sigma", float, apply_field("s_min_uncond")),
    AxisOption("Sigma Churn", float, apply_field("s_churn")),
    AxisOption("Sigma min", float, apply_field("s_tmin")),
    AxisOption("Sigma max", float, apply_field("s_tmax")),
    AxisOption("Sigma noise", float, apply_field("s_noise")),
    AxisOption("Schedule type", str, apply_field("scheduler"), choices=lambda: [x.label for x in sd_schedulers.schedulers]),
    AxisOption("Schedule min sigma", float, apply_override("sigma_min")),
    AxisOption("Schedule max sigma", float, apply_override("sigma_max")),
    AxisOption("Schedule rho", float, apply_override("rho")),
    AxisOption("Beta schedule alpha", float, apply_override("beta_dist_alpha")),
    AxisOption("Beta schedule beta", float, apply_override("beta_dist_beta")),
    AxisOption("Eta", float, apply_field("eta")),
    AxisOption("Clip skip", int, apply_override("CLIP_stop_at_last_layers")),
    AxisOption("Denoising", float, apply_field("denoising_strength")),
    AxisOption("Initial noise multiplier", float, apply_field("initial_noise_multiplier")),
    AxisOption("Extra noise", float, apply_override("img2img_extra_noise")),
    AxisOptionTxt2Img("Hires upscaler", str, apply_field("hr_upscaler"),
                      choices=lambda: [*shared.latent_upscale_modes, *[x.name for x in shared.sd_upscalers]]),
    AxisOptionImg2Img("Cond. Image Mask Weight", float, apply_field("inpainting_mask_weight")),
    AxisOption("VAE", str, apply_vae, cost=0.7, choices=lambda: ["Automatic", "None", *sd_vae.vae_dict]),
    AxisOption("Styles", str, apply_styles, choices=lambda: list(shared.prompt_styles.styles)),
    AxisOption("UniPC Order", int, apply_uni_pc_order, cost=0.5),
    AxisOption("Face restore", str, apply_face_restore, format_value=format_value),
    AxisOption("Token merging ratio", float, apply_override("token_merging_ratio")),
    AxisOption("Token merging ratio high-res", float, apply_override("token_merging_ratio_hr")),
    AxisOption("Always discard next-to-last sigma", str, apply_override("always_discard_next_to_last_sigma", boolean=True),
               choices=boolean_choice(reverse=True)),
    AxisOption("SGM noise multiplier", str, apply_override("sgm_noise_multiplier", boolean=True),
               choices=boolean_choice(reverse=True)),
    AxisOption("Refiner checkpoint", str, apply_field("refiner_checkpoint"), format_value=format_remove_path,
               confirm=confirm_checkpoints_or_none, cost=1.0,
               choices=lambda: ["None", *sorted(sd_models.checkpoints_list, key=str.casefold)]),
    AxisOption("Refiner switch at", float, apply_field("refiner_switch_at")),
    AxisOption("RNG source", str, apply_override("randn_source"), choices=lambda: ["GPU", "CPU", "NV"]),
    AxisOption("FP8 mode", str, apply_override("fp8_storage"), cost=0.9,
               choices=lambda: ["Disable", "Enable for SDXL", "Enable"]),
    AxisOption("Size", str, apply_size),
]


def options_for(is_img2img: bool) -> list[AxisOption]:
    """The axes of a tab, in the order whose positions the X/Y/Z type arguments are."""
    return [x for x in axis_options if type(x) is AxisOption or x.is_img2img == is_img2img]




ARG_NAMES = ("x_type", "x_values", "x_values_dropdown", "y_type", "y_values", "y_values_dropdown", "z_type", "z_values",
             "z_values_dropdown", "draw_legend", "include_lone_images", "include_sub_grids", "no_fixed_seeds",
             "vary_seeds_x", "vary_seeds_y", "vary_seeds_z", "margin_size", "csv_mode")   # A1111's order


SharedSettingsStackHelper = ModelSwitchScope   # A1111's name: model switches last the plot, then are undone


class Script(scripts.Script):
    def title(self):
        return "X/Y/Z plot"

    def ui(self, is_img2img):
        self.current_axis_options = options_for(is_img2img)
        labels = [x.label for x in self.current_axis_options]
        rows = {}
        with gr.Row():
            with gr.Column(scale=19):
                for axis, default in (("x", 1), ("y", 0), ("z", 0)):
                    with gr.Row():
                        rows[axis] = (
                            gr.Dropdown(label=f"{axis.upper()} type", choices=labels, value=labels[default], type="index",
                                        elem_id=self.elem_id(f"{axis}_type")),
                            gr.Textbox(label=f"{axis.upper()} values", lines=1, elem_id=self.elem_id(f"{axis}_values")),
                            gr.Dropdown(label=f"{axis.upper()} values", visible=False, multiselect=True, interactive=True),
                            ToolButton(value=fill_values_symbol, elem_id=f"xyz_grid_fill_{axis}_tool_button", visible=False))
        with gr.Row(variant="compact", elem_id="axis_options"):
            with gr.Column():
                draw_legend = gr.Checkbox(label="Draw legend", value=True, elem_id=self.elem_id("draw_legend"))
                no_fixed_seeds = gr.Checkbox(label="Keep -1 for seeds", value=False, elem_id=self.elem_id("no_fixed_seeds"))
                with gr.Row():
                    vary = [gr.Checkbox(label=f"Vary seeds for {a}", value=False, min_width=80,
                                        elem_id=self.elem_id(f"vary_seeds_{a.lower()}")) for a in "XYZ"]
            with gr.Column():
                include_lone_images = gr.Checkbox(label="Include Sub Images", value=False,
                                                  elem_id=self.elem_id("include_lone_images"))
                include_sub_grids = gr.Checkbox(label="Include Sub Grids", value=False,
                                                elem_id=self.elem_id("include_sub_grids"))
                csv_mode = gr.Checkbox(label="Use text inputs instead of dropdowns", value=False,
                                       elem_id=self.elem_id("csv_mode"))
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
        with gr.Row(variant="compact", elem_id="swap_axes"):
            swaps = {pair: gr.Button(value=f"Swap {pair[0].upper()}/{pair[1].upper()} axes",
                                     elem_id=f"{pair}_grid_swap_axes_button") for pair in ("xy", "yz", "xz")}

        def swap_axes(type1, values1, dropdown1, type2, values2, dropdown2):
            options = self.current_axis_options
            return options[type2 or 0].label, values2, dropdown2, options[type1 or 0].label, values1, dropdown1

        for (a, b), button in swaps.items():
            args = [*rows[a][:3], *rows[b][:3]]
            button.click(swap_axes, inputs=args, outputs=args)

        def fill(axis_type, csv_mode):
            axis = self.current_axis_options[axis_type or 0]
            if not axis.choices:
                return gr.update(), gr.update()
            return (list_to_csv_string(axis.choices()), gr.update()) if csv_mode else (gr.update(), axis.choices())

        def select_axis(axis_type, values, dropdown, csv_mode):
            # the text box's value is sent only when it changes: echoing it back would undo what the
            # user typed while this event was on its way
            choices = self.current_axis_options[axis_type or 0].choices
            if choices is None:
                return gr.update(visible=False), gr.update(visible=True), gr.update(visible=False)
            choices = choices()
            text = {}
            if csv_mode and dropdown:     # carry the picked values over to the other input
                text, dropdown = {"value": list_to_csv_string([v for v in dropdown if v in choices])}, []
            elif not csv_mode and values:
                text, dropdown = {"value": ""}, [v for v in csv_string_to_list_strip(values) if v in choices]
            return (gr.update(visible=True), gr.update(visible=csv_mode, **text),
                    gr.update(choices=choices, visible=not csv_mode, value=[v for v in dropdown or [] if v in choices]))

        for axis_type, values, dropdown, button in rows.values():
            button.click(fn=fill, inputs=[axis_type, csv_mode], outputs=[values, dropdown])
            axis_type.change(fn=select_axis, inputs=[axis_type, values, dropdown, csv_mode],
                             outputs=[button, values, dropdown])

        def change_choice_mode(csv_mode, *axes):
            return [u for i in range(0, 9, 3) for u in select_axis(*axes[i:i + 3], csv_mode)]

        controls = [c for row in rows.values() for c in row[:3]]
        csv_mode.change(fn=change_choice_mode, inputs=[csv_mode, *controls],
                        outputs=[c for row in rows.values() for c in (row[3], row[1], row[2])])

        def dropdown_from_params(axis, params):
            return gr.update(value=csv_string_to_list_strip(params.get(f"{axis} Values", "")))

        self.infotext_fields = [field for a, (t, v, d, _) in rows.items() for field in (
            (t, f"{a.upper()} Type"), (v, f"{a.upper()} Values"),
            (d, lambda params, a=a.upper(): dropdown_from_params(a, params)))]
        return [*controls, draw_legend, include_lone_images, include_sub_grids, no_fixed_seeds, *vary, margin_size,
                csv_mode]

    def run(self, p, x_type, x_values, x_values_dropdown, y_type, y_values, y_values_dropdown, z_type, z_values,
            z_values_dropdown, draw_legend, include_lone_images, include_sub_grids, no_fixed_seeds, vary_seeds_x,
            vary_seeds_y, vary_seeds_z, margin_size, csv_mode):
        opts, state = shared.opts, shared.state
        # read now, not at ui(): extensions may have added axes since (their indices follow A1111's)
        options = options_for(self.is_img2img)
        x_opt, y_opt, z_opt = (pick_option(options, t, i, ARG_NAMES[i]) for t, i in ((x_type, 0), (y_type, 3), (z_type, 6)))
        if not no_fixed_seeds:
            processing.fix_seed(p)
        if not opts.return_grid:
            p.batch_size = 1
        # the values as the infotext shows them: the dropdown's, or the text
        x_values, y_values, z_values = (list_to_csv_string(d) if o.choices is not None and not csv_mode and d else t or ""
                                        for o, t, d in ((x_opt, x_values, x_values_dropdown),
                                                        (y_opt, y_values, y_values_dropdown),
                                                        (z_opt, z_values, z_values_dropdown)))
        xs = axis_values(p, x_opt, x_values, x_values_dropdown, csv_mode, 1, ARG_NAMES[1])
        ys = axis_values(p, y_opt, y_values, y_values_dropdown, csv_mode, 4, ARG_NAMES[4])
        zs = axis_values(p, z_opt, z_values, z_values_dropdown, csv_mode, 7, ARG_NAMES[7])
        margin_size = int(margin_size or 0)

        grid_mp = round(len(xs) * len(ys) * len(zs) * p.width * p.height / 1000000)
        if grid_mp >= opts.img_max_size_mp:
            raise XYZPlotError(1, f"the grid would be too large ({grid_mp} MPixels); the setting img_max_size_mp "
                                  f"allows {opts.img_max_size_mp}")

        def fix_axis_seeds(opt, values):
            if no_fixed_seeds or opt.label not in ("Seed", "Var. seed"):
                return values
            return [int(random.randrange(4294967294)) if v in (None, "", -1) else v for v in values]

        xs, ys, zs = fix_axis_seeds(x_opt, xs), fix_axis_seeds(y_opt, ys), fix_axis_seeds(z_opt, zs)
        cells = len(xs) * len(ys) * len(zs)
        axes = ((x_opt, xs, len(ys) * len(zs)), (y_opt, ys, len(xs) * len(zs)), (z_opt, zs, len(xs) * len(ys)))

        def axis_steps(label: str, otherwise: int) -> int:
            return next((sum(values) * others for opt, values, others in axes if opt.label == label), otherwise)

        total_steps = axis_steps("Steps", p.steps * cells)
        if isinstance(p, StableDiffusionProcessingTxt2Img) and p.enable_hr:
            total_steps += axis_steps("Hires steps", p.hr_second_pass_steps * cells or total_steps)
        total_steps *= p.n_iter
        per_cell = p.n_iter * p.batch_size
        logger.info("X/Y/Z plot will create %d images on %d %dx%d grid%s%s. (Total steps to process: %d)",
                    cells * per_cell, len(zs), len(xs), len(ys), "s" if len(zs) > 1 else "",
                    f"; {per_cell} images per cell" if per_cell > 1 else "", total_steps)
        bar = shared.total_tqdm
        bar.updateTotal(total_steps)
        state.xyz_plot_x, state.xyz_plot_y, state.xyz_plot_z = AxisInfo(x_opt, xs), AxisInfo(y_opt, ys), AxisInfo(z_opt, zs)

        first, second = loop_order({"x": x_opt.cost, "y": y_opt.cost, "z": z_opt.cost})
        grid_infotext: list[str | None] = [None] * (1 + len(zs))
        models = SharedSettingsStackHelper()
        saving: dict[str, Any] = {}     # the first cell that ran: the grids' file names are made from it

        def axis_params(pc, axis: str, opt: AxisOption, text: str, values: list) -> None:
            if opt.label == "Nothing":
                return
            pc.extra_generation_params[f"{axis} Type"] = opt.label
            pc.extra_generation_params[f"{axis} Values"] = text
            if opt.label in ("Seed", "Var. seed") and not no_fixed_seeds:
                pc.extra_generation_params[f"Fixed {axis} Values"] = ", ".join(str(v) for v in values)

        def grid_text(pc) -> str | None:
            try:
                return processing.create_infotext(pc, pc.all_prompts, pc.all_seeds, pc.all_subseeds)
            except Exception:       # a cell that failed before its seeds were set
                return None

        def cell(x, y, z, ix, iy, iz):
            if state.interrupted or state.stopping_generation:
                return Processed(p, [], infotexts=[])
            pc = copy(p)
            # a cell's own lists and dicts: what a cell's job adds must not reach the next cell
            pc.styles, pc.override_settings = list(pc.styles), dict(pc.override_settings)
            pc.extra_generation_params, pc.warnings = dict(pc.extra_generation_params), list(pc.warnings)
            x_opt.apply(pc, x, xs)
            y_opt.apply(pc, y, ys)
            z_opt.apply(pc, z, zs)
            xdim, ydim = (len(xs) if vary_seeds_x else 1), (len(ys) if vary_seeds_y else 1)
            pc.seed += (ix if vary_seeds_x else 0) + (iy * xdim if vary_seeds_y else 0) + \
                (iz * xdim * ydim if vary_seeds_z else 0)
            models.keep_models(pc)
            try:
                res = processing.process_images(pc)
            except Exception as e:
                if isinstance(getattr(e, "field", None), (str, tuple)):
                    raise       # the request is at fault (a 4xx naming the field): stop the plot
                logger.exception("X/Y/Z plot: the cell %s, %s, %s failed", x, y, z)
                res = Processed(p, [], infotexts=[])
                res.warnings = [f"cell {x_opt.label}={x}, {y_opt.label}={y}, {z_opt.label}={z}: {type(e).__name__}: {e}"]
            else:
                saving.setdefault("p", pc)
            hires = (pc.hr_second_pass_steps or pc.steps) if getattr(pc, "enable_hr", False) else 0
            for _ in range((pc.steps + hires) * p.n_iter):     # the whole plot's console bar, cell by cell
                bar.update()
            if ix == 0 and iy == 0:
                pc.extra_generation_params["Script"] = self.title()
                axis_params(pc, "X", x_opt, x_values, xs)
                axis_params(pc, "Y", y_opt, y_values, ys)
                grid_infotext[1 + iz] = grid_text(pc)
                if iz == 0:
                    axis_params(pc, "Z", z_opt, z_values, zs)
                    grid_infotext[0] = grid_text(pc)
            return res

        try:
            with models:
                processed = draw_xyz_grid(
                    p, xs=xs, ys=ys, zs=zs, x_labels=[x_opt.format_value(p, x_opt, x) for x in xs],
                    y_labels=[y_opt.format_value(p, y_opt, y) for y in ys],
                    z_labels=[z_opt.format_value(p, z_opt, z) for z in zs], cell=cell, draw_legend=draw_legend,
                    include_lone_images=include_lone_images, include_sub_grids=include_sub_grids,
                    first_axes_processed=first, second_axes_processed=second, margin_size=margin_size)
        finally:
            bar.clear()
        if not processed.images:
            return processed
        z_count = len(zs)
        processed.infotexts[:1 + z_count] = [t if t is not None else processed.infotexts[i]
                                             for i, t in enumerate(grid_infotext)]
        processed.info = processed.infotexts[0]
        if opts.grid_save:
            folder = p.outpath_grids or opts.outdir_grids or (
                opts.outdir_img2img_grids if self.is_img2img else opts.outdir_txt2img_grids)
            for g in range(1 + (z_count if include_sub_grids and z_count > 1 else 0)):
                images.save_image(processed.images[g], folder, "xyz_grid", seed=processed.all_seeds[g],
                                  prompt=processed.all_prompts[g], extension=opts.grid_format,
                                  info=processed.infotexts[g], grid=True, p=saving.get("p", p))
        if not include_lone_images:     # the cells' infotexts stay (A1111 keeps them too)
            processed.images = processed.images[:z_count + 1]
        if not include_sub_grids:
            for values in (processed.images, processed.infotexts, processed.all_prompts, processed.all_negative_prompts,
                           processed.all_seeds, processed.all_subseeds):
                del values[1:1 + z_count]
        return processed
