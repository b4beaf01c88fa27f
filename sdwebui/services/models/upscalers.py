"""A1111's upscaler classes (`modules.upscaler`) and `shared.sd_upscalers`.

The app's upscalers are the engine's registry (`engine/upscalers.py`: the built-ins and the model
files spandrel reads). Extensions see them as A1111 shows them: `shared.sd_upscalers`, a list of
`UpscalerData` whose `.scaler.upscale(img, scale, data_path)` runs the registry. An extension that
defines its own `Upscaler` subclass (A1111's way to add one) is found by `load_upscalers()`, as A1111's
modelloader does, and handed to the registry, so Extras and hires fix can use it by name.
"""
from __future__ import annotations

import logging
import os
from abc import abstractmethod
from typing import Any

from PIL import Image

from sdwebui.engine.upscalers import UpscalerInfo
from sdwebui.services import runtime

logger = logging.getLogger(__name__)

__all__ = ["LANCZOS", "NEAREST", "Upscaler", "UpscalerData", "UpscalerLanczos", "UpscalerNearest", "UpscalerNone",
           "load_upscalers", "sd_upscalers"]

LANCZOS = Image.Resampling.LANCZOS
NEAREST = Image.Resampling.NEAREST


class Upscaler:
    """A1111's upscaler base class: a subclass sets `name`, fills `self.scalers` with UpscalerData in
    its __init__ and implements `do_upscale(img, selected_model)`; `upscale()` repeats it (at most
    three passes) until the image reaches the requested scale."""

    name: str | None = None
    model_path: str | None = None
    model_name: str | None = None
    model_url: str | None = None
    enable = True
    filter = None
    model = None
    user_path: str | None = None
    scalers: list
    tile = True

    def __init__(self, create_dirs: bool = False) -> None:
        opts = runtime.opts
        self.mod_pad_h = None
        self.tile_size = getattr(opts, "ESRGAN_tile", 192) if opts is not None else 192
        self.tile_pad = getattr(opts, "ESRGAN_tile_overlap", 8) if opts is not None else 8
        self.device = runtime.device
        self.img = None
        self.output = None
        self.scale = 1
        self.half = not bool(getattr(runtime.cmd_opts, "no_half", False))
        self.pre_pad = 0
        self.mod_scale = None
        self.model_download_path = None
        self.can_tile = True
        if self.model_path is None and self.name and runtime.paths is not None:
            self.model_path = os.path.join(runtime.paths.models, self.name)
        if self.model_path and create_dirs:
            os.makedirs(self.model_path, exist_ok=True)

    @abstractmethod
    def do_upscale(self, img: Image.Image, selected_model: str | None) -> Image.Image:
        return img

    def upscale(self, img: Image.Image, scale: float, selected_model: str | None = None) -> Image.Image:
        self.scale = scale
        dest_w, dest_h = int((img.width * scale) // 8 * 8), int((img.height * scale) // 8 * 8)
        for i in range(3):
            if img.width >= dest_w and img.height >= dest_h and (i > 0 or scale != 1):
                break
            if runtime.state.interrupted:
                break
            shape = img.size
            img = self.do_upscale(img, selected_model)
            if img.size == shape:
                break
        if img.size != (dest_w, dest_h):
            img = img.resize((dest_w, dest_h), resample=LANCZOS)
        return img

    @abstractmethod
    def load_model(self, path: str) -> Any:
        pass

    def find_models(self, ext_filter: list[str] | None = None) -> list[str]:
        """Model files in this upscaler's folder (and its user path)."""
        from sdwebui.services.util import walk_files

        found: list[str] = []
        for folder in (self.model_path, self.user_path):
            if folder and os.path.isdir(folder):
                found += [f for f in walk_files(folder, ext_filter) if f not in found]
        return found

    def update_status(self, prompt: str) -> None:
        logger.info("extras: %s", prompt)


class UpscalerData:
    name: str | None = None
    data_path: str | None = None
    scale: float = 4
    scaler: Upscaler | None = None
    model: Any = None

    def __init__(self, name: str, path: str | None, upscaler: Upscaler | None = None, scale: float = 4,
                 model: Any = None) -> None:
        self.name = name
        self.data_path = path
        self.local_data_path = path
        self.scaler = upscaler
        self.scale = scale
        self.model = model

    @property
    def model_path(self) -> str | None:
        return self.data_path

    @property
    def model_name(self) -> str | None:
        return getattr(self.model, "architecture", None) or (self.scaler.model_name if self.scaler else None)

    def __repr__(self) -> str:
        return f"<UpscalerData name={self.name} path={self.data_path} scale={self.scale}>"


class UpscalerNone(Upscaler):
    name = "None"
    scalers: list = []

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.scalers = [UpscalerData("None", None, self)]

    def load_model(self, path: str) -> None:
        pass

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img


class UpscalerLanczos(Upscaler):
    scalers: list = []

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.name = "Lanczos"
        self.scalers = [UpscalerData("Lanczos", None, self)]

    def load_model(self, path: str) -> None:
        pass

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=LANCZOS)


