"""Face restoration over a whole image: find the faces, warp each onto the model's aligned face
crop, run the model, and blend the restored face back with a soft-edged mask (what facexlib's
FaceRestoreHelper does for A1111, written here on OpenCV and torch)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from sdwebui.engine.faces.detection import Detector, require_cv2, rgb_array
from sdwebui.engine.faces.models import FaceModel

logger = logging.getLogger(__name__)

# The five landmarks of the aligned 512x512 face crop GFPGAN and CodeFormer were trained on
# (FFHQ's alignment): image-left eye, image-right eye, nose tip, left and right mouth corner.
FACE_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                              [201.26117, 371.41043], [313.08905, 371.15118]], dtype=np.float32)
# the grey the crop is padded with where the face reaches the image edge (FFHQ's background)
_BORDER_RGB = (132, 133, 135)


def _to_tensor(face: np.ndarray, device: Any) -> torch.Tensor:
    """uint8 RGB H x W x 3 -> 1 x 3 x H x W in [-1, 1]."""
    t = torch.from_numpy(face.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
    return (t * 2 - 1).to(device)


def _to_image(t: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W in [-1, 1] -> uint8 RGB H x W x 3."""
    arr = ((t.detach().float().cpu().clamp(-1, 1)[0] + 1) / 2).permute(1, 2, 0).numpy()
    return (arr * 255.0).round().astype(np.uint8)


def _soft_mask(inverse: np.ndarray, face_size: int, out_w: int, out_h: int) -> np.ndarray:
    """Where the warped-back face covers the image, 1 inside fading to 0 at its edge (H x W x 1)."""
    cv2 = require_cv2()
    mask = cv2.warpAffine(np.ones((face_size, face_size), np.float32), inverse, (out_w, out_h))
    mask = cv2.erode(mask, np.ones((2, 2), np.uint8))
    edge = max(1, int(float(mask.sum()) ** 0.5) // 20)
    mask = cv2.erode(mask, np.ones((edge * 2, edge * 2), np.uint8))
    mask = cv2.GaussianBlur(mask, (edge * 2 + 1, edge * 2 + 1), 0)
    return mask[:, :, None]


def restore_faces(image: Any, model: FaceModel, detector: Detector, *, device: Any = "cpu",
                  weight: float | None = None) -> tuple[np.ndarray, int]:
    """(the image as uint8 RGB with every face found restored, how many faces were restored). An
    image with no face comes back unchanged, as in A1111."""
    cv2 = require_cv2()
    rgb = rgb_array(image)
    h, w = rgb.shape[:2]
    faces = detector(rgb)
    logger.debug("face restoration: %d face(s) found", len(faces))
    if not faces:
        return rgb.copy(), 0
    size = model.face_size
    template = FACE_TEMPLATE_512 * (size / 512.0)
    out = rgb.astype(np.float32)
    model.net.to(device)
    for face in faces:
        affine, _ = cv2.estimateAffinePartial2D(face.landmarks, template, method=cv2.LMEDS)
        if affine is None:
            continue
        crop = cv2.warpAffine(rgb, affine, (size, size), borderMode=cv2.BORDER_CONSTANT, borderValue=_BORDER_RGB)
        with torch.inference_mode():
            restored = _to_image(model(_to_tensor(crop, device), weight))
        inverse = cv2.invertAffineTransform(affine)
        back = cv2.warpAffine(restored, inverse, (w, h)).astype(np.float32)
        mask = _soft_mask(inverse, size, w, h)
        out = mask * back + (1 - mask) * out
    return out.round().clip(0, 255).astype(np.uint8), len(faces)
