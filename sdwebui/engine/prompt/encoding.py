"""Prompt text -> UNet conditioning, as A1111 builds it.

A prompt is parsed for emphasis (`(a:1.2)`, `[a]`, `BREAK`), tokenized into 75-token chunks
(a chunk that fills up is broken after the last comma within `comma_padding_backtrack`
tokens; BREAK pads the chunk), each chunk is wrapped in BOS/EOS, padded to 77 and encoded on
its own, the token weights multiply the encoder output and (emphasis "Original") the mean is
restored. Chunk outputs are concatenated on the sequence axis.
"""
from __future__ import annotations

import logging
from typing import Any
from dataclasses import dataclass, field

import torch

from sdwebui.engine.prompt import attention, composable, extra_networks, scheduling
from sdwebui.engine.models.single_file import SDModel

logger = logging.getLogger(__name__)

CHUNK = 75
EMPHASIS_MODES = ("Original", "No norm", "None", "Ignore")


@dataclass
class Chunk:
    tokens: list[int]
    weights: list[float]
    fixes: list[tuple[int, torch.Tensor, str]] = field(default_factory=list)  # (offset, vectors, embedding name)


def _comma_token(tokenizer) -> int | None:
    ids = tokenizer(",", add_special_tokens=False)["input_ids"]
    return ids[0] if len(ids) == 1 else None


def tokenize_weighted(tokenizer, text: str, *, emphasis: str = "Original", comma_backtrack: int = 20,
                      embeddings: list[tuple[tuple[int, ...], torch.Tensor, str]] | None = None) -> list[Chunk]:
    """Token ids and per-token weights of `text` in chunks of exactly 75 (BOS/EOS not included).
    `embeddings` ((name token ids, vectors, name), longest first): where a name's tokens appear, the
    chunk gets placeholders and a fix that puts the vectors there (moved whole to the next chunk
    when they do not fit, as A1111 does)."""
    if emphasis == "None":
        parsed = [attention.WeightedText(text, 1.0)]
    else:
        parsed = attention.parse_prompt_attention(text)
        if emphasis == "Ignore":
            parsed = [p if attention.is_break(p) else attention.WeightedText(p[0], 1.0) for p in parsed]
    comma = _comma_token(tokenizer)
    chunks: list[Chunk] = []
    tokens: list[int] = []
    weights: list[float] = []
    fixes: list[tuple[int, torch.Tensor, str]] = []
    last_comma = -1

    def close_chunk() -> None:
        nonlocal tokens, weights, fixes, last_comma
        pad = CHUNK - len(tokens)
        chunks.append(Chunk(tokens + [tokenizer.eos_token_id] * pad, weights + [1.0] * pad, fixes))
        tokens, weights, fixes, last_comma = [], [], [], -1

    def embedding_at(ids: list[int], pos: int):
        for name_ids, vectors, name in embeddings or ():
            if tuple(ids[pos:pos + len(name_ids)]) == name_ids:
                return name_ids, vectors, name
        return None

    for part in parsed:
        if attention.is_break(part):
            close_chunk()
            continue
        piece, weight = part
        ids = tokenizer(piece, add_special_tokens=False, truncation=False)["input_ids"]
        pos = 0
        while pos < len(ids):
            token = ids[pos]
            found = embedding_at(ids, pos) if embeddings else None
            if found is not None:
                name_ids, vectors, name = found
                count = min(vectors.shape[0], CHUNK)
                if len(tokens) + count > CHUNK:
                    close_chunk()
                fixes.append((len(tokens), vectors[:count], name))
                tokens.extend([0] * count)     # placeholders; the vectors replace their embeddings
                weights.extend([weight] * count)
                pos += len(name_ids)
                continue
            pos += 1
            if token == comma:
                last_comma = len(tokens)
            elif (comma_backtrack and len(tokens) == CHUNK and last_comma != -1
                  and len(tokens) - last_comma <= comma_backtrack):
                # move the words after the last comma to the next chunk, so a phrase is not cut in two
                cut = last_comma + 1
                moved_tokens, moved_weights = tokens[cut:], weights[cut:]
                tokens, weights = tokens[:cut], weights[:cut]
                close_chunk()
                tokens, weights = moved_tokens, moved_weights
            if len(tokens) == CHUNK:
                close_chunk()
            tokens.append(token)
            weights.append(weight)
    if tokens or not chunks:
        close_chunk()
    return chunks


