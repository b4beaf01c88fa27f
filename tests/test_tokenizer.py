"""Offline CLIP tokenizer built from the vendored BPE file."""

from __future__ import annotations

import hashlib
import time

import pytest

from sdwebui.engine.models import tokenizer as tokmod
from sdwebui.engine.models.tokenizer import get_tokenizer

BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def test_vendored_file_checksum() -> None:
    assert hashlib.sha256(tokmod.BPE_PATH.read_bytes()).hexdigest() == BPE_SHA256
    licence = tokmod.BPE_PATH.with_name("LICENSE-open_clip.txt").read_text(encoding="utf-8")
    assert "Permission is hereby granted, free of charge" in licence


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("a photo of a cat", [49406, 320, 1125, 539, 320, 2368, 49407]),
        ("A Photo of a CAT!", [49406, 320, 1125, 539, 320, 2368, 256, 49407]),
        ("hello world", [49406, 3306, 1002, 49407]),
        ("don't stop", [49406, 847, 713, 1691, 49407]),
        ("café", [49406, 15304, 49407]),
    ],
)
@pytest.mark.parametrize("pad_token", ["<|endoftext|>", "!"])
def test_known_ids(text: str, ids: list[int], pad_token: str) -> None:
    assert get_tokenizer(pad_token)(text).input_ids == ids


def test_special_tokens_and_size() -> None:
    tok = get_tokenizer()
    assert len(tok) == 49408
    assert tok.model_max_length == 77
    assert (tok.bos_token, tok.bos_token_id) == ("<|startoftext|>", 49406)
    assert (tok.eos_token, tok.eos_token_id) == ("<|endoftext|>", 49407)
    assert (tok.unk_token, tok.unk_token_id) == ("<|endoftext|>", 49407)
    assert (tok.pad_token, tok.pad_token_id) == ("<|endoftext|>", 49407)
    assert (get_tokenizer("!").pad_token, get_tokenizer("!").pad_token_id) == ("!", 0)


@pytest.mark.parametrize(("pad_token", "pad_id"), [("<|endoftext|>", 49407), ("!", 0)])
def test_padding_to_77(pad_token: str, pad_id: int) -> None:
    tok = get_tokenizer(pad_token)
    ids = tok("a photo of a cat", padding="max_length", max_length=tok.model_max_length, truncation=True).input_ids
    assert len(ids) == 77
    assert ids[:7] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert ids[7:] == [pad_id] * 70


def test_truncation_keeps_eos() -> None:
    tok = get_tokenizer()
    ids = tok("cat " * 200, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77 and ids[0] == 49406 and ids[-1] == 49407


def test_bang_pad_does_not_capture_bang_in_text() -> None:
    tok = get_tokenizer("!")
    assert tok("wow!! great !").input_ids == [49406, 2781, 748, 830, 256, 49407]
    ids = tok(["cat!", "a photo of a cat"], padding="max_length", max_length=77).input_ids
    assert ids[0][:4] == [49406, 2368, 256, 49407] and ids[0][4:] == [0] * 73
    assert ids[1][7:] == [0] * 70


def test_cached_per_pad_token() -> None:
    assert get_tokenizer() is get_tokenizer("<|endoftext|>")
    assert get_tokenizer("!") is get_tokenizer("!")
    assert get_tokenizer("!") is not get_tokenizer()


def test_unknown_pad_token_rejected() -> None:
    with pytest.raises(ValueError):
        get_tokenizer("<|not-a-token|>")


def test_build_is_fast() -> None:
    tokmod._build_tokenizer.cache_clear()
    tokmod._load_vocab_and_merges.cache_clear()
    start = time.perf_counter()
    tok = get_tokenizer()
    assert time.perf_counter() - start < 1.0
    assert tok("a cat").input_ids == [49406, 320, 2368, 49407]
