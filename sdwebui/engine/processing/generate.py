"""The generation loop: a processing object (`p`, with its context `p.ctx`) -> images + infotexts.

It applies the job's settings and checkpoint, runs the batches (seeds, prompts, noise, sampler,
decode), calls the Script hooks on `p.scripts` at A1111's points, and saves what the options say.
process_images_inner() must run on the queue worker: it owns the device and the per-job state.
"""
from __future__ import annotations

import logging
import time
from contextlib import ExitStack, contextmanager
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.hooks import PostprocessBatchListArgs, PostprocessImageArgs, PostSampleArgs
from sdwebui.engine.models import lora as lora_mod
from sdwebui.engine.processing import infotext, outputs
from sdwebui.engine.processing.base import StableDiffusionProcessing, make_encoder
from sdwebui.engine.processing.image_latents import decode_latents, to_pil
from sdwebui.engine.processing.processed import Processed
from sdwebui.engine.processing.sampler_setup import make_scheduler
from sdwebui.engine.prompt.encoding import ScheduledConditioning
from sdwebui.engine.sampling import rng as rng_mod
from sdwebui.engine.sampling import samplers
from sdwebui.engine.sampling.samplers import extension_tables

logger = logging.getLogger(__name__)


def process_images_inner(p: StableDiffusionProcessing) -> Processed:
    """Run a txt2img or img2img job whose context `p.ctx` is set. Call it on the queue worker."""
    ctx = p.ctx
    if p.scripts is not None:
        p.scripts.before_process(p)
    with ExitStack() as stack:
        _apply_checkpoint_override(p, stack)
        stack.enter_context(ctx.opts.override(p.override_settings, restore=p.override_settings_restore_afterwards))
        model = ctx.ensure_model_loaded()
        ctx.apply_vae_setting()
        job_checkpoint = ctx.model_manager.checkpoint_info
        try:
            return _process(p, model)
        finally:
            # a hires pass may have switched to hr_checkpoint_name; the job ends on its own checkpoint
            if job_checkpoint is not None and ctx.model_manager.checkpoint_info != job_checkpoint:
                ctx.model_manager.load(job_checkpoint)


def _apply_checkpoint_override(p: StableDiffusionProcessing, stack: ExitStack) -> None:
    """`override_settings.sd_model_checkpoint`: switch for this job (and back after it, unless
    `override_settings_restore_afterwards` is false)."""
    ctx = p.ctx
    name = p.override_settings.pop("sd_model_checkpoint", None)
    if not name:
        return
    info = ctx.registry.match(name)
    if info is None:
        raise ProcessingError("override_settings.sd_model_checkpoint",
                              f"checkpoint {name!r} not found; available: {[c.title for c in ctx.registry.list()]}",
                              status_code=404)
    previous = ctx.model_manager.checkpoint_info
    if p.override_settings_restore_afterwards and previous is not None:
        stack.callback(_restore_checkpoint, p, previous)   # runs after the override below has ended
        # while the job runs, config.json keeps the checkpoint outside it: a save meanwhile must not
        # store the job's temporary one (the option's value itself is set by the model load)
        stack.enter_context(ctx.opts.override({"sd_model_checkpoint": info.title}))
        ctx.model_manager.load(info)
    else:
        ctx.model_manager.load(info)
        ctx.opts.set("sd_model_checkpoint", info.title, run_callbacks=False)


def _restore_checkpoint(p: StableDiffusionProcessing, info) -> None:
    try:
        p.ctx.model_manager.load(info)
        p.ctx.opts.set("sd_model_checkpoint", info.title, run_callbacks=False)
    except Exception:
        logger.exception("could not restore checkpoint %s", info.title)


def _process(p: StableDiffusionProcessing, model) -> Processed:
    ctx = p.ctx
    p.width, p.height = model.fix_dimensions(p.width, p.height)
    p.sampler, p.schedule = samplers.resolve(p.sampler_name, p.scheduler)
    p.sampler_name = p.sampler.name
    p.clip_skip = int(ctx.opts.CLIP_stop_at_last_layers)
    p.setup_seeds()
    p.job_timestamp = ctx.state.job_timestamp
    if p.scripts is not None:
        p.scripts.process(p)     # extensions may rewrite all_prompts / all_seeds here (as in A1111)
    loras = ctx.loras
    uses = lora_mod.requested(p.all_prompts, loras) if loras is not None and not p.disable_extra_networks else []
    if not uses:
        return _generate(p, model)
    applier = getattr(model, "lora_applier", None) or lora_mod.LoraApplier(model)
    model.lora_applier = applier
    try:
        applier.apply(uses)
        if getattr(ctx.opts, "lora_add_hashes_to_infotext", True):
            p.extra_generation_params["Lora hashes"] = ", ".join(f"{u.file.alias}: {loras.shorthash(u.file)}" for u in uses)
        return _generate(p, model)
    finally:
        applier.restore()   # the networks last for this job only


