"""Finding faces in an image, offline.

A1111 finds faces with facexlib's RetinaFace (face restoration) and OpenCV's YuNet (the focal-point
crop), both downloaded on first use. Nothing is downloaded here:
- YuNet is used when its ONNX file is where A1111's autocrop puts it, `models/opencv/` (any
  `face_detection_yunet*.onnx`): it gives each face's box and five landmarks.
- Otherwise the LBP frontal-face cascade that scikit-image ships (`skimage.data`) is used: boxes
  only, so the five landmarks are placed at a frontal face's usual proportions within the box.
Both are CPU detectors on the image as given.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

logger = logging.getLogger(__name__)

YUNET_GLOB = "face_detection_yunet*.onnx"
# Where the five points (image-left eye, image-right eye, nose tip, left and right mouth corner)
# usually sit inside a frontal-face detector's square box, as fractions of its width and height.
_BOX_LANDMARKS = np.array([[0.31, 0.40], [0.69, 0.40], [0.50, 0.60], [0.35, 0.79], [0.65, 0.79]],
                          dtype=np.float32)
_YUNET_SCORE = 0.9
_YUNET_NMS = 0.3
_YUNET_TOP_K = 5000


@dataclass
class Face:
    box: tuple[float, float, float, float]   # x, y, width, height in image pixels
    landmarks: np.ndarray                    # 5 x 2 (see _BOX_LANDMARKS for the order)
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


Detector = Callable[[np.ndarray], list[Face]]


def find_yunet(folder: Path | None) -> Path | None:
    """The YuNet ONNX file in `folder` (newest name first), or None."""
    if folder is None or not folder.is_dir():
        return None
    found = sorted(folder.glob(YUNET_GLOB), reverse=True)
    return found[0] if found else None


def require_cv2() -> Any:
    """OpenCV, which the compat extra installs (face alignment, YuNet, the focal crop's corners)."""
    try:
        import cv2  # noqa: PLC0415
    except ImportError as e:
        raise RuntimeError("face restoration and the focal-point crop need OpenCV: install "
                           "opencv-python-headless (the compat extra)") from e
    return cv2


def _yunet(path: Path) -> Detector:
    cv2 = require_cv2()

    def detect(rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        net = cv2.FaceDetectorYN.create(str(path), "", (w, h), _YUNET_SCORE, _YUNET_NMS, _YUNET_TOP_K)
        _, rows = net.detect(np.ascontiguousarray(rgb[:, :, ::-1]))   # OpenCV wants BGR
        faces = []
        for row in rows if rows is not None else []:
            x, y, bw, bh = (float(v) for v in row[:4])
            faces.append(Face((x, y, bw, bh), np.asarray(row[4:14], dtype=np.float32).reshape(5, 2),
                              float(row[14])))
        return faces

    return detect


_lbp_lock = threading.Lock()
_lbp: Any = None


def _lbp_cascade() -> Detector:
    try:   # optional: the compat extra installs it
        from skimage import data as skdata  # noqa: PLC0415
        from skimage.feature import Cascade  # noqa: PLC0415
    except ImportError as e:
        raise RuntimeError("no face detector: install scikit-image (the compat extra) or put a YuNet "
                           f"model ({YUNET_GLOB}) in models/opencv") from e

    global _lbp
    with _lbp_lock:
        if _lbp is None:
            _lbp = Cascade(skdata.lbp_frontal_face_cascade_filename())
    cascade = _lbp

    def detect(rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        # faces under a tenth of the short side are skipped: smaller windows mostly add false faces
        # (measured on scikit-image's astronaut photo at 512 and 1024 pixels) and triple the time
        smallest = max(24, min(w, h) // 10)
        with _lbp_lock:   # the cascade object is not thread-safe
            found = cascade.detect_multi_scale(img=rgb, scale_factor=1.2, step_ratio=1,
                                               min_size=(smallest, smallest), max_size=(w, h))
        faces = []
        for d in found:
            x, y, bw, bh = float(d["c"]), float(d["r"]), float(d["width"]), float(d["height"])
            faces.append(Face((x, y, bw, bh), _BOX_LANDMARKS * [bw, bh] + [x, y]))
        return faces

    return detect


def make_detector(opencv_models: Path | None) -> tuple[Detector, str]:
    """(the best offline detector available, its name for logs and infotext)."""
    yunet = find_yunet(opencv_models)
    if yunet is not None:
        try:
            return _yunet(yunet), f"YuNet ({yunet.name})"
        except RuntimeError as e:
            logger.warning("%s found but unusable (%s); using the LBP cascade", yunet, e)
    return _lbp_cascade(), "LBP cascade"


def rgb_array(image: Any) -> np.ndarray:
    """An RGB uint8 H x W x 3 array from a PIL image or an array."""
    if hasattr(image, "convert"):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return arr[:, :, :3].astype(np.uint8, copy=False)
