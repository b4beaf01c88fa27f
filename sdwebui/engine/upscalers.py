"""Image upscalers for Extras (and anything else that needs "upscale this picture by N").

Built in, as A1111 lists them first: "None", "Lanczos", "Nearest". Then every model file found under
models/ESRGAN, models/RealESRGAN, models/SwinIR, models/DAT, models/HAT and models/ScuNET, listed by
file stem. Model files are recognised and run with the `spandrel` library, which detects the
architecture (ESRGAN, Real-ESRGAN compact, SwinIR, DAT, HAT, SCUNet, ...) and its scale from the
state dict alone (`upscaler_models`), so no per-architecture code lives here. Model files that cannot
be used are listed by `skipped()` with the reason, never raised from `refresh()`.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from PIL import Image

from sdwebui.engine import devices, upscaler_models
from sdwebui.engine.upscaler_models import ModelMeta

logger = logging.getLogger(__name__)

BUILTIN_NAMES: tuple[str, ...] = ("None", "Lanczos", "Nearest")
# Sub folders of the models dir scanned for upscaler files, in listing order (A1111's folder names).
MODEL_DIRS: tuple[str, ...] = ("ESRGAN", "RealESRGAN", "SwinIR", "DAT", "HAT", "ScuNET")
MODEL_EXTENSIONS: tuple[str, ...] = (".pth", ".pt", ".safetensors", ".ckpt")
# A1111 reports scale 4 for the built-ins (UpscalerData's default); kept so /upscalers matches.
BUILTIN_SCALE = 4.0
# Largest output side accepted. Bounds memory: an 8192x8192 RGB result is 200 MB as uint8.
MAX_OUTPUT_SIDE = 8192
# A model pass never produces more pixels than this (the overshoot of the last pass, e.g. a 4x model
# asked for x6, is otherwise computed in full and then shrunk). Beyond it the input of the last pass
# is shrunk first instead, so memory stays bounded.
MAX_INTERMEDIATE_PIXELS = 2 * MAX_OUTPUT_SIDE * MAX_OUTPUT_SIDE
# A1111 runs at most three model passes to reach the target (a 4x model asked for x8 runs twice).
MAX_PASSES = 3
DEFAULT_TILE = 192      # input pixels per tile side; A1111's ESRGAN default
DEFAULT_TILE_PAD = 16   # context pixels around each tile, cut off the output, so seams do not show
MIN_TILE = 32           # tile side below which an out-of-memory error is given up on


# an upscaler from outside the model folders: (image, target size) -> image
ExternalUpscale = Callable[[Image.Image, tuple[int, int]], Image.Image]


@dataclass
class UpscalerInfo:
    """One /sdapi/v1/upscalers item: {name, model_name, model_path, model_url, scale}."""
    name: str
    model_name: str | None
    model_path: str | None
    model_url: None
    scale: float


@dataclass
class SkippedUpscaler:
    """A model file that was found but cannot be used, and why."""
    name: str
    path: str
    reason: str


class UpscalerError(ValueError):
    """A bad upscaler request: unknown or unusable name, bad scale or size. `field` names the request
    field at fault so the API layer can point at it."""

    def __init__(self, message: str, field: str = "upscaler_1") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class _ModelEntry:
    info: UpscalerInfo
    path: Path
    meta: ModelMeta
    stamp: tuple[int, int]  # (size, mtime_ns) when listed: a changed file must be loaded again


@dataclass
class _LoadedModel:
    path: Path
    stamp: tuple[int, int]
    descriptor: Any  # spandrel.ImageModelDescriptor
    dtype: torch.dtype
    meta: ModelMeta


# ---------------------------------------------------------------------------------------------
# image helpers

def _round(v: float) -> int:
    # Half-up rather than Python's banker's rounding, so 2.5 px becomes 3 like most resizers.
    return int(math.floor(v + 0.5))


def target_size(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, _round(width * scale)), max(1, _round(height * scale))


def _working_mode(image: Image.Image) -> str:
    """The mode an image is processed and returned in. Common modes are kept as they are; palette
    and exotic modes (P, 1, I;16, CMYK...) are expanded because resampling them is lossy or
    unsupported."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return mode
    if mode in ("La",):
        return "LA"
    if mode in ("RGBa", "PA"):
        return "RGBA"
    if mode == "P":
        return "RGBA" if "transparency" in image.info else "RGB"
    if mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
        return "L"
    return "RGBA" if "A" in image.getbands() else "RGB"


