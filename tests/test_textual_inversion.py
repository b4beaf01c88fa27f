"""Embedding files of every layout, compatibility per model family, and placement in chunks."""
from __future__ import annotations

import torch
from safetensors.torch import save_file

from sdwebui.engine.models.hashes import HashCache
from sdwebui.engine.models.single_file import load_checkpoint
from sdwebui.engine.models.tokenizer import get_tokenizer
from sdwebui.engine.prompt.encoding import CHUNK, PromptEncoder, tokenize_weighted
from sdwebui.engine.models.textual_inversion import EmbeddingDatabase, read_embedding


def test_layouts(tmp_path):
    torch.save({"string_to_param": {"*": torch.ones(2, 8)}, "step": 3}, tmp_path / "a.pt")
    torch.save({"<tok>": torch.ones(8)}, tmp_path / "b.bin")
    save_file({"clip_l": torch.ones(1, 8), "clip_g": torch.ones(1, 16)}, str(tmp_path / "c.safetensors"))
    a, b, c = (read_embedding(tmp_path / n) for n in ("a.pt", "b.bin", "c.safetensors"))
    assert a.count == 2 and a.step == 3 and b.count == 1 and set(c.vectors) == {"clip_l", "clip_g"}


def test_compatibility_per_family(tmp_path, tiny_files):
    save_file({"emb_params": torch.randn(2, 32)}, str(tmp_path / "sd1emb.safetensors"))
    save_file({"clip_l": torch.randn(1, 32), "clip_g": torch.randn(1, 64)}, str(tmp_path / "xlemb.safetensors"))
    db = EmbeddingDatabase(tmp_path, HashCache(tmp_path / "cache.json"))
    sd1 = load_checkpoint(tiny_files["sd1"])
    db.refresh(sd1)
    assert set(db.loaded) == {"sd1emb"} and "SDXL" in db.skipped["xlemb"].reason
    sdxl = load_checkpoint(tiny_files["sdxl"])
    db.refresh(sdxl)
    assert set(db.loaded) == {"xlemb"} and "SD1/SD2" in db.skipped["sd1emb"].reason
    enc = PromptEncoder(sdxl, embeddings=db)
    with_emb = enc.encode("a xlemb")[0]
    assert enc.used_embeddings == {"xlemb"}
    assert not torch.equal(with_emb, PromptEncoder(sdxl).encode("a xlemb")[0])


def test_vectors_move_whole_to_the_next_chunk():
    tok = get_tokenizer()
    vectors = torch.zeros(4, 8)
    ids = tuple(tok("zzemb", add_special_tokens=False)["input_ids"])
    text = " ".join(["cat"] * 73) + " zzemb"
    chunks = tokenize_weighted(tok, text, embeddings=[(ids, vectors, "zzemb")], comma_backtrack=0)
    assert len(chunks) == 2 and chunks[0].fixes == []
    offset, placed, name = chunks[1].fixes[0]
    assert offset == 0 and placed.shape[0] == 4 and name == "zzemb"
    assert all(len(c.tokens) == CHUNK for c in chunks)
