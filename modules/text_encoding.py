"""Prompt text -> UNet conditioning, as A1111 builds it.

Prompts longer than 75 tokens are split into 75-token chunks, each wrapped in BOS/EOS,
padded to 77 and encoded separately; the chunk outputs are concatenated along the
sequence axis. Positive and negative conditioning are padded with empty chunks to the
same length so they can be batched for classifier-free guidance.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from modules.loader.single_file import SDModel

logger = logging.getLogger(__name__)

CHUNK = 75


@dataclass
class Conditioning:
    context: torch.Tensor              # (B, 77*k, D)
    pooled: torch.Tensor | None = None  # (B, D2) for SDXL

    @property
    def chunks(self) -> int:
        return self.context.shape[1] // (CHUNK + 2)


def tokenize_chunks(tokenizer, text: str) -> list[list[int]]:
    """Token ids of `text` in 75-token chunks (at least one, possibly empty)."""
    ids = tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
    chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)] or [[]]
    return chunks


def count_tokens(tokenizer, text: str) -> tuple[int, int]:
    """(tokens used, token limit rounded up to whole chunks), as the UI counter shows."""
    n = len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
    return n, max(1, -(-n // CHUNK)) * CHUNK


def _pad_chunk(tokenizer, chunk: list[int]) -> list[int]:
    pad = tokenizer.pad_token_id
    ids = [tokenizer.bos_token_id] + chunk + [tokenizer.eos_token_id]
    return ids + [pad] * (CHUNK + 2 - len(ids))


def _encode_chunks(model: SDModel, encoder, tokenizer, chunks: list[list[int]], *, layer_from_end: int,
                   final_norm: bool, want_pooled: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    ids = torch.tensor([_pad_chunk(tokenizer, c) for c in chunks], device=model.device)
    out = encoder(input_ids=ids, output_hidden_states=True)
    hidden = out.hidden_states[-layer_from_end]
    if final_norm and layer_from_end > 1:
        # A1111 applies the final layer norm to an earlier layer's output for clip skip
        text_model = getattr(encoder, "text_model", encoder)
        hidden = text_model.final_layer_norm(hidden)
    elif final_norm:
        hidden = out.last_hidden_state
    pooled = None
    if want_pooled:
        pooled = out.text_embeds[:1]  # A1111 takes the pooled output of the first chunk
    return hidden.reshape(1, -1, hidden.shape[-1]), pooled


@torch.no_grad()
def encode_prompts(model: SDModel, prompts: list[str], *, clip_skip: int = 1, min_chunks: int = 1) -> Conditioning:
    """Encode a list of prompts (one per image). Identical prompts are encoded once."""
    cache: dict[str, tuple[list[list[int]], list[list[int]] | None]] = {}
    for p in prompts:
        if p not in cache:
            t1 = tokenize_chunks(model.tokenizer, p) if model.tokenizer is not None else None
            t2 = tokenize_chunks(model.tokenizer_2, p) if model.tokenizer_2 is not None else None
            cache[p] = (t1, t2)
    n_chunks = max(min_chunks, *(len(t1 or t2) for t1, t2 in cache.values()))

    encoded: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
    for p, (t1, t2) in cache.items():
        parts, pooled = [], None
        if model.is_sdxl:
            # SDXL: penultimate layer of both encoders without final norm, concatenated on the
            # feature axis; A1111 ignores clip skip for SDXL unless sdxl_clip_l_skip is set.
            if t1 is not None:
                c1 = t1 + [[]] * (n_chunks - len(t1))
                h1, _ = _encode_chunks(model, model.text_encoder, model.tokenizer, c1,
                                       layer_from_end=2, final_norm=False, want_pooled=False)
                parts.append(h1)
            c2 = t2 + [[]] * (n_chunks - len(t2))
            h2, pooled = _encode_chunks(model, model.text_encoder_2, model.tokenizer_2, c2,
                                        layer_from_end=2, final_norm=False, want_pooled=True)
            parts.append(h2)
            ctx = torch.cat(parts, dim=-1)
        else:
            c1 = t1 + [[]] * (n_chunks - len(t1))
            ctx, _ = _encode_chunks(model, model.text_encoder, model.tokenizer, c1,
                                    layer_from_end=max(1, int(clip_skip)), final_norm=True, want_pooled=False)
        encoded[p] = (ctx, pooled)

    context = torch.cat([encoded[p][0] for p in prompts]).to(model.dtype)
    pooled = None
    if model.is_sdxl:
        pooled = torch.cat([encoded[p][1] for p in prompts]).to(model.dtype)
    return Conditioning(context=context, pooled=pooled)


def pad_to_same_length(a: Conditioning, b: Conditioning, model: SDModel, *, clip_skip: int) -> tuple[Conditioning, Conditioning]:
    """Make cond and uncond the same number of chunks by appending encoded empty chunks."""
    if a.chunks == b.chunks:
        return a, b
    target = max(a.chunks, b.chunks)

    def grow(c: Conditioning) -> Conditioning:
        if c.chunks == target:
            return c
        empty = encode_prompts(model, [""], clip_skip=clip_skip).context
        extra = empty.repeat(c.context.shape[0], target - c.chunks, 1)
        return Conditioning(torch.cat([c.context, extra], dim=1), c.pooled)

    return grow(a), grow(b)
