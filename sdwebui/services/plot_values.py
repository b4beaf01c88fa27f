"""The axes of a plot as a user writes them (the X/Y/Z plot script's "X type", "X values" ...): which
axis a type argument names, and the axis values, a comma-separated list of values and numeric ranges
with A1111's range syntax:

* ``1-5``: every integer from 1 to 5 (``5-1`` counts down);
* ``1-10 (+3)`` / ``10-1 (-3)``: from the first by the step, the end included when reached;
* ``1-10 [5]``: five values spread evenly from 1 to 10 (an int axis truncates them: 1, 3, 5, 7, 10);
* ``0.5-1.5 (+0.25)``, ``0-1 [3]``: the same on a float axis.

A1111 differs in a few places (see docs/compatibility.md, Built-in scripts): a descending range there
without a step is empty and with one stops before its end, a float range with a step may overshoot
its end by a rounding error, and its float pattern takes any character for the decimal point.
"""
from __future__ import annotations

import csv
import math
import re
from io import StringIO
from itertools import chain, permutations
from typing import Any

__all__ = ["PlotArgsError", "axis_values", "csv_string_to_list_strip", "expand_ranges", "list_to_csv_string",
           "pick_option", "re_range", "re_range_count", "re_range_count_float", "re_range_float", "str_permutations"]

_INT = r"[+-]?\s*\d+"
_FLOAT = r"[+-]?\s*\d+(?:\.\d*)?"
re_range = re.compile(rf"\s*({_INT})\s*-\s*({_INT})(?:\s*\(([+-]?\d+)\s*\))?\s*")
re_range_float = re.compile(rf"\s*({_FLOAT})\s*-\s*({_FLOAT})(?:\s*\(([+-]?\d+(?:\.\d*)?)\s*\))?\s*")
re_range_count = re.compile(rf"\s*({_INT})\s*-\s*({_INT})(?:\s*\[(\d+)\s*])?\s*")
re_range_count_float = re.compile(rf"\s*({_FLOAT})\s*-\s*({_FLOAT})(?:\s*\[(\d+)\s*])?\s*")

_DECIMALS = 10      # float steps add rounding errors: 0.1 * 3 is 0.30000000000000004


def _number(text: str, kind: type) -> Any:
    return kind(text.replace(" ", ""))


def _stepped(start: float, end: float, step: float | None) -> list[float]:
    """start, start + step, ... up to end inclusive; without a step, 1 towards end. A step leading
    away from end gives nothing."""
    if step is None:
        step = 1 if end >= start else -1
    if step == 0 or (end - start) * step < 0:
        return []
    count = math.floor((end - start) / step + 1e-9) + 1
    return [start + i * step for i in range(count)]


def _spread(start: float, end: float, count: int) -> list[float]:
    """`count` values from start to end, evenly spaced (numpy's linspace)."""
    if count <= 1:
        return [start][:count]
    return [start + (end - start) * i / (count - 1) for i in range(count)]


def expand_ranges(values: list[str], kind: type) -> list:
    """The values of an int or float axis with their ranges expanded (see the module docstring);
    blank values are dropped, anything else is kept as written for the axis type to convert."""
    ranged, counted = (re_range, re_range_count) if kind is int else (re_range_float, re_range_count_float)
    out: list = []
    for value in values:
        if not str(value).strip():
            continue
        m, mc = ranged.fullmatch(str(value)), counted.fullmatch(str(value))
        if m is not None:
            step = _number(m.group(3), kind) if m.group(3) is not None else None
            found = _stepped(_number(m.group(1), kind), _number(m.group(2), kind), step)
        elif mc is not None:
            found = _spread(_number(mc.group(1), kind), _number(mc.group(2), kind), int(mc.group(3)))
        else:
            out.append(value)
            continue
        out += [int(v) for v in found] if kind is int else [round(v, _DECIMALS) for v in found]
    return out


class PlotArgsError(ValueError):
    """Bad plot arguments: answered 4xx, naming the position in script_args."""

    def __init__(self, position: int, message: str):
        super().__init__(message)
        self.field = ("script_args", str(position))
        self.status_code = 422


def str_permutations(x: Any) -> Any:
    """The type of an axis whose values are every order of the listed tokens (Prompt order)."""
    return x


def list_to_csv_string(data_list: list) -> str:
    with StringIO() as o:
        csv.writer(o).writerow(data_list)
        return o.getvalue().strip()


def csv_string_to_list_strip(data_str: str | None) -> list[str]:
    return [s.strip() for s in chain.from_iterable(csv.reader(StringIO(data_str or ""), skipinitialspace=True))]


def pick_option(options: list, value: Any, position: int, name: str) -> Any:
    """The axis a type argument names: its index among `options` (A1111's form), or its label."""
    if value is None or value == "":
        return options[0]
    labels = [o.label for o in options]
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        found = [o for o in options if o.label.lower() == value.strip().lower()]
        if not found:
            raise PlotArgsError(position, f"{name}: unknown axis {value!r}; available: {labels}")
        return found[0]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not 0 <= int(value) < len(options):
        raise PlotArgsError(position, f"{name}: {value!r} is not an axis index 0..{len(options) - 1} or label; "
                                      f"available: {dict(enumerate(labels))}")
    return options[int(value)]


def axis_values(p: Any, opt: Any, text: Any, dropdown: Any, csv_mode: bool, position: int, name: str) -> list:
    """The values of axis `opt` (an AxisOption): the dropdown's (an axis with choices, unless
    csv_mode; its text when the dropdown is empty) or the text's, ranges expanded, converted to the
    axis type and confirmed. A "Nothing" axis has the one value 0."""
    if opt.label == "Nothing":
        return [0]
    if opt.choices is not None and not csv_mode and dropdown:
        values = list(dropdown)
    elif opt.prepare is not None:
        values = opt.prepare(text)
    else:
        values = csv_string_to_list_strip(text)
    if opt.type in (int, float):
        values = expand_ranges(values, opt.type)
    elif opt.type == str_permutations:
        values = list(permutations(values))
    try:
        values = [opt.type(v) for v in values]
    except (TypeError, ValueError) as e:
        raise PlotArgsError(position, f"{name}: a value of '{opt.label}' is not "
                                      f"{getattr(opt.type, '__name__', opt.type)}: {e}") from None
    if not values:
        raise PlotArgsError(position, f"{name}: no values for '{opt.label}' in {text!r}")
    if opt.confirm:
        try:
            opt.confirm(p, values)
        except PlotArgsError as e:
            e.field = ("script_args", str(position))
            raise
    return values
