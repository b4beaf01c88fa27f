"""ControlNet preprocessors (sd-webui-controlnet's "modules") and fitting a map to the generation size.

A preprocessor turns the unit's image (RGB uint8) into the control map at a working resolution
(the short side = `processor_res`); the map is then fitted to the target size by the unit's resize
mode. The pure image operations are here; those that need network weights are listed with the file
they need, and refused with that file's name when it is absent: nothing is ever downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass
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
    label: str
    priority: int = 0
    model_free: bool = False                         # works without a ControlNet model (reference_*)
    tags: tuple[str, ...] = ()
    resolution: Slider | None = None                 # None: the module takes no resolution
    a: Slider | None = None
    b: Slider | None = None
    legacy: bool = False                             # the extension's module_detail lists Resolution anyway
    run: Callable[[np.ndarray, float, float], np.ndarray] | None = None
    needs: tuple[str, ...] = ()                      # weight files under the annotator folder
    seeded: bool = False                             # random: `run` takes an `rng` (the job's seed)

    @property
    def has_resolution(self) -> bool:
        return self.resolution is not None

    @property
    def sliders(self) -> list[Slider]:
        """What `module_detail` lists: the shown sliders (legacy modules: Resolution always)."""
        first = self.resolution or (RESOLUTION if self.legacy else None)
        return [s for s in (first, self.a, self.b) if s is not None]

    def slider(self, which: str) -> Slider:
        """'res', 'a' or 'b': the slider, or the default a hidden one keeps."""
        if which == "res":
            return self.resolution or RESOLUTION
        return (self.a if which == "a" else self.b) or HIDDEN


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


def _scribble_xdog(img: np.ndarray, threshold: float, _: float) -> np.ndarray:
    """Difference of Gaussians (sigma 0.5 and 5): a white stroke where the fine blur is darker than
    the coarse one by more than half the threshold."""
    import cv2
    x = img.astype(np.float32)
    difference = (cv2.GaussianBlur(x, (0, 0), 5.0) - cv2.GaussianBlur(x, (0, 0), 0.5)).min(axis=2)
    return np.where(2 * difference.clip(0, 255) > threshold, 255, 0).astype(np.uint8)


def _lineart_standard(img: np.ndarray, *_: float) -> np.ndarray:
    """Dark lines on a light ground as white lines: how much darker than a broad blur (sigma 6)
    each pixel is, scaled by the median of the clear lines' strength."""
    import cv2
    x = img.astype(np.float32)
    strength = (cv2.GaussianBlur(x, (0, 0), 6.0) - x).min(axis=2).clip(0, 255)
    lines = strength[strength > 8]
    scale = max(16.0, float(np.median(lines))) if lines.size else 16.0
    return (strength / scale * 127).clip(0, 255).astype(np.uint8)


def _recolor(space: str):
    def run(img: np.ndarray, gamma: float, _: float) -> np.ndarray:
        """The picture's lightness (LAB L) or intensity (HSV V) as grey, raised to `gamma`."""
        import cv2
        code, channel = (cv2.COLOR_RGB2LAB, 0) if space == "lab" else (cv2.COLOR_RGB2HSV, 2)
        value = cv2.cvtColor(img, code)[:, :, channel].astype(np.float32) / 255.0
        return (np.power(value, float(gamma)) * 255.0).clip(0, 255).astype(np.uint8)
    return run


def _color_grid(img: np.ndarray, *_: float) -> np.ndarray:
    """Colour blocks: shrunk 64 times (cubic), grown back without smoothing."""
    import cv2
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // 64), max(1, h // 64)), interpolation=cv2.INTER_CUBIC)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _identity(img: np.ndarray, *_: float) -> np.ndarray:
    """The picture itself: reference_* and tile_colorfix use the image, not a map of it."""
    return img


