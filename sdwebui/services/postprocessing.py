"""The Extras job (A1111's `modules.postprocessing`): every postprocessing script over one image, a
batch of images or a folder, then saving the results (and the captions scripts wrote).

Call `run_postprocessing` / `run_extras` on the queue worker (the UI and the API submit them as a
job). `run_extras` is A1111's older entry point, the API's: the request's fields become the Upscale,
GFPGAN and CodeFormer scripts' arguments, by name.
"""
from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from PIL import Image

from sdwebui.engine.atomic_write import atomic_write_text
from sdwebui.engine.images import writing as images_mod
from sdwebui.engine.processing.extras import format_info, plaintext_to_html
from sdwebui.services import runtime
from sdwebui.services.extensions import callbacks
from sdwebui.services.extensions.postprocessing_runner import scripts_postproc
from sdwebui.services.extensions.postprocessing_scripts import PostprocessedImage
from sdwebui.services.util import listfiles

logger = logging.getLogger(__name__)

MODE_SINGLE, MODE_BATCH, MODE_FOLDER = 0, 1, 2
CAPTION_ACTIONS = ("Ignore", "Keep", "Prepend", "Append")


class ExtrasInputError(ValueError):
    """Nothing to process, or a folder that cannot be used: `field` names the input at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SourceFile:
    """An input file's name and bytes: how the front end sends a batch's or a folder's files to a
    cluster worker, which may not see the front end's uploads or folders (`read_sources`)."""
    name: str
    data: bytes


def _opt(name: str, default: Any) -> Any:
    opts = runtime.opts
    return default if opts is None or name not in opts else getattr(opts, name)


def extras_output_dir(output_dir: str = "") -> Path:
    """Where results go: the batch-from-folder output folder when given, else outdir_samples when
    set (it overrides every tab's folder, as in A1111), else outdir_extras_samples."""
    if output_dir:
        return Path(output_dir)
    opts = runtime.opts
    return runtime.paths.resolve_output(opts.outdir_samples or opts.outdir_extras_samples)


