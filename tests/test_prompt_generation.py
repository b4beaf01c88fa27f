"""The prompt language reaches the model: emphasis, BREAK, long prompts, prompt editing,
alternation, AND and extra-network tags, checked on generated pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_api import pixels, txt2img


def image(api, prompt, **kw):
    out = txt2img(api, prompt=prompt, seed=21, steps=6, sampler_name="Euler", **kw)
    return pixels(out["images"][0]), json.loads(out["info"])


def close(a, b, tol=2):
    return np.abs(a - b).max() <= tol


def test_weight_one_is_exactly_the_plain_prompt(api):
    plain, _ = image(api, "a cat")
    assert np.array_equal(plain, image(api, "(a cat:1.0)")[0])
    assert not np.array_equal(plain, image(api, "(a cat:1.5)")[0])
    assert not np.array_equal(plain, image(api, "[a cat]")[0])


def test_emphasis_option(api):
    plain, _ = image(api, "a cat")
    ignored, _ = image(api, "(a cat:1.5)", override_settings={"emphasis": "Ignore"})
    assert np.array_equal(plain, ignored)
    literal, info = image(api, "(a cat:1.5)", override_settings={"emphasis": "None"})
    assert not np.array_equal(plain, literal)
    assert "Emphasis: None" in info["infotexts"][0]          # A1111 records a mode other than Original
    _, plain_info = image(api, "a cat", override_settings={"emphasis": "None"})
    assert "Emphasis" not in plain_info["infotexts"][0]      # ... when some text has brackets

def test_emphasis_weights_and_mean_restoration(tiny_files):
    import torch

    from sdwebui.engine.models.single_file import load_checkpoint
    from sdwebui.engine.prompt.encoding import PromptEncoder

    model = load_checkpoint(tiny_files["sd1"])
    # the tiny encoder's final layer norm has a zero bias, so every output has mean 0; give it one
    torch.manual_seed(0)
    model.text_encoder.final_layer_norm.bias.data = torch.randn_like(model.text_encoder.final_layer_norm.bias)
    plain = PromptEncoder(model).encode("a cat")[0]
    original = PromptEncoder(model).encode("(a cat:1.5)")[0]
    no_norm = PromptEncoder(model, emphasis="No norm").encode("(a cat:1.5)")[0]
    assert torch.allclose(original.mean(), plain.mean(), atol=1e-5)         # mean restored
    assert not torch.allclose(no_norm.mean(), plain.mean(), atol=1e-5)
    # tokens of "a cat" (positions 1, 2) are scaled by 1.5 before normalisation, BOS/padding are not
    assert torch.allclose(no_norm[0, 1:3], plain[0, 1:3] * 1.5, atol=1e-5)
    assert torch.allclose(no_norm[0, 0], plain[0, 0]) and torch.allclose(no_norm[0, 10], plain[0, 10])
    assert torch.isfinite(PromptEncoder(load_checkpoint(tiny_files["sd1"])).encode("[a cat]")[0]).all()


def test_break_and_long_prompts(api):
    plain, _ = image(api, "a cat, a dog")
    broken, _ = image(api, "a cat BREAK a dog")
    assert not np.array_equal(plain, broken)
    long_prompt = ", ".join(f"word{i}" for i in range(80))     # well over 75 tokens
    img, info = image(api, long_prompt)
    assert info["all_prompts"] == [long_prompt]
    assert not np.array_equal(img, image(api, ", ".join(f"word{i}" for i in range(30)))[0])


def test_prompt_editing_and_alternation(api):
    cat, _ = image(api, "a cat")
    dog, _ = image(api, "a dog")
    assert np.array_equal(image(api, "a [cat:dog:1.0]")[0], cat)      # switch after the last step
    assert np.array_equal(image(api, "a [cat:dog:0.0]")[0], image(api, "a [cat:dog:0]")[0])
    edited, _ = image(api, "a [cat:dog:0.5]")
    assert not np.array_equal(edited, cat) and not np.array_equal(edited, dog)
    alternated, _ = image(api, "a [cat|dog]")
    assert not np.array_equal(alternated, cat) and not np.array_equal(alternated, dog)
    neg_edit, _ = image(api, "a cat", negative_prompt="[blurry:sharp:0.5]")
    assert not np.array_equal(neg_edit, cat)


def test_composable_and(api):
    cat, _ = image(api, "a cat")
    both, _ = image(api, "a cat AND a dog")
    assert not np.array_equal(both, cat)
    zero_weight, _ = image(api, "a cat AND a dog :0")
    assert close(zero_weight, cat)


@pytest.mark.parametrize("family", ["tiny-sdxl", "tiny-sd2v"])
def test_prompt_language_on_other_families(api, family):
    over = {"override_settings": {"sd_model_checkpoint": family}}
    plain, _ = image(api, "a cat", **over)
    assert np.array_equal(plain, image(api, "(a cat:1.0)", **over)[0])
    assert not np.array_equal(plain, image(api, "a [cat:dog:0.5] BREAK (sky:1.3) AND b", **over)[0])


def test_extra_network_tags_do_not_reach_the_text_encoder(api):
    plain, _ = image(api, "a cat")
    tagged, info = image(api, "a cat<hypernet:none:1>")
    assert np.array_equal(plain, tagged)
    assert info["all_prompts"] == ["a cat<hypernet:none:1>"]