def _shuffle(img: np.ndarray, _a: float, _b: float, rng: np.random.RandomState | None = None) -> np.ndarray:
    """Content shuffle, at 512 px on the short side: every pixel is read from a place given by two
    smooth random fields (cubic-upscaled noise with one value per 256 px), each stretched to span
    the whole picture."""
    import cv2
    img = _resize_short_side(img, 512)
    h, w = img.shape[:2]
    rng = rng if rng is not None else np.random.RandomState()

    def field(span: int) -> np.ndarray:
        cell = 256
        coarse = rng.uniform(0.0, 1.0, size=(h // cell + 2, w // cell + 2))
        smooth = cv2.resize(coarse, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)[cell:cell + h,
                                                                                                  cell:cell + w]
        smooth = smooth - smooth.min()
        return (smooth / max(float(smooth.max()), 1e-12) * (span - 1)).astype(np.float32)

    map_x = field(w)
    map_y = field(h)
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR)


INPAINT = ("inpaint", "inpaint_only")


def _inpaint(img: np.ndarray, *_: float) -> np.ndarray:
    """The picture with its mask as alpha (255 = to repaint): the unit's hint marks those pixels
    -1, as inpainting ControlNets were trained."""
    if img.ndim != 3 or img.shape[2] != 4:
        raise PreprocessorError("an inpaint preprocessor needs a mask: send one with the unit's image, or use "
                                "img2img's Inpaint tab", field="mask")
    return img



RUNNERS: dict[str, Callable] = {
    "canny": _canny, "invert": _invert, "threshold": _threshold, "blur_gaussian": _blur,
    "tile_resample": _tile_resample, "scribble_xdog": _scribble_xdog, "lineart_standard": _lineart_standard,
    "recolor_luminance": _recolor("lab"), "recolor_intensity": _recolor("hsv"), "color": _color_grid,
    **{name: _inpaint for name in INPAINT}, "shuffle": _shuffle,
    **{name: _identity for name in ("reference_only", "reference_adain", "reference_adain+attn", "tile_colorfix",
                                    "tile_colorfix+sharp")},
}
SEEDED = frozenset({"shuffle"})

# the weight files a module needs, under the annotator folder (the extension's download layout)
NEEDS: dict[str, tuple[str, ...]] = {
    "depth": ("midas/dpt_hybrid-midas-501f0c75.pt",), "normal_map": ("midas/dpt_hybrid-midas-501f0c75.pt",),
    "depth_leres": ("leres/res101.pth", "leres/latest_net_G.pth"),
    "depth_leres++": ("leres/res101.pth", "leres/latest_net_G.pth"), "depth_zoe": ("zoedepth/ZoeD_M12_N.pt",),
    "depth_anything": ("depth_anything/depth_anything_vitl14.pth",),
    "depth_anything_v2": ("depth_anything_v2/depth_anything_v2_vitl.safetensors",),
    "normal_bae": ("normal_bae/scannet.pt",), "normal_dsine": ("normal_dsine/dsine.pt",),
    "hed": ("hed/ControlNetHED.pth",), "hed_safe": ("hed/ControlNetHED.pth",), "scribble_hed": ("hed/ControlNetHED.pth",),
    "pidinet": ("pidinet/table5_pidinet.pth",), "pidinet_safe": ("pidinet/table5_pidinet.pth",),
    "pidinet_scribble": ("pidinet/table5_pidinet.pth",), "pidinet_sketch": ("pidinet/table5_pidinet.pth",),
    "softedge_teed": ("TEED/7_model.pth",), "softedge_anyline": ("TEED/MTEED.pth",),
    "mlsd": ("mlsd/mlsd_large_512_fp32.pth",), "lineart": ("lineart/sk_model.pth",),
    "lineart_coarse": ("lineart/sk_model2.pth",), "lineart_anime": ("lineart_anime/netG.pth",),
    "lineart_anime_denoise": ("manga_line/erika.pth",),
    **{name: ("openpose/body_pose_model.pth", "openpose/hand_pose_model.pth", "openpose/facenet.pth")
       for name in ("openpose", "openpose_face", "openpose_faceonly", "openpose_full", "openpose_hand")},
    "dw_openpose_full": ("openpose/yolox_l.onnx", "openpose/dw-ll_ucoco_384.onnx"),
    "densepose": ("densepose/densepose_r50_fpn_dl.torchscript",),
    "densepose_parula": ("densepose/densepose_r50_fpn_dl.torchscript",),
    "segmentation": ("uniformer/upernet_global_small.pth",),
    "oneformer_ade20k": ("oneformer/250_16_swin_l_oneformer_ade20k_160k.pth",),
    "oneformer_coco": ("oneformer/150_16_swin_l_oneformer_coco_100ep.pth",),
    "anime_face_segment": ("anime_face_segment/UNet.pth",), "mobile_sam": ("mobile_sam/mobile_sam.pt",),
    "inpaint_only+lama": ("lama/ControlNetLama.pth",),
    "ip-adapter_clip_sd15": ("clip_vision/clip_h.pth",), "ip-adapter_clip_sdxl": ("clip_vision/clip_g.pth",),
    "ip-adapter_clip_sdxl_plus_vith": ("clip_vision/clip_h.pth",),
}


def _slider(row: tuple | None) -> Slider | None:
    if row is None:
        return None
    label, lo, hi, value, step = row
    return Slider(label, value, lo, hi, step)


def _build() -> dict[str, Preprocessor]:
    from sdwebui.engine.control.preprocessor_table import ROWS

    out = {}
    for name, label, priority, model_free, tags, res, a, b, _c, legacy in ROWS:
        out[name] = Preprocessor(name, label, priority, model_free, tuple(tags), _slider(res), _slider(a), _slider(b),
                                 legacy, RUNNERS.get(name), NEEDS.get(name, ()), name in SEEDED)
    return out


ALL: dict[str, Preprocessor] = _build()
_BY_LABEL = {p.label: p for p in ALL.values()}


def ordered() -> list[Preprocessor]:
    """As the extension lists them: "none", then by sorting priority and label, highest first."""
    rest = sorted((p for p in ALL.values() if p.name != "none"), key=lambda p: f"{p.priority:08d}{p.label}",
                  reverse=True)
    return [ALL["none"], *rest]


def find(name: str) -> Preprocessor:
    """By internal name or UI label (`depth` == `depth_midas`)."""
    found = ALL.get(name) or _BY_LABEL.get(name)
    if found is None:
        raise PreprocessorError(f"module({name}) not found in supported modules.")
    return found


IP_ADAPTER = ("ip-adapter_clip_sd15", "ip-adapter_clip_sdxl", "ip-adapter_clip_sdxl_plus_vith", "ip-adapter-auto")


def check_weights(pre: Preprocessor, annotator_dir: Path) -> None:
    """Refuse, naming what is missing, a module that cannot run here (nothing is downloaded). The
    IP-Adapter modules pass the picture on (the unit encodes it with the CLIP vision file it needs)."""
    if pre.run is not None or pre.name == "none":
        return
    missing = [f for f in pre.needs if not (annotator_dir / f).is_file()]
    if missing:
        raise PreprocessorError(f"preprocessor {pre.label} needs {', '.join(missing)} in {annotator_dir} "
                                "(no download is attempted); or send a ready map with module 'none'")
    if pre.name in IP_ADAPTER:
        return
    raise PreprocessorError(f"preprocessor {pre.label} is not built in yet; send a ready map with module 'none'")


def _resize_short_side(img: np.ndarray, resolution: int) -> np.ndarray:
    import cv2
    h, w = img.shape[:2]
    k = resolution / min(h, w)
    if abs(k - 1) < 1e-6:
        return img
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)




