"""`shared.sd_model` on a cluster's front end, which holds no model: the workers do.

Extensions read `shared.sd_model` in their UI code and callbacks (`is_sdxl` to offer the right
models, `sd_checkpoint_info` for names, `sd_model_hash`), and `sd_models.model_data.get_sd_model()`
would load a whole model. On the front end both give a FrontEndModel instead: the selected
checkpoint's A1111 fields, known from its file's header without reading a weight. Anything else (the
UNet, the text encoders) is an AttributeError that says where the model is; inside a job, on the
worker, `p.sd_model` and `shared.sd_model` are the loaded model as on one box.
"""
from __future__ import annotations

from typing import Any

from sdwebui.engine.models.loaded_model import FamilyFlags

# latent channels by family: the transformer families work on 16-channel latents
_LATENT_CHANNELS = {"sd3": 16, "flux": 16}


class FrontEndModel(FamilyFlags):
    def __init__(self, info: Any) -> None:
        self.sd_checkpoint_info = info
        self.family = info.family or ""         # "": not told by the header (a .ckpt): every flag False
        self.filename = str(info.filename)

    @property
    def sd_model_hash(self) -> str | None:
        return self.sd_checkpoint_info.shorthash       # known once the file is hashed

    @property
    def sd_model_checkpoint(self) -> str:
        return self.filename

    @property
    def latent_channels(self) -> int:
        return _LATENT_CHANNELS.get(self.family, 4)

    def __getattr__(self, name: str) -> Any:
        # only reached for names the view does not have
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"shared.sd_model.{name}: in cluster mode this process holds no model (the workers load them); "
            "here shared.sd_model has the checkpoint's names, hash and family flags only. Inside a job "
            "(on a worker) p.sd_model and shared.sd_model are the loaded model")

    def __repr__(self) -> str:
        return f"<FrontEndModel {self.sd_checkpoint_info.title} ({self.family or 'family not known'})>"


_views: dict[str, FrontEndModel] = {}


def front_end_model(info: Any) -> FrontEndModel | None:
    """The view of checkpoint `info` (None when there is none); the same object while it is selected."""
    if info is None:
        return None
    view = _views.get(info.filename)
    if view is None or view.sd_checkpoint_info is not info:
        _views.clear()
        view = _views[info.filename] = FrontEndModel(info)
    return view