def _fast_interrupt_method(ctx, finished: bool) -> str | None:
    """A1111's live_preview_fast_interrupt: an interrupted batch is decoded by the live preview's
    method (quicker than the VAE) instead of the full VAE."""
    if finished or not ctx.state.interrupted or not ctx.opts.live_preview_fast_interrupt:
        return None
    return ctx.opts.show_progress_type


def _record_embeddings(p: StableDiffusionProcessing) -> None:
    """A1111's "TI hashes" infotext field for the embeddings the prompts used (unless the setting
    textual_inversion_add_hashes_to_infotext is off)."""
    used = sorted(set().union(*(e.used_embeddings for e in getattr(p, "encoders", []))))
    if used and getattr(p.ctx.opts, "textual_inversion_add_hashes_to_infotext", True):
        db = p.ctx.embeddings
        p.extra_generation_params["TI hashes"] = ", ".join(
            f"{name}: {db.shorthash(db.loaded[name])}" for name in used if name in db.loaded)


def _generate(p: StableDiffusionProcessing, model) -> Processed:
    opts = p.ctx.opts
    if p.tiling is None:
        p.tiling = bool(opts.tiling)
    if p.restore_faces is None:
        p.restore_faces = bool(opts.face_restoration)
    restore = None
    if p.restore_faces:
        if p.ctx.face_restorer is None:
            p.warnings.append("restore_faces: no face restorer is available; faces were not restored")
        else:
            restore = p.ctx.face_restorer()   # reads the model now: a missing file fails before sampling
    with seamless_tiling(model, p.tiling):
        return _generate_images(p, model, restore)


@contextmanager
def seamless_tiling(model, enabled: bool):
    """`tiling`: circular padding in every convolution of the UNet and VAE, so the image wraps around."""
    if not enabled:
        yield
        return
    convs = [m for part in (model.unet, model.vae) for m in part.modules() if isinstance(m, torch.nn.Conv2d)]
    before = [m.padding_mode for m in convs]
    for m in convs:
        m.padding_mode = "circular"
    try:
        yield
    finally:
        for m, mode in zip(convs, before):
            m.padding_mode = mode


