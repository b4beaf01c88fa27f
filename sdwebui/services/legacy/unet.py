"""A1111's `modules.sd_unet`: alternative UNet implementations an extension offers (TensorRT ...)
through `script_callbacks.on_list_unets`. They are listed here as in A1111 (`list_unets`, the
sd_unet setting's choices); running one needs A1111's LDM UNet interface, which this backend does
not have, so choosing one is refused with a message."""
from __future__ import annotations

import logging
from typing import Any

import torch

from sdwebui.services import runtime
from sdwebui.services.extensions import callbacks
from sdwebui.services.legacy import BACKEND

logger = logging.getLogger(__name__)

__all__ = ["SdUnet", "SdUnetOption", "apply_unet", "create_unet_forward", "current_unet", "current_unet_option",
           "get_unet_option", "list_unets", "unet_options"]

unet_options: list["SdUnetOption"] = []
current_unet_option: "SdUnetOption | None" = None
current_unet: "SdUnet | None" = None


class SdUnetOption:
    """One alternative UNet: `label` is its choice in the sd_unet setting; `model_name` the
    checkpoint it belongs to (chosen automatically for that checkpoint)."""

    model_name: str | None = None
    label: str | None = None

    def create_unet(self) -> "SdUnet":
        raise NotImplementedError()


class SdUnet(torch.nn.Module):
    def forward(self, x, timesteps, context, *args, **kwargs):
        raise NotImplementedError()

    def activate(self) -> None:
        pass

    def deactivate(self) -> None:
        pass


def list_unets() -> list[SdUnetOption]:
    """Ask the extensions for their options (on_list_unets) and keep them in `unet_options`."""
    found = callbacks.list_unets_callback()
    unet_options[:] = found
    return unet_options


def get_unet_option(option: str | None = None) -> SdUnetOption | None:
    """The option the sd_unet setting (or `option`) chooses; "Automatic" picks the one made for the
    resident checkpoint, "None" none."""
    option = option or (getattr(runtime.opts, "sd_unet", "Automatic") if runtime.opts is not None else "Automatic")
    if option == "None":
        return None
    if option == "Automatic":
        model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
        info = getattr(model, "sd_checkpoint_info", None)
        name = getattr(info, "model_name", None)
        matching = [o for o in unet_options if o.model_name == name]
        if not matching:
            return None
        option = matching[0].label
    return next((o for o in unet_options if o.label == option), None)


def apply_unet(option: str | None = None) -> None:
    """Use the chosen alternative UNet. None chosen: nothing to do (the checkpoint's own UNet runs).
    One chosen: refused, because such UNets implement A1111's LDM forward(x, timesteps, context)."""
    chosen = get_unet_option(option)
    if chosen is None:
        return
    raise NotImplementedError(f"sd_unet {chosen.label!r}: {BACKEND}; an alternative UNet must implement diffusers' "
                              "UNet2DConditionModel interface, which A1111's SdUnet does not")


def create_unet_forward(original_forward: Any) -> Any:
    """A1111 wraps the LDM UNet's forward with this; here the checkpoint's UNet always runs."""
    return original_forward
