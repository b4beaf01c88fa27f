"""One guided UNet evaluation, the part every sampler shares: the step's text conditioning (prompt
editing), the UNet rows of every image's prompts (AND) and negative prompt, the extensions' cfg
callbacks, ControlNet units, an inpainting model's extra channels, the SDXL micro-conditioning, and
classifier-free guidance (or an extension's `combine_denoised`). The drivers (loop.py for diffusers
schedulers, kdiffusion/driver.py for A1111's samplers) turn the result into a step."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from sdwebui.engine.control.residuals import UNetCall, UNetControl, call_unet
from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.hooks import NO_HOOKS, AfterCFGCallbackParams, CFGDenoisedParams, CFGDenoiserParams, Hooks
from sdwebui.engine.models.single_file import SDModel
from sdwebui.engine.sampling.denoiser import CFGDenoiser
from sdwebui.engine.sampling.prediction import from_x0, to_x0


@dataclass
class Evaluation:
    """What one call gives: `out`, the guided prediction (the model's kind: epsilon or v) for each
    image; `raw`, the UNet's output for every row (uncond rows first); `x_plain`, the UNet input
    without an inpainting model's extra channels; `uncond`, each image's unguided prediction (None
    without guidance)."""

    out: torch.Tensor
    raw: torch.Tensor
    x_plain: torch.Tensor
    batch: Any
    use_cfg: bool
    images: int

    @property
    def uncond(self) -> torch.Tensor | None:
        return self.raw[:self.images] if self.use_cfg else None

    def x0(self, content: str, kind: str, a: float | torch.Tensor, combined_x0: torch.Tensor | None = None
           ) -> torch.Tensor:
        """The x0 prediction shown in live previews, by A1111's `live_preview_content`: "Prompt" (each
        image's first cond row), "Negative prompt" (the uncond rows) or "Combined" (after guidance)."""
        x, raw, images = self.x_plain.float(), self.raw, self.images
        if content == "Negative prompt" and self.use_cfg:
            return to_x0(kind, a, x[:images], raw[:images])
        first = images if self.use_cfg else 0
        if self.batch.simple:
            x_cond, raw_cond = x[first:first + images], raw[first:first + images]
        else:
            sel = torch.tensor([first + group[0][0] for group in self.batch.groups], device=raw.device)
            x_cond, raw_cond = x.index_select(0, sel), raw.index_select(0, sel)
        if content == "Prompt":
            return to_x0(kind, a, x_cond, raw_cond)
        if combined_x0 is not None:
            return combined_x0
        return to_x0(kind, a, x[:images] if self.use_cfg else x_cond, self.out)


def _time_ids(model: SDModel, width: int, height: int, aesthetic_score: float) -> list[float]:
    if model.family == "sdxl-refiner":
        return [height, width, 0, 0, aesthetic_score]      # refiner: size, crop, aesthetic score
    return [height, width, 0, 0, height, width]            # base: original size, crop, target size


def combine(out: torch.Tensor, batch, images: int, cfg_scale: float, use_cfg: bool) -> torch.Tensor:
    """Classifier-free guidance over the batch rows; with AND, each image sums its weighted
    sub-prompts' differences from its uncond (composable diffusion, as A1111)."""
    if use_cfg:
        u, c = out[:images], out[images:]
        if batch.simple:
            return u + cfg_scale * (c - u)
        res = u.clone()
        for i, group in enumerate(batch.groups):
            for row, weight in group:
                res[i] += cfg_scale * weight * (c[row] - u[i])
        return res
    c = out[batch.n_uncond:]
    if batch.simple:
        return c
    res = torch.zeros_like(out[:images])
    for i, group in enumerate(batch.groups):
        total = sum(w for _, w in group) or 1.0
        for row, weight in group:
            res[i] += weight / total * c[row]
    return res


class GuidedUNet:
    """The guided UNet of one sampling pass. `images` latents per call; `steps`/`total` are what the
    extensions' callbacks and denoiser see. `sampler` is the job's A1111 sampler object (`p.sampler`)
    when it has one: its `model_wrap_cfg` is the denoiser the callbacks see, and an extension's
    `combine_denoised` override computes the guidance."""

    def __init__(self, model: SDModel, conditioning, *, images: int, cfg_scale: float, width: int, height: int,
                 image_cond: torch.Tensor | None = None, hooks: Hooks = NO_HOOKS, sampler: Any = None,
                 controls: Sequence[UNetControl] = (), pass_name: str = "first", steps: int, total: int,
                 prediction_type: str = "epsilon", init_latents: torch.Tensor | None = None,
                 keep_mask: torch.Tensor | None = None, image_cfg_scale: float | None = None,
                 skip_uncond_below: tuple[float, bool] = (0.0, False)) -> None:
        self.conditioning = conditioning
        self.image_cfg_scale = image_cfg_scale
        # A1111's negative guidance minimum sigma: below it, every other evaluation (or every one) leaves out
        # the negative prompt and takes the prompt's prediction as is
        self.skip_uncond_below, self.skip_uncond_always = skip_uncond_below
        self.images, self.cfg_scale, self.width, self.height = images, cfg_scale, width, height
        self.hooks, self.controls, self.pass_name, self.total = hooks, controls, pass_name, total
        self.kind = prediction_type
        self.image_cond = image_cond
        self._rows_key = None
        # extensions' cfg callbacks; checked once so a pass pays nothing when none is registered
        self.hooked = hooks.has("cfg_denoiser") or hooks.has("cfg_denoised") or hooks.has("cfg_after_cfg")
        denoiser = getattr(sampler, "model_wrap_cfg", None)
        self.extension_guidance = denoiser is not None and denoiser.overrides_combine()
        if denoiser is None and self.hooked:
            denoiser = CFGDenoiser()
        if denoiser is not None:
            denoiser.model, denoiser.steps, denoiser.total_steps, denoiser.step = model, steps, total, 0
            denoiser.init_latent, denoiser.mask = init_latents, keep_mask
            denoiser.nmask = None if keep_mask is None else 1 - keep_mask
            denoiser.image_cfg_scale = image_cfg_scale
        self.denoiser = denoiser
        self.set_model(model)

    def set_model(self, model: SDModel, conditioning=None) -> None:
        """Go on with another model (the SDXL refiner) and its conditioning."""
        self.model = model
        if conditioning is not None:
            self.conditioning = conditioning
        self.device = model.device
        self.compiled, self.graphs = bool(model.compiled), model.runs_as_cuda_graphs()
        if self.image_cond is not None:
            self.image_cond = self.image_cond.to(device=model.device, dtype=model.dtype)
        self._rows_key = None

    def _rows(self, batch, skip_uncond: bool) -> None:
        """Which image each UNet row belongs to, and the text inputs; changes only with the texts (and
        when an evaluation leaves the negative prompt out)."""
        images, model = self.images, self.model
        use_cfg = batch.n_uncond > 0 and self.cfg_scale != 1.0 and not skip_uncond
        # instruct-pix2pix with an image CFG: a third group of rows, the negative prompt without the picture
        self.edit = use_cfg and model.is_edit and self.image_cfg_scale not in (None, 1.0)
        if self.edit and not batch.simple:
            raise ProcessingError("image_cfg_scale", "AND in the prompt is not supported with an instruct-pix2pix "
                                                     "model unless Image CFG scale is 1")
        cond_rows = list(range(images)) if batch.simple else batch.cond_image_index
        rows = (list(range(images)) if use_cfg else []) + cond_rows + (list(range(images)) if self.edit else [])
        self._rows_key, self.use_cfg, self.rows = (batch, skip_uncond), use_cfg, rows
        self.context = batch.context if use_cfg else batch.context[batch.n_uncond:]
        # a prompt and a negative prompt of different lengths: one UNet call for each (A1111's default; with
        # ControlNet units both go in one call, padded with empty chunks)
        self.split = None
        if use_cfg and not self.edit and not self.controls and batch.cond_context is not None:
            self.split = (batch.uncond_context, batch.cond_context)
        if self.edit:
            self.context = torch.cat([self.context, batch.context[:images]])
        self.added = None
        if getattr(model, "is_sd3", False) or getattr(model, "is_flux", False):
            # the pooled CLIP vector (TransformerDenoiser passes it on), and Flux dev's distilled guidance
            self.added = {"text_embeds": batch.pooled if use_cfg else batch.pooled[batch.n_uncond:],
                          "guidance": getattr(self.conditioning, "distilled_cfg_scale", None)}
        elif model.is_sdxl:
            pooled = batch.pooled if use_cfg else batch.pooled[batch.n_uncond:]
            if self.edit:
                pooled = torch.cat([pooled, batch.pooled[:images]])
            n_u = images if use_cfg else 0
            ids = [_time_ids(model, self.width, self.height, 2.5 if r < n_u else 6.0) for r in range(len(rows))]
            self.added = {"text_embeds": pooled, "time_ids": torch.tensor(ids, device=self.device, dtype=model.dtype)}
        self.row_index = torch.tensor(rows, device=self.device)
        self.identity = rows == list(range(images))
        self.image_in = None
        if self.image_cond is not None:      # the extra UNet channels of each row (none past the edit rows)
            self.image_in = self.image_cond.index_select(0, self.row_index)
            if self.edit:
                self.image_in[-images:] = 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, i: int, *, scale: Callable[[torch.Tensor], torch.Tensor],
                 sigma: Callable[[], Any], alpha: Callable[[], Any], cfg_scale: float | None = None) -> Evaluation:
        """Evaluate at latents `x` (one per image, the sampler's space), UNet timestep `t`, evaluation
        index `i` (the prompt schedule's step). `scale` turns rows of x into the UNet's input; `sigma()`
        is the noise level the callbacks see, `alpha()` the alpha_cumprod of this level (for x0)."""
        model, images = self.model, self.images
        cfg_scale = self.cfg_scale if cfg_scale is None else cfg_scale
        batch = self.conditioning.at(i)
        skip = (self.skip_uncond_below > 0 and (i % 2 == 1 or self.skip_uncond_always) and batch.n_uncond > 0
                and not self.model.is_edit and float(torch.as_tensor(sigma()).reshape(-1)[0]) < self.skip_uncond_below)
        key = self._rows_key
        if key is None or key[0] is not batch or key[1] != skip:
            self._rows(batch, skip)
        use_cfg = self.use_cfg
        x_in = x if self.identity else x.index_select(0, self.row_index)
        x_in = scale(x_in).to(model.dtype)
        text_states = self.context if self.split is None else self.split
        denoiser = self.denoiser
        if denoiser is not None:
            denoiser.step, denoiser.model = i, model
        if self.hooked:
            x_in, text_states = self._before_unet(x_in, text_states, sigma(), i, images if use_cfg else 0,
                                                  images if self.edit else 0)
        x_plain = x_in
        if self.image_in is not None:
            x_in = torch.cat([x_in, self.image_in], dim=1)
        if self.graphs:   # the previous step's graph outputs are consumed: CUDA graphs may reuse them
            torch.compiler.cudagraph_mark_step_begin()
        # a compiled UNet guards on the timestep's dtype: one dtype whatever the sampler uses (the UNet's
        # time embedding casts to float anyway, so the result is the same)
        t_in = t.to(torch.float32) if self.compiled else t

        def run(extra: dict, added: dict | None, x_in=x_in, t_in=t_in, text_states=text_states, model=model):
            return model.unet(x_in, t_in, encoder_hidden_states=text_states, added_cond_kwargs=added,
                              return_dict=False, **extra)[0]
        if self.controls:
            call = UNetCall(x_plain, t_in, i, self.total, text_states, self.added, images if use_cfg else 0,
                            self.rows, self.pass_name, model,
                            x_in[:, x_plain.shape[1]:] if self.image_in is not None else None,
                            alpha=alpha, prediction_type=self.kind)
            out = call_unet(self.controls, call, run)
        elif self.split is not None:
            out = self._run_split(run, x_in, t_in, text_states, images).float()
        else:
            out = run({}, self.added).float()
        if self.hooked:
            params = CFGDenoisedParams(out, i, self.total, model.unet)
            self.hooks.call("cfg_denoised", params)
            out = params.x
        raw = out
        if self.edit:        # A1111's combine_denoised_for_edit_model
            u_img, c, u_plain = out[:images], out[images:-images], out[-images:]
            out = u_plain + cfg_scale * (c - u_img) + self.image_cfg_scale * (u_img - u_plain)
        elif skip:
            # no negative rows: A1111 stands each image's first prompt in for the negative one, at guidance 1
            if not batch.simple:
                first = out[[group[0][0] for group in batch.groups]]
                res = first.clone()
                for k, group in enumerate(batch.groups):
                    for row, weight in group:
                        res[k] += weight * (out[row] - first[k])
                out = res
        elif self.extension_guidance and use_cfg:
            uncond = text_states[0] if self.split is not None else text_states[:images]
            if self.added is not None:
                uncond = {"crossattn": uncond, "vector": self.added["text_embeds"][:images]}
            out = self._extension_guidance(out, x_plain.float(), batch, cfg_scale, alpha(), uncond)
        else:
            out = combine(out, batch, images, cfg_scale, use_cfg)
        if self.hooked:
            params = AfterCFGCallbackParams(out, i, self.total)
            self.hooks.call("cfg_after_cfg", params)
            out = params.x
        return Evaluation(out, raw, x_plain, batch, use_cfg, images)

    def _extension_guidance(self, out: torch.Tensor, x_in: torch.Tensor, batch, cfg_scale: float, a,
                            uncond) -> torch.Tensor:
        """The guidance of an extension's `combine_denoised`, called as A1111's samplers call it: the
        denoised (x0) predictions with every cond row first and the uncond rows last, `conds_list` of
        (row, weight) per image. The UNet's rows here are uncond first, and its output is the model's
        prediction (epsilon or v) at input `x_in` = sqrt(a)·x0 + sqrt(1-a)·noise, so it goes to x0 and
        the result comes back to the prediction kind."""
        images, kind = self.images, self.kind
        x0 = to_x0(kind, a, x_in, out)
        x_out = torch.cat([x0[images:], x0[:images]])
        conds_list = ([[(i, 1.0)] for i in range(images)] if batch.simple
                      else [[(row, float(weight)) for row, weight in group] for group in batch.groups])
        denoised = self.denoiser.combine_denoised(x_out, conds_list, uncond, cfg_scale).float()
        return from_x0(kind, a, x_in[:images], denoised)

    def _run_split(self, run, x_in, t_in, text_states, n: int) -> torch.Tensor:
        """The negative prompt's rows (the first `n`) and the prompt's rows in two UNet calls, each with
        its own text length."""
        def rows(value, lo, hi):
            if isinstance(value, dict):
                return {k: rows(v, lo, hi) for k, v in value.items()}
            return value[lo:hi] if torch.is_tensor(value) and value.ndim and value.shape[0] == len(x_in) else value
        uncond, cond = text_states
        first = run({}, rows(self.added, 0, n), x_in=x_in[:n], t_in=rows(t_in, 0, n), text_states=uncond)
        rest = run({}, rows(self.added, n, None), x_in=x_in[n:], t_in=rows(t_in, n, None), text_states=cond)
        return torch.cat([first, rest])

    def _before_unet(self, x_in, context, sigma, step: int, n_uncond: int, n_edit: int):
        """The cfg_denoiser callbacks: they see (and may replace) the UNet input and the text
        conditioning of this step (`n_edit`: the instruct-pix2pix rows at the end, the negative prompt again;
        `context` is (uncond, cond) when the two go to the UNet apart)."""
        if isinstance(context, tuple):
            params = CFGDenoiserParams(x_in, self.image_cond, sigma, step, self.total, context[1], context[0],
                                       self.denoiser)
            self.hooks.call("cfg_denoiser", params)
            return params.x, (params.text_uncond, params.text_cond)
        cond, uncond = context[n_uncond:len(context) - n_edit], context[:n_uncond]
        params = CFGDenoiserParams(x_in, self.image_cond, sigma, step, self.total, cond, uncond, self.denoiser)
        self.hooks.call("cfg_denoiser", params)
        if params.text_cond is not cond or params.text_uncond is not uncond:
            parts = [params.text_uncond, params.text_cond] if n_uncond else [params.text_cond]
            context = torch.cat(parts + ([params.text_uncond] if n_edit else []))
        return params.x, context
