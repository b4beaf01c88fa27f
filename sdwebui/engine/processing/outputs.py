"""What a job writes to disk: each sample (through the context's save_image, so extensions that wrap
A1111's `modules.images.save_image` see it) and the grid of the batch, with A1111's options for
folders, file names and formats."""
from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from sdwebui.engine.images import grids, writing
from sdwebui.engine.processing.base import StableDiffusionProcessing

logger = logging.getLogger(__name__)


def save_values(p: StableDiffusionProcessing, index: int, image: Image.Image | None) -> dict[str, Any]:
    """What the filename pattern tokens of modules.images read."""
    model = p.sd_model
    info = model.sd_checkpoint_info if model is not None else None
    vae = model.loaded_vae if model is not None else None
    return {"seed": p.all_seeds[index] if index < len(p.all_seeds) else p.seed, "all_seeds": p.all_seeds,
            "prompt": p.all_prompts[index] if index < len(p.all_prompts) else p.prompt,
            "prompt_no_styles": p.prompt, "negative_prompt": p.negative_prompt, "styles": p.styles,
            "steps": p.steps, "cfg": p.cfg_scale, "width": p.width, "height": p.height,
            "sampler": p.sampler_name, "scheduler": p.schedule.label if p.schedule else p.scheduler,
            "model_name": info.name_for_extra if info else "", "model_hash": info.shorthash if info else "",
            "batch_number": index % p.batch_size + 1, "batch_size": p.batch_size, "n_iter": p.n_iter,
            "generation_number": index + 1, "job_timestamp": p.job_timestamp, "clip_skip": p.clip_skip,
            "denoising": p.denoising_strength if not p.is_txt2img else None,
            "vae_filename": vae.model_name if vae else "", "image": image}


def samples_folder(p: Any, opts: Any) -> str:
    """The samples folder option that applies to `p` (A1111: the job's own, else outdir_samples, else
    the txt2img / img2img one); relative to the data folder."""
    if p is not None and getattr(p, "outpath_samples", None):
        return p.outpath_samples
    is_txt2img = getattr(p, "is_txt2img", True)
    return opts.outdir_samples or (opts.outdir_txt2img_samples if is_txt2img else opts.outdir_img2img_samples)


def save_sample(p: StableDiffusionProcessing, image: Image.Image, index: int, text: str) -> None:
    """Save the job's image number `index` with its infotext `text`, as A1111 calls save_image for it."""
    opts = p.ctx.opts
    folder = samples_folder(p, opts)
    try:
        p.ctx.save_image(image, folder, "", p.all_seeds[index], p.all_prompts[index], opts.samples_format,
                         info=text, p=p, index=index)
    except OSError as e:
        # the image is still returned; a full disk or read-only folder must not lose the result
        logger.error("could not save image to %s: %s", folder, e)
        p.warnings.append(f"image not saved: {e}")


def make_grid(p: StableDiffusionProcessing, images: list[Image.Image], infotexts: list[str]) -> Image.Image | None:
    """A1111: a grid of the batch when there are 2+ images (or always, without grid_only_if_multiple),
    saved when grid_save and not do_not_save_grid, returned first when return_grid."""
    ctx = p.ctx
    opts = ctx.opts
    if p.do_not_save_grid or not images or (len(images) < 2 and opts.grid_only_if_multiple):
        return None
    if not (opts.return_grid or opts.grid_save):
        return None
    grid = grids.image_grid(images, batch_size=p.batch_size, n_rows=int(opts.n_rows),
                            prevent_empty_spots=opts.grid_prevent_empty_spots,
                            background=opts.grid_background_color, hooks=ctx.hooks)
    if opts.grid_save:
        folder = p.outpath_grids or opts.outdir_grids or (
            opts.outdir_txt2img_grids if p.is_txt2img else opts.outdir_img2img_grids)
        try:
            writing.save_grid(grid, ctx.resolve_output(folder), values=save_values(p, 0, grid),
                              infotext=infotexts[0] if opts.enable_pnginfo else None,
                              save_to_dirs=opts.grid_save_to_dirs, dir_pattern=opts.directories_filename_pattern,
                              extended_filename=opts.grid_extended_filename, fmt=opts.grid_format,
                              jpeg_quality=opts.jpeg_quality, webp_lossless=opts.webp_lossless,
                              max_length=ctx.filenames_max_length, unix_only=ctx.unix_filenames_sanitization,
                              max_prompt_words=int(opts.directories_max_prompt_words), hooks=ctx.hooks)
        except OSError as e:
            logger.error("could not save grid to %s: %s", folder, e)
            p.warnings.append(f"grid not saved: {e}")
    return grid if opts.return_grid else None
