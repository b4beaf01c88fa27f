"""The UI's side of cluster mode: a job the Generate button built runs on a worker, and comes back as
a processing result the gallery shows like a local one."""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from sdwebui.engine.images import metadata as images_mod
from sdwebui.services import runtime as shared


@dataclass
class RemoteProcessed:
    """What the UI reads of a Processed: the images, their infotexts, the info JSON, warnings."""
    images: list[Image.Image]
    info: str
    infotexts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def js(self) -> str:
        return self.info


def _png_b64(image: Image.Image) -> str:
    return images_mod.encode_b64(image, "png")


async def run_ui_job(kind: str, req: Any, p: Any, task_id: str | None) -> RemoteProcessed:
    """Run the UI's job on a worker. The img2img panel's pictures (the UI decodes and prepares them:
    sketch, inpaint mask, upload) travel in the request as the API's init_images and mask."""
    from sdwebui.services.queue import new_task_id

    if kind == "img2img":
        req.init_images = [_png_b64(im) for im in getattr(p, "init_images", []) or []]
        mask = getattr(p, "image_mask", None)
        req.mask = _png_b64(mask) if mask is not None else None
    result = await shared.cluster.run_request(kind, req, task_id or new_task_id(kind))
    info = json.loads(result["info"])
    images = [Image.open(io.BytesIO(base64.b64decode(b))) for b in result["images"]]
    return RemoteProcessed(images=images, info=result["info"], infotexts=list(info.get("infotexts") or []),
                           warnings=list(info.get("warnings") or []))
