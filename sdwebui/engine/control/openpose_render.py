"""OpenPose keypoints (the OpenPose JSON output format) drawn as the control maps OpenPose
ControlNets were trained on: the 18 COCO body points joined by coloured limbs, 21-point hands,
face points as white dots. No weights are involved: pose editors send poses to be drawn.

Keypoints come as flat [x, y, confidence] triples; a confidence under 1 means the point is absent.
Coordinates all within 0..1 are fractions of the canvas, others are pixels.
"""
from __future__ import annotations

import colorsys
import math
from typing import Sequence

import numpy as np

Point = tuple[float, float] | None

# COCO-18 body points (1-based): pairs joined by a limb, in the order that gives each its colour
BODY_LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
              (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))
# a hand: the wrist (0) to each finger's four joints
HAND_EDGES = tuple(pair for finger in range(5) for pair in
                   ((0 if j == 0 else 4 * finger + j, 4 * finger + j + 1) for j in range(4)))


def _hue(i: int, n: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(i / n, 1.0, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


BODY_COLOURS = [_hue(i, 18) for i in range(18)]     # 20 degrees apart: red, orange, ... magenta-red


def points(flat: Sequence[float] | None) -> list[Point] | None:
    """[x, y, c, ...] -> points (None where c < 1); None for no list."""
    if not flat:
        return None
    if len(flat) % 3:
        raise ValueError(f"keypoints come in [x, y, confidence] triples; got {len(flat)} numbers")
    return [(float(flat[i]), float(flat[i + 1])) if flat[i + 2] >= 1.0 and math.isfinite(flat[i] + flat[i + 1])
            else None for i in range(0, len(flat), 3)]


def _int(v: float) -> int:
    """A pixel coordinate OpenCV takes (int32): points far off the canvas are drawn off it."""
    return int(max(-(1 << 20), min(1 << 20, v)))


def _scale(pts: list[Point], height: int, width: int) -> tuple[float, float]:
    present = [p for p in pts if p is not None]
    normalised = bool(present) and all(abs(x) <= 1 and abs(y) <= 1 for x, y in present)
    return (float(width), float(height)) if normalised else (1.0, 1.0)


def draw_body(canvas: np.ndarray, pts: list[Point] | None) -> None:
    import cv2
    if not pts:
        return
    sx, sy = _scale(pts, *canvas.shape[:2])
    for (a, b), colour in zip(BODY_LIMBS, BODY_COLOURS):
        if a > len(pts) or b > len(pts) or pts[a - 1] is None or pts[b - 1] is None:
            continue
        (x1, y1), (x2, y2) = pts[a - 1], pts[b - 1]
        x1, x2, y1, y2 = x1 * sx, x2 * sx, y1 * sy, y2 * sy
        length = math.hypot(x1 - x2, y1 - y2)
        angle = math.degrees(math.atan2(y1 - y2, x1 - x2))
        centre = (_int((x1 + x2) / 2), _int((y1 + y2) / 2))
        limb = cv2.ellipse2Poly(centre, (_int(length / 2), 4), _int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, limb, [_int(c * 0.6) for c in colour])
    for p, colour in zip(pts, BODY_COLOURS):
        if p is not None:
            cv2.circle(canvas, (_int(p[0] * sx), _int(p[1] * sy)), 4, colour, thickness=-1)


def draw_hand(canvas: np.ndarray, pts: list[Point] | None) -> None:
    import cv2
    if not pts:
        return
    sx, sy = _scale(pts, *canvas.shape[:2])
    eps = 0.01
    for i, (a, b) in enumerate(HAND_EDGES):
        if b >= len(pts) or pts[a] is None or pts[b] is None:
            continue
        x1, y1, x2, y2 = _int(pts[a][0] * sx), _int(pts[a][1] * sy), _int(pts[b][0] * sx), _int(pts[b][1] * sy)
        if min(x1, y1, x2, y2) > eps:
            cv2.line(canvas, (x1, y1), (x2, y2), _hue(i, len(HAND_EDGES)), thickness=2)
    for p in pts:
        if p is not None and _int(p[0] * sx) > eps and _int(p[1] * sy) > eps:
            cv2.circle(canvas, (_int(p[0] * sx), _int(p[1] * sy)), 4, (0, 0, 255), thickness=-1)


def draw_face(canvas: np.ndarray, pts: list[Point] | None) -> None:
    import cv2
    if not pts:
        return
    sx, sy = _scale(pts, *canvas.shape[:2])
    for p in pts:
        if p is not None and _int(p[0] * sx) > 0.01 and _int(p[1] * sy) > 0.01:
            cv2.circle(canvas, (_int(p[0] * sx), _int(p[1] * sy)), 3, (255, 255, 255), thickness=-1)


def render(people: list[dict], width: int, height: int) -> np.ndarray:
    """Each person's body, hands and face on a black canvas (HxWx3 uint8, RGB)."""
    canvas = np.zeros((height, width, 3), np.uint8)
    for person in people:
        draw_body(canvas, points(person.get("pose_keypoints_2d")))
        draw_hand(canvas, points(person.get("hand_left_keypoints_2d")))
        draw_hand(canvas, points(person.get("hand_right_keypoints_2d")))
        draw_face(canvas, points(person.get("face_keypoints_2d")))
    return canvas
