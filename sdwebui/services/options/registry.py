"""A1111 1.10's option keys, defaults, labels, sections and categories (A1111's
`modules.shared_options`, and the options its built-in extensions register), gathered from
`sections/`, one file per settings category.

Keys are spelled exactly as in A1111 so existing clients and config.json files work. Choices that
depend on files on disk (the VAEs) are callables the runtime hands in once its registries exist.
"""
from __future__ import annotations

import functools
from pathlib import Path

from typing import Callable

from sdwebui.services.options.info import OptionInfo, categories
from sdwebui.services.options.sections import postprocessing, saving, sd, system, training, ui, uncategorized
from sdwebui.services.options.sections.saving import IMAGE_FORMATS  # noqa: F401  (kept importable here)

# A1111's categories, in its order: the Settings tab groups sections under these headings
for _cid, _label in (("saving", "Saving images"), ("sd", "Stable Diffusion"), ("ui", "User Interface"),
                     ("system", "System"), ("postprocessing", "Postprocessing"), ("training", "Training")):
    categories.register_category(_cid, _label)

# A1111: the options --hide-ui-dir-config makes read-only (paths on the server's disk)
restricted_opts = {
    "samples_filename_pattern", "directories_filename_pattern", "outdir_samples", "outdir_txt2img_samples",
    "outdir_img2img_samples", "outdir_extras_samples", "outdir_grids", "outdir_txt2img_grids", "outdir_save",
    "outdir_init_images", "temp_dir", "clean_temp_dir_at_start",
}

# A1111: the options it builds with `component_args=shared.hide_dirs`, which --hide-ui-dir-config
# leaves out of the Settings tab (and, being invisible, refuses to change)
hide_dirs_opts = {
    "samples_filename_pattern", "save_images_add_number", "save_images_replace_action", "grid_zip_filename_pattern",
    "outdir_samples", "outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples", "outdir_grids",
    "outdir_txt2img_grids", "outdir_img2img_grids", "outdir_save", "outdir_init_images",
    "directories_filename_pattern", "directories_max_prompt_words",
}

# in A1111's category order, which is the order its Settings tab shows them in
_SECTION_MODULES = (saving, sd, ui, system, postprocessing, training, uncategorized)

# key -> why the option is kept (saved, shown, sent through the API) but changes nothing here
INERT: dict[str, str] = {k: why for m in _SECTION_MODULES for k, why in m.INERT.items()}


def templates(vae_choices: Callable[[], list[str]] | None = None,
              localization_choices: Callable[[], list[str]] | None = None,
              face_restorer_choices: Callable[[], list[str]] | None = None,
              module_choices: Callable[[], list[str]] | None = None) -> dict[str, OptionInfo]:
    """A fresh OptionInfo for every key (every call builds new objects: an Options store may
    change them, e.g. by reorder()). The choices callables list files on disk (the runtime's) and
    the registered face restorers."""
    t: dict[str, OptionInfo] = {}
    for module in _SECTION_MODULES:
        if module is sd:
            t.update(sd.options(vae_choices, module_choices))
        elif module is ui:
            t.update(ui.options(localization_choices))
        elif module is postprocessing:
            t.update(postprocessing.options(face_restorer_choices))
        else:
            t.update(module.options())
    return t


@functools.cache
def builtin_keys() -> frozenset[str]:
    """The app's own option keys; any other key in an Options store is an extension's."""
    return frozenset(templates())


# the output folders' options whose defaults name a folder of the data dir
OUTPUT_DIR_KEYS = ("outdir_txt2img_samples", "outdir_img2img_samples", "outdir_extras_samples", "outdir_txt2img_grids",
                   "outdir_img2img_grids", "outdir_save", "outdir_init_images")


def anchor_output_dirs(templates: dict[str, OptionInfo], data_dir: Path, webui_dir: Path) -> None:
    """A1111's defaults for the output folders: relative ("outputs/txt2img-images") when the data dir is
    the web UI's folder, else absolute in the data dir (A1111 makes them relative to its folder when it
    can). Here a relative value is taken against the data dir; extensions that read these options take
    it against the web UI's folder (images-browser lists the folders they name), so a data dir
    elsewhere gets absolute defaults that mean the same to both."""
    if Path(data_dir).resolve() == Path(webui_dir).resolve():
        return
    for key in OUTPUT_DIR_KEYS:
        info = templates.get(key)
        if info is not None and info.default and not Path(info.default).is_absolute():
            info.default = str(Path(data_dir) / info.default)