def count_tokens(tokenizer, text: str) -> tuple[int, int]:
    """(tokens used, token limit rounded up to whole chunks), as the UI counter shows."""
    chunks = tokenize_weighted(tokenizer, extra_networks.strip_extra_networks(text)[0])
    used = sum(sum(1 for t in c.tokens if t != tokenizer.eos_token_id) for c in chunks)
    return used, len(chunks) * CHUNK


class PromptEncoder:
    """Encodes prompt texts for one model and setting, caching each distinct text."""

    def __init__(self, model: SDModel, *, clip_skip: int = 1, emphasis: str = "Original", comma_backtrack: int = 20,
                 embeddings=None, pad_conds: str = "separate"):
        self.model = model
        self.pad_conds = pad_conds              # one of PAD_MODES
        self.clip_skip = max(1, int(clip_skip))
        self.emphasis = emphasis
        self.comma_backtrack = comma_backtrack
        self.embeddings = embeddings            # modules.textual_inversion.EmbeddingDatabase or None
        self.used_embeddings: set[str] = set()
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._embedding_tokens: dict[str, list] = {}

    @torch.no_grad()
    def encode(self, text: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(context (1, 77*k, D), pooled (1, D2) or None) of one prompt text."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        context, pooled = self._encode_text(text)
        result = (context.to(self.model.dtype), pooled.to(self.model.dtype) if pooled is not None else None)
        self._cache[text] = result
        return result

    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = self.model
        parts, pooled = [], None
        if model.is_sdxl:
            # SDXL: penultimate layer of both encoders without final norm, concatenated on the
            # feature axis; A1111 ignores clip skip for SDXL unless sdxl_clip_l_skip is set.
            if model.text_encoder is not None:
                parts.append(self._encode_with(model.text_encoder, model.tokenizer, text, 2, False, which="clip_l")[0])
            ctx2, pooled = self._encode_with(model.text_encoder_2, model.tokenizer_2, text, 2, False, pooled=True,
                                             which="clip_g")
            parts.append(ctx2)
            n = min(p.shape[1] for p in parts)  # both tokenizers chunk the same text the same way
            context = torch.cat([p[:, :n] for p in parts], dim=-1)
        else:
            context, _ = self._encode_with(model.text_encoder, model.tokenizer, text, self.clip_skip, True)
        return context, pooled

    def _embedding_list(self, tokenizer, which: str) -> list:
        if self.embeddings is None or not self.embeddings.loaded:
            return []
        if which not in self._embedding_tokens:
            self._embedding_tokens[which] = self.embeddings.for_tokenizer(tokenizer, which)
        return self._embedding_tokens[which]

    def _run_encoder(self, encoder, ids: list[int], fixes: list) -> Any:
        if not fixes:
            return encoder(input_ids=torch.tensor([ids], device=self.model.device), output_hidden_states=True)

        def put_vectors(_module, _inputs, output):
            output = output.clone()
            for offset, vectors, _name in fixes:   # +1: the chunk starts after BOS
                output[0, 1 + offset:1 + offset + vectors.shape[0]] = vectors.to(output)
            return output

        handle = encoder.get_input_embeddings().register_forward_hook(put_vectors)
        try:
            return encoder(input_ids=torch.tensor([ids], device=self.model.device), output_hidden_states=True)
        finally:
            handle.remove()

    def _encode_with(self, encoder, tokenizer, text: str, layer_from_end: int, final_norm: bool,
                     pooled: bool = False, which: str = "*") -> tuple[torch.Tensor, torch.Tensor | None]:
        chunks = tokenize_weighted(tokenizer, text, emphasis=self.emphasis, comma_backtrack=self.comma_backtrack,
                                   embeddings=self._embedding_list(tokenizer, which))
        outs, first_pooled = [], None
        for chunk in chunks:
            ids = [tokenizer.bos_token_id] + chunk.tokens + [tokenizer.eos_token_id]
            # after the first EOS the rest is padding (id 0 "!" for OpenCLIP encoders, EOS for CLIP-L)
            first_eos = ids.index(tokenizer.eos_token_id)
            ids = ids[:first_eos + 1] + [tokenizer.pad_token_id] * (len(ids) - first_eos - 1)
            self.used_embeddings.update(name for _, _, name in chunk.fixes)
            out = self._run_encoder(encoder, ids, chunk.fixes)
            if final_norm and layer_from_end > 1:
                # A1111 applies the final layer norm to an earlier layer's output for clip skip
                text_model = getattr(encoder, "text_model", encoder)
                z = text_model.final_layer_norm(out.hidden_states[-layer_from_end])
            elif final_norm:
                z = out.last_hidden_state
            else:
                z = out.hidden_states[-layer_from_end]
            if pooled and first_pooled is None:
                first_pooled = out.text_embeds  # A1111 takes the pooled output of the first chunk
            outs.append(apply_emphasis(z, [1.0] + chunk.weights + [1.0], self.emphasis))
        return torch.cat(outs, dim=1), first_pooled

    def empty_chunk(self) -> torch.Tensor:
        """The encoding of one empty chunk, used to pad shorter conditionings."""
        return self.encode("")[0][:, : CHUNK + 2]


def apply_emphasis(z: torch.Tensor, weights: list[float], emphasis: str) -> torch.Tensor:
    """An encoder output (1, T, D) times its T token weights; "Original" then restores the mean."""
    weights = torch.tensor(weights, device=z.device, dtype=z.dtype)
    if emphasis not in ("Original", "No norm") or not bool((weights != 1.0).any()):
        return z
    original_mean = z.float().mean()
    z = z * weights[None, :, None]
    new_mean = z.float().mean()
    # restore the mean (A1111 "Original"); a zero mean (possible with a layer norm without
    # bias) would turn the whole conditioning into zeros or NaN, so it is left alone then
    if emphasis == "Original" and abs(float(original_mean)) > 1e-6 and abs(float(new_mean)) > 1e-6:
        z = z * (original_mean / new_mean).to(z.dtype)
    return z


def _pad_with_empty(c: torch.Tensor, length: int, empty: torch.Tensor) -> torch.Tensor:
    """(n, T, D) -> (n, length, D), the missing chunks filled with the encoded empty chunk (the empty
    prompt's whole encoding: 77 tokens, SD3's 154 with its T5 part)."""
    missing = (length - c.shape[1]) // empty.shape[1]
    return torch.cat([c, empty.repeat(c.shape[0], missing, 1)], dim=1) if missing > 0 else c


def _pad_with_last(c: torch.Tensor, length: int) -> torch.Tensor:
    """(n, T, D) -> (n, length, D), the missing tokens filled with the last vector."""
    return torch.cat([c, c[:, -1:].expand(-1, length - c.shape[1], -1)], 1) if length > c.shape[1] else c


def pad_chunks(contexts: list[torch.Tensor], empty: torch.Tensor) -> torch.Tensor:
    """Stack (n_i, 77*k_i, D) tensors into (N, 77*max_k, D), padding with encoded empty chunks."""
    longest = max(c.shape[1] for c in contexts)
    return torch.cat([_pad_with_empty(c, longest, empty) for c in contexts])


def stack_repeating_last(contexts: list[torch.Tensor]) -> torch.Tensor:
    """Stack (1, T_i, D) tensors into (N, max T, D), the shorter ones padded with their own last vector
    (how A1111 stacks the prompts of a batch and the sub-prompts of AND)."""
    longest = max(c.shape[1] for c in contexts)
    return torch.cat([_pad_with_last(c, longest) for c in contexts])


# How a prompt and a negative prompt of different lengths meet in one UNet call (A1111's options):
# "separate" (the default: the UNet runs twice, each with its own length), "empty" (`pad_cond_uncond`: the
# shorter is padded with encoded empty chunks) and "v0" (`pad_cond_uncond_v0`: the negative prompt is
# padded with its last vector or cut to the prompt's length).
PAD_MODES = ("separate", "empty", "v0")
PAD_INFOTEXT = {"empty": "Pad conds", "v0": "Pad conds v0"}


def join_cond_uncond(cond: torch.Tensor, uncond: torch.Tensor, mode: str,
                     empty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(cond, uncond, padded) made to one length by `mode`; "separate" leaves them as they are."""
    if cond.shape[1] == uncond.shape[1] or mode == "separate":
        return cond, uncond, False
    if mode == "v0":
        return cond, _pad_with_last(uncond[:, :cond.shape[1]], cond.shape[1]), True
    both = pad_chunks([cond, uncond], empty)
    return both[:len(cond)], both[len(cond):], True


@dataclass
class StepBatch:
    """What the UNet sees at one step: the uncond rows (one per image, or none without CFG)
    followed by the cond rows, and how cond rows combine per image (composable AND)."""
    context: torch.Tensor
    pooled: torch.Tensor | None
    n_uncond: int
    groups: list[list[tuple[int, float]]]   # per image: (cond row, weight)
    simple: bool                             # one cond row per image with weight 1, in image order
    # when the prompt and the negative prompt differ in length and are not padded (A1111's default): each
    # part at its own length, for one UNet call each; `context` then holds them padded with empty chunks
    uncond_context: torch.Tensor | None = None
    cond_context: torch.Tensor | None = None

    @property
    def cond_image_index(self) -> list[int]:
        out = [0] * sum(len(g) for g in self.groups)
        for image, group in enumerate(self.groups):
            for row, _ in group:
                out[row] = image
        return out


class ScheduledConditioning:
    """Per-step conditioning of a batch: prompt editing and alternation ([a:b:when], [a|b]) switch
    the text at the right step, AND combines sub-prompts with weights, as A1111 does. As A1111, every
    text of one prompt's schedule has the chunk count of its longest (padded with empty chunks); the
    prompts of a batch and the sub-prompts of AND are stacked padding with their last vector; the
    prompt and the negative prompt meet by the encoder's `pad_conds` mode (`PAD_MODES`)."""

    def __init__(self, encoder: PromptEncoder, prompts: list[str], negatives: list[str] | None, steps: int,
                 *, hires_steps: int | None = None):
        self.encoder = encoder
        self.padded: set[str] = set()         # A1111's infotext keys of the padding done ("Pad conds")
        prompts = [extra_networks.strip_extra_networks(p)[0] for p in prompts]
        per_image, flat, _ = composable.get_multicond_prompt_list(prompts)
        schedules = scheduling.get_learned_conditioning_prompt_schedules(flat, steps, hires_steps)
        widths = [self._width(s) for s in schedules]
        self.groups = [[(schedules[index], widths[index], weight) for index, weight in image] for image in per_image]
        self.negative = None
        if negatives is not None:
            negatives = [extra_networks.strip_extra_networks(p)[0] for p in negatives]
            schedules = scheduling.get_learned_conditioning_prompt_schedules(negatives, steps, hires_steps)
            self.negative = [(s, self._width(s)) for s in schedules]
        self._last_key = None
        self._last: StepBatch | None = None

    def _width(self, schedule) -> int:
        """The token count every text of a schedule is padded to (0: no padding, a single text)."""
        if len(schedule) < 2:
            return 0
        return max(self.encoder.encode(text)[0].shape[1] for _, text in schedule)

    def _encode(self, text: str, width: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        ctx, pool = self.encoder.encode(text)
        if ctx.shape[1] < width:
            ctx = _pad_with_empty(ctx, width, self.encoder.empty_chunk())
        return ctx, pool

    @staticmethod
    def _text_at(schedule, step: int) -> str:
        for end_at, text in schedule:   # A1111: the first entry whose end step is >= the 0-based step
            if step <= end_at:
                return text
        return schedule[-1][1]

    def at(self, step: int) -> StepBatch:
        """The batch for the 0-based sampling step; rebuilt only when some text changes."""
        cond_texts = [[(self._text_at(s, step), width, w) for s, width, w in group] for group in self.groups]
        neg_texts = [(self._text_at(s, step), width) for s, width in self.negative] if self.negative is not None else []
        key = (tuple(tuple(g) for g in cond_texts), tuple(neg_texts))
        if key == self._last_key and self._last is not None:
            return self._last
        contexts, pooled, groups = [], [], []
        for image_texts in cond_texts:
            group = []
            for text, width, weight in image_texts:
                ctx, pool = self._encode(text, width)
                group.append((len(contexts), weight))
                contexts.append(ctx)
                pooled.append(pool)
            groups.append(group)
        uncond_ctx, uncond_pool = [], []
        for text, width in neg_texts:
            ctx, pool = self._encode(text, width)
            uncond_ctx.append(ctx)
            uncond_pool.append(pool)
        cond = stack_repeating_last(contexts)
        empty = self.encoder.empty_chunk()
        split = None
        if uncond_ctx:
            uncond = stack_repeating_last(uncond_ctx)
            mode = self.encoder.pad_conds
            cond, uncond, padded = join_cond_uncond(cond, uncond, mode, empty)
            if padded:
                self.padded.add(PAD_INFOTEXT[mode])
            if cond.shape[1] != uncond.shape[1]:
                split = (uncond, cond)
            context = pad_chunks([uncond, cond], empty)
        else:
            context = cond
        pools = uncond_pool + pooled
        simple = all(len(g) == 1 and g[0][1] == 1.0 and g[0][0] == i for i, g in enumerate(groups))
        self._last_key = key
        self._last = StepBatch(context=context, pooled=torch.cat(pools) if pools[0] is not None else None,
                               n_uncond=len(neg_texts), groups=groups, simple=simple,
                               uncond_context=split[0] if split else None, cond_context=split[1] if split else None)
        return self._last
