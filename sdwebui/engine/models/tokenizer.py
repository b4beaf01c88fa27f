"""CLIP BPE tokenizer built entirely offline from a vendored vocabulary file.

Stable Diffusion checkpoints (single-file, A1111 layout) do not contain a
tokenizer, and the usual sources (``openai/clip-vit-large-patch14`` on the
Hugging Face hub) are unreachable offline. No installed package ships
``vocab.json``/``merges.txt`` either. The web UI therefore vendors OpenAI's
original BPE merge list (``data/bpe_simple_vocab_16e6.txt.gz``, MIT licensed,
taken from the ``open-clip-torch`` wheel; see ``data/LICENSE-open_clip.txt``)
and builds a :class:`transformers.CLIPTokenizer` from it in memory.

The vocabulary is assembled the same way as in CLIP: the 256 byte-level
unicode symbols, the same symbols with ``</w>`` appended, the first 48894
merges (joined), then ``<|startoftext|>`` (49406) and ``<|endoftext|>``
(49407) -- 49408 entries in all.

SD1 and the first SDXL text encoder pad with ``<|endoftext|>``; SD2 and the
second SDXL text encoder (OpenCLIP) pad with ``!`` (id 0). ``!`` is set as
the pad token *without* registering it as a special added token: otherwise the
tokenizers backend would split every ``!`` in a prompt out as id 0 instead of
BPE-encoding it (``"cat!"`` must give ``2368, 256`` as in open_clip / A1111).
"""

from __future__ import annotations

import functools
import gzip
import logging
import time
from pathlib import Path

from transformers import CLIPTokenizer

logger = logging.getLogger(__name__)

BPE_PATH: Path = Path(__file__).resolve().parent / "data" / "bpe_simple_vocab_16e6.txt.gz"

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
MODEL_MAX_LENGTH = 77
# Number of merges CLIP uses: 49408 - 256 - 256 - 2 special tokens.
NUM_MERGES = 49408 - 2 * 256 - 2


def _bytes_to_unicode() -> dict[int, str]:
    """Map every byte to a printable unicode character (GPT-2/CLIP byte-level BPE).

    Printable bytes map to themselves; the remaining ones are assigned code
    points from 256 upwards, in byte order.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\xa1"), ord("\xac") + 1))
        + list(range(ord("\xae"), ord("\xff") + 1))
    )
    table: dict[int, str] = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    # Order matters for the vocabulary: printable bytes first, then the rest.
    ordered = printable + [b for b in range(256) if b not in printable]
    return {b: table[b] for b in ordered}


@functools.lru_cache(maxsize=1)
def _load_vocab_and_merges() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """Parse the vendored gz once and return (vocab, merges)."""
    start = time.perf_counter()
    with gzip.open(BPE_PATH, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # Line 0 is the "#version" header; CLIP uses lines 1..NUM_MERGES.
    merge_lines = lines[1 : NUM_MERGES + 1]
    if len(merge_lines) != NUM_MERGES:
        raise RuntimeError(f"{BPE_PATH} holds only {len(merge_lines)} merges, expected {NUM_MERGES}")
    merges = tuple(tuple(line.split()) for line in merge_lines)

    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS_TOKEN, EOS_TOKEN]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise RuntimeError("duplicate entries in the CLIP vocabulary")
    logger.debug("parsed CLIP BPE data (%d tokens) in %.3f s", len(vocab), time.perf_counter() - start)
    return vocab, merges  # type: ignore[return-value]


def get_tokenizer(pad_token: str = EOS_TOKEN) -> CLIPTokenizer:
    """Return a CLIP tokenizer built offline from the vendored BPE file.

    ``pad_token`` is ``"<|endoftext|>"`` for SD1 and SDXL's first tokenizer,
    ``"!"`` for SD2 and SDXL's second. Instances are cached per pad token;
    callers must not mutate them.
    """
    return _build_tokenizer(pad_token)


@functools.lru_cache(maxsize=None)
def _build_tokenizer(pad_token: str) -> CLIPTokenizer:
    start = time.perf_counter()
    vocab, merges = _load_vocab_and_merges()
    if pad_token not in vocab:
        raise ValueError(f"pad token {pad_token!r} is not in the CLIP vocabulary")
    tokenizer = CLIPTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=MODEL_MAX_LENGTH,
    )
    if pad_token != EOS_TOKEN:
        # Only changes the pad id used for padding; the token stays an ordinary BPE token.
        tokenizer.pad_token = pad_token
    logger.debug("built CLIPTokenizer (pad %r) in %.3f s", pad_token, time.perf_counter() - start)
    return tokenizer