class UpscalerNearest(Upscaler):
    scalers: list = []

    def __init__(self, dirname: str | None = None) -> None:
        super().__init__(False)
        self.name = "Nearest"
        self.scalers = [UpscalerData("Nearest", None, self)]

    def load_model(self, path: str) -> None:
        pass

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=NEAREST)


class RegistryUpscaler(Upscaler):
    """A model file of the app's registry, as A1111's per-architecture upscaler classes show one."""

    def __init__(self, info: UpscalerInfo) -> None:
        self.name = info.name
        self.model_name = info.model_name
        super().__init__(False)
        self.model_path = info.model_path
        self.scalers = [UpscalerData(info.name, info.model_path, self, scale=info.scale)]

    def load_model(self, path: str) -> None:
        pass

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        size = (round(img.width * self.scale), round(img.height * self.scale))
        return runtime.upscalers.upscale_to_size(img, size, self.name)


_BUILTIN = {"none": UpscalerNone, "lanczos": UpscalerLanczos, "nearest": UpscalerNearest}
_OWN_CLASSES = (UpscalerNone, UpscalerLanczos, UpscalerNearest, RegistryUpscaler)
_extension_data: list[UpscalerData] = []
_cache: tuple[tuple, list[UpscalerData]] | None = None


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def load_upscalers() -> list[UpscalerData]:
    """Find the extensions' Upscaler subclasses (as A1111's modelloader.load_upscalers does; the
    newest definition of a reloaded class wins), make their UpscalerData and hand them to the
    registry. Returns the new `shared.sd_upscalers`."""
    global _extension_data, _cache
    newest: dict[str, type] = {}
    for cls in _subclasses(Upscaler):
        if cls not in _OWN_CLASSES and not getattr(cls, "__abstractmethods__", None):
            newest[f"{cls.__module__}.{cls.__qualname__}"] = cls
    found: list[UpscalerData] = []
    flags = vars(runtime.cmd_opts) if runtime.cmd_opts is not None else {}
    for cls in newest.values():
        user_path = flags.get(f"{cls.__name__.lower().replace('upscaler', '')}_models_path")
        try:
            scaler = cls(user_path)
        except Exception:   # one broken extension upscaler must not hide the others
            logger.exception("upscaler class %s could not be created", cls.__qualname__)
            continue
        scaler.user_path = user_path
        found += list(getattr(scaler, "scalers", []) or [])
    _extension_data, _cache = found, None
    if runtime.upscalers is not None:
        runtime.upscalers.set_external([(_info(d), _runner(d)) for d in found])
    return sd_upscalers()


def _info(data: UpscalerData) -> UpscalerInfo:
    return UpscalerInfo(name=data.name, model_name=data.model_name, model_path=data.data_path, model_url=None,
                        scale=float(data.scale))


def _runner(data: UpscalerData):
    def run(img: Image.Image, size: tuple[int, int]) -> Image.Image:
        scale = max(size[0] / img.width, size[1] / img.height)
        return data.scaler.upscale(img, scale, data.data_path)
    return run


def sd_upscalers() -> list[UpscalerData]:
    """`shared.sd_upscalers`: "None", "Lanczos", "Nearest", the model files, then the extensions'
    (the registry's order), rebuilt when the registry's list changes."""
    global _cache
    infos = runtime.upscalers.list() if runtime.upscalers is not None else []
    key = tuple((i.name, i.model_path) for i in infos)
    if _cache is not None and _cache[0] == key:
        return _cache[1]
    by_name = {d.name.lower(): d for d in _extension_data}
    out: list[UpscalerData] = []
    for info in infos:
        lower = info.name.lower()
        if lower in _BUILTIN:
            out += _BUILTIN[lower]().scalers
        elif lower in by_name and info.model_path == by_name[lower].data_path:
            out.append(by_name[lower])
        else:
            out += RegistryUpscaler(info).scalers
    _cache = (key, out)
    return out
