"""Infotext building and parsing, checked against A1111 1.10's create_infotext / parse_generation_parameters rules."""
from __future__ import annotations

import json

import pytest

from sdwebui.engine.images import infotext

# The defaults A1111 adds to every parsed infotext that lacks the keys (in A1111's order).
DEFAULTS = {
    "Clip skip": "1",
    "Hires resize-1": 0, "Hires resize-2": 0,
    "Hires sampler": "Use same sampler", "Hires schedule type": "Use same scheduler",
    "Hires checkpoint": "Use same checkpoint", "Hires prompt": "", "Hires negative prompt": "",
    "Mask mode": "Inpaint masked", "Masked content": "original", "Inpaint area": "Whole picture",
    "Masked area padding": 32, "RNG": "GPU", "Schedule type": "Automatic",
    "Schedule max sigma": 0, "Schedule min sigma": 0, "Schedule rho": 0,
    "VAE Encoder": "Full", "VAE Decoder": "Full", "FP8 weight": "Disable",
    "Refiner switch by sampling steps": False,
}

A1111_EXAMPLE = (
    "a photo of a cat\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
)


def test_a1111_example_parses_to_exact_dict():
    expected = {
        "Steps": "20", "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": "7", "Seed": "1234567890",
        "Size-1": "512", "Size-2": "512", "Model hash": "6ce0161689", "Model": "v1-5-pruned-emaonly",
        "Version": "v1.10.1", "Prompt": "a photo of a cat", "Negative prompt": "blurry, lowres",
    }
    for k, v in DEFAULTS.items():
        expected.setdefault(k, v)
    got = infotext.parse(A1111_EXAMPLE)
    assert got == expected
    # same key order as A1111: parsed keys, then Prompt/Negative prompt, then the added defaults
    assert list(got)[:12] == list(expected)[:12]
    assert json.loads(json.dumps(got)) == got


def test_a1111_hires_and_inpaint_examples():
    hires = infotext.parse("cat\nSteps: 20, Sampler: Euler, Seed: 1, Size: 512x512, Model: m, "
                           "Denoising strength: 0.7, Hires upscale: 2, Hires upscaler: Latent, Version: v1.10.1")
    assert hires["Denoising strength"] == "0.7" and hires["Hires upscale"] == "2"
    assert hires["Hires upscaler"] == "Latent" and hires["Hires resize-1"] == 0
    inpaint = infotext.parse("cat\nSteps: 20, Sampler: Euler, Seed: 1, Size: 512x512, Model: x, "
                             "Denoising strength: 0.75, Mask blur: 4, Version: v1.10.1")
    assert inpaint["Mask blur"] == "4" and inpaint["Inpaint area"] == "Whole picture"


def test_build_exact_a1111_line():
    params = {"Steps": 20, "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": 7, "Seed": 1234567890,
              "Size": "512x512", "Model hash": "6ce0161689", "Model": "v1-5-pruned-emaonly", "Version": "v1.10.1"}
    assert infotext.build("a photo of a cat", "blurry, lowres", params) == A1111_EXAMPLE


@pytest.mark.parametrize("value, written", [
    (20, "20"), (7.0, "7.0"), (0.75, "0.75"), (True, "True"), ("Euler a", "Euler a"),
    ("a, b", '"a, b"'), ("k: v", '"k: v"'), ("line1\nline2", '"line1\\nline2"'),
    ('say "hi", ok', '"say \\"hi\\", ok"'), ("猫, 😀", '"猫, 😀"'), ("no quote needed \"x\"", 'no quote needed "x"'),
])
def test_quote(value, written):
    assert infotext.quote(value) == written


def test_build_rules_none_bare_and_ordering():
    text = infotext.build("p", "", {"User": "me", "Version": "v1", "Lora hashes": "a: 1, b: 2", "Steps": 5,
                                    "Tiling": "Tiling", "Skipped": None, "Seed": 3})
    assert text == 'p\nSteps: 5, Seed: 3, Tiling, Lora hashes: "a: 1, b: 2", Version: v1, User: me'
    # A1111 prints nothing for an empty negative prompt and strips the whole text
    assert infotext.build("", "", {"Steps": 1}) == "Steps: 1"
    assert infotext.build("p", "n", {}, reorder=False) == "p\nNegative prompt: n"


