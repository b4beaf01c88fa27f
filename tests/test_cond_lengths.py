"""Prompts of different lengths meet as in A1111: every text of one prompt's schedule has the chunk count
of its longest (empty chunks), the prompts of a batch and AND's sub-prompts are stacked repeating their
last vector, and a prompt and a negative prompt of different lengths go to the UNet in two calls unless
`pad_cond_uncond` (empty chunks, infotext "Pad conds") or `pad_cond_uncond_v0` (the negative's last
vector, "Pad conds v0") is set."""
from __future__ import annotations

import pytest
import torch

from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning

TOKENS = 77


@pytest.fixture(scope="module")
def model(tiny_files):
    from sdwebui.engine.models.single_file import load_checkpoint

    return load_checkpoint(tiny_files["sd1"])


def test_a_longer_prompt_and_its_negative_stay_apart_by_default(model):
    encoder = PromptEncoder(model)
    batch = ScheduledConditioning(encoder, ["a cat BREAK watercolor"], ["blurry"], 4).at(0)
    assert batch.cond_context.shape[1] == 2 * TOKENS and batch.uncond_context.shape[1] == TOKENS
    assert torch.equal(batch.cond_context, encoder.encode("a cat BREAK watercolor")[0])
    assert torch.equal(batch.uncond_context, encoder.encode("blurry")[0])
    same = ScheduledConditioning(encoder, ["a cat"], ["blurry"], 4).at(0)
    assert same.cond_context is None and same.context.shape == (2, TOKENS, same.context.shape[2])


@pytest.mark.parametrize("mode", ["empty", "v0"])
def test_padding_options(model, mode):
    encoder = PromptEncoder(model, pad_conds=mode)
    conditioning = ScheduledConditioning(encoder, ["a cat BREAK watercolor"], ["blurry"], 4)
    batch = conditioning.at(0)
    assert batch.cond_context is None and batch.context.shape[1] == 2 * TOKENS
    uncond = encoder.encode("blurry")[0]
    assert torch.equal(batch.context[0, :TOKENS], uncond[0])
    tail = batch.context[0, TOKENS:]
    if mode == "empty":
        assert torch.equal(tail, encoder.empty_chunk()[0])
        assert conditioning.padded == {"Pad conds"}
    else:
        assert torch.equal(tail, uncond[0, -1:].expand(TOKENS, -1))
        assert conditioning.padded == {"Pad conds v0"}
    # v0 cuts a longer negative prompt to the prompt's length
    if mode == "v0":
        cut = ScheduledConditioning(encoder, ["blurry"], ["a cat BREAK watercolor"], 4).at(0)
        assert torch.equal(cut.context[0], encoder.encode("a cat BREAK watercolor")[0][0, :TOKENS])


def test_a_schedule_takes_the_length_of_its_longest_text(model):
    encoder = PromptEncoder(model)
    conditioning = ScheduledConditioning(encoder, ["a [cat:dog BREAK watercolor:2]"], None, 4)
    early = conditioning.at(0).context
    assert early.shape[1] == 2 * TOKENS
    assert torch.equal(early[0, :TOKENS], encoder.encode("a cat")[0][0])
    assert torch.equal(early[0, TOKENS:], encoder.empty_chunk()[0])
    assert conditioning.at(3).context.shape[1] == 2 * TOKENS


def test_the_prompts_of_a_batch_are_stacked_repeating_their_last_vector(model):
    encoder = PromptEncoder(model)
    batch = ScheduledConditioning(encoder, ["a cat BREAK watercolor", "a dog"], None, 4).at(0)
    short = encoder.encode("a dog")[0][0]
    assert torch.equal(batch.context[1, :TOKENS], short)
    assert torch.equal(batch.context[1, TOKENS:], short[-1:].expand(TOKENS, -1))


def test_the_guided_unet_makes_one_call_per_length(model):
    from sdwebui.engine.sampling.guided_unet import GuidedUNet

    seen = []
    unet = model.unet
    original = unet.forward

    def spy(x, t, encoder_hidden_states=None, **kw):
        seen.append((x.shape[0], encoder_hidden_states.shape[1]))
        return original(x, t, encoder_hidden_states=encoder_hidden_states, **kw)

    unet.forward = spy
    try:
        conditioning = ScheduledConditioning(PromptEncoder(model), ["a cat BREAK watercolor"], ["blurry"], 1)
        guided = GuidedUNet(model, conditioning, images=1, cfg_scale=7.0, width=64, height=64, steps=1, total=1)
        x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
        ev = guided(x, torch.tensor(500.0), 0, scale=lambda v: v, sigma=lambda: 1.0, alpha=lambda: 0.5)
    finally:
        unet.forward = original
    assert seen == [(1, TOKENS), (1, 2 * TOKENS)]
    assert ev.out.shape == x.shape and torch.isfinite(ev.out).all()
