"""Applying settings, shared by POST /sdapi/v1/options and the UI (Settings tab, quicksettings):
everything is validated first, the checkpoint and VAE switch through the queue, config.json is
written atomically once."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable, Protocol

from sdwebui.services.app_settings import AppSettings, AppSlot
from sdwebui.services.options.store import OptionError

if TYPE_CHECKING:
    from sdwebui.services.models.checkpoints import CheckpointRegistry, ModelManager
    from sdwebui.services.queue import GenerationQueue

logger = logging.getLogger(__name__)

FROZEN_MESSAGE = "settings are frozen (--freeze-settings)"


class SettingsHost(AppSettings, Protocol):
    """The running app as applying settings needs it: the options, the queue that switches models,
    the checkpoints, and the VAE setting."""
    queue: GenerationQueue | None
    registry: CheckpointRegistry | None
    model_manager: ModelManager | None

    def ensure_model_loaded(self) -> Any:
        """The resident model, loading the selected checkpoint first (queue worker only)."""

    def apply_vae_setting(self, choice: str | None = None) -> None:
        """Make the resident model use the VAE `choice` names (queue worker only)."""


_app: AppSlot[SettingsHost] = AppSlot("applying settings")


def configure(app: SettingsHost) -> None:
    """The app whose settings apply_settings() changes (the runtime, at start)."""
    _app.set(app)


async def run_on_queue(fn: Callable[[], Any], name: str) -> Any:
    """Run `fn` on the generation queue and wait for it without blocking the event loop."""
    queue = _app.get().queue
    job = queue.submit(fn, name=name)
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        queue.cancel(job.task_id)  # the page went away before the job started
        raise


def _keyed(key: str, message: str) -> str:
    """An error text that names the option, so the user knows which field to fix."""
    return message if key in message else f"{key}: {message}"


def current_value(key: str) -> Any:
    opts = _app.get().opts
    info = opts.data_labels.get(key)
    return opts.data.get(key, info.default if info is not None else None)


async def apply_settings(values: dict[str, Any], *, from_api: bool = False) -> tuple[list[str], str | None]:
    """Validate and apply option values; returns (changed keys, error message or None).

    Nothing changes when any value is invalid or the checkpoint cannot be found or loaded.
    `from_api=True` drops restrict_api options silently, as A1111's API does; the UI may set
    them. A VAE failure after a successful checkpoint switch leaves the new model in place
    (the switch is reported as changed together with the error)."""
    app = _app.get()
    if app.cmd_opts.freeze_settings:
        return [], FROZEN_MESSAGE
    opts = app.opts
    values = dict(values)
    if from_api:
        values = {k: v for k, v in values.items()
                  if not (k in opts.data_labels and opts.data_labels[k].restrict_api)}
    # the checkpoint is matched against the registry (title, name, hash ...), not validated as text
    ckpt = values.pop("sd_model_checkpoint", None)
    try:
        values = opts.validate_many(values)
    except OptionError as e:
        return [], _keyed(e.key, str(e))
    info = None
    if ckpt is not None:
        info = app.registry.match(str(ckpt))
        if info is None:
            titles = [c.title for c in app.registry.list()]
            return [], f"sd_model_checkpoint: checkpoint {ckpt!r} not found; available: {titles}"

    changed: list[str] = []
    if info is not None:
        before = current_value("sd_model_checkpoint")
        try:
            # ModelManager.load is a no-op for the resident file; on success its on_loaded
            # callback records the title (and hash) in opts
            await run_on_queue(lambda: app.model_manager.load(info), "load-checkpoint")
        except Exception as e:
            logger.warning("could not switch to checkpoint %s: %s", info.title, e)
            return [], f"sd_model_checkpoint: could not load {info.title}: {e}; the previous model is still loaded"
        if current_value("sd_model_checkpoint") != before:
            changed.append("sd_model_checkpoint")

    if "sd_vae" in values:
        vae = values["sd_vae"]

        def apply_vae() -> None:
            app.ensure_model_loaded()
            app.apply_vae_setting(vae)

        try:
            await run_on_queue(apply_vae, "load-vae")
        except Exception as e:
            logger.warning("could not apply VAE %s: %s", vae, e)
            await _save_if(changed)
            return changed, _keyed(getattr(e, "field", None) or "sd_vae", str(e))

    done: dict[str, Any] = {}  # key -> previous value, to undo if a later onchange callback fails
    try:
        for key, value in values.items():
            previous = current_value(key)
            if opts.set(key, value, validate=False):
                done[key] = previous
    except Exception as e:
        logger.warning("setting %s failed: %s", key, e)
        for k, old in reversed(done.items()):
            try:
                opts.set(k, old, validate=False)
            except Exception:
                logger.exception("could not restore option %s", k)
        await _save_if(changed)
        return changed, _keyed(key, str(e))
    changed.extend(done)
    try:
        await _save_if(changed)
    except OSError as e:
        return changed, f"settings changed but could not be saved to {opts.path}: {e}"
    if changed:
        logger.info("settings changed: %s", ", ".join(changed))
    return changed, None


async def _save_if(changed: list[str]) -> None:
    if changed:
        await asyncio.to_thread(_app.get().opts.save)  # atomic write; keep file I/O off the event loop
