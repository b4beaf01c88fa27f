"""A1111's Extras-tab script classes, so extensions that define them import cleanly.

Their classes are collected by modules.scripts.load_scripts (postprocessing_scripts_data); the
Extras tab does not run them yet (docs/compatibility.md).
"""
from __future__ import annotations

from typing import Any


class PostprocessedImageSharedInfo:
    def __init__(self, target_width: int | None = None, target_height: int | None = None):
        self.target_width = target_width
        self.target_height = target_height


class PostprocessedImage:
    def __init__(self, image):
        self.image = image
        self.info: dict[str, Any] = {}
        self.shared = PostprocessedImageSharedInfo()
        self.extra_images: list = []
        self.nametags: list[str] = []
        self.disable_processing = False
        self.caption = None

    def get_suffix(self, used_suffixes=None) -> str:
        return "-".join(self.nametags) if self.nametags else ""


class ScriptPostprocessing:
    filename: str | None = None
    controls = None
    args_from: int | None = None
    args_to: int | None = None
    order = 1000                 # lower runs first
    name: str | None = None
    group = None

    def ui(self) -> dict:
        """Components by argument name; their values reach process() as keyword arguments."""
        return {}

    def process(self, pp: PostprocessedImage, **args) -> None: ...
    def process_firstpass(self, pp: PostprocessedImage, **args) -> None: ...
    def image_changed(self) -> None: ...
