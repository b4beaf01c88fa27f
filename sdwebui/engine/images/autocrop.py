"""Auto focal-point crop (A1111's modules.textual_inversion.autocrop): scale the image so the crop
box fits its short side, find a point of interest from corners (edges), entropy and faces, each
weighted, and cut the crop box centred on it (moved back inside the image)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sdwebui.engine.faces.detection import make_detector, require_cv2

logger = logging.getLogger(__name__)

GREEN, BLUE, RED, YELLOW = "#0F0", "#00F", "#F00", "#ff0"
_ENTROPY_STEP = 4   # pixels the entropy window moves per try


@dataclass
class Settings:
    crop_width: int = 512
    crop_height: int = 512
    corner_points_weight: float = 0.5
    entropy_points_weight: float = 0.5
    face_points_weight: float = 0.5
    annotate_image: bool = False
    desktop_view_image: bool = False
    dnn_model_path: str | None = None    # a YuNet ONNX file; None: the detector models/opencv offers


@dataclass
class PointOfInterest:
    x: float
    y: float
    weight: float = 1.0
    size: float = 10

    def bounding(self, size: float) -> list[float]:
        half = size // 2
        return [self.x - half, self.y - half, self.x + half, self.y + half]


def _scale_for(im: Image.Image, s: Settings) -> float:
    if im.width > im.height:
        return s.crop_height / im.height
    if im.height > im.width:
        return s.crop_width / im.width
    # square image: the crop's longer side decides
    return (s.crop_height if s.crop_height > s.crop_width else s.crop_width) / im.width


def crop_image(im: Image.Image, settings: Settings, opencv_models: Path | None = None) -> list[Image.Image]:
    """[the crop] plus, with annotate_image, the scaled image with the points and box drawn."""
    scale = _scale_for(im, settings)
    im = im.resize((int(im.width * scale), int(im.height * scale)))
    debug = im.copy()
    focus = focal_point(debug, settings, opencv_models)
    x1 = min(max(0, focus.x - settings.crop_width // 2), im.width - settings.crop_width)
    y1 = min(max(0, focus.y - settings.crop_height // 2), im.height - settings.crop_height)
    box = (int(x1), int(y1), int(x1) + settings.crop_width, int(y1) + settings.crop_height)
    results = [im.crop(box)]
    if settings.annotate_image:
        ImageDraw.Draw(debug).rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=GREEN)
        results.append(debug)
    return results


def _centroid(points: list[PointOfInterest]) -> PointOfInterest:
    return PointOfInterest(sum(p.x for p in points) / len(points), sum(p.y for p in points) / len(points))


def focal_point(im: Image.Image, s: Settings, opencv_models: Path | None = None) -> PointOfInterest:
    groups = [
        ("Edge", BLUE, s.corner_points_weight, corner_points(im) if s.corner_points_weight > 0 else []),
        ("Entropy", YELLOW, s.entropy_points_weight, entropy_points(im, s) if s.entropy_points_weight > 0 else []),
        ("Face", RED, s.face_points_weight, face_points(im, s, opencv_models) if s.face_points_weight > 0 else []),
    ]
    found = [(label, color, weight, pts) for label, color, weight, pts in groups if pts]
    total = sum(weight for _, _, weight, _ in found)
    centres = []
    for label, color, weight, pts in found:
        centre = _centroid(pts)
        centre.weight = weight / total
        centres.append((label, color, centre, pts))
    weight_sum = sum(c.weight for _, _, c, _ in centres)
    avg = PointOfInterest(round(sum(c.x * c.weight for _, _, c, _ in centres) / weight_sum) if weight_sum else 0,
                          round(sum(c.y * c.weight for _, _, c, _ in centres) / weight_sum) if weight_sum else 0)
    if s.annotate_image:
        draw = ImageDraw.Draw(im)
        max_size = min(im.width, im.height) * 0.07
        for label, color, centre, pts in centres:
            box = centre.bounding(max_size * centre.weight)
            draw.text((box[0], box[1] - 15), f"{label}: {centre.weight:.02f}", fill=color)
            draw.ellipse(box, outline=color)
            if len(pts) > 1:
                for p in pts:
                    draw.rectangle(p.bounding(4), outline=color)
        draw.ellipse(avg.bounding(max_size), outline=GREEN)
    return avg


def face_points(im: Image.Image, s: Settings, opencv_models: Path | None = None) -> list[PointOfInterest]:
    folder = Path(s.dnn_model_path).parent if s.dnn_model_path else opencv_models
    try:
        detect, _name = make_detector(folder)
    except RuntimeError as e:
        logger.warning("focal point crop: faces not used: %s", e)
        return []
    faces = detect(np.asarray(im.convert("RGB")))
    # the point of a face is its centre across and a third of the way down (near the eyes)
    return [PointOfInterest(int(f.box[0] + f.box[2] * 0.5), int(f.box[1] + f.box[3] * 0.33), size=f.box[2],
                            weight=1 / len(faces)) for f in faces]


def corner_points(im: Image.Image) -> list[PointOfInterest]:
    cv2 = require_cv2()
    grey = im.convert("L")
    # keep points off the bottom tenth, where watermarks and signatures usually are
    ImageDraw.Draw(grey).rectangle([0, im.height * .9, im.width, im.height], fill="#999")
    points = cv2.goodFeaturesToTrack(np.array(grey), maxCorners=100, qualityLevel=0.04,
                                     minDistance=min(grey.width, grey.height) * 0.06, useHarrisDetector=False)
    if points is None:
        return []
    return [PointOfInterest(*map(float, p.ravel()), size=4, weight=1 / len(points)) for p in points]


def entropy_points(im: Image.Image, s: Settings) -> list[PointOfInterest]:
    """The centre of the crop-sized window, slid along the long side, with the most entropy."""
    if im.width == im.height:
        return []
    along_x = im.width > im.height
    limit = im.width if along_x else im.height
    box = [0, 0, s.crop_width, s.crop_height]
    first, second = (0, 2) if along_x else (1, 3)
    best, best_e = list(box), 0.0
    while box[second] < limit:
        e = image_entropy(im.crop(tuple(box)))
        if e > best_e:
            best_e, best = e, list(box)
        box[first] += _ENTROPY_STEP
        box[second] += _ENTROPY_STEP
    return [PointOfInterest(int(best[0] + s.crop_width / 2), int(best[1] + s.crop_height / 2), size=25)]


def image_entropy(im: Image.Image) -> float:
    band = np.asarray(im.convert("1"), dtype=np.uint8)
    hist, _ = np.histogram(band, bins=range(0, 256))
    hist = hist[hist > 0]
    return float(-np.log2(hist / hist.sum()).sum())
