"""modules.prompt_parser: attention weights, BREAK, prompt editing/alternation, AND, extra networks.

Expected values follow A1111's documented behaviour (its doctests where they exist);
weights are written as the same float operations A1111 performs, so they compare exactly.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sdwebui.engine.prompt.attention import BREAK_WEIGHT, WeightedText, is_break, parse_prompt_attention
from sdwebui.engine.prompt.composable import get_multicond_prompt_list
from sdwebui.engine.prompt.extra_networks import strip_extra_networks
from sdwebui.engine.prompt.scheduling import ScheduledPrompt, get_learned_conditioning_prompt_schedules, prompt_at_step

R = 1.1        # one round bracket
S = 1 / 1.1    # one square bracket
BRK = ("BREAK", -1.0)


def attn(text: str) -> list[tuple[str, float]]:
    return [tuple(x) for x in parse_prompt_attention(text)]


# --------------------------------------------------------------------------- attention

A1111_DOC_CASES = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1),
         ("hill", 0.55), (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1)],
    ),
]


@pytest.mark.parametrize("text,expected", A1111_DOC_CASES)
def test_attention_a1111_doc_cases(text, expected):
    assert attn(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("", [("", 1.0)]),
    ("()", [("", 1.0)]),
    ("[]", [("", 1.0)]),
    ("a()", [("a", 1.0)]),
    ("(a)", [("a", R)]),
    ("((a))", [("a", 1.0 * R * R)]),
    ("(((a)))", [("a", 1.0 * R * R * R)]),
    ("[a]", [("a", S)]),
    ("[[a]]", [("a", 1.0 * S * S)]),
    ("([a])", [("a", 1.0 * S * R)]),
    ("[(a)]", [("a", 1.0 * R * S)]),
    ("(a:1.5)", [("a", 1.5)]),
    ("(a: 1.5 )", [("a", 1.5)]),
    ("(a:+2)", [("a", 2.0)]),
    ("(a:0)", [("a", 0.0)]),
    ("(a:.5)", [("a", 0.5)]),
    ("(a:5.)", [("a", 5.0)]),
    ("(a:-0.5)", [("a", -0.5)]),
    ("(a b:0.9), c", [("a b", 0.9), (", c", 1.0)]),
    ("((a:2))", [("a", 2.0 * R)]),
    ("((a:2):3)", [("a", 2.0 * 3.0)]),
    ("[(a:2)]", [("a", 2.0 * S)]),
    ("(a (b:2) c)", [("a ", R), ("b", 2.0 * R), (" c", R)]),
    ("[a (b) c]", [("a ", S), ("b", R * S), (" c", S)]),
    ("x (a) (b) y", [("x ", 1.0), ("a", R), (" ", 1.0), ("b", R), (" y", 1.0)]),
    # crossing pairs: each closer weights everything since its own opener
    ("(a[b)c]", [("a", R), ("b", R * S), ("c", S)]),
    # unbalanced: closers without openers are text, openers are closed at the end
    (")a", [(")a", 1.0)]),
    ("a]", [("a]", 1.0)]),
    (")a(", [(")a", 1.0)]),
    ("[unbalanced", [("unbalanced", S)]),
    ("((a", [("a", R * R)]),
    ("([a", [("a", R * S)]),
    ("a (b [c", [("a ", 1.0), ("b ", R), ("c", R * S)]),
    ("(a))", [("a", R), (")", 1.0)]),
    # colon is only a weight as ":number)" inside an open "("
    ("(a:b)", [("a:b", R)]),
    ("a:1.5)", [("a:1.5)", 1.0)]),
    ("[a:1.5]", [("a:1.5", S)]),
    ("(a:1.5", [("a:1.5", R)]),
    ("(a::1.5)", [("a:", 1.5)]),
    ("(a: b :1.5)", [("a: b ", 1.5)]),
    ("12:30", [("12:30", 1.0)]),
    # decision: exponents are not weights (as in A1111); malformed numbers are text, not errors
    ("(a:1e-1)", [("a:1e-1", R)]),
    ("(a:1.2.3)", [("a:1.2.3", R)]),
    ("(a:.)", [("a:.", R)]),
    ("(a:-)", [("a:-", R)]),
])
def test_attention_weights(text, expected):
    assert attn(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("\\(a\\)", [("(a)", 1.0)]),
    ("\\[a\\]", [("[a]", 1.0)]),
    ("(\\(a\\))", [("(a)", R)]),
    ("\\\\", [("\\", 1.0)]),
    ("a\\\\(b)", [("a\\", 1.0), ("b", R)]),
    ("\\a", [("a", 1.0)]),
    ("a\\", [("a", 1.0)]),  # trailing lone backslash is dropped
    ("(a\\)", [("a)", R)]),
    # decision: "\:" is a literal colon and never starts a weight (A1111 would weight 1.5)
    ("(a\\:1.5)", [("a:1.5", R)]),
    ("(a\\::1.5)", [("a:", 1.5)]),
    ("\\(a:1.5\\)", [("(a:1.5)", 1.0)]),
])
def test_attention_escapes(text, expected):
    assert attn(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("a BREAK b", [("a", 1.0), BRK, ("b", 1.0)]),
    ("a   BREAK   b", [("a", 1.0), BRK, ("b", 1.0)]),
    ("a\nBREAK\nb", [("a", 1.0), BRK, ("b", 1.0)]),
    ("a,BREAK,b", [("a,", 1.0), BRK, (",b", 1.0)]),
    ("a:BREAK:b", [("a:", 1.0), BRK, (":b", 1.0)]),
    ("BREAK", [("", 1.0), BRK, ("", 1.0)]),
    ("  BREAK  ", [("", 1.0), BRK, ("", 1.0)]),
    ("BREAK BREAK", [("", 1.0), BRK, ("", 1.0), BRK, ("", 1.0)]),
    ("a BREAK", [("a", 1.0), BRK, ("", 1.0)]),
    ("(a) BREAK (b)", [("a", R), ("", 1.0), BRK, ("", 1.0), ("b", R)]),
    # decision: BREAK inside brackets stays a marker (A1111 multiplied it into a weighted word)
    ("(a BREAK b)", [("a", R), BRK, ("b", R)]),
    ("[a BREAK b]", [("a", S), BRK, ("b", S)]),
    ("(a BREAK b:1.5)", [("a", 1.5), BRK, ("b", 1.5)]),
    # not a BREAK
    ("a break b", [("a break b", 1.0)]),
    ("a Break b", [("a Break b", 1.0)]),
    ("aBREAK b", [("aBREAK b", 1.0)]),
    ("a BREAKING b", [("a BREAKING b", 1.0)]),
    ("a BREAK_1 b", [("a BREAK_1 b", 1.0)]),
    ("a BREAK1 b", [("a BREAK1 b", 1.0)]),
    ("a \\BREAK b", [("a BREAK b", 1.0)]),  # decision: an escaped BREAK is the literal word
])
def test_attention_break(text, expected):
    assert attn(text) == expected


def test_attention_returns_named_tuples_and_break_helper():
    res = parse_prompt_attention("x BREAK (y)")
    assert all(isinstance(r, WeightedText) for r in res)
    assert res[0].text == "x" and res[0].weight == 1.0
    assert [is_break(r) for r in res] == [False, True, False, False]
    assert res[-1] == ("y", R)
    assert not is_break(("BREAK", 1.0))
    assert BREAK_WEIGHT == -1.0


def test_attention_merges_adjacent_equal_weights():
    assert attn("(a)(b)[c][d]e") == [("ab", R), ("cd", S), ("e", 1.0)]
    assert attn("(a:1.2)(b:1.2)") == [("ab", 1.2)]


def test_attention_long_and_deep_inputs():
    deep = attn("(" * 200 + "a" + ")" * 150)
    assert len(deep) == 1 and deep[0][0] == "a" and deep[0][1] == pytest.approx(1.1 ** 200)
    res = attn("a (b:1.2) [c] " * 2000)
    assert len(res) == 8001
    assert res[:5] == [("a ", 1.0), ("b", 1.2), (" ", 1.0), ("c", S), (" a ", 1.0)]
    assert res[-1] == (" ", 1.0)


# --------------------------------------------------------------------------- scheduling


def sched(prompt: str, steps: int = 10, hires: int | None = None, old: bool = False) -> list[tuple[int, str]]:
    return [tuple(x) for x in get_learned_conditioning_prompt_schedules([prompt], steps, hires, old)[0]]


def alternating(options: list[str], steps: int) -> list[tuple[int, str]]:
    return [(s, options[(s - 1) % len(options)]) for s in range(1, steps + 1)]


A1111_SCHEDULE_DOC_CASES = [
    ("test", [(10, "test")]),
    ("a [b:3]", [(3, "a "), (10, "a b")]),
    ("a [b: 3]", [(3, "a "), (10, "a b")]),
    ("a [[[b]]: 2]", [(2, "a "), (10, "a [[b]]")]),
    ("[(a:2):3]", [(3, ""), (10, "(a:2)")]),
    ("a [b : c : 1] d", [(1, "a b  d"), (10, "a  c  d")]),
    ("a[b:[c:d:2]:1]e", [(1, "abe"), (2, "ace"), (10, "ade")]),
    ("a [unbalanced", [(10, "a [unbalanced")]),
    ("a [b:.5] c", [(5, "a  c"), (10, "a b c")]),
    ("((a][:b:c [d:3]", [(3, "((a][:b:c "), (10, "((a][:b:c d")]),
    ("[a|(b:1.1)]", alternating(["a", "(b:1.1)"], 10)),
    ("[fe|]male", alternating(["female", "male"], 10)),
    ("[fe|||]male", alternating(["female", "male", "male", "male"], 10)),
]


@pytest.mark.parametrize("prompt,expected", A1111_SCHEDULE_DOC_CASES)
def test_schedule_a1111_doc_cases(prompt, expected):
    assert sched(prompt) == expected


@pytest.mark.parametrize("prompt,expected", [
    ("", [(10, "")]),
    ("[a:b:3]", [(3, "a"), (10, "b")]),
    ("[a::3]", [(3, "a"), (10, "")]),
    ("[:b:3]", [(3, ""), (10, "b")]),
    ("[:3]", [(3, ""), (10, "")]),
    ("[ a : b : 3 ]", [(3, " a "), (10, " b ")]),
    ("[a:b:\n3\n]", [(3, "a"), (10, "b")]),
    ("[a:2] [b:c:4]", [(2, " b"), (4, "a b"), (10, "a c")]),
    ("[a:b:3][c:d:3]", [(3, "ac"), (10, "bd")]),
    ("[a:a:3]", [(3, "a"), (10, "a")]),  # boundaries are kept even when the text is equal
    # weights and emphasis inside editing are kept verbatim for the attention stage
    ("[(a:1.2):(b:0.8):5]", [(5, "(a:1.2)"), (10, "(b:0.8)")]),
    ("(a [b:c:3])", [(3, "(a b)"), (10, "(a c)")]),
    ("(a [b:c:3]:1.4)", [(3, "(a b:1.4)"), (10, "(a c:1.4)")]),
    ("[[a]:3]", [(3, ""), (10, "[a]")]),
    ("[[a:b:2]:c:5]", [(2, "a"), (5, "b"), (10, "c")]),
    ("[a:[b:c:7]:3]", [(3, "a"), (7, "b"), (10, "c")]),
    # escapes are kept raw; an escaped colon does not separate
    ("[a\\:b:3]", [(3, ""), (10, "a\\:b")]),
    ("[a\\:b:c:3]", [(3, "a\\:b"), (10, "c")]),
    ("\\[a:3\\]", [(10, "\\[a:3\\]")]),
    ("[\\[x\\]:3]", [(3, ""), (10, "\\[x\\]")]),
    ("a \\| b [c:2]", [(2, "a \\| b "), (10, "a \\| b c")]),
    # malformed constructs are literal text
    ("[a:b]", [(10, "[a:b]")]),
    ("[a:b:c:3]", [(10, "[a:b:c:3]")]),
    ("[a:b:3 4]", [(10, "[a:b:3 4]")]),
    ("[a:b:x3]", [(10, "[a:b:x3]")]),
    ("[a:b:]", [(10, "[a:b:]")]),
    ("[a:3", [(10, "[a:3")]),
    ("[(a:3]", [(10, "[(a:3]")]),
    ("[(a:b:c):3]", [(10, "[(a:b:c):3]")]),
    ("[a:3]]", [(3, "]"), (10, "a]")]),
    ("[[a:3]", [(3, "["), (10, "[a")]),
    ("(a:[b:3]", [(3, "(a:"), (10, "(a:b")]),
    ("[a:b:c [d:3]]", [(3, "[a:b:c ]"), (10, "[a:b:c d]")]),
    # a "|" outside an alternation makes the whole prompt unscheduled (A1111's grammar fails)
    ("a | b [c:2]", [(10, "a | b [c:2]")]),
    ("(a|b) [c:2]", [(10, "(a|b) [c:2]")]),
    ("[a|b:3]", [(10, "[a|b:3]")]),
    ("a [{b|d{:.5] c", [(10, "a [{b|d{:.5] c")]),
    # so does a dangling backslash
    ("[c:2] \\", [(10, "[c:2] \\")]),
    ("[c:2] \\\nx", [(10, "[c:2] \\\nx")]),
    # attention-only prompts pass through unchanged
    ("a (b:1.2) [c] ((d)) e:f", [(10, "a (b:1.2) [c] ((d)) e:f")]),
    ("<lora:x:0.8> a", [(10, "<lora:x:0.8> a")]),
])
def test_schedule_editing(prompt, expected):
    assert sched(prompt) == expected


@pytest.mark.parametrize("prompt,steps,expected", [
    # "when" as int (a step) vs decimal (a fraction of the steps)
    ("[a:b:5]", 10, [(5, "a"), (10, "b")]),
    ("[a:b:0.5]", 10, [(5, "a"), (10, "b")]),
    ("[a:b:.25]", 10, [(2, "a"), (10, "b")]),  # 2.5 truncated
    ("[a:b:0.99]", 10, [(9, "a"), (10, "b")]),
    ("[a:b:0.5]", 30, [(15, "a"), (30, "b")]),
    ("[a:b:5.0]", 10, [(10, "a")]),   # a decimal is a fraction even when >= 1: 50 -> clamped
    ("[a:b:1.0]", 10, [(10, "a")]),
    ("[a:b:3.]", 10, [(10, "a")]),
    ("[a:b:1e1]", 20, [(10, "a"), (20, "b")]),  # no "." -> a step
    ("[a:b:+3]", 10, [(3, "a"), (10, "b")]),
    ("[a:b:1.5e-1]", 20, [(3, "a"), (20, "b")]),
    # out of range
    ("[a:b:20]", 10, [(10, "a")]),
    ("[a:b:1e999]", 10, [(10, "a")]),
    ("[a:b:0]", 10, [(10, "b")]),
    ("[a:b:0.0]", 10, [(10, "b")]),
    ("[a:b:-3]", 10, [(10, "b")]),
    ("[a:b:-0.5]", 10, [(10, "b")]),
    ("[a:b:1e-1]", 10, [(10, "b")]),  # int path: int(0.1) == 0
    # steps == 1
    ("[a:b:1]", 1, [(1, "a")]),
    ("[a:b:0.5]", 1, [(1, "b")]),
    ("[a:b:0.99]", 1, [(1, "b")]),
    ("[a|b]", 1, [(1, "a")]),
    ("x", 1, [(1, "x")]),
])
def test_schedule_when(prompt, steps, expected):
    assert sched(prompt, steps) == expected


@pytest.mark.parametrize("prompt,steps,expected", [
    ("[a|b]", 4, [(1, "a"), (2, "b"), (3, "a"), (4, "b")]),
    ("[a|b|c]", 5, alternating(["a", "b", "c"], 5)),
    ("[|a]", 3, alternating(["", "a"], 3)),
    ("[a|]", 3, alternating(["a", ""], 3)),
    ("[a|b] [c|d|e]", 3, [(1, "a c"), (2, "b d"), (3, "a e")]),
    ("[(a:1.2)|[b]]", 2, [(1, "(a:1.2)"), (2, "[b]")]),
    ("[ a | b ]", 2, [(1, " a "), (2, " b ")]),
    # alternation inside editing
    ("[[a|b]:c:2]", 4, [(1, "a"), (2, "b"), (3, "c"), (4, "c")]),
    ("[x:[a|b]:2]", 4, [(1, "x"), (2, "x"), (3, "a"), (4, "b")]),
    # editing inside alternation
    ("[[a:b:2]|c]", 4, [(1, "a"), (2, "c"), (3, "b"), (4, "c")]),
    # nested alternation uses the global step
    ("[a|[b|c]]", 4, [(1, "a"), (2, "c"), (3, "a"), (4, "c")]),
    # alternation inside emphasis
    ("([a|b]:1.3)", 2, [(1, "(a:1.3)"), (2, "(b:1.3)")]),
])
def test_schedule_alternation(prompt, steps, expected):
    assert sched(prompt, steps) == expected


@pytest.mark.parametrize("prompt,base,hires,old,expected", [
    # hires pass: ints count from the start of the base pass, decimals span 1..2
    ("a [b:.5] c", 10, 10, False, [(10, "a b c")]),
    ("a [b:1.5] c", 10, 10, False, [(5, "a  c"), (10, "a b c")]),
    ("[a:b:25]", 20, 10, False, [(5, "a"), (10, "b")]),
    ("[a:b:15]", 20, 10, False, [(10, "b")]),
    ("[a:b:40]", 20, 10, False, [(10, "a")]),
    ("[a:b:1.25]", 20, 10, False, [(2, "a"), (10, "b")]),
    ("[a:b:2.0]", 20, 10, False, [(10, "a")]),
    ("[a|b]", 20, 3, False, [(1, "a"), (2, "b"), (3, "a")]),
    # old scheduling ignores hires: steps are the base steps, anything < 1 is a fraction
    ("[a:b:0.5]", 20, 10, True, [(10, "a"), (20, "b")]),
    ("[a:b:0.5]", 10, None, True, [(5, "a"), (10, "b")]),
    ("[a:b:1.0]", 10, None, True, [(1, "a"), (10, "b")]),
    ("[a:b:5]", 10, None, True, [(5, "a"), (10, "b")]),
    ("[a:b:5.0]", 10, None, True, [(5, "a"), (10, "b")]),
])
def test_schedule_hires_and_old(prompt, base, hires, old, expected):
    assert sched(prompt, base, hires, old) == expected


def test_schedule_many_prompts_and_types():
    prompts = ["a [b:2]", "c", "a [b:2]"]
    res = get_learned_conditioning_prompt_schedules(prompts, 4)
    assert res == [[(2, "a "), (4, "a b")], [(4, "c")], [(2, "a "), (4, "a b")]]
    assert res[0] is not res[2]
    assert isinstance(res[0][0], ScheduledPrompt)
    assert res[0][0].end_at_step == 2 and res[0][0].text == "a "
    assert get_learned_conditioning_prompt_schedules([], 10) == []


def test_schedule_pathological_inputs_do_not_raise():
    assert sched("[" * 5000) == [(10, "[" * 5000)]
    assert sched("[a" * 3000) == [(10, "[a" * 3000)]
    long = "x [a:b:5] (y:1.2) [c|d] " * 200
    res = sched(long, 20)
    assert len(res) == 20 and res[0][1].startswith("x a (y:1.2) c ")


@pytest.mark.parametrize("step,expected", [(1, "a"), (3, "a"), (4, "b"), (10, "b"), (11, "b")])
def test_prompt_at_step(step, expected):
    schedule = get_learned_conditioning_prompt_schedules(["[a:b:3]"], 10)[0]
    assert prompt_at_step(schedule, step) == expected


def test_prompt_at_step_alternation_and_empty():
    schedule = get_learned_conditioning_prompt_schedules(["[a|b]"], 4)[0]
    assert [prompt_at_step(schedule, s) for s in range(1, 5)] == ["a", "b", "a", "b"]
    with pytest.raises(ValueError):
        prompt_at_step([], 1)


def test_schedule_then_attention():
    text = prompt_at_step(sched("[(a:1.2)\\:x:b:3]"), 1)
    assert attn(text) == [("a", 1.2), (":x", 1.0)]


# --------------------------------------------------------------------------- AND


@pytest.mark.parametrize("prompt,parts", [
    ("a", [("a", 1.0)]),
    ("", [("", 1.0)]),
    ("a AND b", [("a", 1.0), (" b", 1.0)]),
    ("a AND b :1.2", [("a", 1.0), (" b", 1.2)]),
    ("a:0.5 AND b: -1", [("a", 0.5), (" b", -1.0)]),
    ("a :+2 AND b :.5 AND c:3.", [("a", 2.0), (" b", 0.5), (" c", 3.0)]),
    ("a  AND  b  ", [("a", 1.0), ("  b", 1.0)]),
    ("a\tAND\nb", [("a", 1.0), ("\nb", 1.0)]),
    ("(a)AND(b)", [("(a)", 1.0), ("(b)", 1.0)]),
    ("a,AND,b", [("a,", 1.0), (",b", 1.0)]),
    ("a and b", [("a and b", 1.0)]),
    ("a And b", [("a And b", 1.0)]),
    ("ANDROID AND SANDY", [("ANDROID", 1.0), (" SANDY", 1.0)]),
    ("a ANDb", [("a ANDb", 1.0)]),
    ("a AND_b", [("a AND_b", 1.0)]),
    ("AND", [("", 1.0), ("", 1.0)]),
    ("a AND", [("a", 1.0), ("", 1.0)]),
    ("a :1.2", [("a", 1.2)]),   # a trailing ":number" is a weight even without AND
    ("a:1e2", [("a:1e2", 1.0)]),
    ("a:1.2.3", [("a:1.2.3", 1.0)]),
    ("a: ", [("a:", 1.0)]),
    ("(a:1.5)", [("(a:1.5)", 1.0)]),
    ("[a:b:0.5] AND c", [("[a:b:0.5]", 1.0), (" c", 1.0)]),
    ("x:y:2", [("x:y", 2.0)]),
])
def test_multicond_split(prompt, parts):
    indexes, flat, index_of = get_multicond_prompt_list([prompt])
    assert len(indexes) == 1
    assert [(flat[i], w) for i, w in indexes[0]] == parts
    assert index_of == {t: i for i, t in enumerate(flat)}


def test_multicond_shares_flat_list_across_prompts():
    indexes, flat, index_of = get_multicond_prompt_list(["a AND b", "c AND b :2", "a"])
    assert flat == ["a", " b", "c"]
    assert indexes == [[(0, 1.0), (1, 1.0)], [(2, 1.0), (1, 2.0)], [(0, 1.0)]]
    assert index_of == {"a": 0, " b": 1, "c": 2}
    assert get_multicond_prompt_list([]) == ([], [], {})
    indexes, flat, _ = get_multicond_prompt_list(["AND"])
    assert flat == [""] and indexes == [[(0, 1.0), (0, 1.0)]]


# --------------------------------------------------------------------------- extra networks


@pytest.mark.parametrize("text,clean,nets", [
    ("a <lora:x:0.8> b", "a  b", [("lora", ["x", "0.8"])]),
    ("<lora:x>", "", [("lora", ["x"])]),
    ("<lora:x:0.8:te=1>", "", [("lora", ["x", "0.8", "te=1"])]),
    ("<hypernet:y:1><lora:z:0.5>, c", ", c", [("hypernet", ["y", "1"]), ("lora", ["z", "0.5"])]),
    ("<lora:my model v2:1>", "", [("lora", ["my model v2", "1"])]),
    ("<lora:a::1>", "", [("lora", ["a", "", "1"])]),
    ("(<lora:x:1>:1.2)", "(:1.2)", [("lora", ["x", "1"])]),
    ("no tags (a:1.2)", "no tags (a:1.2)", []),
    ("", "", []),
    ("<lora-x:1>", "<lora-x:1>", []),
    ("<lora:>", "<lora:>", []),
    ("<x>", "<x>", []),
    ("<lora:x", "<lora:x", []),
])
def test_strip_extra_networks(text, clean, nets):
    assert strip_extra_networks(text) == (clean, nets)


def test_module_imports_without_torch():
    root = Path(__file__).resolve().parent.parent
    code = ("import sys, sdwebui.engine.prompt.attention, sdwebui.engine.prompt.scheduling, "
            "sdwebui.engine.prompt.composable, sdwebui.engine.prompt.extra_networks; sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
