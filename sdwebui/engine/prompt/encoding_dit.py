"""Prompt text -> the conditioning of the transformer families: SD3 as A1111 1.10 builds it, FLUX.1 as
Forge does.

SD3: the prompt is chunked, weighted and emphasised as for the other families (encoding.py), with
CLIP-L's tokenizer. Each 77-token chunk goes through CLIP-L and CLIP-G (G's tokens after the first end
token are 0, OpenCLIP's padding); both encoders' penultimate layers, without the final norm, are joined
on the feature axis and zero-padded to the transformer's text width (4096), and the emphasis applies to
that joined chunk. The pooled vector is CLIP-L's pooled output (unprojected) beside CLIP-G's projected
one, of the first chunk. T5's part follows on the sequence axis, as many tokens as the CLIP part: the
prompt (its weights parsed away, BREAK dropped) with the end token, padded or cut; zeros when T5 is off
(`sd3_enable_t5`, A1111's default) or absent.

FLUX.1: the text the transformer attends to is T5's alone: the prompt's tokens with their weights,
BREAK starting a new chunk, each chunk ended by the end token and padded to at least 256 tokens (all
chunks to the longest), the emphasis applied per chunk, the chunks joined on the sequence axis. The
pooled vector is CLIP-L's pooled output of the first 75-token chunk (brackets parsed, weights unused).
"""
from __future__ import annotations

import torch

from sdwebui.engine.prompt import attention
from sdwebui.engine.prompt.encoding import PromptEncoder, apply_emphasis, tokenize_weighted

FLUX_T5_MIN_TOKENS = 256


def t5_chunks(tokenizer, text: str, emphasis: str, *, split_on_break: bool) -> list[tuple[list[int], list[float]]]:
    """(tokens, weights) per chunk of `text` for T5, without the end token or padding."""
    parsed = [attention.WeightedText(text, 1.0)] if emphasis == "None" else attention.parse_prompt_attention(text)
    chunks: list[tuple[list[int], list[float]]] = [([], [])]
    for part in parsed:
        if attention.is_break(part):
            if split_on_break:
                chunks.append(([], []))
            continue
        ids = tokenizer(part[0], add_special_tokens=False, truncation=False)["input_ids"]
        weight = 1.0 if emphasis == "Ignore" else float(part[1])
        chunks[-1][0].extend(ids)
        chunks[-1][1].extend([weight] * len(ids))
    return [c for c in chunks if c[0]] or [([], [])]


class SD3PromptEncoder(PromptEncoder):
    """PromptEncoder for an SD3 model (model.is_sd3)."""

    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        tokenizer = model.tokenizer
        width = int(model.unet.config.joint_attention_dim)
        chunks = tokenize_weighted(tokenizer, text, emphasis=self.emphasis, comma_backtrack=self.comma_backtrack)
        outs, pooled = [], None
        for chunk in chunks:
            ids = [tokenizer.bos_token_id] + chunk.tokens + [tokenizer.eos_token_id]
            end = ids.index(tokenizer.eos_token_id)
            ids_l = ids[:end + 1] + [tokenizer.eos_token_id] * (len(ids) - end - 1)
            ids_g = ids[:end + 1] + [0] * (len(ids) - end - 1)
            out_l = self._run_encoder(model.text_encoder, ids_l, [])
            out_g = self._run_encoder(model.text_encoder_2, ids_g, [])
            z = torch.cat([out_l.hidden_states[-2], out_g.hidden_states[-2]], dim=-1)
            z = torch.nn.functional.pad(z, (0, width - z.shape[-1]))
            if pooled is None:
                # CLIP-L's pooled output is its last state at the end token, unprojected (as A1111)
                pooled = torch.cat([out_l.last_hidden_state[:, end], out_g.text_embeds], dim=-1)
            outs.append(apply_emphasis(z, [1.0] + chunk.weights + [1.0], self.emphasis))
        clip_part = torch.cat(outs, dim=1)
        t5_part = self._t5(text, clip_part.shape[1], width).to(clip_part.dtype)
        return torch.cat([clip_part, t5_part], dim=1), pooled

    def _t5(self, text: str, count: int, width: int) -> torch.Tensor:
        model = self.model
        encoder, tokenizer = model.text_encoder_3, model.tokenizer_3
        if encoder is None or tokenizer is None:
            return torch.zeros((1, count, width), device=model.device)
        tokens = t5_chunks(tokenizer, text, self.emphasis, split_on_break=False)[0][0]
        tokens = (tokens + [tokenizer.eos_token_id] + [tokenizer.pad_token_id] * count)[:count]
        return encoder(input_ids=torch.tensor([tokens], device=model.device)).last_hidden_state.float()

    def empty_chunk(self) -> torch.Tensor:
        """SD3 pads with the empty prompt's whole encoding (its CLIP chunk and its T5 part)."""
        return self.encode("")[0]


class FluxPromptEncoder(PromptEncoder):
    """PromptEncoder for a FLUX.1 model (model.is_flux)."""

    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        clip = model.tokenizer
        # the prompt's words (emphasis brackets parsed away, as Forge) of the first chunk; weights do not
        # act on a pooled vector
        first = tokenize_weighted(clip, text, emphasis=self.emphasis, comma_backtrack=self.comma_backtrack)[0]
        ids = [clip.bos_token_id] + first.tokens + [clip.eos_token_id]
        pooled = self._run_encoder(model.text_encoder, ids, []).pooler_output
        t5 = model.tokenizer_3
        chunks = t5_chunks(t5, text, self.emphasis, split_on_break=True)
        length = max(FLUX_T5_MIN_TOKENS, max(len(tokens) + 1 for tokens, _ in chunks))
        outs = []
        for tokens, weights in chunks:
            pad = length - len(tokens) - 1
            ids = tokens + [t5.eos_token_id] + [t5.pad_token_id] * pad
            z = model.text_encoder_3(input_ids=torch.tensor([ids], device=model.device)).last_hidden_state
            outs.append(apply_emphasis(z, weights + [1.0] * (pad + 1), self.emphasis))
        return torch.cat(outs, dim=1), pooled

    def empty_chunk(self) -> torch.Tensor:
        return self.encode("")[0]


def prompt_encoder_for(model, **options) -> PromptEncoder:
    """The prompt encoder of `model`'s family, with PromptEncoder's options."""
    if getattr(model, "is_flux", False):
        return FluxPromptEncoder(model, **options)
    return (SD3PromptEncoder if getattr(model, "is_sd3", False) else PromptEncoder)(model, **options)