def _generate_images(p: StableDiffusionProcessing, model, restore_faces: Callable[[Any], Any] | None = None
                     ) -> Processed:
    ctx = p.ctx
    state, opts = ctx.state, ctx.opts
    p.base_checkpoint_info = model.sd_checkpoint_info
    p.setup_refiner()
    p.init(model)
    if ctx.embeddings is not None:
        ctx.embeddings.refresh(model)
    encoder = make_encoder(p, model)
    p.encoder = encoder
    state.job_count = max(state.job_count, p.n_iter)
    state.sampling_steps = p.steps

    images: list[Image.Image] = []
    infotexts: list[str] = []
    factor = model.vae_scale_factor
    shape = (model.latent_channels, p.height // factor, p.width // factor)
    t0 = time.perf_counter()
    for n in range(p.n_iter):
        p.iteration = n
        if state.skipped:
            state.skipped = False
        if state.interrupted or state.stopping_generation:
            break
        if ctx.model_manager.checkpoint_info != p.base_checkpoint_info:
            # a refiner or hires checkpoint ran last batch: the next batch starts on the job's own model
            model = ctx.model_manager.load(p.base_checkpoint_info)
            ctx.embeddings.refresh(model)
            encoder = p.encoder = make_encoder(p, model)
        lo, hi = n * p.batch_size, (n + 1) * p.batch_size
        prompts, negatives = p.all_prompts[lo:hi], p.all_negative_prompts[lo:hi]
        seeds, subseeds = p.all_seeds[lo:hi], p.all_subseeds[lo:hi]
        if not prompts:     # as A1111: list prompts (prompt matrix) may end before n_iter batches
            break
        if p.scripts is not None:
            p.scripts.before_process_batch(p, batch_number=n, prompts=prompts, seeds=seeds, subseeds=subseeds)
        p.prompts, p.negative_prompts, p.seeds, p.subseeds = prompts, negatives, seeds, subseeds
        _activate_extra_networks(p)
        prompts = p.prompts
        if p.scripts is not None:
            p.scripts.process_batch(p, batch_number=n, prompts=prompts, seeds=seeds, subseeds=subseeds)
            p.scripts.process_before_every_sampling(p, batch_number=n, prompts=prompts, seeds=seeds,
                                                    subseeds=subseeds)
            prompts, negatives = p.prompts, p.negative_prompts

        # second-order samplers go through the prompt schedule once per model evaluation (A1111)
        conditioning = ScheduledConditioning(encoder, prompts, negatives if p.cfg_scale != 1.0 else None,
                                             p.steps * samplers.step_multiplier(p.sampler))
        conditioning.distilled_cfg_scale = p.distilled_cfg_scale

        noise_rng = rng_mod.ImageRNG(shape, seeds, subseeds=subseeds, subseed_strength=p.subseed_strength,
                                     seed_resize_from_w=p.seed_resize_from_w, seed_resize_from_h=p.seed_resize_from_h,
                                     factor=factor, device=model.device, randn_source=opts.randn_source)
        noise = noise_rng.first()
        noise_rng.reseed_for_sampler(int(opts.eta_noise_seed_delta or 0))   # A1111 reseeds for every sampler
        if isinstance(p.sampler, samplers.SamplerInfo):
            # A1111's sampler object for the batch, made through sd_samplers.create_sampler (looked up at
            # call time: an extension may wrap it); an extension's process_batch may have made its own
            p.sampler = extension_tables.create_sampler(p.sampler_name, model)
        scheduler = make_scheduler(p, model, p.sampler, p.schedule, seeds, from_image=not p.is_txt2img)
        latents, finished = p.sample(model, scheduler, noise, conditioning, noise_rng, lo, hi)
        p.extra_generation_params.update(dict.fromkeys(conditioning.padded, True))   # A1111's "Pad conds"
        _record_embeddings(p)
        if p.scripts is not None:
            ps = PostSampleArgs(latents)
            p.scripts.post_sample(p, ps)
            latents = ps.samples
        decoded = decode_latents(ctx, ctx.model_manager.sd_model or model, latents,
                                 preview_method=_fast_interrupt_method(ctx, finished))
        if p.scripts is not None:
            decoded = _postprocess_batch(p, decoded, n)
        batch_images = to_pil(decoded)
        for i, image in enumerate(batch_images):
            index = lo + i
            if restore_faces is not None:   # as A1111: before the scripts' postprocess_image
                image = Image.fromarray(restore_faces(np.asarray(image.convert("RGB"))))
            image = p.postprocess_image(index, image)
            if p.scripts is not None:
                pp = PostprocessImageArgs(image)
                p.scripts.postprocess_image(p, pp)
                image = pp.image
            # looked up at call time: an extension may replace modules.processing.create_infotext
            text = infotext.create_infotext(p, index)
            if opts.samples_save and not p.do_not_save_samples:
                outputs.save_sample(p, image, index, text)
            images.append(image)
            infotexts.append(text)
        state.nextjob()
    logger.info("%s: %d image(s) in %.2fs", p.tabname, len(images), time.perf_counter() - t0)
    grid = outputs.make_grid(p, images, infotexts)
    if not p.disable_extra_networks and p.extra_network_data:   # as A1111: only when the prompt had tags
        ctx.extra_networks.deactivate(p, p.extra_network_data)
    if grid is not None:
        processed = Processed(p, [grid, *images], infotexts=[infotexts[0], *infotexts], index_of_first_image=1)
    else:
        processed = Processed(p, images, infotexts=infotexts)
    if p.scripts is not None:
        p.scripts.postprocess(p, processed)
    return processed


def _activate_extra_networks(p: StableDiffusionProcessing) -> None:
    """A1111's parse_extra_network_prompts + extra_networks.activate for this batch: `p.prompts` lose
    their `<name:...>` tags, which `p.extra_network_data` keeps, and the extensions' handlers get
    them through the context. LoRA weights are merged for the whole job by _process, so the built-in
    Lora handler activated here only mirrors them (extensions-builtin/Lora/extra_networks_lora.py)."""
    p.parse_extra_network_prompts()
    if not p.disable_extra_networks:
        p.ctx.extra_networks.activate(p, p.extra_network_data)


def _postprocess_batch(p: StableDiffusionProcessing, decoded: torch.Tensor, n: int) -> torch.Tensor:
    """Scripts' postprocess_batch (the batch tensor, in place) and postprocess_batch_list (may
    replace or add images)."""
    if decoded.is_inference() and p.scripts.uses_hook("postprocess_batch"):
        decoded = decoded.clone()   # made under inference mode: scripts change it in place, as in A1111
    p.scripts.postprocess_batch(p, decoded, batch_number=n)
    images = list(decoded)
    pp = PostprocessBatchListArgs(list(images))
    p.scripts.postprocess_batch_list(p, pp, batch_number=n)
    if len(pp.images) == len(images) and all(a is b for a, b in zip(pp.images, images)):
        return decoded      # the usual case: no script touched the list, so no copy of the batch
    return torch.stack([x.float().clamp(0, 1).cpu() for x in pp.images]) if pp.images else decoded[:0]
