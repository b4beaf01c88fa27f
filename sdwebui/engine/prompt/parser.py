"""A1111's prompt language, parsed without torch.

Four independent stages, applied by the caller in this order:

1. :func:`strip_extra_networks` removes ``<name:arg1:arg2...>`` tags (``<lora:x:0.8>``).
2. :func:`get_multicond_prompt_list` splits a prompt into composable-diffusion parts
   on the word ``AND`` (uppercase, on word boundaries), each with an optional
   ``:weight`` suffix.
3. :func:`get_learned_conditioning_prompt_schedules` expands prompt editing
   (``[from:to:when]``, ``[to:when]``, ``[from::when]``) and alternation
   (``[a|b|c]``) into the plain prompt text in force for each range of sampling steps.
4. :func:`parse_prompt_attention` turns one plain prompt text into ``(text, weight)``
   spans: ``(a)`` x1.1, ``[a]`` /1.1, ``(a:w)`` xw, and the ``BREAK`` marker.

Stage 3 keeps attention syntax (and escapes) verbatim in its output, so stage 4 runs on
the text of every scheduled step.

Behaviour follows AUTOMATIC1111's webui (1.6+) including its quirks; the few deliberate
differences are listed here and in the functions' docstrings:

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
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple, Union

logger = logging.getLogger(__name__)

__all__ = [
    "BREAK_WEIGHT",
    "ScheduledPrompt",
    "WeightedText",
    "get_learned_conditioning_prompt_schedules",
    "get_multicond_prompt_list",
    "is_break",
    "parse_prompt_attention",
    "prompt_at_step",
    "strip_extra_networks",
]

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
BREAK_WORD = "BREAK"
BREAK_WEIGHT = -1.0


# --------------------------------------------------------------------------- helpers


def _is_word_char(ch: str) -> bool:
    """What a regex ``\\w`` matches in a str pattern: letters, digits and ``_``."""
    return ch.isalnum() or ch == "_"


def _is_decimal_digits(s: str) -> bool:
    return s != "" and s.isdecimal()


# --------------------------------------------------------------------------- attention


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
        if (k > 0 and _is_word_char(run[k - 1])) or (end < n and _is_word_char(run[end])):
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


# --------------------------------------------------------------------------- scheduling


class ScheduledPrompt(NamedTuple):
    """Prompt text in force for the steps up to and including ``end_at_step``
    (1-based, after the previous entry's end); compares equal to ``(end, text)``."""

    end_at_step: int
    text: str


@dataclass
class _Scheduled:
    """``[before:after:when]``; ``before`` is None for ``[after:when]``."""

    before: _Seq | None
    after: _Seq
    when_text: str
    when: int = 0


@dataclass
class _Alternate:
    options: list[_Seq]


@dataclass
class _Seq:
    items: list[Union[str, _Scheduled, _Alternate, _Seq]] = field(default_factory=list)


class _ScheduleSyntaxError(ValueError):
    """The prompt is not in the scheduling grammar; it is then used verbatim for all steps."""


# A lark SIGNED_NUMBER: optional sign, int / int. / int.int / .int, optional exponent.
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _ScheduleParser:
    """Recursive-descent parser for prompt editing and alternation.

    Grammar (informal)::

        top       := ( construct | plain | stray )*       stray: one of ( ) [ ] :
        prompt    := ( construct | plain )*               (nested: no strays allowed)
        construct := "(" prompt ")" | "(" prompt ":" prompt ")"
                   | "[" prompt "]"                                  emphasis, kept verbatim
                   | "[" [prompt ":"] prompt ":" ws? NUMBER ws? "]"  editing
                   | "[" prompt ( "|" prompt )+ "]"                  alternation
        plain     := ( any char but \\ ( ) [ ] : | , or "\\" + any char but newline )+

    At the top level a bracket that does not start a valid construct is literal text, and
    parsing goes on after it. A ``|`` outside an alternation, or a backslash at the end or
    before a newline, makes the whole prompt invalid (as with A1111's grammar), and the
    prompt then has no scheduling at all.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self._memo: dict[int, tuple[_Seq, int] | None] = {}

    def parse(self) -> _Seq:
        text, n = self.text, self.n
        out = _Seq()
        i = 0
        while i < n:
            ch = text[i]
            if ch in "([":
                got = self._construct(i)
                if got is None:
                    out.items.append(ch)
                    i += 1
                else:
                    node, i = got
                    out.items.append(node)
            elif ch in ")]:":
                out.items.append(ch)
                i += 1
            elif ch == "|":
                raise _ScheduleSyntaxError(f"'|' outside an alternation at {i}")
            else:
                i = self._plain(i, out)
        return out

    def _plain(self, i: int, out: _Seq) -> int:
        """Consume plain text (with escapes) from ``i``; append it to ``out``."""
        text, n = self.text, self.n
        j = i
        while j < n:
            ch = text[j]
            if ch == "\\":
                if j + 1 >= n or text[j + 1] == "\n":
                    raise _ScheduleSyntaxError(f"dangling backslash at {j}")
                j += 2
            elif ch in "()[]:|":
                break
            else:
                j += 1
        out.items.append(text[i:j])
        return j

    def _prompt(self, i: int) -> tuple[_Seq, int, int] | None:
        """Nested prompt from ``i`` up to one of ``) ] : |``.

        Returns ``(seq, index of the terminator, start index)`` or None when the text
        ends first or a nested construct is invalid.
        """
        text, n = self.text, self.n
        seq = _Seq()
        start = i
        while i < n:
            ch = text[i]
            if ch in "([":
                got = self._construct(i)
                if got is None:
                    return None
                node, i = got
                seq.items.append(node)
            elif ch in ")]:|":
                return seq, i, start
            else:
                i = self._plain(i, seq)
        return None

    def _construct(self, i: int) -> tuple[_Seq, int] | None:
        """A bracketed construct starting at ``text[i]``: (node, index after it) or None."""
        if i in self._memo:
            return self._memo[i]
        try:
            got = self._round(i) if self.text[i] == "(" else self._square(i)
        except _ScheduleSyntaxError:
            self._memo[i] = None
            raise
        self._memo[i] = got
        return got

    def _round(self, i: int) -> tuple[_Seq, int] | None:
        first = self._prompt(i + 1)
        if first is None:
            return None
        seq1, term, _ = first
        if self.text[term] == ")":
            return _Seq(["(", seq1, ")"]), term + 1
        if self.text[term] != ":":
            return None
        second = self._prompt(term + 1)
        if second is None:
            return None
        seq2, term2, _ = second
        if self.text[term2] != ")":
            return None
        return _Seq(["(", seq1, ":", seq2, ")"]), term2 + 1

    def _square(self, i: int) -> tuple[_Seq, int] | None:
        parts: list[tuple[_Seq, int, int]] = []  # (seq, start, end) of each part
        seps: list[str] = []
        pos = i + 1
        while True:
            got = self._prompt(pos)
            if got is None:
                return None
            seq, term, start = got
            parts.append((seq, start, term))
            sep = self.text[term]
            if sep == "]":
                break
            if sep == ")":
                return None
            seps.append(sep)
            pos = term + 1
        end = term + 1
        if not seps:
            return _Seq(["[", parts[0][0], "]"]), end
        if all(s == "|" for s in seps):
            return _Seq([_Alternate([p[0] for p in parts])]), end
        if all(s == ":" for s in seps) and len(seps) <= 2:
            _, w_start, w_end = parts[-1]
            when_text = self.text[w_start:w_end].strip()
            if not _NUMBER_RE.fullmatch(when_text):
                return None
            before = parts[0][0] if len(seps) == 2 else None
            after = parts[-2][0]
            return _Seq([_Scheduled(before, after, when_text)]), end
        return None


def _walk(seq: _Seq):
    """All nodes of a parsed prompt, depth first."""
    for item in seq.items:
        if isinstance(item, _Seq):
            yield from _walk(item)
        elif isinstance(item, _Scheduled):
            yield item
            if item.before is not None:
                yield from _walk(item.before)
            yield from _walk(item.after)
        elif isinstance(item, _Alternate):
            yield item
            for option in item.options:
                yield from _walk(option)


def _render(seq: _Seq, step: int, out: list[str]) -> None:
    for item in seq.items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, _Seq):
            _render(item, step, out)
        elif isinstance(item, _Scheduled):
            if step <= item.when:
                if item.before is not None:
                    _render(item.before, step, out)
            else:
                _render(item.after, step, out)
        else:
            _render(item.options[(step - 1) % len(item.options)], step, out)


def _resolve_when(when_text: str, steps: int, int_offset: int, float_offset: float, old: bool) -> int:
    value = float(when_text)
    if old:
        if value < 1:
            value *= steps
    elif "." in when_text:
        value = (value - float_offset) * steps
    else:
        value -= int_offset
    if math.isnan(value):
        value = 0.0
    value = max(-1e12, min(1e12, value))  # inf from "1e999"
    return min(steps, int(value))


def _schedule_one(prompt: str, steps: int, int_offset: int, float_offset: float, old: bool) -> list[ScheduledPrompt]:
    try:
        tree = _ScheduleParser(prompt).parse()
    except (_ScheduleSyntaxError, RecursionError) as e:
        logger.debug("prompt %r has no scheduling (%s)", prompt, e)
        return [ScheduledPrompt(steps, prompt)]

    boundaries = {steps}
    for node in _walk(tree):
        if isinstance(node, _Scheduled):
            node.when = _resolve_when(node.when_text, steps, int_offset, float_offset, old)
            if node.when >= 1:
                boundaries.add(node.when)
        else:
            boundaries.update(range(1, steps + 1))

    result = []
    for step in sorted(boundaries):
        out: list[str] = []
        _render(tree, step, out)
        result.append(ScheduledPrompt(step, "".join(out)))
    return result


def get_learned_conditioning_prompt_schedules(
    prompts: list[str],
    base_steps: int,
    hires_steps: int | None = None,
    use_old_scheduling: bool = False,
) -> list[list[ScheduledPrompt]]:
    """For each prompt, the list of ``(end_at_step, text)`` after prompt editing and alternation.

    Steps are 1-based; entry ``k`` applies to steps ``prev_end+1 .. end_at_step``; the last
    entry ends at the number of steps of the pass (``base_steps``, or ``hires_steps`` for
    the hires pass). Attention syntax, escapes and anything not scheduled are kept verbatim.

    * ``[from:to:when]`` gives ``from`` for steps ``<= when`` and ``to`` after;
      ``[to:when]`` is ``[:to:when]`` and ``[from::when]`` has an empty ``to``.
      Whitespace around the number is ignored; whitespace inside ``from``/``to`` is kept.
    * ``when`` (a lark SIGNED_NUMBER: ``5``, ``-1``, ``0.5``, ``.5``, ``5.``, ``1e1``):

      - without hires (``hires_steps`` None) or with ``use_old_scheduling``: steps are
        ``base_steps``; new rules: a number containing ``.`` is a fraction of the steps
        (``0.5`` of 10 -> 5; ``5.0`` -> 50, clamped to 10), otherwise an absolute step;
        old rules: any value below 1 is a fraction, otherwise a step.
      - with hires (new rules): steps are ``hires_steps``; an integer is a step counted
        from the start of the base pass (``when - base_steps`` in the hires pass), a
        decimal is a fraction of both passes on the range 1..2 (``1.5`` -> the middle of
        the hires pass; ``0.5`` -> already switched).

      The step is truncated to an int and clamped to the pass length; values below 1
      mean "switched from the first step" and add no boundary.
    * ``[a|b|c]`` cycles through its options every step (``a`` at step 1, ``b`` at 2...);
      empty options are allowed (``[fe|]male``); any alternation adds every step as a
      boundary.
    * Constructs nest: editing inside alternation and vice versa, inside ``(...)``/``[...]``
      emphasis, with weights such as ``[(a:1.2):b:3]``.
    * Malformed brackets at the top level are literal text (``a [unbalanced``); a bracket
      construct containing a malformed one is itself literal; a ``|`` outside an
      alternation makes the whole prompt unscheduled (A1111's grammar fails on it too).

    Identical prompts are parsed once.

    >>> get_learned_conditioning_prompt_schedules(["a [b:3]"], 10)
    [[ScheduledPrompt(end_at_step=3, text='a '), ScheduledPrompt(end_at_step=10, text='a b')]]
    """
    if hires_steps is None or use_old_scheduling:
        steps, int_offset, float_offset = base_steps, 0, 0.0
    else:
        steps, int_offset, float_offset = hires_steps, base_steps, 1.0

    cache: dict[str, list[ScheduledPrompt]] = {}
    result = []
    for prompt in prompts:
        if prompt not in cache:
            cache[prompt] = _schedule_one(prompt, steps, int_offset, float_offset, use_old_scheduling)
        result.append(list(cache[prompt]))
    return result


def prompt_at_step(schedule: list[tuple[int, str]], step: int) -> str:
    """The text of a schedule from :func:`get_learned_conditioning_prompt_schedules` at a
    1-based ``step``; steps past the end get the last entry."""
    if not schedule:
        raise ValueError("empty schedule")
    for end, text in schedule:
        if step <= end:
            return text
    return schedule[-1][1]


# --------------------------------------------------------------------------- AND


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
        if (k > 0 and _is_word_char(prompt[k - 1])) or (end < n and _is_word_char(prompt[end])):
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


# --------------------------------------------------------------------------- extra networks

_EXTRA_NETWORK_RE = re.compile(r"<(\w+):([^>]+)>")


def strip_extra_networks(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """Remove ``<name:arg1:arg2...>`` tags and return ``(prompt, [(name, [args])])``.

    ``name`` is word characters, the arguments are everything up to ``>`` split on
    ``:`` (``<lora:x:0.8>`` -> ``("lora", ["x", "0.8"])``). The tag is replaced by
    nothing, surrounding whitespace is kept. Tags are listed in prompt order.
    """
    found: list[tuple[str, list[str]]] = []

    def take(m: re.Match[str]) -> str:
        found.append((m.group(1), m.group(2).split(":")))
        return ""

    return _EXTRA_NETWORK_RE.sub(take, text), found
