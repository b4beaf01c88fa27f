"""Information routes: memory, scripts and script-info, extensions, png-info, and interrogate
(which answers that no interrogator is installed)."""
from __future__ import annotations

import logging

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from sdwebui.engine.images import infotext as infotext_mod
from sdwebui.engine.images import metadata as images_mod
from sdwebui.interfaces.api import models
from sdwebui.services import runtime as shared
from sdwebui.services.extensions import discovery
from sdwebui.services.extensions import scripts as scripts_mod
from sdwebui.services.generation_requests import decode_base64_image
from sdwebui.services.memory import memory_report
from sdwebui.services.request_errors import field_error

logger = logging.getLogger(__name__)


class InfoRoutes:
    """Api's handlers for what the server reports about itself and about an image."""

    async def memory(self) -> dict:
        report = await run_in_threadpool(memory_report)
        model = shared.model_manager.sd_model if shared.model_manager is not None else None
        info = shared.model_manager.checkpoint_info if model is not None else None
        report["model"] = None if model is None else {"title": info.title if info else None, "family": model.family,
                                                       "variant": model.variant or None}
        if shared.cluster is not None:      # the models and the devices are the workers'
            report["workers"] = await shared.cluster.memory()
        return report

    async def scripts(self) -> dict:
        """Lower-case titles of every script on each tab (selectable and always-on), as A1111."""
        return {runner.tabname: [s.name for s in runner.scripts if s.name]
                for runner in (scripts_mod.scripts_txt2img, scripts_mod.scripts_img2img)}

    async def script_info(self) -> list[dict]:
        out = []
        for runner in (scripts_mod.scripts_txt2img, scripts_mod.scripts_img2img):
            runner.ensure_ui()
            out.extend(scripts_mod.json_safe(s.api_info) for s in runner.scripts if s.api_info)
        return out

    async def extensions(self) -> list[dict]:
        return await run_in_threadpool(discovery.api_list)

    async def interrogate(self, req: models.InterrogateRequest) -> dict:
        if req.model not in ("clip", "deepdanbooru"):
            raise field_error("model", f"unknown interrogator {req.model!r}; A1111's are 'clip' and 'deepdanbooru'")
        decode_base64_image(req.image, "image")
        raise HTTPException(status_code=501, detail=f"no {req.model} interrogator is installed on this server "
                                                    "(its model weights cannot be downloaded offline)")

    async def pnginfo(self, req: models.PNGInfoRequest) -> dict:
        if not req.image.strip():
            return {"info": "", "items": {}, "parameters": {}}
        image = decode_base64_image(req.image, "image")
        text, items = images_mod.read_info(image)
        text = text or ""
        styles = list(shared.prompt_styles.styles.values()) if shared.prompt_styles else None
        params = infotext_mod.parse(text, styles=styles, infotext_styles=shared.opts.infotext_styles)
        return {"info": text, "items": items, "parameters": params}