def save_extras_image(image: Image.Image, original_name: str | None = None, *, suffix: str = "",
                      folder: Path | None = None) -> Path:
    """Save one extras result as A1111 does and return its path.

    * Folder: the extras folder itself, no date sub folder (A1111 saves extras with no_prompt, which
      turns save_to_dirs off).
    * Name: `NNNNN<suffix>.<fmt>` (short_filename: extras have no seed or prompt), or the source
      file's own name plus the suffix for batch files when use_original_name_batch is on (A1111's
      default), replacing a file of that name per save_images_replace_action.
    * Metadata: PNG keeps the source's text chunks (its `parameters`) plus `postprocessing`, and
      A1111's `extras` section with the same text; other formats get the postprocessing text as the
      EXIF comment, as A1111 writes them.
    """
    opts = runtime.opts
    fmt = opts.samples_format
    texts = {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    pp_text = texts.get("postprocessing")
    infotext: str | None = None
    existing: dict[str, Any] | None = None
    if opts.enable_pnginfo:
        if fmt.lower() == "png":
            infotext = texts.pop("parameters", None)  # save_image writes it as the `parameters` chunk
            existing = texts | ({"extras": pp_text} if pp_text is not None else {})
        else:
            infotext = pp_text
    forced = None
    if original_name and _opt("use_original_name_batch", True):
        forced = Path(original_name).stem + suffix
    path = images_mod.write_image(
        image, folder or extras_output_dir(), values={}, infotext=infotext, fmt=fmt, save_to_dirs=False,
        short_filename=True, forced_filename=forced, suffix="" if forced else suffix,
        replace_action=opts.save_images_replace_action, existing_pnginfo=existing, jpeg_quality=opts.jpeg_quality,
        webp_lossless=opts.webp_lossless, max_length=int(getattr(runtime.cmd_opts, "filenames_max_length", 128)),
        unix_only=bool(getattr(runtime.cmd_opts, "unix_filenames_sanitization", False)), hooks=callbacks)
    # save_image's save_txt would write the source `parameters`; A1111 writes the text it saved
    # the image with, i.e. the postprocessing text.
    if opts.save_txt and pp_text:
        atomic_write_text(path.with_suffix(".txt"), f"{pp_text}\n")
    return path


def write_caption(image_path: Path, caption: str) -> None:
    """`<image>.txt` with the caption, combined with a caption file already there as the
    postprocessing_existing_caption_action setting says."""
    path = image_path.with_suffix(".txt")
    try:
        existing = path.read_text(encoding="utf8").strip()
    except FileNotFoundError:
        existing = ""
    action = _opt("postprocessing_existing_caption_action", "Ignore")
    if existing and action == "Prepend":
        caption = f"{existing} {caption}"
    elif existing and action == "Append":
        caption = f"{caption} {existing}"
    elif existing and action == "Keep":
        caption = existing
    caption = caption.strip()
    if caption:
        atomic_write_text(path, caption)


def _inputs(extras_mode: int, image: Any, image_folder: Any, input_dir: str) -> Iterator[tuple[Any, str | None]]:
    """(an image or a file path, its name for use_original_name_batch) for each input."""
    if extras_mode == MODE_BATCH:
        for item in image_folder or []:
            if isinstance(item, Image.Image):
                yield item, getattr(item, "filename", None) or None
            else:   # a path, or an uploaded file object with .name (and .orig_name)
                path = item if isinstance(item, (str, os.PathLike)) else (getattr(item, "path", None) or item.name)
                yield str(path), getattr(item, "orig_name", None) or str(path)
    elif extras_mode == MODE_FOLDER:
        if getattr(runtime.cmd_opts, "hide_ui_dir_config", False):
            raise ExtrasInputError("batch from a folder is turned off on this server (--hide-ui-dir-config)",
                                   "extras_batch_input_dir")
        if not input_dir:
            raise ExtrasInputError("input directory not selected", "extras_batch_input_dir")
        if not os.path.isdir(input_dir):
            raise ExtrasInputError(f"input directory {input_dir} does not exist", "extras_batch_input_dir")
        for path in listfiles(input_dir):
            yield path, path
    else:
        if image is None or image == "":
            raise ExtrasInputError("image not selected", "image")
        yield image, None


def read_sources(extras_mode: int, image: Any, image_folder: Any, input_dir: str) -> list[tuple[Any, str | None]]:
    """The inputs as data, for a cluster worker: (the image, or a SourceFile with the file's bytes,
    its name). Raises ExtrasInputError as the job would; a file that cannot be read is skipped."""
    sources: list[tuple[Any, str | None]] = []
    for item, name in _inputs(int(extras_mode or 0), image, image_folder, input_dir):
        if isinstance(item, (str, os.PathLike)):
            try:
                item = SourceFile(str(name or item), Path(item).read_bytes())
            except OSError as e:
                logger.info("extras: skipping %s: %s", item, e)
                continue
        sources.append((item, name))
    return sources


def _read(item: Any) -> Image.Image | None:
    if isinstance(item, SourceFile):
        item = io.BytesIO(item.data)
    elif not isinstance(item, (str, os.PathLike)):
        return item
    try:
        with Image.open(item) as im:
            im.load()
            return im
    except Exception as e:   # as A1111: a file that is not an image is skipped
        logger.info("extras: skipping %s: %s", getattr(item, "name", item), e)
        return None


def run_postprocessing(extras_mode: int, image: Any, image_folder: Any, input_dir: str, output_dir: str,
                       show_extras_results: bool, *args: Any, save_output: bool = True,
                       sources: list[tuple[Any, str | None]] | None = None) -> tuple[list[Image.Image], str, str]:
    """Every postprocessing script (args: the runner's flat argument list) over the inputs:
    (result images, html_info of the last result's infotext, ""). Copies scripts add (flipped,
    split tiles) follow their source. Results are saved when `save_output`; with batch from a
    folder they are returned only when `show_extras_results`. `sources` (`read_sources`'s, on a
    cluster worker) stand for the image, the files or the folder."""
    state = runtime.state
    inputs = sources if sources is not None else list(_inputs(int(extras_mode or 0), image, image_folder, input_dir))
    outpath = extras_output_dir(output_dir if extras_mode == MODE_FOLDER else "")
    if state is not None:
        state.job_count = len(inputs)
    outputs: list[Image.Image] = []
    infotext = ""
    for item, name in inputs:
        if state is not None:
            state.nextjob()
            state.textinfo = name
            state.skipped = False
            if state.interrupted or state.stopping_generation:
                break
        source = _read(item)
        if source is None:
            continue
        if source.mode not in ("RGB", "RGBA"):
            source = source.convert("RGB")
        existing = {k: v for k, v in source.info.items() if isinstance(k, str) and isinstance(v, str)}
        pp = PostprocessedImage(source)
        scripts_postproc.run(pp, args, on_script=lambda s: setattr(state, "job", s.name) if state else None,
                             skipped=lambda: bool(state is not None and state.skipped))
        if state is not None and state.skipped:
            continue
        used: dict[str, int] = {}
        for result in [pp, *pp.extra_images]:
            suffix = result.get_suffix(used)
            infotext = format_info(result.info)
            if result.image is source:
                result.image = source.copy()
            result.image.info = dict(existing) if _opt("enable_pnginfo", True) else {}
            if _opt("enable_pnginfo", True):
                result.image.info["postprocessing"] = infotext
            if state is not None:
                state.assign_current_image(result.image)
            if save_output:
                path = save_extras_image(result.image, name if extras_mode != MODE_SINGLE else None,
                                         suffix=suffix, folder=outpath)
                logger.info("extras: saved %s", path)
                if result.caption:
                    write_caption(path, result.caption)
            if extras_mode != MODE_FOLDER or show_extras_results:
                outputs.append(result.image)
    return outputs, plaintext_to_html(infotext), ""


def run_postprocessing_webui(id_task: str, *args: Any, **kwargs: Any) -> tuple[list[Image.Image], str, str]:
    return run_postprocessing(*args, **kwargs)


def extras_script_args(*, resize_mode: int = 0, upscaling_resize: float = 2.0, max_side_length: int = 0,
                       upscaling_resize_w: int = 512, upscaling_resize_h: int = 512, upscaling_crop: bool = True,
                       extras_upscaler_1: str = "None", extras_upscaler_2: str = "None",
                       extras_upscaler_2_visibility: float = 0.0, gfpgan_visibility: float = 0.0,
                       codeformer_visibility: float = 0.0, codeformer_weight: float = 0.0
                       ) -> dict[str, dict[str, Any]]:
    """The Upscale, GFPGAN and CodeFormer scripts' arguments from the API's fields (A1111's mapping)."""
    return {
        "Upscale": {"upscale_enabled": True, "upscale_mode": resize_mode, "upscale_by": upscaling_resize,
                    "max_side_length": max_side_length, "upscale_to_width": upscaling_resize_w,
                    "upscale_to_height": upscaling_resize_h, "upscale_crop": upscaling_crop,
                    "upscaler_1_name": extras_upscaler_1, "upscaler_2_name": extras_upscaler_2,
                    "upscaler_2_visibility": extras_upscaler_2_visibility},
        "GFPGAN": {"enable": True, "gfpgan_visibility": gfpgan_visibility},
        "CodeFormer": {"enable": True, "codeformer_visibility": codeformer_visibility,
                       "codeformer_weight": codeformer_weight},
    }


def run_extras(extras_mode: int, resize_mode: int, image: Any, image_folder: Any, input_dir: str, output_dir: str,
               show_extras_results: bool, gfpgan_visibility: float, codeformer_visibility: float,
               codeformer_weight: float, upscaling_resize: float, upscaling_resize_w: int, upscaling_resize_h: int,
               upscaling_crop: bool, extras_upscaler_1: str, extras_upscaler_2: str,
               extras_upscaler_2_visibility: float, upscale_first: bool, save_output: bool = True,
               max_side_length: int = 0, scripts_args: dict[str, dict[str, Any]] | None = None
               ) -> tuple[list[Image.Image], str, str]:
    """A1111's old entry point (the API's): the named fields become the scripts' arguments.
    `upscale_first` is accepted and, as in A1111 1.10, has no effect (the order setting decides).
    `scripts_args` adds other scripts' arguments by script name (this server's API field
    `scripts`)."""
    named = extras_script_args(
        resize_mode=resize_mode, upscaling_resize=upscaling_resize, max_side_length=max_side_length,
        upscaling_resize_w=upscaling_resize_w, upscaling_resize_h=upscaling_resize_h, upscaling_crop=upscaling_crop,
        extras_upscaler_1=extras_upscaler_1, extras_upscaler_2=extras_upscaler_2,
        extras_upscaler_2_visibility=extras_upscaler_2_visibility, gfpgan_visibility=gfpgan_visibility,
        codeformer_visibility=codeformer_visibility, codeformer_weight=codeformer_weight)
    args = scripts_postproc.create_args_for_run(named)
    if scripts_args:
        # the other scripts' arguments: what the caller gives, its controls' defaults for the rest
        extra = scripts_postproc.create_args_for_run(scripts_args, fill_defaults=True)
        for script in scripts_postproc.scripts_in_preferred_order():
            if script.name in scripts_args:
                args[script.args_from:script.args_to] = extra[script.args_from:script.args_to]
    return run_postprocessing(extras_mode, image, image_folder, input_dir, output_dir, show_extras_results, *args,
                              save_output=save_output)
