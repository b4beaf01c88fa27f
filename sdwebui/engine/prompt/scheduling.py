"""Prompt editing (``[from:to:when]``) and alternation (``[a|b]``): the prompt text in force for each
range of sampling steps (A1111's ``get_learned_conditioning_prompt_schedules``)."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple, Union

logger = logging.getLogger(__name__)

__all__ = ["ScheduledPrompt", "get_learned_conditioning_prompt_schedules", "prompt_at_step"]


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
