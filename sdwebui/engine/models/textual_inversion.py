"""Textual-inversion embeddings from `embeddings/`, used by name in prompts as A1111 does.

Files: A1111 `.pt` (`string_to_param`), diffusers `.bin` (`{token: vector}`), `.safetensors`
(`emb_params`, or SDXL's `clip_l` + `clip_g`). An embedding is *loaded* when its vector width
fits the current model's text encoder(s), otherwise *skipped* with the reason. In the prompt
the embedding's name (matched on its tokens) is replaced by its vectors.
"""
from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from sdwebui.engine.models.hashes import HashCache

logger = logging.getLogger(__name__)

EMBEDDING_EXTENSIONS = (".pt", ".safetensors", ".bin")


@dataclass
class Embedding:
    name: str
    path: Path
    vectors: dict[str, torch.Tensor]          # "clip_l" / "clip_g" (SDXL) or "*" -> (n, width)
    step: int | None = None
    sd_checkpoint: str | None = None
    sd_checkpoint_name: str | None = None
    reason: str | None = None                  # why it is skipped for the current model

    @property
    def count(self) -> int:
        return next(iter(self.vectors.values())).shape[0]

    def api_dict(self) -> dict[str, Any]:
        first = next(iter(self.vectors.values()))
        out = {"step": self.step, "sd_checkpoint": self.sd_checkpoint, "sd_checkpoint_name": self.sd_checkpoint_name,
               "shape": int(first.shape[-1]), "vectors": int(first.shape[0])}
        if self.reason:
            out["reason"] = self.reason
        return out


def read_embedding(path: Path) -> Embedding:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        data: Any = load_file(str(path))
    else:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    name = path.stem
    step = ckpt = ckpt_name = None
    if isinstance(data, dict) and "string_to_param" in data:            # A1111 .pt
        params = data["string_to_param"]
        tensor = next(iter(params.values()))
        step, ckpt, ckpt_name = data.get("step"), data.get("sd_checkpoint"), data.get("sd_checkpoint_name")
        vectors = {"*": tensor}
    elif isinstance(data, dict) and "clip_l" in data and "clip_g" in data:   # SDXL
        vectors = {"clip_l": data["clip_l"], "clip_g": data["clip_g"]}
    elif isinstance(data, dict) and "emb_params" in data:
        vectors = {"*": data["emb_params"]}
    elif isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), torch.Tensor):
        vectors = {"*": next(iter(data.values()))}                       # diffusers {token: vector}
    elif isinstance(data, torch.Tensor):
        vectors = {"*": data}
    else:
        raise ValueError("not a textual-inversion embedding")
    vectors = {k: (v.unsqueeze(0) if v.ndim == 1 else v).detach().float() for k, v in vectors.items()}
    if any(v.ndim != 2 for v in vectors.values()):
        raise ValueError("embedding vectors must be 1- or 2-dimensional")
    return Embedding(name=name, path=path, vectors=vectors, step=step if isinstance(step, int) else None,
                     sd_checkpoint=ckpt if isinstance(ckpt, str) else None,
                     sd_checkpoint_name=ckpt_name if isinstance(ckpt_name, str) else None)


def _encoder_width(encoder) -> int:
    return encoder.get_input_embeddings().weight.shape[1]


class EmbeddingDatabase:
    def __init__(self, folder: Path, hash_cache: HashCache):
        self.folder = Path(folder)
        self.cache = hash_cache
        self.loaded: dict[str, Embedding] = {}
        self.skipped: dict[str, Embedding] = {}
        self._signature: tuple | None = None
        # the model of the last refresh (A1111's load_textual_inversion_embeddings()); weak, so an
        # unloaded model is not kept alive by this
        self._model_ref: Callable[[], Any] = lambda: None

    # A1111's names for the two tables (extensions such as tag autocomplete read them)
    @property
    def word_embeddings(self) -> dict[str, Embedding]:
        return self.loaded

    @property
    def skipped_embeddings(self) -> dict[str, Embedding]:
        return self.skipped

    def load_textual_inversion_embeddings(self, force_reload: bool = False, sync_with_sd_model: bool = True) -> None:
        """A1111's reload: the folder again, for the model of the last refresh."""
        self.refresh(self._model_ref(), force=force_reload)

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix.lower() in EMBEDDING_EXTENSIONS)

    def refresh(self, model, *, force: bool = False) -> None:
        """Load the folder for `model` when the files or the model changed (A1111 checks every job)."""
        self._model_ref = weakref.ref(model) if model is not None else (lambda: None)
        files = self._files()
        signature = (id(model), tuple((str(p), os.path.getmtime(p)) for p in files))
        if signature == self._signature and not force:
            return
        loaded, skipped = {}, {}
        for path in files:
            try:
                emb = read_embedding(path)
            except Exception as e:
                logger.warning("skipping embedding %s: %s", path.name, e)
                continue
            emb.reason = self._incompatibility(emb, model)
            (skipped if emb.reason else loaded)[emb.name] = emb
        self.loaded, self.skipped, self._signature = loaded, skipped, signature
        if files:
            logger.info("Textual inversion embeddings loaded(%d): %s", len(loaded), ", ".join(loaded))
            if skipped:
                logger.info("Textual inversion embeddings skipped(%d): %s", len(skipped), ", ".join(skipped))

    @staticmethod
    def _incompatibility(emb: Embedding, model) -> str | None:
        if model is None:
            return "no model loaded"
        if model.is_sdxl:
            if "clip_g" not in emb.vectors:
                return "an SD1/SD2 embedding; this is an SDXL model (needs clip_l and clip_g vectors)"
            widths = {"clip_l": model.text_encoder, "clip_g": model.text_encoder_2}
            for key, encoder in widths.items():
                if encoder is not None and emb.vectors[key].shape[1] != _encoder_width(encoder):
                    return f"{key} width {emb.vectors[key].shape[1]} does not fit this model ({_encoder_width(encoder)})"
            return None
        if "*" not in emb.vectors:
            return "an SDXL embedding; this model is not SDXL"
        width, want = emb.vectors["*"].shape[1], _encoder_width(model.text_encoder)
        if width != want:
            return f"vector width {width} is for another model family (this model's text encoder: {want})"
        return None

    def api_dict(self) -> dict[str, dict]:
        return {"loaded": {n: e.api_dict() for n, e in self.loaded.items()},
                "skipped": {n: e.api_dict() for n, e in self.skipped.items()}}

    def shorthash(self, emb: Embedding) -> str:
        return self.cache.sha256(emb.path, f"textual_inversion/{emb.name}")[:12]

    def for_tokenizer(self, tokenizer, which: str) -> list[tuple[tuple[int, ...], torch.Tensor, str]]:
        """(token ids of the name, vectors for this encoder, name), longest names first."""
        out = []
        for emb in self.loaded.values():
            vectors = emb.vectors.get(which, emb.vectors.get("*"))
            if vectors is None:
                continue
            ids = tuple(tokenizer(emb.name, add_special_tokens=False)["input_ids"])
            if ids:
                out.append((ids, vectors, emb.name))
        out.sort(key=lambda x: -len(x[0]))
        return out

