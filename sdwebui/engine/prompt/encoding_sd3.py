"""Prompt text -> SD3 conditioning, as A1111 1.10 builds it.

The prompt is chunked, weighted and emphasised as for the other families (encoding.py), with CLIP-L's
tokenizer. Each 77-token chunk goes through CLIP-L and CLIP-G (G's tokens after the first end token
are 0, OpenCLIP's padding); both encoders' penultimate layers, without the final norm, are joined on
the feature axis and zero-padded to the transformer's text width (4096), and the emphasis applies
to that joined chunk. The pooled vector is CLIP-L's pooled output (unprojected) beside CLIP-G's
projected one, of the first chunk. T5's part follows on the sequence axis, as many tokens as the CLIP
part: the prompt (its weights parsed away, BREAK dropped) with the end token, padded or cut; zeros
when T5 is off (`sd3_enable_t5`, A1111's default) or absent.
"""
from __future__ import annotations

import torch

from sdwebui.engine.prompt import attention
from sdwebui.engine.prompt.encoding import PromptEncoder, apply_emphasis, tokenize_weighted


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
            outs.append(apply_emphasis(z, chunk, self.emphasis))
        clip_part = torch.cat(outs, dim=1)
        return torch.cat([clip_part, self._t5(text, clip_part.shape[1], width).to(clip_part.dtype)], dim=1), pooled

    def _t5(self, text: str, count: int, width: int) -> torch.Tensor:
        model = self.model
        encoder, tokenizer = model.text_encoder_3, model.tokenizer_3
        if encoder is None or tokenizer is None:
            return torch.zeros((1, count, width), device=model.device)
        parsed = ([attention.WeightedText(text, 1.0)] if self.emphasis == "None"
                  else [p for p in attention.parse_prompt_attention(text) if not attention.is_break(p)])
        tokens: list[int] = []
        for piece in parsed:
            tokens += tokenizer(piece[0], add_special_tokens=False, truncation=False)["input_ids"]
        tokens = (tokens + [tokenizer.eos_token_id] + [tokenizer.pad_token_id] * count)[:count]
        out = encoder(input_ids=torch.tensor([tokens], device=model.device))
        return out.last_hidden_state.float()

    def empty_chunk(self) -> torch.Tensor:
        """SD3 pads with the empty prompt's whole encoding (its CLIP chunk and its T5 part)."""
        return self.encode("")[0]


def prompt_encoder_for(model, **options) -> PromptEncoder:
    """The prompt encoder of `model`'s family, with PromptEncoder's options."""
    return (SD3PromptEncoder if getattr(model, "is_sd3", False) else PromptEncoder)(model, **options)
