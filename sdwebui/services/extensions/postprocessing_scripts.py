"""A1111's Extras-tab script classes (`modules.scripts_postprocessing`): the image a postprocessing
script works on (`PostprocessedImage`) and the base class of those scripts (`ScriptPostprocessing`).

Their classes are collected by `load_scripts` (`scripts.postprocessing_scripts_data`): the built-in
ones from the root `scripts/` folder and `extensions-builtin/postprocessing-for-training`, and any
extension's. `postprocessing_runner.ScriptPostprocessingRunner` runs them in A1111's order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A1111 tries up to this many numbered suffixes before it gives up and reuses the plain one
_MAX_SUFFIX_TRIES = 100

# the ScriptClassData of every loaded ScriptPostprocessing class: load_scripts fills it (it is
# modules.scripts.postprocessing_scripts_data too), the runner reads it
postprocessing_scripts_data: list[Any] = []


@dataclass
class PostprocessedImageSharedInfo:
    """What the scripts agree on for one source image and all the copies made from it: the size
    the Upscale script is going to produce, which the crop and split scripts use as their target."""
    target_width: int | None = None
    target_height: int | None = None


class PostprocessedImage:
    """One image going through the postprocessing scripts, with what they note about it."""

    def __init__(self, image: Any):
        self.image = image
        self.info: dict[str, Any] = {}               # infotext fields ("Postprocess upscaler": ...)
        self.shared = PostprocessedImageSharedInfo()
        self.extra_images: list[Any] = []            # more outputs (PIL images or PostprocessedImage)
        self.nametags: list[str] = []                # joined into the saved file name's suffix
        self.disable_processing = False              # later scripts leave this one alone
        self.caption: str | None = None              # written beside the saved image as .txt

    def get_suffix(self, used_suffixes: dict[str, int] | None = None) -> str:
        """`-tag1-tag2`, numbered (`-tag-1`, `-tag-2` ...) when another output of the same source
        already took it, so copies never overwrite each other."""
        used = {} if used_suffixes is None else used_suffixes
        suffix = "-".join(self.nametags)
        if suffix:
            suffix = "-" + suffix
        if suffix not in used:
            used[suffix] = 1
            return suffix
        for i in range(1, _MAX_SUFFIX_TRIES):
            numbered = f"{suffix}-{i}"
            if numbered not in used:
                used[numbered] = 1
                return numbered
        return suffix

    def create_copy(self, new_image: Any, *, nametags: list[str] | None = None,
                    disable_processing: bool = False) -> PostprocessedImage:
        """A new output made from this one: same shared target, same infotext so far, its tags plus
        `nametags`."""
        pp = PostprocessedImage(new_image)
        pp.shared = self.shared
        pp.nametags = self.nametags.copy() + list(nametags or [])
        pp.info = self.info.copy()
        pp.disable_processing = disable_processing
        return pp


class ScriptPostprocessing:
    """Base class of an Extras-tab script. Subclasses set `name` and `order` (lower runs earlier
    unless the postprocessing_operation_order setting says otherwise), build their controls in
    `ui()` and work in `process()`."""
    filename: str | None = None
    controls: dict[str, Any] | None = None
    args_from: int | None = None
    args_to: int | None = None
    order = 1000
    name: str | None = None
    group: Any = None            # the gr.Row holding the script's controls

    def ui(self) -> dict[str, Any]:
        """Components by argument name; their values reach process() as keyword arguments."""
        return {}

    def process(self, pp: PostprocessedImage, **args: Any) -> None:
        """Postprocess `pp` (replace pp.image, add to pp.info, append pp.extra_images ...)."""

    def process_firstpass(self, pp: PostprocessedImage, **args: Any) -> None:
        """Called for every script before any process(): look at the image and set fields of `pp`
        (pp.shared.target_width ...) that other scripts read."""

    def image_changed(self) -> None:
        """The Extras tab's source image changed (drop caches)."""