def test_ordered_keeps_extras_in_insertion_order():
    params = {"Hires upscale": 2, "Version": "v", "Mask blur": 4, "Denoising strength": 0.5, "Steps": 1,
              "User": "u", "Size": "1x1", "Zeta": 1, "Alpha": 2}
    assert list(infotext.ordered(params)) == ["Steps", "Size", "Denoising strength", "Hires upscale", "Mask blur",
                                              "Zeta", "Alpha", "Version", "User"]
    assert infotext.KEY_ORDER[:4] == ["Steps", "Sampler", "Schedule type", "CFG scale"]
    assert infotext.KEY_ORDER[-1] == "Tiling" and "Clip skip" in infotext.KEY_ORDER


def test_round_trip_every_value_type():
    params = {
        "Steps": 30, "Sampler": "DPM++ 2M SDE", "CFG scale": 6.5, "Seed": 4294967295, "Size": "768x512",
        "Clip skip": 2, "Tiling": "True", "Template": "a {red|blue}, b: c\nsecond line",
        "Negative Template": 'bad "quality"', "Lora hashes": "x: abc, y: def", "Emoji": "😀 猫", "Flag": True,
        "Empty-ish": " ", "Version": "v1.10.1",
    }
    prompt = "line one, (emphasis:1.2)\nline two 😀"
    negative = "neg one\nneg: two"
    res = infotext.parse(infotext.build(prompt, negative, params))
    assert res["Prompt"] == prompt and res["Negative prompt"] == negative
    assert res["Steps"] == "30" and res["CFG scale"] == "6.5" and res["Seed"] == "4294967295"
    assert (res["Size-1"], res["Size-2"]) == ("768", "512")
    assert res["Clip skip"] == "2" and res["Tiling"] == "True" and res["Flag"] == "True"
    assert res["Template"] == params["Template"] and res["Negative Template"] == params["Negative Template"]
    assert res["Lora hashes"] == params["Lora hashes"] and res["Emoji"] == "😀 猫"
    assert res["Emphasis"] == "Original"  # the prompt has (emphasis:1.2)
    assert "Empty-ish" not in res  # A1111 drops keys whose value is empty after the colon


def test_prompt_only_and_negative_edge_cases():
    # fewer than 3 "key: value" pairs: the last line is prompt text
    res = infotext.parse("a cat\nstyle: photo, lens: 50mm")
    assert res["Prompt"] == "a cat\nstyle: photo, lens: 50mm" and res["Negative prompt"] == ""
    res = infotext.parse("a cat\nNegative prompt:\nSteps: 1, Seed: 2, Sampler: Euler")
    assert res["Prompt"] == "a cat" and res["Negative prompt"] == ""
    res = infotext.parse("a\nb\nNegative prompt: c\nd\nSteps: 1, Seed: 2, Sampler: Euler")
    assert res["Prompt"] == "a\nb" and res["Negative prompt"] == "c\nd"
    res = infotext.parse("Negative prompt: only negative")
    assert res["Prompt"] == "" and res["Negative prompt"] == "only negative"
    res = infotext.parse("")
    assert res["Prompt"] == "" and res["Clip skip"] == "1"
    # lines are stripped, as A1111 does
    assert infotext.parse("  padded  \nSteps: 1, Seed: 2, Sampler: Euler")["Prompt"] == "padded"


def test_quoted_values_and_escapes():
    res = infotext.parse('p\nSteps: 1, Sampler: Euler, Note: "say \\"hi\\", then: bye", Seed: 3, '
                         'Bad: "not json\\x", Seed resize from: -1x-1')
    assert res["Note"] == 'say "hi", then: bye' and res["Seed"] == "3"
    assert res["Bad"] == '"not json\\x"'  # invalid JSON stays as written
    assert res["Seed resize from"] == "-1x-1"  # only non-negative NxM splits


def test_size_split_and_legacy_first_pass_size():
    res = infotext.parse("p\nSteps: 1, Sampler: Euler, Size: 1024x768, Hires resize: 2048x1536")
    sizes = (res["Size-1"], res["Size-2"], res["Hires resize-1"], res["Hires resize-2"])
    assert sizes == ("1024", "768", "2048", "1536")
    # pre-1.0 hires infotexts: Size is the final size, First pass size the small one (0x0 = automatic)
    res = infotext.parse("p\nSteps: 1, Sampler: Euler, Size: 1024x1024, First pass size: 0x0")
    assert (res["Size-1"], res["Size-2"], res["Hires resize-1"], res["Hires resize-2"]) == (512, 512, 1024, 1024)
    res = infotext.parse("p\nSteps: 1, Sampler: Euler, Size: 1024x768, First pass size: 640x480")
    assert (res["Size-1"], res["Size-2"], res["Hires resize-1"], res["Hires resize-2"]) == (640, 480, 1024, 768)