def detect(pre: Preprocessor, img: np.ndarray, resolution: float, a: float, b: float,
           seed: int | None = None) -> np.ndarray:
    """The control map (HxWx3 uint8, or HxWx4 for inpainting: the mask as alpha) of an RGB (RGBA
    for the inpaint modules) uint8 image. A random module (shuffle) draws from `seed` (None: anew)."""
    if pre.run is None:
        return img
    if pre.has_resolution:
        img = _resize_short_side(img, int(resolution))
    extra = {"rng": np.random.RandomState(seed & 0xFFFFFFFF if seed is not None else None)} if pre.seeded else {}
    out = pre.run(np.ascontiguousarray(img), a, b, **extra)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return out


RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")


def _placement(h0: int, w0: int, width: int, height: int, mode: str) -> tuple[int, int, int, int]:
    """Where a h0 x w0 map goes on the target: its scaled size (w1, h1) and its offset (top, left),
    negative when it is cropped (Crop and Resize)."""
    if mode == RESIZE_MODES[0]:
        return width, height, 0, 0
    cover = mode == RESIZE_MODES[1]
    k = (max if cover else min)(width / w0, height / h0)
    w1, h1 = max(1, round(w0 * k)), max(1, round(h0 * k))
    if cover:
        return w1, h1, -((h1 - height) // 2), -((w1 - width) // 2)
    return w1, h1, (height - h1) // 2, (width - w1) // 2


def fit(img: np.ndarray, width: int, height: int, mode: str) -> np.ndarray:
    """The map at the target size: stretched, scaled to cover and centre-cropped, or scaled to fit
    and centred on its median border colour. An inpainting map's mask (its alpha) is fitted on its
    own, kept 0/255, and the added border of "Resize and Fill" is to be painted (outpainting)."""
    import cv2

    if img.shape[2] == 4:
        w1, h1, top, left = _placement(img.shape[0], img.shape[1], width, height, mode)
        scaled = cv2.resize(img[:, :, 3], (w1, h1), interpolation=cv2.INTER_LINEAR)
        alpha = np.full((height, width), 255, np.uint8)
        _paste(alpha, scaled, top, left)
        return np.dstack([fit(img[:, :, :3], width, height, mode), np.where(alpha > 127, 255, 0).astype(np.uint8)])

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

    w1, h1, top, left = _placement(img.shape[0], img.shape[1], width, height, mode)
    scaled = resize(img, w1, h1)
    if (w1, h1) == (width, height):
        return scaled
    out = np.empty((height, width, img.shape[2]), dtype=img.dtype)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    out[:] = np.median(border, axis=0).astype(img.dtype)
    _paste(out, scaled, top, left)
    return out


def _paste(canvas: np.ndarray, part: np.ndarray, top: int, left: int) -> None:
    """`part` onto `canvas` at (top, left); a negative offset crops the part (centre crop)."""
    h, w = canvas.shape[:2]
    ph, pw = part.shape[:2]
    t0, l0 = max(0, -top), max(0, -left)
    t1, l1 = max(0, top), max(0, left)
    hh, ww = min(h - t1, ph - t0), min(w - l1, pw - l0)
    canvas[t1:t1 + hh, l1:l1 + ww] = part[t0:t0 + hh, l0:l0 + ww]
