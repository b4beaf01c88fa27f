"""img2img's Batch mode as A1111 1.10 runs it (`modules.img2img.process_batch`), as a plan of ordinary
img2img requests: one per image file of the input folder, with its inpaint mask (by file name), its
output folder and file name, and the parameters taken from the PNG info of the image (or of a file
of the same name in another folder). The web UI queues each request as an API client would.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sdwebui.services.util import listfiles, walk_files

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
# what "Parameters to take from png info" offers, A1111's infotext keys
PNG_INFO_PROPS = ("Prompt", "Negative prompt", "Seed", "CFG scale", "Sampler", "Steps", "Model hash")


@dataclass
class BatchItem:
    image: Path
    mask: Path | None
    values: dict[str, Any]


@dataclass
class BatchSettings:
    input_dir: str
    output_dir: str = ""
    mask_dir: str = ""
    use_png_info: bool = False
    png_info_props: list[str] = field(default_factory=list)
    png_info_dir: str = ""


def batch_images(folder: str) -> list[Path]:
    """The input folder's images, its sub folders included (dot folders left out), in name order."""
    return [Path(p) for p in walk_files(folder, allowed_extensions=IMAGE_EXTENSIONS)]


def _mask_for(image: Path, masks: list[str], mask_dir: Path) -> Path | None:
    """One mask for every image when the folder holds one file; otherwise the file with the image's
    name (any extension)."""
    if len(masks) == 1:
        return Path(masks[0])
    found = sorted(mask_dir.glob(f"{image.stem}.*"))
    return found[0] if found else None


def _from_png_info(base: dict[str, Any], parsed: dict[str, Any], match_checkpoint: Callable[[str], str | None]
                   ) -> dict[str, Any]:
    """A1111's rules: prompts are appended to the UI's, the other values replace them; a model hash
    that names a known checkpoint switches to it for this image."""
    out = dict(base)
    if "Prompt" in parsed:
        out["prompt"] = f"{base.get('prompt') or ''} {parsed['Prompt']}"
    if "Negative prompt" in parsed:
        out["negative_prompt"] = f"{base.get('negative_prompt') or ''} {parsed['Negative prompt']}"
    for key, name, conv in (("Seed", "seed", int), ("CFG scale", "cfg_scale", float), ("Steps", "steps", int),
                            ("Sampler", "sampler_name", str)):
        if key in parsed:
            try:
                out[name] = conv(parsed[key])
            except (TypeError, ValueError):
                logger.warning("batch: PNG info %s=%r is not usable; the UI's value is kept", key, parsed[key])
    title = match_checkpoint(str(parsed["Model hash"])) if "Model hash" in parsed else None
    if title is not None:
        out["override_settings"] = {**(out.get("override_settings") or {}), "sd_model_checkpoint": title}
    return out


def plan(values: dict[str, Any], settings: BatchSettings, *, read_infotext: Callable[[Path], str | None],
         parse: Callable[[str], dict[str, Any]], match_checkpoint: Callable[[str], str | None]
         ) -> Iterator[BatchItem]:
    """One request per input image. The seed is fixed once for the whole batch (A1111's fix_seed), so
    every image starts from the same noise unless its PNG info gives its own seed."""
    base = dict(values)
    if base.get("seed") in (None, -1, "-1"):
        base["seed"] = int(random.randrange(4294967294))
    mask_dir = Path(settings.mask_dir) if settings.mask_dir else None
    masks = listfiles(str(mask_dir)) if mask_dir is not None else []
    if masks:
        logger.info("img2img batch: inpainting, %d mask(s) found", len(masks))
    props = set(settings.png_info_props or [])
    for image in batch_images(settings.input_dir):
        mask = _mask_for(image, masks, mask_dir) if masks else None
        if masks and mask is None:
            logger.warning("img2img batch: no mask for %s in %s; skipped", image, mask_dir)
            continue
        item = dict(base)
        if settings.use_png_info:
            source = Path(settings.png_info_dir) / image.name if settings.png_info_dir else image
            try:
                text = read_infotext(source) or ""
                parsed = {k: v for k, v in parse(text).items() if k in props} if text else {}
            except (OSError, ValueError) as e:
                logger.warning("img2img batch: no PNG info from %s (%s)", source, e)
                parsed = {}
            item = _from_png_info(base, parsed, match_checkpoint)
        if settings.output_dir:
            # A1111 writes each result into the output folder under the input file's name
            several = int(item.get("n_iter") or 1) > 1 or int(item.get("batch_size") or 1) > 1
            item["override_settings"] = {
                **(item.get("override_settings") or {}), "outdir_samples": "",
                "outdir_img2img_samples": settings.output_dir, "save_to_dirs": False,
                "save_images_replace_action": "Add number suffix",
                "samples_filename_pattern": f"{image.stem}-[generation_number]" if several else image.stem}
        yield BatchItem(image, mask, item)


__all__ = ["IMAGE_EXTENSIONS", "PNG_INFO_PROPS", "BatchItem", "BatchSettings", "batch_images", "plan"]
