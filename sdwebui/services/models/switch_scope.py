"""Model switches that outlast a job for the length of a batch of jobs (a plot's cells).

A job whose `override_settings` switch the checkpoint (or VAE) switches back when it ends. A script
that runs many such jobs (the X/Y/Z plot with a "Checkpoint name" axis) would so load each model twice
per cell. Inside a `ModelSwitchScope` the cells it is told about keep their switch for the next
cell; when the scope ends, the settings those cells changed are put back and the checkpoint and VAE
of before are loaded again, as A1111's X/Y/Z plot does (its SharedSettingsStackHelper).
"""
from __future__ import annotations

import logging
from typing import Any

from sdwebui.services import runtime
from sdwebui.services.models import model_names

logger = logging.getLogger(__name__)

MODEL_KEYS = ("sd_model_checkpoint", "sd_vae")


class ModelSwitchScope:
    """See the module docstring. Use `keep_models(p)` on each job before running it."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}
        self.checkpoint = None

    def keep_models(self, p: Any) -> None:
        """When `p` switches the model or VAE, let its settings outlast it; remember what to restore."""
        if not any(k in p.override_settings for k in MODEL_KEYS):
            return
        if self.checkpoint is None:
            self.checkpoint = runtime.model_manager.checkpoint_info
        for key in p.override_settings:
            self.saved.setdefault(key, runtime.opts.data.get(key))
        p.override_settings_restore_afterwards = False

    def __enter__(self) -> "ModelSwitchScope":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.saved:
            return
        for key, value in self.saved.items():
            if value is None:
                runtime.opts.data.pop(key, None)
            else:
                runtime.opts.data[key] = value
        try:
            model_names.reload_model_weights(info=self.checkpoint)
            model_names.reload_vae_weights()
        except Exception:
            logger.exception("could not load the model of before the plot again")
