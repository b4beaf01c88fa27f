"""Runs a KSampler inside a sampling pass as A1111's KDiffusionSampler / CompVisSampler do: the
start (pure noise times the first sigma, or the image noised to the level where img2img starts), the
guided denoiser the solver calls (guided_unet.GuidedUNet, with inpainting's blend of the original into
each prediction), the noise each step adds (the images' own generators, or Brownian trees), the step
callback (progress, previews, interrupt), and the SDXL refiner switch."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from tqdm import tqdm

from sdwebui.engine.control.residuals import UNetControl, controls_pass
from sdwebui.engine.hooks import NO_HOOKS, ExtraNoiseParams, Hooks
from sdwebui.engine.models.single_file import SDModel
from sdwebui.engine.sampling.denoiser import CFGDenoiser
from sdwebui.engine.sampling.guided_unet import Evaluation, GuidedUNet
from sdwebui.engine.sampling.kdiffusion import lcm, timestep_samplers, unipc
from sdwebui.engine.sampling.kdiffusion.discrete import denoised_from, input_scale, model_timestep
from sdwebui.engine.sampling.kdiffusion.ksampler import SOLVERS, KSampler
from sdwebui.engine.sampling.mask_blend import BlendHook, blend_final, blend_prediction
from sdwebui.engine.sampling.step_info import Interrupted, StepInfo
from sdwebui.engine.sampling.kdiffusion.noise import brownian_sampler, seeds_from_generators

__all__ = ["KSampler", "run_ksampler"]


class _Stop(Exception):
    """Ends the solver early (interrupt / skip); the pass returns the last prediction, as A1111."""


def _step_noise(rng: Any, generators: Sequence[torch.Generator] | None, like: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A1111's `randn_like` inside the samplers: each image's own generator (ImageRNG.next)."""
    if rng is not None and hasattr(rng, "next"):
        return lambda: rng.next().to(like.device, torch.float32)
    if generators:
        def draw() -> torch.Tensor:
            return torch.stack([torch.randn(like.shape[1:], generator=g, device=g.device) for g in generators]
                               ).to(like.device, torch.float32)
        return draw
    return lambda: torch.randn_like(like)


def run_ksampler(ks: KSampler, model: SDModel, noise: torch.Tensor, conditioning, *, steps: int,
                 cfg_scale: float, width: int, height: int, generators=None, rng: Any = None,
                 callback: Callable | None = None, desc: str = "Sampling", image_cond: torch.Tensor | None = None,
                 init_latents: torch.Tensor | None = None, denoise_steps: int | None = None,
                 keep_mask: torch.Tensor | None = None, switch_at: int | None = None,
                 on_switch: Callable[[], tuple[SDModel, object]] | None = None, hooks: Hooks = NO_HOOKS,
                 sampler: Any = None, mask_blend: BlendHook | None = None, controls: Sequence[UNetControl] = (),
                 pass_name: str = "first", image_cfg_scale: float | None = None) -> tuple[torch.Tensor, bool]:
    """loop.sample for A1111's samplers (same arguments). img2img runs A1111's `denoise_steps` + 1
    steps at the end of a `steps` schedule (DDIM and PLMS: `denoise_steps` - 1, as A1111's)."""
    device = model.device
    noise = noise.to(device=device, dtype=torch.float32)
    images = noise.shape[0]
    if init_latents is not None:
        init_latents = init_latents.to(device=device, dtype=torch.float32)
    if keep_mask is not None:
        keep_mask = keep_mask.to(device=device, dtype=torch.float32)
    t_enc = None if init_latents is None else ks.clamp_t_enc(steps, steps if denoise_steps is None else denoise_steps)
    total = steps_to_run(ks, steps, t_enc)
    unet = GuidedUNet(model, conditioning, images=images, cfg_scale=cfg_scale, width=width, height=height,
                      image_cond=image_cond, hooks=hooks, sampler=sampler, controls=controls, pass_name=pass_name,
                      steps=steps, total=total, prediction_type=ks.prediction_type, init_latents=init_latents,
                      keep_mask=keep_mask, image_cfg_scale=image_cfg_scale,
                      skip_uncond_below=(ks.options.s_min_uncond, ks.options.s_min_uncond_all))
    kind = ks.prediction_type
    state = {"evals": 0, "last": None}

    def evaluate(x: torch.Tensor, t: torch.Tensor, **kw) -> Evaluation:
        if on_switch is not None and state["evals"] == switch_at:
            unet.set_model(*on_switch())
        ev = unet(x, t, state["evals"], **kw)
        state["evals"] += 1
        return ev

    def report(i: int, x: torch.Tensor, denoised: torch.Tensor, ev: Evaluation, a) -> None:
        state["last"] = denoised
        bar.update(1)
        if callback is None:
            return
        try:
            callback(StepInfo(step=i + 1, total=total, latents=x,
                              denoised=lambda content: ev.x0(content, kind, a, combined_x0=denoised)))
        except Interrupted:
            raise _Stop from None

    with controls_pass(controls, model), tqdm(total=total, desc=desc, unit="it", leave=False,
                                              dynamic_ncols=True) as bar:
        try:
            x = solve(ks, evaluate, noise, steps, generators=generators, rng=rng, init_latents=init_latents,
                      t_enc=t_enc, keep_mask=keep_mask, mask_blend=mask_blend, denoiser=unet.denoiser,
                      report=report, cfg_scale=cfg_scale,
                      on_extra_noise=(lambda params: hooks.call("extra_noise", params)) if hooks.has("extra_noise")
                      else None)
            finished = True
        except _Stop:
            x, finished = state["last"] if state["last"] is not None else noise, False
    if keep_mask is not None:
        x = blend_final(mask_blend, x, keep_mask, init_latents)
    return x, finished


