"""The options store: a typed registry of settings persisted to config.json.

A1111 keeps options as an untyped dict and answers 500 on a bad POST. Here every option
has a type (from its default unless given), optional choices and bounds, and a whole
update is validated before anything is applied, so a bad request changes nothing.
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import TypeAdapter, ValidationError

from sdwebui.engine.atomic_write import atomic_write_text

logger = logging.getLogger(__name__)


class OptionError(ValueError):
    """A bad option key or value; `key` names it so the API can answer 4xx with the field."""

    def __init__(self, key: str, message: str, status_code: int = 422):
        super().__init__(message)
        self.key = key
        self.status_code = status_code


@dataclass
class OptionInfo:
    default: Any = None
    label: str = ""
    component: str | None = None          # UI hint: "textbox", "slider", "dropdown", "checkbox", "radio"
    component_args: dict | Callable[[], dict] | None = None
    onchange: Callable[[], None] | None = None
    section: tuple[str, str] | tuple[str, str, str] | None = None
    refresh: Callable[[], None] | None = None
    type: Any = None                      # python type for validation; derived from default when None
    choices: tuple | Callable[[], list] | None = None
    minimum: float | None = None
    maximum: float | None = None
    restrict_api: bool = False            # A1111: silently ignored when set through the API
    infotext: str | None = None           # infotext key this option is written as / pasted from
    comment_after: str = ""
    category_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.component, type):
            # A1111 extensions pass the gradio class (gr.Slider, gr.Radio ...) and its arguments
            self.component = self.component.__name__.lower()
        args = self.component_args if isinstance(self.component_args, dict) else {}
        if self.minimum is None and isinstance(args.get("minimum"), (int, float)):
            self.minimum = args["minimum"]
        if self.maximum is None and isinstance(args.get("maximum"), (int, float)):
            self.maximum = args["maximum"]
        if self.choices is None and isinstance(args.get("choices"), (list, tuple)):
            self.choices = tuple(args["choices"])
        if self.type is None:
            d = self.default
            if isinstance(d, bool):
                self.type = bool
            elif isinstance(d, int):
                self.type = int
            elif isinstance(d, float):
                self.type = float
            elif isinstance(d, str):
                self.type = str
            elif isinstance(d, list):
                self.type = list
            elif isinstance(d, dict):
                self.type = dict
            else:
                self.type = Any

    # A1111's OptionInfo is chained like `OptionInfo(...).info("...").needs_reload_ui()`.
    def info(self, text: str) -> "OptionInfo":
        self.comment_after += f" ({text})"
        return self

    def html(self, text: str) -> "OptionInfo":
        self.comment_after += text
        return self

    def link(self, label: str, url: str) -> "OptionInfo":
        return self

    def needs_restart(self) -> "OptionInfo":
        self.comment_after += " (requires restart)"
        return self

    def needs_reload_ui(self) -> "OptionInfo":
        self.comment_after += " (requires Reload UI)"
        return self

    def get_choices(self) -> list | None:
        if self.choices is None:
            return None
        return list(self.choices()) if callable(self.choices) else list(self.choices)


def options_section(section: tuple, options: dict[str, OptionInfo]) -> dict[str, OptionInfo]:
    for info in options.values():
        info.section = section
        if len(section) > 2:
            info.category_id = section[2]
    return options


@dataclass
class _Adapters:
    cache: dict[Any, TypeAdapter] = field(default_factory=dict)

    def get(self, tp: Any) -> TypeAdapter:
        key = repr(tp)
        if key not in self.cache:
            self.cache[key] = TypeAdapter(tp)
        return self.cache[key]


_adapters = _Adapters()


class Options:
    """`shared.opts`: attribute access to values, `data` for the raw dict, `add_option` for extensions."""

    def __init__(self, templates: dict[str, OptionInfo], path: Path | None = None):
        object.__setattr__(self, "data_labels", dict(templates))
        object.__setattr__(self, "data", {k: v.default for k, v in templates.items()})
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_onchange", {})
        # keys a running job's override_settings replace -> their value outside the job: what
        # config.json keeps and what comes back when the job ends
        object.__setattr__(self, "_scoped", {})

    # attribute access -----------------------------------------------------------------
    def __getattr__(self, item: str) -> Any:
        data = object.__getattribute__(self, "data")
        if item in data:
            return data[item]
        labels = object.__getattribute__(self, "data_labels")
        if item in labels:
            return labels[item].default
        raise AttributeError(f"no option named {item!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.data_labels:
            self.set(key, value)
        else:
            object.__setattr__(self, key, value)

    def __contains__(self, key: str) -> bool:
        return key in self.data_labels

    # registry -------------------------------------------------------------------------
    def add_option(self, key: str, info: OptionInfo) -> None:
        with self._lock:
            self.data_labels[key] = info
            if key not in self.data:
                self.data[key] = info.default

    def get_default(self, key: str) -> Any:
        info = self.data_labels.get(key)
        return None if info is None else info.default

    def onchange(self, key: str, func: Callable[[], None], call: bool = True) -> None:
        self._onchange.setdefault(key, []).append(func)
        if call:
            func()

    # validation -----------------------------------------------------------------------
    def validate(self, key: str, value: Any) -> Any:
        info = self.data_labels.get(key)
        if info is None:
            raise OptionError(key, f"unknown option {key!r}", status_code=422)
        if value is None and (info.default is None or info.type is Any):
            return None
        try:
            value = _adapters.get(info.type).validate_python(value)
        except ValidationError as e:
            msg = e.errors()[0].get("msg", str(e))
            raise OptionError(key, f"option {key!r}: {msg} (got {value!r})") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if info.minimum is not None and value < info.minimum:
                raise OptionError(key, f"option {key!r}: {value} is below the minimum {info.minimum}")
            if info.maximum is not None and value > info.maximum:
                raise OptionError(key, f"option {key!r}: {value} is above the maximum {info.maximum}")
        choices = info.get_choices()
        if choices is not None:
            bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
            if bad:
                raise OptionError(key, f"option {key!r}: {bad[0]!r} is not one of {choices}")
        return value

    # mutation -------------------------------------------------------------------------
    def set(self, key: str, value: Any, *, run_callbacks: bool = True, validate: bool = True) -> bool:
        """Set one option; returns whether the value changed. Callbacks may raise: the
        old value is then restored and the error propagates."""
        if validate:
            value = self.validate(key, value)
        with self._lock:
            old = self.data.get(key)
            scoped = key in self._scoped
            old_outside = self._scoped.get(key, old)
            if old == value and old_outside == value:
                return False
            if scoped:   # written while a job overrides it: the new value also outlives the job
                self._scoped[key] = value
            self.data[key] = value
        if run_callbacks:
            try:
                for func in self._onchange.get(key, []):
                    func()
                info = self.data_labels[key]
                if info.onchange is not None:
                    info.onchange()
            except BaseException:
                with self._lock:
                    self.data[key] = old
                    if scoped:
                        self._scoped[key] = old_outside
                raise
        return True

    def validate_many(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self.validate(k, v) for k, v in values.items()}

    @contextmanager
    def override(self, values: dict[str, Any] | None, restore: bool = True) -> Iterator[None]:
        """Apply `override_settings` for the duration of one job (the queue runs one job
        at a time, so this is scoped to the job), then put the old values back."""
        values = self.validate_many(values or {})
        with self._lock:
            old = {k: self.data.get(k) for k in values}
            # a save during the job must write the values outside it, not the job's (issue 8: an
            # options write while such a job ran persisted its temporary overrides to config.json)
            first = [k for k in values if k not in self._scoped]   # (not already under an outer override)
            for k in first:
                self._scoped[k] = self.data.get(k)
            self.data.update(values)
        try:
            yield
        finally:
            with self._lock:
                for k in values:
                    outside = self._scoped.pop(k) if k in first else old[k]
                    if restore:
                        self.data[k] = outside   # including a value written while the job ran

    # persistence ----------------------------------------------------------------------
    def dumps(self) -> str:
        with self._lock:
            return json.dumps({**self.data, **self._scoped}, indent=4, ensure_ascii=False, default=str)

    def save(self, path: Path | None = None) -> None:
        target = path or self.path
        if target is None:
            return
        atomic_write_text(Path(target), self.dumps())

    def load(self, path: Path | None = None) -> None:
        """Load config.json; values that no longer validate are reported and dropped, so a
        hand-edited file never stops the app from starting. Unknown keys are kept (they may
        belong to an extension that registers its options later)."""
        target = Path(path or self.path) if (path or self.path) else None
        if target is None or not target.exists():
            return
        try:
            loaded = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            logger.error("could not read settings from %s (%s); using defaults", target, e)
            return
        if not isinstance(loaded, dict):
            logger.error("settings file %s does not hold a JSON object; using defaults", target)
            return
        with self._lock:
            for key, value in loaded.items():
                if key in self.data_labels:
                    try:
                        value = self.validate(key, value)
                    except OptionError as e:
                        logger.warning("ignoring setting from %s: %s", target.name, e)
                        continue
                self.data[key] = value

    def as_dict(self) -> dict[str, Any]:
        """Every registered key with its current value (GET /sdapi/v1/options)."""
        with self._lock:
            return {k: self.data.get(k, info.default) for k, info in self.data_labels.items()}
