"""Composable diffusion: a prompt split on ``AND`` into weighted parts (A1111's
``get_multicond_prompt_list``)."""
from __future__ import annotations

import logging

from sdwebui.engine.prompt.attention import is_word_char

logger = logging.getLogger(__name__)

__all__ = ["get_multicond_prompt_list"]


def _is_decimal_digits(s: str) -> bool:
    return s != "" and s.isdecimal()


def _split_and(prompt: str) -> list[str]:
    """Split on ``AND`` with a word boundary on both sides (uppercase only)."""
    parts = []
    start = pos = 0
    n = len(prompt)
    while True:
        k = prompt.find("AND", pos)
        if k < 0:
            break
        end = k + 3
        if (k > 0 and is_word_char(prompt[k - 1])) or (end < n and is_word_char(prompt[end])):
            pos = k + 1
            continue
        parts.append(prompt[start:k])
        start = pos = end
    parts.append(prompt[start:])
    return parts


def _is_and_weight(s: str) -> bool:
    """``[+-]?(digits[.] | [digits].digits)``."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    if "." not in s:
        return _is_decimal_digits(s)
    whole, _, frac = s.partition(".")
    if frac == "":
        return _is_decimal_digits(whole)
    return (whole == "" or _is_decimal_digits(whole)) and _is_decimal_digits(frac)


def _split_weight(subprompt: str) -> tuple[str, float]:
    """``"text :1.2 "`` -> ``("text", 1.2)``; trailing whitespace is dropped, leading kept."""
    s = subprompt.rstrip()
    colon = s.rfind(":")
    if colon >= 0:
        number = s[colon + 1:].lstrip()
        if number and _is_and_weight(number):
            return s[:colon].rstrip(), float(number)
    return s, 1.0


def get_multicond_prompt_list(
    prompts: list[str],
) -> tuple[list[list[tuple[int, float]]], list[str], dict[str, int]]:
    """Composable diffusion: split prompts on ``AND`` and collect the unique parts.

    ``AND`` must be uppercase with a word boundary on both sides (``cat AND dog``,
    ``(cat)AND(dog)``; not ``and``, ``ANDROID``). Each part may end with ``:weight``
    (``[+-]`` digits with an optional ``.``, no exponent, spaces allowed around the
    colon), default 1.0; trailing whitespace of a part is removed, leading whitespace is
    kept (``"a AND b"`` -> ``"a"``, ``" b"``), as in A1111. A ``:number`` at the very end of
    a prompt without ``AND`` is a weight too.

    Returns ``(per-prompt [(index, weight)], flat list of unique texts, text -> index)``.
    """
    res_indexes: list[list[tuple[int, float]]] = []
    flat: list[str] = []
    index_of: dict[str, int] = {}
    for prompt in prompts:
        indexes = []
        for subprompt in _split_and(prompt):
            text, weight = _split_weight(subprompt)
            index = index_of.get(text)
            if index is None:
                index = len(flat)
                flat.append(text)
                index_of[text] = index
            indexes.append((index, weight))
        res_indexes.append(indexes)
    return res_indexes, flat, index_of
