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
from sdwebui.services.options.info import (  # noqa: F401  (A1111's modules.options names)
    OptionHTML, OptionInfo, OptionsCategories, OptionsCategory, categories, options_section)

logger = logging.getLogger(__name__)


class OptionError(ValueError):
    """A bad option key or value; `key` names it so the API can answer 4xx with the field."""

    def __init__(self, key: str, message: str, status_code: int = 422):
        super().__init__(message)
        self.key = key
        self.status_code = status_code


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

    # A1111: an int and a float count as the same type when a value is checked (same_type)
    typemap = {int: float}

    def __init__(self, templates: dict[str, OptionInfo], path: Path | None = None):
        object.__setattr__(self, "data_labels", dict(templates))
        object.__setattr__(self, "data", {k: v.default for k, v in templates.items() if not v.do_not_save})
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
            if key not in self.data and not info.do_not_save:
                self.data[key] = info.default

    def get_default(self, key: str) -> Any:
        info = self.data_labels.get(key)
        return None if info is None else info.default

    def onchange(self, key: str, func: Callable[[], None], call: bool = True) -> None:
        """Run `func` whenever `key` changes (and now, when `call`). Unlike A1111, which keeps one
        function per key, every registered function runs: two extensions may watch one key."""
        self._onchange.setdefault(key, []).append(func)
        if call:
            func()

    def same_type(self, x: Any, y: Any) -> bool:
        """A1111's loose check that a value fits a setting: None fits anything, int fits float."""
        if x is None or y is None:
            return True
        return self.typemap.get(type(x), type(x)) == self.typemap.get(type(y), type(y))

    def cast_value(self, key: str, value: Any) -> Any:
        """`value` (often text from an infotext) as the type of `key`'s default, as A1111 does:
        cast_value("eta_noise_seed_delta", "12") == 12; "False" is False for a checkbox."""
        if value is None:
            return None
        default = self.data_labels[key].default
        if default is None:
            default = getattr(self, key, None)
        if default is None:
            return None
        expected = type(default)
        if expected is bool and value == "False":
            return False
        return expected(value)

    def reorder(self) -> None:
        """Order the options as A1111's Settings tab does: by category (in registration order),
        then by section label, keeping each section together; every option of a section gets
        the category of the section's first option."""
        with self._lock:
            section_category = self._section_categories()
            for info in self.data_labels.values():
                info.category_id = section_category.get(info.section)
            order = {cid: i for i, cid in enumerate(categories.mapping)}

            def sort_key(item: tuple[str, OptionInfo]) -> tuple[int, str]:
                info = item[1]
                return order.get(info.category_id, len(order)), (info.section or ("", ""))[1] or ""

            object.__setattr__(self, "data_labels", dict(sorted(self.data_labels.items(), key=sort_key)))

    def _section_categories(self) -> dict[Any, str | None]:
        out: dict[Any, str | None] = {}
        for info in self.data_labels.values():
            out.setdefault(info.section, info.category_id)
        return out

    def dumpjson(self) -> str:
        """The settings as A1111's page script reads them: every value, the comments shown
        before and after each label, and which category heading goes above each section."""
        with self._lock:
            d: dict[str, Any] = {k: self.data.get(k, v.default) for k, v in self.data_labels.items()}
            d["_comments_before"] = {k: v.comment_before for k, v in self.data_labels.items()}
            d["_comments_after"] = {k: v.comment_after for k, v in self.data_labels.items()}
            section_category = self._section_categories()
            headings: dict[str, str] = {}
            for info in self.data_labels.values():
                if not info.section or info.section[0] is None:
                    continue
                category = categories.mapping.get(section_category.get(info.section) or "")
                headings.setdefault(category.label if category else "Uncategorized", info.section[1])
        d["_categories"] = [[section, category] for category, section in headings.items()] + [["Defaults", "Other"]]
        return json.dumps(d, ensure_ascii=False, default=str)

    # validation -----------------------------------------------------------------------
    def validate(self, key: str, value: Any, *, check_choices: bool = True) -> Any:
        """`value` as option `key`'s type; OptionError naming the key when it is not valid.
        `check_choices=False` skips the choices (a list of files that may not be known yet)."""
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
        choices = info.get_choices() if check_choices else None
        if choices is not None:
            bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
            if bad:
                raise OptionError(key, f"option {key!r}: {bad[0]!r} is not one of {choices}")
        return value

    # mutation -------------------------------------------------------------------------
    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True, *,
            validate: bool = True) -> bool:
        """Set one option; returns whether the value changed. As in A1111, an explanation row
        (do_not_save) and, from the API, a restrict_api option are left alone (False). A bad
        value raises OptionError; callbacks may raise: the old value is then restored and the
        error propagates."""
        info = self.data_labels.get(key)
        if info is not None and (info.do_not_save or (is_api and info.restrict_api)):
            return False
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

    @contextmanager
    def replaced(self, values: dict[str, Any]) -> Iterator[None]:
        """Every value as `values` has it for a while, then back as it was: a cluster worker runs each
        job with the front end's settings (taken as they are: the front end checked them)."""
        with self._lock:
            kept = dict(self.data)
            self.data.update(values)
        try:
            yield
        finally:
            with self._lock:
                self.data.clear()
                self.data.update(kept)

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
        _migrate(loaded)
        with self._lock:
            for key, value in loaded.items():
                if key in self.data_labels and self.data_labels[key].do_not_save:
                    continue
                if key in self.data_labels:
                    # choices listed from disk (VAEs, localizations) are not known yet at start
                    # (registries, extensions): a saved one is kept, and checked when it is set
                    try:
                        value = self.validate(key, value, check_choices=not callable(self.data_labels[key].choices))
                    except OptionError as e:
                        logger.warning("ignoring setting from %s: %s", target.name, e)
                        continue
                self.data[key] = value

    def as_dict(self) -> dict[str, Any]:
        """Every registered key with its current value (GET /sdapi/v1/options)."""
        with self._lock:
            return {k: self.data.get(k, info.default) for k, info in self.data_labels.items() if not info.do_not_save}


def _migrate(loaded: dict[str, Any]) -> None:
    """Settings files written by older A1111 versions keep their meaning (A1111 does the same)."""
    if loaded.get("sd_vae_as_default") is not None and loaded.get("sd_vae_overrides_per_model_preferences") is None:
        loaded["sd_vae_overrides_per_model_preferences"] = not loaded["sd_vae_as_default"]   # 1.6.0
    if isinstance(loaded.get("quicksettings"), str) and loaded.get("quicksettings_list") is None:
        loaded["quicksettings_list"] = [k.strip() for k in loaded["quicksettings"].split(",") if k.strip()]   # 1.1.1
    if isinstance(loaded.get("ui_reorder"), str) and loaded["ui_reorder"] and "ui_reorder_list" not in loaded:
        loaded["ui_reorder_list"] = [k.strip() for k in loaded["ui_reorder"].split(",")]   # 1.4.0
