"""From a generation request to a processing object, the same for the API and the UI (whose
panel builds the API's request model): the checks done before anything is queued, the keyword
arguments of the processing object, and the base64 input images.

The request is taken duck-typed (a pydantic model with A1111's field names and `model_dump`);
the models themselves belong to the API (sdwebui/interfaces/api/models.py).
"""
from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import os
from typing import Any

from PIL import Image, UnidentifiedImageError

from sdwebui.engine.models.single_file import declared_size
from sdwebui.engine.processing.img2img import StableDiffusionProcessingImg2Img
from sdwebui.engine.sampling import samplers
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services.extensions.script_controls import ScriptArgsError
from sdwebui.services.options.store import OptionError
from sdwebui.services.request_errors import error_from, field_error

logger = logging.getLogger(__name__)

# request fields that steer the API itself, not the processing object
API_ONLY_FIELDS = {"sampler_index", "script_name", "script_args", "send_images", "save_images", "alwayson_scripts",
                   "force_task_id", "infotext", "override_settings"}
# img2img request fields that are decoded into images (or only shape the response), not passed on as they are
IMG2IMG_IMAGE_FIELDS = {"init_images", "mask", "latent_mask", "include_init_images"}


def decode_base64_image(data: str, field: str) -> Image.Image:
    """A base64 image (or data: URL) of a request field; a RequestError naming `field` when it is not
    one, or is over --max-image-pixels (checked before the pixels are decoded)."""
    if not isinstance(data, str) or not data:
        raise field_error(field, "expected a base64-encoded image")
    if data.startswith("data:image/"):
        data = data.split(";", 1)[1].split(",", 1)[-1]
    limit = shared.cmd_opts.max_image_pixels
    try:
        raw = base64.b64decode(data, validate=False)
        image = Image.open(io.BytesIO(raw))
        if image.width * image.height > limit:   # checked before decoding the pixels (decompression bombs)
            raise field_error(field, f"the image is {image.width}x{image.height}, more than the {limit} pixels "
                                     "this server accepts (--max-image-pixels)")
        image.load()
    except Image.DecompressionBombError:
        raise field_error(field, f"the image is larger than the {limit} pixels this server accepts") from None
    except (binascii.Error, ValueError):
        raise field_error(field, "invalid base64 data") from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise field_error(field, "the data is not an image PIL can read") from None
    return image


@functools.lru_cache(maxsize=64)
def _declared_size(filename: str, mtime_ns: int) -> tuple[int, int] | None:
    # keyed on the file's mtime as well: a checkpoint replaced under the same name is read again
    return declared_size(filename)


def native_size(info: Any) -> tuple[int, int] | None:
    """(width, height) the checkpoint `info` (a registry entry) declares as its native size."""
    if info is None:
        return None
    try:
        return _declared_size(str(info.filename), os.stat(info.filename).st_mtime_ns)
    except OSError:
        return None


def checkpoint_for(req: Any) -> Any:
    """The registry entry of the checkpoint a request will run on, as far as it is known now: its
    override_settings' one, else the resident model's, else the one that loads first."""
    ckpt = (getattr(req, "override_settings", None) or {}).get("sd_model_checkpoint")
    if ckpt:
        return shared.registry.match(str(ckpt))
    model = shared.model_manager.sd_model if shared.model_manager is not None else None
    info = getattr(model, "sd_checkpoint_info", None)
    if info is None and shared.registry is not None:
        info = shared.select_checkpoint()
    return info


def fill_native_size(req: Any) -> None:
    """Width and height that the request leaves out (not ones a client sent, even 512) become the
    checkpoint's declared native size, where it declares one: A1111's 512 would ask a model trained
    at 64x64 (the embedded default) or 1024x1024 for a size it never learned. Set on the request
    itself, so the response's `parameters` say what was drawn."""
    missing = [key for key in ("width", "height") if key not in req.model_fields_set]
    if not missing:
        return
    size = native_size(checkpoint_for(req))
    if size is None:
        return
    for key in missing:
        setattr(req, key, size[0] if key == "width" else size[1])


def processing_args(req: Any, tab: str) -> dict:
    """Checks shared by txt2img and img2img (`tab`) before anything is queued, then the keyword
    arguments for the processing object (img2img's images left out: see img2img_processing).
    Fills in the checkpoint's native size where the request leaves the size out (fill_native_size)."""
    fill_native_size(req)
    sampler_name = req.sampler_name or req.sampler_index
    runner = scripts_mod.runner_for(tab)
    try:
        script_args = runner.script_args_for(req.script_name, req.script_args, req.alwayson_scripts)
    except ScriptArgsError as e:
        raise error_from(e) from None
    limit = shared.cmd_opts.max_image_pixels
    if req.width * req.height > limit:
        raise field_error("width", f"{req.width}x{req.height} is more than the {limit} pixels this server "
                                   f"allows (--max-image-pixels)")
    if req.seed_resize_from_w * req.seed_resize_from_h > limit:
        raise field_error("seed_resize_from_w", f"{req.seed_resize_from_w}x{req.seed_resize_from_h} is more than "
                                                f"the {limit} pixels this server allows (--max-image-pixels)")
    try:
        samplers.resolve(sampler_name, req.scheduler)
        override = shared.opts.validate_many({k: v for k, v in (req.override_settings or {}).items()
                                              if k != "sd_model_checkpoint"})
    except (samplers.SamplerError, OptionError) as e:
        raise error_from(e) from None
    ckpt = (req.override_settings or {}).get("sd_model_checkpoint")
    if ckpt:
        if shared.registry.match(str(ckpt)) is None:
            raise field_error("override_settings.sd_model_checkpoint",
                              f"checkpoint {ckpt!r} not found; available: "
                              f"{[c.title for c in shared.registry.list()]}", 404)
        override["sd_model_checkpoint"] = ckpt
    args = req.model_dump(exclude=API_ONLY_FIELDS | (IMG2IMG_IMAGE_FIELDS if tab == "img2img" else set()))
    args["sampler_name"] = sampler_name
    args["override_settings"] = override
    args["scripts"] = runner
    args["script_args"] = script_args
    # as A1111's txt2img/img2img: the grids folder scripts save their grids in (prompt matrix, loopback ...)
    args["outpath_grids"] = shared.opts.outdir_grids or getattr(shared.opts, f"outdir_{tab}_grids")
    return args


def img2img_processing(req: Any, args: dict[str, Any]) -> StableDiffusionProcessingImg2Img:
    """The img2img processing object: `args` from processing_args, the request's images decoded
    (each error names its field: init_images.0, mask, latent_mask)."""
    images = [decode_base64_image(b, f"init_images.{i}") for i, b in enumerate(req.init_images or [])]
    mask = decode_base64_image(req.mask, "mask") if req.mask else None
    latent_mask = decode_base64_image(req.latent_mask, "latent_mask") if req.latent_mask else None
    return StableDiffusionProcessingImg2Img(init_images=images, mask=mask, latent_mask=latent_mask, **args)
