"""The T5 tokenizer SD3's (and Flux's) T5-XXL text encoder needs, offline.

The checkpoints carry no vocabulary. It comes, first found first, from:
1. the checkpoint's own metadata (`sd_webui_t5_tokenizer`: the project's tiny test files carry a
   small vocabulary of their own);
2. a tokenizer file beside the T5 weights, in the text encoder folders: `t5xxl*.json`,
   `t5_tokenizer.json`, or `tokenizer.json` in a `t5*` sub-folder (a user's copy of
   google/t5-v1_1-xxl's);
3. the vocabulary vendored with the project (data/t5_tokenizer.json.gz, Google's T5 v1.1 SentencePiece
   vocabulary, Apache-2.0: data/LICENSE-t5.txt), when present.
transformers builds it from the `tokenizers` JSON alone; the sentencepiece package is not needed.
"""
from __future__ import annotations

import functools
import gzip
import logging
from pathlib import Path
from typing import Any, Sequence

logger = logging.getLogger(__name__)

VENDORED: Path = Path(__file__).resolve().parent / "data" / "t5_tokenizer.json.gz"


class T5TokenizerMissing(Exception):
    """No T5 vocabulary was found; the message says where one may go."""


def _candidates(dirs: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        found += sorted(p for p in folder.glob("t5xxl*.json") if p.is_file())
        found += [p for p in (folder / "t5_tokenizer.json",) if p.is_file()]
        found += sorted(p for p in folder.glob("t5*/tokenizer.json") if p.is_file())
    return found


@functools.lru_cache(maxsize=8)
def _from_json(text: str) -> Any:
    from tokenizers import Tokenizer
    from transformers import T5TokenizerFast

    # the JSON already holds the 100 <extra_id_N> tokens of a real vocabulary: none are added again
    return T5TokenizerFast(tokenizer_object=Tokenizer.from_str(text), eos_token="</s>", pad_token="<pad>",
                           unk_token="<unk>", extra_ids=0, model_max_length=512)


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def t5_tokenizer(embedded: str | None, dirs: Sequence[Path] = ()) -> Any:
    """A T5TokenizerFast from the first source that has one (see the module docstring)."""
    if embedded:
        return _from_json(embedded)
    for path in _candidates(dirs) + ([VENDORED] if VENDORED.is_file() else []):
        try:
            return _from_json(_read(path))
        except Exception as e:      # not a tokenizers JSON: say so and look further
            logger.warning("%s is not a usable T5 tokenizer (%s: %s)", path, type(e).__name__, e)
    where = " or ".join(str(d) for d in dirs) or "models/text_encoder"
    raise T5TokenizerMissing(f"no T5 tokenizer was found: put google/t5-v1_1-xxl's tokenizer.json into {where} "
                             "as t5xxl_tokenizer.json (or turn off sd3_enable_t5)")
