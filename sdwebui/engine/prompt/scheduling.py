"""Prompt editing (``[from:to:when]``) and alternation (``[a|b]``): the prompt text in force for each
range of sampling steps (A1111's ``get_learned_conditioning_prompt_schedules``)."""
from __future__ import annotations

import functools
import logging
import math
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


# The prompt-editing language, as a lark grammar parsed with Earley (as A1111 parses it). At the top
# level a bracket or colon that starts no construct is literal text (STRAY); inside a construct
# everything must parse. `(...)` and a one-part `[...]` are emphasis, kept verbatim (the attention
# parser reads them later); `[a:b:N]` / `[b:N]` is an edit at step N, `[a|b|...]` alternates every step.
# A backslash escapes the next character. The top level is one flat sequence (A1111 nests a sequence of
# sequences there, which parses the same prompts but is ambiguous enough to take seconds on a long one).
_GRAMMAR = r"""
!start: (weighted | edit | alternation | literal | WHITESPACE | STRAY)*
STRAY: /[][():]/
text: (weighted | edit | alternation | literal | WHITESPACE)*
!weighted: "(" text ")"
    | "(" text ":" text ")"
    | "[" text "]"
edit: "[" [text ":"] text ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
alternation: "[" text ("|" [text])+ "]"
literal: /([^\\\[\]():|]|\\.)+/
WHITESPACE: /\s+/
%import common.SIGNED_NUMBER -> NUMBER
"""


@functools.cache
def _parser():
    import lark

    return lark.Lark(_GRAMMAR)


def _to_seq(node) -> _Seq:
    """The lark tree as the nodes _walk and _render read (a Token is its text)."""
    import lark

    if isinstance(node, lark.Token):
        return _Seq([str(node)])
    if node is None:
        return _Seq()
    rule, kids = node.data, node.children
    if rule == "edit":
        before, after, _, number, _ = kids
        return _Seq([_Scheduled(None if before is None else _to_seq(before), _to_seq(after), str(number))])
    if rule == "alternation":
        return _Seq([_Alternate([_to_seq(kid) for kid in kids])])
    if rule == "literal":
        return _Seq([str(kids[0])])
    return _Seq([_to_seq(kid) for kid in kids])


def _parse(prompt: str) -> _Seq:
    """The parsed prompt; lark.LarkError when it is not in the language (it is then used verbatim)."""
    return _to_seq(_parser().parse(prompt))


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
    import lark

    if "[" not in prompt or (":" not in prompt and "|" not in prompt):
        return [ScheduledPrompt(steps, prompt)]     # no edit or alternation can be in it
    try:
        tree = _parse(prompt)
    except (lark.LarkError, RecursionError) as e:
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
