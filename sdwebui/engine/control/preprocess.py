"""ControlNet preprocessors (sd-webui-controlnet's "modules") and fitting a map to the generation size.

A preprocessor turns the unit's image (RGB uint8) into the control map at a working resolution
(the short side = `processor_res`); the map is then fitted to the target size by the unit's resize
mode. The pure image operations are here; those that need network weights are listed with the file
they need, and refused with that file's name when it is absent: nothing is ever downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Slider:
    name: str
    value: float
    min: float
    max: float
    step: float = 1.0

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "min": self.min, "max": self.max, "step": self.step}


RESOLUTION = Slider("Resolution", 512, 64, 2048, 8)
HIDDEN = Slider("", 0.5, 0.0, 1.0, 0.01)       # a slider the module does not show keeps this default


@dataclass(frozen=True)
class Preprocessor:
    name: str
    run: Callable[[np.ndarray, float, float], np.ndarray] | None
    sliders: tuple[Slider, ...] = (RESOLUTION,)     # resolution (when shown), then threshold a, b
    label: str | None = None                         # the UI's name when it differs
    needs: tuple[str, ...] = ()                      # weight files under the annotator folder
    model_free: bool = False
    fixed_resolution: int | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def has_resolution(self) -> bool:
        return bool(self.sliders) and self.sliders[0] is RESOLUTION

    def slider(self, which: str) -> Slider:
        """'res', 'a' or 'b': the slider, or the hidden default."""
        own = list(self.sliders[1:] if self.has_resolution else self.sliders)
        if which == "res":
            return RESOLUTION
        index = 0 if which == "a" else 1
        return own[index] if index < len(own) else HIDDEN


class PreprocessorError(ValueError):
    def __init__(self, message: str, field: str = "module"):
        super().__init__(message)
        self.field = field


def _canny(img: np.ndarray, low: float, high: float) -> np.ndarray:
    import cv2
    return cv2.Canny(img, int(low), int(high))


def _invert(img: np.ndarray, *_: float) -> np.ndarray:
    return 255 - img


def _threshold(img: np.ndarray, level: float, _: float) -> np.ndarray:
    return np.where(img.min(axis=2) > level, 255, 0).astype(np.uint8)


def _blur(img: np.ndarray, sigma: float, _: float) -> np.ndarray:
    import cv2
    return cv2.GaussianBlur(img, (0, 0), float(sigma))


def _tile_resample(img: np.ndarray, rate: float, _: float) -> np.ndarray:
    import cv2
    if rate < 1.1:
        return img
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, int(w / rate)), max(1, int(h / rate))), interpolation=cv2.INTER_AREA)


PURE = [
    Preprocessor("none", None, (), model_free=False),
    Preprocessor("canny", _canny, (RESOLUTION, Slider("Low Threshold", 100, 1, 255), Slider("High Threshold", 200, 1, 255)),
                 tags=("Canny",)),
    Preprocessor("invert", _invert, (RESOLUTION,), label="invert (from white bg & black line)",
                 tags=("Canny", "Lineart", "MLSD", "Scribble", "SoftEdge")),
    Preprocessor("threshold", _threshold, (RESOLUTION, Slider("Binarization Threshold", 127, 0, 255)),
                 tags=("Scribble",)),
    Preprocessor("blur_gaussian", _blur, (RESOLUTION, Slider("Sigma", 9.0, 0.01, 64.0, 0.01)), tags=("Tile",)),
    Preprocessor("tile_resample", _tile_resample, (RESOLUTION, Slider("Down Sampling Rate", 1.0, 1.0, 8.0, 0.01)),
                 tags=("Tile",)),
]

# those that need weights: (name, UI label, files under the annotator folder, tags)
WEIGHTED = [
    ("depth", "depth_midas", ("midas/dpt_hybrid-midas-501f0c75.pt",), ("Depth",)),
    ("depth_leres", "depth_leres", ("leres/res101.pth", "leres/latest_net_G.pth"), ("Depth",)),
    ("depth_zoe", "depth_zoe", ("zoedepth/ZoeD_M12_N.pt",), ("Depth",)),
    ("depth_anything", "depth_anything", ("depth_anything/depth_anything_vitl14.pth",), ("Depth",)),
    ("normal_map", "normal_midas", ("midas/dpt_hybrid-midas-501f0c75.pt",), ("NormalMap",)),
    ("normal_bae", "normal_bae", ("normal_bae/scannet.pt",), ("NormalMap",)),
    ("hed", "softedge_hed", ("hed/ControlNetHED.pth",), ("SoftEdge",)),
    ("hed_safe", "softedge_hedsafe", ("hed/ControlNetHED.pth",), ("SoftEdge",)),
    ("pidinet", "softedge_pidinet", ("pidinet/table5_pidinet.pth",), ("SoftEdge",)),
    ("scribble_hed", "scribble_hed", ("hed/ControlNetHED.pth",), ("Scribble",)),
    ("mlsd", "mlsd", ("mlsd/mlsd_large_512_fp32.pth",), ("MLSD",)),
    ("lineart", "lineart_realistic", ("lineart/sk_model.pth",), ("Lineart",)),
    ("lineart_coarse", "lineart_coarse", ("lineart/sk_model2.pth",), ("Lineart",)),
    ("lineart_anime", "lineart_anime", ("lineart_anime/netG.pth",), ("Lineart",)),
    ("openpose", "openpose", ("openpose/body_pose_model.pth",), ("OpenPose",)),
    ("openpose_full", "openpose_full", ("openpose/body_pose_model.pth", "openpose/hand_pose_model.pth",
                                        "openpose/facenet.pth"), ("OpenPose",)),
    ("segmentation", "seg_ufade20k", ("uniformer/upernet_global_small.pth",), ("Segmentation",)),
]


def _weighted(name: str, label: str, files: tuple[str, ...], tags: tuple[str, ...]) -> Preprocessor:
    return Preprocessor(name, None, (RESOLUTION,), label=label, needs=files, tags=tags)


ALL: dict[str, Preprocessor] = {p.name: p for p in PURE}
ALL.update({name: _weighted(name, label, files, tags) for name, label, files, tags in WEIGHTED})
_BY_LABEL = {(p.label or p.name): p for p in ALL.values()}


def find(name: str) -> Preprocessor:
    """By internal name or UI label (`depth` == `depth_midas`)."""
    found = ALL.get(name) or _BY_LABEL.get(name)
    if found is None:
        raise PreprocessorError(f"module({name}) not found in supported modules.")
    return found


def check_weights(pre: Preprocessor, annotator_dir: Path) -> None:
    missing = [f for f in pre.needs if not (annotator_dir / f).is_file()]
    if missing:
        raise PreprocessorError(f"preprocessor {pre.label or pre.name} needs {', '.join(missing)} in "
                                f"{annotator_dir} (no download is attempted); or send a ready map with module 'none'")
    if pre.needs:
        raise PreprocessorError(f"preprocessor {pre.label or pre.name} is not built in yet; send a ready map "
                                f"with module 'none'")


def _resize_short_side(img: np.ndarray, resolution: int) -> np.ndarray:
    import cv2
    h, w = img.shape[:2]
    k = resolution / min(h, w)
    if abs(k - 1) < 1e-6:
        return img
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)


def detect(pre: Preprocessor, img: np.ndarray, resolution: float, a: float, b: float) -> np.ndarray:
    """The control map (HxWx3 uint8) of an RGB uint8 image."""
    if pre.run is None:
        return img
    if pre.has_resolution:
        img = _resize_short_side(img, int(pre.fixed_resolution or resolution))
    out = pre.run(np.ascontiguousarray(img), a, b)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return out


RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")


def fit(img: np.ndarray, width: int, height: int, mode: str) -> np.ndarray:
    """The map at the target size: stretched, scaled to cover and centre-cropped, or scaled to fit
    and centred on its median border colour."""
    import cv2

    binary = bool(((img == 0) | (img == 255)).all())
    colours = 0 if binary else len(np.unique(img.reshape(-1, img.shape[2])[:40000], axis=0))

    def resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
        """Edge-aware, as the extension resizes maps: few colours (a segmentation) stay exact
        (nearest), a black-and-white map (edges) is made black-and-white again after smoothing."""
        if 3 <= colours < 200:
            return cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
        grow = w * h > a.shape[0] * a.shape[1]
        out = cv2.resize(a, (w, h), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
        if binary:
            gray = out.max(axis=2) if out.ndim == 3 else out
            _, gray = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            out = np.repeat(gray[:, :, None], a.shape[2], axis=2)
        return out

    h0, w0 = img.shape[:2]
    if mode == RESIZE_MODES[0]:
        return resize(img, width, height)
    cover = mode == RESIZE_MODES[1]
    k = max(width / w0, height / h0) if cover else min(width / w0, height / h0)
    w1, h1 = max(1, round(w0 * k)), max(1, round(h0 * k))
    scaled = resize(img, w1, h1)
    if cover:
        top, left = (h1 - height) // 2, (w1 - width) // 2
        return scaled[top:top + height, left:left + width]
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    out = np.empty((height, width, img.shape[2]), dtype=img.dtype)
    out[:] = np.median(border, axis=0).astype(img.dtype)
    top, left = (height - h1) // 2, (width - w1) // 2
    out[top:top + h1, left:left + w1] = scaled
    return out