def _pil_resize(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    if image.size == size:
        return image.copy()
    # Pillow premultiplies alpha for RGBA/LA when filtering, so transparent pixels do not bleed.
    return image.resize(size, resample=resample)


def _tiles(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            yield y0, min(y0 + tile, height), x0, min(x0 + tile, width)


_OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None))
    if isinstance(t, type))


# ---------------------------------------------------------------------------------------------

class UpscalerRegistry:
    """The upscalers available to Extras: built-ins plus model files. One model is resident at a
    time, loaded on first use; `unload()` frees it."""

    def __init__(self, models_dir: Path, device: torch.device, dtype: torch.dtype,
                 dirs: Mapping[str, Path] | None = None) -> None:
        self.models_dir = Path(models_dir)
        # MODEL_DIRS name -> folder, where a flag moved it (--esrgan-models-path ...)
        self.dirs = {name: Path(d) for name, d in (dirs or {}).items()}
        self.device = torch.device(device)
        self.dtype = dtype
        self.tile_size = DEFAULT_TILE
        self.tile_pad = DEFAULT_TILE_PAD
        self._lock = threading.RLock()
        self._entries: dict[str, _ModelEntry] = {}        # lower-cased name -> entry
        self._skipped: dict[str, SkippedUpscaler] = {}    # lower-cased name -> why it is unusable
        self._infos: list[UpscalerInfo] | None = None
        self._external: dict[str, tuple[UpscalerInfo, ExternalUpscale]] = {}
        # Detection results, so a refresh does not load unchanged files again.
        self._meta_cache: dict[tuple[str, int, int], ModelMeta | str] = {}
        self._loaded: _LoadedModel | None = None

    # -- listing ------------------------------------------------------------------------------

    def _model_files(self) -> Iterator[Path]:
        for sub in MODEL_DIRS:
            folder = self.dirs.get(sub, self.models_dir / sub)
            if not folder.is_dir():
                continue
            files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MODEL_EXTENSIONS]
            yield from sorted(files, key=lambda p: (str(p.relative_to(folder).parent).lower(), p.name.lower()))

    def _probe(self, path: Path) -> ModelMeta:
        """Detect a file's architecture and scale (loading it once on the CPU: spandrel only knows
        the scale after building the model). Cached; raises ValueError with the reason."""
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        cached = self._meta_cache.get(key)
        if cached is None:
            try:
                descriptor = upscaler_models.load_descriptor(path)
                cached = upscaler_models.describe(descriptor)
                del descriptor
            except (ValueError, RuntimeError) as e:
                cached = str(e)
            self._meta_cache[key] = cached
        if isinstance(cached, str):
            raise ValueError(cached)
        return cached

    def refresh(self) -> list[UpscalerInfo]:
        """Rescan the model folders. Never raises for a bad file: it goes to `skipped()`."""
        with self._lock:
            infos = [UpscalerInfo(name=n, model_name=None, model_path=None, model_url=None, scale=BUILTIN_SCALE)
                     for n in BUILTIN_NAMES]
            taken = {n.lower(): "built-in upscaler" for n in BUILTIN_NAMES}
            entries: dict[str, _ModelEntry] = {}
            skipped: dict[str, SkippedUpscaler] = {}
            for path in self._model_files():
                name = path.stem
                key = name.lower()
                if key in taken:
                    # Names must stay unique: requests pick upscalers by name alone.
                    reason = f"duplicate name, already used by {taken[key]}"
                    logger.warning("upscaler %s skipped: %s", path, reason)
                    skipped.setdefault(key, SkippedUpscaler(name, str(path), reason))
                    continue
                taken[key] = str(path)
                try:
                    meta = self._probe(path)
                except Exception as e:  # anything at all: one bad file must not break the list
                    reason = str(e) or type(e).__name__
                    logger.warning("upscaler %s skipped: %s", path, reason)
                    skipped[key] = SkippedUpscaler(name, str(path), reason)
                    continue
                info = UpscalerInfo(name=name, model_name=meta.architecture, model_path=str(path.resolve()),
                                    model_url=None, scale=float(meta.scale))
                st = path.stat()
                entries[key] = _ModelEntry(info=info, path=path, meta=meta, stamp=(st.st_size, st.st_mtime_ns))
                infos.append(info)
            self._entries, self._skipped, self._infos = entries, skipped, infos
            # A resident model whose file disappeared or changed is dropped.
            if self._loaded is not None and not any(e.path == self._loaded.path and e.stamp == self._loaded.stamp
                                                    for e in entries.values()):
                self.unload()
            logger.info("upscalers: %d model file(s) usable, %d skipped", len(entries), len(skipped))
            return list(infos)

    def list(self) -> list[UpscalerInfo]:
        with self._lock:
            infos = self.refresh() if self._infos is None else list(self._infos)
            taken = {i.name.lower() for i in infos}
            return infos + [info for info, _fn in self._external.values() if info.name.lower() not in taken]

    def set_external(self, upscalers: list[tuple[UpscalerInfo, ExternalUpscale]]) -> None:
        """Upscalers that live outside the model folders (an extension's A1111 `Upscaler` subclass):
        each an info and a function (image, size) -> image. Listed after the built-in and file ones;
        a name those already use is skipped."""
        with self._lock:
            self._external = {info.name.lower(): (info, fn) for info, fn in upscalers}

    def skipped(self) -> list[SkippedUpscaler]:
        """Model files found but not usable, with the reason (unreadable, unsupported, duplicate...)."""
        with self._lock:
            if self._infos is None:
                self.refresh()
            return list(self._skipped.values())

    def names(self) -> list[str]:
        return [i.name for i in self.list()]

    def get(self, name: str, field: str = "upscaler_1") -> UpscalerInfo:
        """Look an upscaler up by name, case-insensitively."""
        infos = self.list()
        key = (name or "").strip().lower()
        for info in infos:
            if info.name.lower() == key:
                return info
        with self._lock:
            bad = self._skipped.get(key)
        if bad is not None:
            raise UpscalerError(f"{field}: upscaler '{name}' ({bad.path}) cannot be used: {bad.reason}", field)
        raise UpscalerError(f"{field}: unknown upscaler '{name}'; valid upscalers are: "
                            + ", ".join(i.name for i in infos), field)

    # -- running ------------------------------------------------------------------------------

    def unload(self) -> None:
        """Free the resident model (and its GPU memory)."""
        with self._lock:
            if self._loaded is None:
                return
            logger.info("unloading upscaler model %s", self._loaded.path.name)
            self._loaded = None
        devices.torch_gc()

    def _model_dtype(self, descriptor: Any) -> torch.dtype:
        """fp16 only on an accelerator and only where the architecture supports it (SwinIR, DAT, HAT
        overflow in fp16: spandrel marks them supports_half=False); everything else runs in fp32.
        bf16 is not used even where spandrel claims support: SwinIR's attention then fails with a
        dtype mismatch (seen on an H200), and bf16's 8-bit mantissa is coarse for image output."""
        if self.device.type == "cpu" or self.dtype == torch.float32:
            return torch.float32
        if self.dtype in (torch.float16, torch.bfloat16) and descriptor.supports_half:
            return torch.float16
        return torch.float32

    def _load(self, entry: _ModelEntry) -> _LoadedModel:
        with self._lock:
            if self._loaded is not None and (self._loaded.path, self._loaded.stamp) == (entry.path, entry.stamp):
                return self._loaded
            self.unload()  # only one model resident
            logger.info("loading upscaler model %s (%s x%d)", entry.path, entry.meta.architecture, entry.meta.scale)
            try:
                descriptor = upscaler_models.load_descriptor(entry.path)
                meta = upscaler_models.describe(descriptor)
            except (ValueError, RuntimeError) as e:
                # The file changed since the listing: remember why and report it like a skipped file.
                reason = str(e)
                self._skipped[entry.info.name.lower()] = SkippedUpscaler(entry.info.name, str(entry.path), reason)
                self._entries.pop(entry.info.name.lower(), None)
                if self._infos is not None:
                    self._infos = [i for i in self._infos if i is not entry.info]
                raise UpscalerError(f"upscaler '{entry.info.name}' ({entry.path}) cannot be used: {reason}") from e
            dtype = self._model_dtype(descriptor)
            descriptor.to(self.device, dtype).eval()
            self._loaded = _LoadedModel(path=entry.path, stamp=entry.stamp, descriptor=descriptor, dtype=dtype,
                                        meta=meta)
            return self._loaded

    def _run_model(self, loaded: _LoadedModel, image: Image.Image) -> Image.Image:
        """One model pass over an "L" or "RGB" image, tiled so memory stays bounded whatever the
        image size. Each tile is run with `tile_pad` pixels of context that are cut off again."""
        meta = loaded.meta
        channels = meta.input_channels
        src = image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
        arr = np.asarray(src)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        x = torch.from_numpy(np.array(arr)).permute(2, 0, 1).unsqueeze(0)  # 1CHW uint8 (a writable copy)
        h, w = arr.shape[:2]
        s = meta.scale
        out = np.empty((h * s, w * s, meta.output_channels), dtype=np.uint8)
        tiling = getattr(loaded.descriptor, "tiling", None)
        whole = tiling is not None and getattr(tiling, "name", "") == "INTERNAL"
        # Models that need global context (SwinIR, SCUNet: "DISCOURAGED") get larger tiles.
        discouraged = tiling is not None and getattr(tiling, "name", "") == "DISCOURAGED"
        tile = max(h, w) if whole else self.tile_size * (2 if discouraged else 1)
        pad = self.tile_pad * (2 if discouraged else 1)
        while True:
            try:
                self._run_tiles(loaded, x, out, tile, pad)
                break
            except _OOM_ERRORS:
                if tile <= MIN_TILE:
                    raise
                tile = max(MIN_TILE, tile // 2)
                logger.warning("upscaler ran out of memory; retrying with %dpx tiles", tile)
                devices.torch_gc()
        if meta.output_channels == 1:
            return Image.fromarray(out[:, :, 0], "L")
        return Image.fromarray(out, {3: "RGB", 4: "RGBA"}[meta.output_channels]).convert("RGB")

    @torch.inference_mode()
    def _run_tiles(self, loaded: _LoadedModel, x: torch.Tensor, out: np.ndarray, tile: int, pad: int) -> None:
        """Fill `out` (H*s, W*s, C uint8) from `x` (1, C, H, W uint8), one tile at a time."""
        h, w = x.shape[-2:]
        s = loaded.meta.scale
        for y0, y1, x0, x1 in _tiles(h, w, tile):
            cy0, cy1 = max(0, y0 - pad), min(h, y1 + pad)
            cx0, cx1 = max(0, x0 - pad), min(w, x1 + pad)
            t = x[:, :, cy0:cy1, cx0:cx1].to(self.device).to(loaded.dtype).div_(255)
            y = loaded.descriptor(t)
            if y.shape[-2:] != ((cy1 - cy0) * s, (cx1 - cx0) * s):
                raise RuntimeError(f"model returned {tuple(y.shape)} for a {cx1 - cx0}x{cy1 - cy0} tile")
            y = y[0, :, (y0 - cy0) * s:(y1 - cy0) * s, (x0 - cx0) * s:(x1 - cx0) * s]
            out[y0 * s:y1 * s, x0 * s:x1 * s] = (
                y.float().mul_(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy())

    def _upscale_color(self, image: Image.Image, size: tuple[int, int], entry: _ModelEntry) -> Image.Image:
        """Model passes until the image is at least `size` (at most MAX_PASSES, as A1111), then a
        Lanczos resize to exactly `size`. `image` is "L" or "RGB"."""
        loaded = self._load(entry)
        s = loaded.meta.scale
        tw, th = size
        img = image
        for _ in range(MAX_PASSES):
            if img.width >= tw and img.height >= th:
                break
            last = img.width * s >= tw and img.height * s >= th
            if last and img.width * s * img.height * s > MAX_INTERMEDIATE_PIXELS:
                # Shrink the input of the final pass so its output is about the target, not a
                # huge overshoot that would be shrunk afterwards anyway.
                img = _pil_resize(img, (max(1, math.ceil(tw / s)), max(1, math.ceil(th / s))),
                                  Image.Resampling.LANCZOS)
            before = img.size
            img = self._run_model(loaded, img)
            if img.size == before:  # a 1x model (SCUNet): more passes would change nothing
                break
        if img.mode != image.mode:
            img = img.convert(image.mode)
        return _pil_resize(img, size, Image.Resampling.LANCZOS)

    def upscale_to_size(self, image: Image.Image, size: tuple[int, int], name: str, *,
                        field: str = "upscaler_1") -> Image.Image:
        """Upscale (or shrink) `image` to exactly `size` with the named upscaler."""
        info = self.get(name, field)
        tw, th = size
        if tw < 1 or th < 1 or tw > MAX_OUTPUT_SIDE or th > MAX_OUTPUT_SIDE:
            raise UpscalerError(f"output size {tw}x{th} is out of range (1..{MAX_OUTPUT_SIDE} per side)", field)
        mode = _working_mode(image)
        img = image if image.mode == mode else image.convert(mode)
        key = info.name.lower()
        if key == "nearest":
            result = _pil_resize(img, size, Image.Resampling.NEAREST)
        elif key in ("lanczos", "none"):
            # "None" does nothing itself; A1111 then brings the result to the target with Lanczos.
            result = _pil_resize(img, size, Image.Resampling.LANCZOS)
        elif key not in self._entries and key in self._external:
            result = self._external[key][1](img, size)
            if result.size != size:     # an extension's upscaler lands near the size; the rest by Lanczos
                result = _pil_resize(result, size, Image.Resampling.LANCZOS)
        else:
            with self._lock:
                entry = self._entries.get(key)
            if entry is None:  # removed by a concurrent refresh
                raise UpscalerError(f"{field}: upscaler '{name}' is no longer available", field)
            alpha = img.getchannel("A") if "A" in img.getbands() else None
            color = img.convert("L" if mode in ("L", "LA") else "RGB") if alpha is not None else img
            with self._lock:  # one model, one run at a time
                result = self._upscale_color(color, size, entry)
            if alpha is not None:
                # Models know nothing of transparency: the alpha channel is resized on its own.
                result.putalpha(_pil_resize(alpha, size, Image.Resampling.LANCZOS))
        if result.mode != mode:
            result = result.convert(mode)
        return result

    def upscale(self, image: Image.Image, scale: float, name: str, *, field: str = "upscaler_1",
                scale_field: str = "upscaling_resize") -> Image.Image:
        """Upscale by `scale` to round(w*scale) x round(h*scale); see module docs for each kind."""
        check_scale(image.size, scale, scale_field)
        return self.upscale_to_size(image, target_size(image.width, image.height, scale), name, field=field)


def check_scale(size: tuple[int, int], scale: float, field: str = "upscaling_resize") -> tuple[int, int]:
    """The output size of scaling `size` by `scale`; UpscalerError when the scale is not a positive
    number or the result would be larger than MAX_OUTPUT_SIDE."""
    try:
        ok = math.isfinite(float(scale)) and float(scale) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UpscalerError(f"{field}: scale must be a number greater than 0, got {scale!r}", field)
    w, h = size
    tw, th = target_size(w, h, float(scale))
    if tw > MAX_OUTPUT_SIDE or th > MAX_OUTPUT_SIDE:
        raise UpscalerError(f"{field}: scaling {w}x{h} by {scale} gives {tw}x{th}, larger than the maximum "
                            f"{MAX_OUTPUT_SIDE}x{MAX_OUTPUT_SIDE}", field)
    return tw, th
