"""What the server has to work with: checkpoints, VAEs, LoRAs, upscalers, samplers and schedulers,
styles and embeddings (their lists and refreshes), and loading or unloading the checkpoint."""
from __future__ import annotations

import logging
from typing import Any, Callable

from sdwebui.engine.processing.latent_upscale import LATENT_UPSCALE_MODES
from sdwebui.engine.sampling import samplers
from sdwebui.interfaces.api.jobs import run_job
from sdwebui.services import runtime as shared

logger = logging.getLogger(__name__)


class ResourceRoutes:
    """Api's handlers for the lists of models and the like, their refreshes, and checkpoint load/unload."""

    async def get_samplers(self) -> list[dict]:
        return samplers.sampler_api_list()

    async def get_schedulers(self) -> list[dict]:
        return samplers.scheduler_api_list()

    async def get_sd_models(self) -> list[dict]:
        return [c.api_dict() for c in shared.registry.list()]

    async def _everywhere(self, name: str, here: Callable[[], Any] | None) -> None:
        """An admin job here (the lists this process answers from), and in cluster mode on every
        worker too (each applies it after its running job, within seconds)."""
        if here is not None:
            await run_job(here, name=name)
        if shared.cluster is not None:
            shared.cluster.broadcast(name)

    async def refresh_checkpoints(self) -> None:
        await self._everywhere("refresh-checkpoints", shared.registry.refresh)

    async def get_sd_vaes(self) -> list[dict]:
        return [v.api_dict() for v in shared.vae_registry.list()]

    async def refresh_vae(self) -> None:
        await self._everywhere("refresh-vae", shared.vae_registry.refresh)

    async def unload_checkpoint(self) -> dict:
        await self._everywhere("unload-checkpoint", shared.model_manager.unload)
        return {}

    async def reload_checkpoint(self) -> dict:
        # in cluster mode this process holds no model: only the workers reload theirs
        await self._everywhere("reload-checkpoint", None if shared.cluster is not None else shared.ensure_model_loaded)
        return {}

    async def get_loras(self) -> list[dict]:
        return [f.api_dict() for f in shared.loras.list()]

    async def refresh_loras(self) -> None:
        await self._everywhere("refresh-loras", shared.loras.refresh)

    async def get_upscalers(self) -> list[dict]:
        return [{"name": u.name, "model_name": u.model_name, "model_path": u.model_path, "model_url": None,
                 "scale": u.scale} for u in shared.upscalers.list()]

    async def get_realesrgan(self) -> list[dict]:
        return [{"name": u.name, "path": u.model_path, "scale": int(u.scale)} for u in shared.upscalers.list()
                if u.model_name and "realesrgan" in u.model_name.lower().replace("-", "").replace(" ", "")]

    async def latent_upscale_modes(self) -> list[dict]:
        return [{"name": name} for name in LATENT_UPSCALE_MODES]

    async def empty_list(self) -> list:
        """Features with nothing installed (hypernetworks, UNet modules, scripts)."""
        return []

    async def face_restorers(self) -> list[dict]:
        """shared.face_restorers: CodeFormer, GFPGAN and any an extension registered (A1111's shape;
        cmd_dir is None for the built-in ones there too)."""
        from sdwebui.services import shared_items

        return [{"name": r.name(), "cmd_dir": getattr(r, "cmd_dir", None)} for r in shared_items.face_restorers]

    async def prompt_styles(self) -> list[dict]:
        return shared.prompt_styles.api_list()

    async def embeddings(self) -> dict:
        def listing() -> dict:
            shared.embeddings.refresh(shared.model_manager.sd_model)
            return shared.embeddings.api_dict()
        return await run_job(listing, name="embeddings")

    async def refresh_embeddings(self) -> None:
        await self._everywhere("refresh-embeddings",
                               lambda: shared.embeddings.refresh(shared.model_manager.sd_model, force=True))
