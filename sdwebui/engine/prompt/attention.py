"""Attention (emphasis) syntax: a prompt text as ``(text, weight)`` spans, and the ``BREAK`` marker
(A1111's ``parse_prompt_attention``).

Deliberate differences from A1111:

* ``\\`` escapes *any* following character in the attention stage (A1111 only knows
  ``\\( \\) \\[ \\] \\\\``; for other characters it drops the backslash, which gives the same
  text). So ``(a\\:1.5)`` is the literal text ``a:1.5`` weighted x1.1, where A1111
  would apply weight 1.5, and ``\\BREAK`` is the literal word, not a chunk break.
  The scheduling stage already treated ``\\:`` as an escaped colon in A1111.
* An attention weight that is not a number (``(a:1.2.3)``, ``(a:.)``) makes the colon
  literal text instead of raising ``ValueError``; exponents (``(a:1e-1)``) were never
  part of the weight syntax, so that text stays literal, as in A1111.
* ``BREAK`` inside brackets stays the marker ``("BREAK", -1.0)``: bracket weights
  are not applied to it (A1111 multiplied it, which turned it into a weighted word).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

logger = logging.getLogger(__name__)

__all__ = ["BREAK_WEIGHT", "WeightedText", "is_break", "parse_prompt_attention"]

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
BREAK_WORD = "BREAK"
BREAK_WEIGHT = -1.0


def is_word_char(ch: str) -> bool:
    """What a regex ``\\w`` matches in a str pattern: letters, digits and ``_``."""
    return ch.isalnum() or ch == "_"


class WeightedText(NamedTuple):
    """One span of :func:`parse_prompt_attention`; compares equal to ``(text, weight)``."""

    text: str
    weight: float


def is_break(item: tuple[str, float]) -> bool:
    """True for the chunk-break marker ``("BREAK", -1.0)`` that :func:`parse_prompt_attention` emits."""
    return item[0] == BREAK_WORD and item[1] == BREAK_WEIGHT


@dataclass
class _Span:
    text: str
    weight: float = 1.0
    is_break: bool = False


_ATTENTION_SPECIAL = frozenset("\\()[]:")


def _split_break(run: str) -> list[str]:
    """Split a run of ordinary characters on the word ``BREAK``.

    ``BREAK`` must be uppercase with a word boundary on both sides (boundaries are judged
    inside the run only, its ends count as boundaries); whitespace touching it is
    dropped. ``"a BREAK b"`` -> ``["a", "b"]``, ``"BREAK"`` -> ``["", ""]``.
    """
    parts: list[str] = []
    start = 0  # beginning of the current part
    pos = 0
    n = len(run)
    while True:
        k = run.find(BREAK_WORD, pos)
        if k < 0:
            break
        end = k + len(BREAK_WORD)
        if (k > 0 and is_word_char(run[k - 1])) or (end < n and is_word_char(run[end])):
            pos = k + 1
            continue
        left = k
        while left > start and run[left - 1].isspace():
            left -= 1
        while end < n and run[end].isspace():
            end += 1
        parts.append(run[start:left])
        start = pos = end
    parts.append(run[start:])
    return parts


def _match_weight(text: str, i: int) -> tuple[float, int] | None:
    """At ``text[i] == ':'`` match ``:`` ws ``[+-]?[.0-9]+`` ws ``)``.

    Returns ``(weight, index after ')')`` or None when the shape does not match or the
    number does not parse (``1.2.3``, ``.``).
    """
    n = len(text)
    j = i + 1
    while j < n and text[j].isspace():
        j += 1
    num_start = j
    if j < n and text[j] in "+-":
        j += 1
    body_start = j
    while j < n and (text[j] == "." or text[j].isdecimal()):
        j += 1
    if j == body_start:
        return None
    num_end = j
    while j < n and text[j].isspace():
        j += 1
    if j >= n or text[j] != ")":
        return None
    try:
        weight = float(text[num_start:num_end])
    except ValueError:
        return None
    return weight, j + 1


def parse_prompt_attention(text: str) -> list[WeightedText]:
    """Split a prompt into ``(text, weight)`` spans by its emphasis syntax.

    * ``(a)`` multiplies the weight of ``a`` by 1.1, ``[a]`` by 1/1.1; ``(a:1.3)`` by 1.3
      (``:`` optional spaces, a number of ``+-`` digits and dots, optional spaces, ``)``).
      Nesting multiplies: ``((a))`` is 1.21. Brackets are matched as two independent
      stacks (``(`` with ``)`` and ``[`` with ``]``), so crossing pairs such as
      ``(a[b)c]`` are accepted and each closing bracket weights everything emitted since
      its opening one.
    * A closing bracket with no open one of its kind is literal text; brackets still open
      at the end are closed implicitly (all ``(`` first, then all ``[``).
    * ``\\X`` is the literal character ``X`` (``\\( \\) \\[ \\] \\\\``, also ``\\:`` and
      ``\\BREAK``); a trailing lone backslash is dropped.
    * ``BREAK`` as a separate uppercase word gives the marker ``("BREAK", -1.0)`` (see
      :func:`is_break`), whitespace around it is dropped; the text parts on both
      sides of it are kept even when empty, as A1111 does.
    * Adjacent spans of equal weight are merged; an empty prompt gives ``[("", 1.0)]``.

    >>> [tuple(x) for x in parse_prompt_attention('an (important) word')]
    [('an ', 1.0), ('important', 1.1), (' word', 1.0)]
    """
    spans: list[_Span] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply_from(start: int, multiplier: float) -> None:
        for span in spans[start:]:
            if not span.is_break:
                span.weight *= multiplier

    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            spans.append(_Span(text[i + 1:i + 2]))
            i += 2
        elif ch == "(":
            round_open.append(len(spans))
            i += 1
        elif ch == "[":
            square_open.append(len(spans))
            i += 1
        elif ch == ":":
            matched = _match_weight(text, i) if round_open else None
            if matched is None:
                spans.append(_Span(":"))
                i += 1
            else:
                weight, i = matched
                multiply_from(round_open.pop(), weight)
        elif ch == ")":
            if round_open:
                multiply_from(round_open.pop(), ROUND_MULTIPLIER)
            else:
                spans.append(_Span(")"))
            i += 1
        elif ch == "]":
            if square_open:
                multiply_from(square_open.pop(), SQUARE_MULTIPLIER)
            else:
                spans.append(_Span("]"))
            i += 1
        else:
            j = i + 1
            while j < n and text[j] not in _ATTENTION_SPECIAL:
                j += 1
            for k, part in enumerate(_split_break(text[i:j])):
                if k:
                    spans.append(_Span(BREAK_WORD, BREAK_WEIGHT, is_break=True))
                spans.append(_Span(part))
            i = j

    for start in round_open:
        multiply_from(start, ROUND_MULTIPLIER)
    for start in square_open:
        multiply_from(start, SQUARE_MULTIPLIER)

    if not spans:
        return [WeightedText("", 1.0)]

    merged: list[_Span] = [spans[0]]
    for span in spans[1:]:
        last = merged[-1]
        if not span.is_break and not last.is_break and span.weight == last.weight:
            last.text += span.text
        else:
            merged.append(span)
    return [WeightedText(s.text, s.weight) for s in merged]