def test_conditional_defaults():
    plain = infotext.parse("a cat\nSteps: 1, Sampler: Euler, Seed: 1")
    assert "Emphasis" not in plain and "Cache FP16 weight for LoRA" not in plain
    for prompt in ("(cat)", "[cat]", "a (cat:1.3)", "x\nNegative prompt: (bad)", "[a:b:5]"):
        assert infotext.parse(f"{prompt}\nSteps: 1, Sampler: Euler, Seed: 1")["Emphasis"] == "Original", prompt
    for prompt in ("(cat:1.0)", r"\(cat\)", "<lora:x:0.8>", "a BREAK b", "a: b"):
        assert "Emphasis" not in infotext.parse(f"{prompt}\nSteps: 1, Sampler: Euler, Seed: 1"), prompt
    assert infotext.parse("(cat)\nSteps: 1, Emphasis: No norm, Seed: 1")["Emphasis"] == "No norm"
    fp8 = infotext.parse("p\nSteps: 1, Sampler: Euler, FP8 weight: Enable for SDXL")
    assert fp8["Cache FP16 weight for LoRA"] is False
    # a present value always wins over the default
    res = infotext.parse("p\nSteps: 1, Clip skip: 2, RNG: CPU, Schedule type: Karras, Masked area padding: 8")
    got = (res["Clip skip"], res["RNG"], res["Schedule type"], res["Masked area padding"])
    assert got == ("2", "CPU", "Karras", "8")


def test_version_backcompat_and_skip_fields():
    old = infotext.parse("[a:b:3]\nSteps: 1, Sampler: DDIM, Seed: 1, Refiner: r, Version: v1.5.1")
    assert old["Old prompt editing timelines"] is True and old["Pad conds v0"] is True
    assert old["Downcast alphas_cumprod"] is True and old["Refiner switch by sampling steps"] is True
    new = infotext.parse(A1111_EXAMPLE)
    assert "Downcast alphas_cumprod" not in new and new["Version"] == "v1.10.1"
    ours = infotext.parse(infotext.build("p", "", infotext.with_version({"Steps": 1, "Seed": 2, "Sampler": "E"}, True)))
    assert ours["Version"].startswith("v1.10.1") and "Downcast alphas_cumprod" not in ours
    assert "Seed" not in infotext.parse(A1111_EXAMPLE, skip_fields=["Seed"])
    assert "Downcast alphas_cumprod" not in infotext.parse(
        "p\nSteps: 1, Seed: 1, Sampler: E, Version: v1.5.1", auto_backcompat=False)


def test_hypernet_legacy_key_goes_into_prompt():
    res = infotext.parse("cat\nSteps: 1, Sampler: Euler, Hypernet: anime, Hypernet strength: 0.5")
    assert res["Prompt"] == "cat<hypernet:anime:0.5>"


def test_with_version():
    assert "Version" not in infotext.with_version({}, False)
    assert infotext.with_version({}, True)["Version"] == infotext.INFOTEXT_VERSION


def test_styles_are_extracted_from_the_prompt():
    from sdwebui.services.styles import PromptStyle, StyleDatabase

    db = StyleDatabase([])
    db.styles = {"Wrap": PromptStyle("Wrap", "masterpiece, {prompt}, 4k", "blurry"),
                 "Tail": PromptStyle("Tail", "film grain", ""),
                 "Empty": PromptStyle("Empty", "", "")}
    prompt, negative = db.apply("a cat", "ugly", ["Wrap", "Tail"])
    text = infotext.build(prompt, negative, {"Steps": 1, "Seed": 2, "Sampler": "Euler"})
    res = infotext.parse(text, styles=db.styles.values())
    assert res["Styles array"] == ["Wrap", "Tail"]
    assert res["Prompt"] == "a cat" and res["Negative prompt"] == "ugly"
    assert "Styles array" not in infotext.parse(text)  # no style database: nothing found
    assert infotext.parse(text, infotext_styles="Apply")["Styles array"] == []
    discard = infotext.parse(text, styles=db.styles.values(), infotext_styles="Discard")
    assert "Styles array" not in discard and discard["Prompt"] == "a cat"
    ignore = infotext.parse(text, styles=db.styles.values(), infotext_styles="Ignore")
    assert "Styles array" not in ignore and ignore["Prompt"] == prompt
    # hires prompts written with the same styles lose them too (and become "" when equal to the main one)
    hr = infotext.build(prompt, negative, {"Steps": 1, "Seed": 2, "Hires prompt": prompt,
                                           "Hires negative prompt": negative})
    res = infotext.parse(hr, styles=db.styles.values())
    assert res["Styles array"] == ["Wrap", "Tail"] and res["Hires prompt"] == "" and res["Hires negative prompt"] == ""