def steps_to_run(ks: KSampler, steps: int, t_enc: int | None) -> int:
    """How many steps a pass makes: `steps` (txt2img; DDIM and PLMS one fewer when 1000 // steps divides
    1000, as A1111's), A1111's t_enc + 1 at the end of the schedule (img2img)."""
    if ks.call_kind == "timesteps":
        run = len(ks.timesteps(steps)) if t_enc is None else t_enc
        return run if ks.solver == "unipc" else max(run - 1, 0)
    return steps if t_enc is None else t_enc + 1


Report = Callable[[int, torch.Tensor, torch.Tensor, Evaluation, Any], None]


def solve(ks: KSampler, evaluate: Callable[..., Evaluation], noise: torch.Tensor, steps: int, *,
          generators=None, rng: Any = None, init_latents: torch.Tensor | None = None, t_enc: int | None = None,
          keep_mask: torch.Tensor | None = None, mask_blend: BlendHook | None = None,
          denoiser: CFGDenoiser | None = None, report: Report | None = None, cfg_scale: float = 1.0,
          on_extra_noise: Callable[[ExtraNoiseParams], None] | None = None) -> torch.Tensor:
    """Run the sampler's solver from `noise` (txt2img) or from `init_latents` noised for A1111's `t_enc`
    (img2img; within the schedule: KSampler.clamp_t_enc), with `evaluate(x, t, scale=, sigma=, alpha=[, cfg_scale=])` the guided UNet
    (GuidedUNet.__call__ with its evaluation counter) and `report(i, x, denoised, evaluation, alpha)`
    called once per step. `on_extra_noise` (the extensions' on_extra_noise) may change the noise that
    `img2img_extra_noise` adds to an img2img start."""
    report = report or (lambda *_: None)
    randn = _step_noise(rng, generators, noise)

    def extra(x: torch.Tensor) -> torch.Tensor:
        """A1111's extra noise: the start noise once more, times the option (an extension may replace it)."""
        if init_latents is None or ks.options.extra_noise <= 0:
            return x
        params = ExtraNoiseParams(noise, init_latents, x)
        if on_extra_noise is not None:
            on_extra_noise(params)
        return x + params.noise * ks.options.extra_noise

    if ks.call_kind == "timesteps":
        return _run_timesteps(ks, steps, t_enc, noise, init_latents, keep_mask, mask_blend, evaluate, report, randn,
                              denoiser, cfg_scale, extra)
    return _run_sigmas(ks, steps, t_enc, noise, init_latents, keep_mask, mask_blend, evaluate, report, randn,
                       denoiser, generators, extra, rng)


