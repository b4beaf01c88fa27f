"""Applying settings, shared by POST /sdapi/v1/options and the UI (Settings tab, quicksettings):
everything is validated first, the checkpoint and VAE switch through the queue, config.json is
written atomically once."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable, Protocol

from sdwebui.services.app_settings import AppSettings, AppSlot
from sdwebui.services.options.registry import hide_dirs_opts, restricted_opts
from sdwebui.services.options.store import OptionError

if TYPE_CHECKING:
    from sdwebui.services.models.checkpoints import CheckpointRegistry, ModelManager
    from sdwebui.services.queue import GenerationQueue

logger = logging.getLogger(__name__)

FROZEN_MESSAGE = "settings are frozen (--freeze-settings)"


class SettingsError(str):
    """An apply_settings() error: the message (a str, as the UI shows it) and the option it is
    about (`key`, None when it is about no single option), so the API can name it in `loc`.
    `status_code` is 403 for a setting the flags make read-only, else 422."""
    key: str | None
    status_code: int

    def __new__(cls, message: str, key: str | None = None, status_code: int = 422) -> SettingsError:
        self = super().__new__(cls, message)
        self.key = key
        self.status_code = status_code
        return self


class SettingsHost(AppSettings, Protocol):
    """The running app as applying settings needs it: the options, the queue that switches models,
    the checkpoints, and the VAE setting."""
    queue: GenerationQueue | None
    registry: CheckpointRegistry | None
    model_manager: ModelManager | None
    cluster: Any     # the cluster client in cluster mode (models load on its workers), else None

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


def _keyed(key: str, message: str, status_code: int = 422) -> SettingsError:
    """An error text that names the option, so the user knows which field to fix."""
    return SettingsError(message if key in message else f"{key}: {message}", key, status_code)


def _split(values: list[str] | str | None) -> set[str]:
    if not values:
        return set()
    items = values if isinstance(values, list) else str(values).split(",")
    return {v.strip() for v in items if v.strip()}


def _component_args(key: str) -> dict:
    info = _app.get().opts.data_labels.get(key)
    args = info.component_args if info is not None else None
    if callable(args):
        try:
            args = args()
        except Exception:
            logger.exception("component_args of option %s failed", key)
            args = None
    return args if isinstance(args, dict) else {}


def hidden(key: str) -> bool:
    """Whether the UI leaves option `key` out: A1111's path settings (those it gives
    `component_args=shared.hide_dirs`) with --hide-ui-dir-config, and any option whose
    component_args say `visible=False` (an extension's path setting built with shared.hide_dirs)."""
    flags = _app.get().cmd_opts
    if getattr(flags, "hide_ui_dir_config", False) and key in hide_dirs_opts:
        return True
    return _component_args(key).get("visible", True) is False


def _read_only(app: SettingsHost, key: str) -> str | None:
    """Why the flags make `key` read-only (A1111's --freeze-settings-in-sections,
    --freeze-specific-settings and --hide-ui-dir-config), or None."""
    flags = app.cmd_opts
    info = app.opts.data_labels.get(key)
    frozen_sections = _split(getattr(flags, "freeze_settings_in_sections", None))
    if info is not None and info.section and info.section[0] in frozen_sections:
        return f"settings in section {info.section[1]!r} ({info.section[0]}) are frozen with --freeze-settings-in-sections"
    if key in _split(getattr(flags, "freeze_specific_settings", None)):
        return "this setting is frozen with --freeze-specific-settings"
    # A1111 refuses both its restricted_opts and the options it hides (shared.hide_dirs)
    if getattr(flags, "hide_ui_dir_config", False) and (key in restricted_opts or key in hide_dirs_opts):
        return "this setting is read-only with --hide-ui-dir-config"
    if _component_args(key).get("visible", True) is False:
        return "this setting is hidden (its component_args say visible=False), so it cannot be changed"
    return None


def read_only_reason(key: str) -> str | None:
    """Why option `key` cannot be changed from the UI or the API (--freeze-settings and the flags
    of _read_only), or None: the UI shows such an option greyed out."""
    app = _app.get()
    if getattr(app.cmd_opts, "freeze_settings", False):
        return FROZEN_MESSAGE
    return _read_only(app, key)


def current_value(key: str) -> Any:
    opts = _app.get().opts
    info = opts.data_labels.get(key)
    return opts.data.get(key, info.default if info is not None else None)


async def apply_settings(values: dict[str, Any], *, from_api: bool = False) -> tuple[list[str], SettingsError | None]:
    """Validate and apply option values; returns (changed keys, error message or None).

    Nothing changes when any value is invalid or the checkpoint cannot be found or loaded.
    `from_api=True` drops restrict_api options silently, as A1111's API does; the UI may set
    them. A VAE failure after a successful checkpoint switch leaves the new model in place
    (the switch is reported as changed together with the error). Explanation rows (OptionHTML)
    hold no value and are dropped silently, as A1111 does."""
    app = _app.get()
    if app.cmd_opts.freeze_settings:
        return [], SettingsError(FROZEN_MESSAGE, None, 403)
    opts = app.opts
    labels = opts.data_labels
    values = {k: v for k, v in values.items()
              if not (k in labels and (labels[k].do_not_save or (from_api and labels[k].restrict_api)))}
    for key in values:
        why = _read_only(app, key)
        if why is not None and values[key] != current_value(key):
            return [], _keyed(key, f"{key}: {why}", 403)
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
            return [], _keyed("sd_model_checkpoint", f"checkpoint {ckpt!r} not found; available: {titles}")

    changed: list[str] = []
    if info is not None:
        before = current_value("sd_model_checkpoint")
        try:
            if app.cluster is not None:     # loaded by a worker; this process loads no model
                await app.cluster.preload(info.name)
                opts.data.update(sd_model_checkpoint=info.title, sd_checkpoint_hash=info.sha256 or "")
            else:
                # ModelManager.load is a no-op for the resident file; on success its on_loaded
                # callback records the title (and hash) in opts
                await run_on_queue(lambda: app.model_manager.load(info), "load-checkpoint")
        except Exception as e:
            logger.warning("could not switch to checkpoint %s: %s", info.title, e)
            return [], _keyed("sd_model_checkpoint",
                              f"could not load {info.title}: {e}; the previous model is still loaded")
        if current_value("sd_model_checkpoint") != before:
            changed.append("sd_model_checkpoint")

    if "sd_vae" in values and app.cluster is None:     # (in a cluster each worker applies it per job)
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
        return changed, SettingsError(f"settings changed but could not be saved to {opts.path}: {e}", None, 500)
    if changed:
        logger.info("settings changed: %s", ", ".join(changed))
    return changed, None


async def _save_if(changed: list[str]) -> None:
    if changed:
        await asyncio.to_thread(_app.get().opts.save)  # atomic write; keep file I/O off the event loop