def _run_sigmas(ks: KSampler, steps, t_enc, noise, init_latents, keep_mask, mask_blend, evaluate, report, randn,
                denoiser, generators, extra, rng) -> torch.Tensor:
    discrete = ks.discrete
    # the schedule stays on the host: the solvers' control flow and scalars then never wait for the GPU
    # (A1111 keeps it on the device and syncs at every comparison); the UNet gets its timestep as a tensor
    sigmas = ks.sigmas(steps)
    plan = sigmas if t_enc is None else sigmas[steps - t_enc - 1:]
    kind = ks.prediction_type
    if init_latents is None:
        first = sigmas[0]
        x = noise * ((1.0 + first ** 2) ** 0.5 if ks.options.sgm_noise_multiplier else first)
    elif kind == "flow":        # a flow model's noisy latent mixes the two (A1111's add_noise_to_latent)
        x = extra(init_latents * (1.0 - plan[0]) + noise * plan[0])
    else:
        x = extra(init_latents + noise * plan[0])
    last_eval: dict = {}

    def model(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=torch.float32).cpu().reshape(())
        c_in = input_scale(sigma, kind)
        t = model_timestep(discrete, sigma.reshape(1), kind).reshape(()).to(x.device, non_blocking=True)
        ev = evaluate(x, t, scale=lambda rows: rows * c_in, sigma=lambda: sigma.expand(x.shape[0]).to(x.device),
                      alpha=lambda: 1.0 / (1.0 + sigma * sigma))
        if ks.solver == "lcm":       # A1111's LCM denoiser: epsilon, then the consistency boundary scaling
            denoised = lcm.boundary(discrete, sigma, denoised_from("epsilon", x, sigma, ev.out), x)
        else:
            denoised = denoised_from(ks.prediction_type, x, sigma, ev.out)
        if keep_mask is not None:
            denoised = blend_prediction(mask_blend, keep_mask, init_latents, denoised, denoiser, sigma)
        last_eval["ev"], last_eval["sigma"] = ev, sigma
        return denoised

    def callback(i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        sigma = last_eval["sigma"]
        report(i, x, denoised, last_eval["ev"], 1.0 / (1.0 + sigma * sigma))

    if ks.brownian:
        seeds = ks.seeds if ks.seeds is not None else seeds_from_generators(generators, x.shape[0])
        tree = brownian_sampler(noise if init_latents is None else init_latents, sigmas, seeds,
                                philox=bool(getattr(rng, "nv", False)), device=getattr(rng, "device", None))
        step_noise = lambda s, s_next: tree(s, s_next).to(x)    # noqa: E731
    else:
        step_noise = lambda s, s_next: randn()    # noqa: E731
    fn, call = SOLVERS[ks.solver]
    if call == "range":
        if init_latents is None:
            lo, hi, n = float(ks.discrete.sigma_min), float(ks.discrete.sigma_max), steps
        else:
            lo, hi, n = float(plan[-2]), float(plan[0]), len(plan) - 1
        if ks.solver == "dpm_fast":
            return fn(model, x, lo, hi, n, step_noise, callback, **ks.extra)
        return fn(model, x, lo, hi, step_noise, callback, **ks.extra)
    return fn(model, x, plan, step_noise, callback, **ks.extra)


def _run_timesteps(ks: KSampler, steps, t_enc, noise, init_latents, keep_mask, mask_blend, evaluate, report, randn,
                   denoiser, cfg_scale: float, extra) -> torch.Tensor:
    alphas = ks.alphas_cumprod                  # on the host, as the sigmas above
    all_timesteps = ks.timesteps(steps)
    if init_latents is None:
        plan = all_timesteps
        x = noise
    else:
        plan = all_timesteps[:t_enc]
        a = alphas[all_timesteps[t_enc]]
        x = extra(init_latents * a.sqrt() + noise * (1 - a).sqrt())
    cfgpp = ks.solver == "ddim_cfgpp"
    last: dict = {}

    def eps_of(prediction: torch.Tensor, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        if ks.prediction_type == "v_prediction":
            return a.sqrt() * prediction + (1 - a).sqrt() * x
        return prediction

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.cpu()
        a = alphas[t.long()]
        if keep_mask is not None:    # A1111 blends the original in before a timestep sampler denoises
            x = blend_prediction(mask_blend, keep_mask, init_latents, x, denoiser, t.float())
        ev = evaluate(x, t.to(x.device, non_blocking=True), scale=lambda rows: rows,
                      sigma=lambda: t.expand(x.shape[0]).to(x.device), alpha=lambda: a,
                      cfg_scale=cfg_scale / 12.5 if cfgpp else None)
        last.update(ev=ev, a=a, x=x)
        return eps_of(ev.out, x, a)

    def uncond_eps() -> torch.Tensor:
        ev, a = last["ev"], last["a"]
        if ev.uncond is None:
            return eps_of(ev.out, last["x"], a)
        return eps_of(ev.uncond, last["x"], a)

    def callback(i: int, x: torch.Tensor, pred_x0: torch.Tensor) -> None:
        report(i, x, pred_x0, last["ev"], last["a"])

    if ks.solver == "plms":
        return timestep_samplers.plms(model, x, plan, alphas, callback)
    if ks.solver == "unipc":
        def eps_model(x: torch.Tensor, t_input: torch.Tensor) -> torch.Tensor:
            # UniPC's continuous time as a fractional timestep; v models read alpha at its integer part (A1111)
            return model(x, t_input.reshape(-1)[0])
        t_start = None if init_latents is None else float(plan[-1]) / 1000 + 1 / 1000
        if not len(plan):
            return x
        return unipc.unipc(eps_model, x, alphas, len(plan), callback, t_start=t_start, **ks.extra)
    return timestep_samplers.ddim(model, x, plan, alphas, randn, callback, eta=ks.extra.get("eta", 0.0),
                                  uncond_eps=uncond_eps if cfgpp else None)
