"""Merging checkpoints tensor by tensor: A1111's Checkpoint Merger math (no interpolation, weighted
sum, add difference), planned from the files' headers and streamed to the output.

A1111 reads all inputs into memory (three full models for "Add difference") and then writes the
result. Here the inputs are read one tensor at a time (a `.safetensors` header says where each one
is; `.ckpt` files are memory-mapped),
the whole merge is checked from tensor names, dtypes and shapes before any byte is written (so two
models of different families give a clear error, not a half-written file), and a `.safetensors`
result is written as each tensor is computed: its header can be laid out up front because every
output tensor's dtype and shape is known from the plan. Peak memory is a few tensors, not models.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import torch

from sdwebui.engine.models.single_file import CheckpointLoadError, detect_family

logger = logging.getLogger(__name__)

NO_INTERPOLATION, WEIGHTED_SUM, ADD_DIFFERENCE = "No interpolation", "Weighted sum", "Add difference"
METHODS = (NO_INTERPOLATION, WEIGHTED_SUM, ADD_DIFFERENCE)
# how many input models each method reads: A; A and B; A, B and C
MODELS_NEEDED = {NO_INTERPOLATION: 1, WEIGHTED_SUM: 2, ADD_DIFFERENCE: 3}
# A1111's checkpoint_dict_skip_on_merge: integer position ids, which interpolation would corrupt
SKIP_ON_MERGE = ("cond_stage_model.transformer.text_model.embeddings.position_ids",)
VAE_PREFIX = "first_stage_model."
FAMILY_NAMES = {"sd1": "an SD1", "sd2": "an SD2", "sdxl": "an SDXL", "sdxl-refiner": "an SDXL refiner"}

_ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
              "BOOL": torch.bool}
for _name, _attr in (("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2"), ("U16", "uint16"),
                     ("U32", "uint32"), ("U64", "uint64")):
    if hasattr(torch, _attr):      # newer dtypes, present in recent torch only
        _ST_DTYPES[_name] = getattr(torch, _attr)
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}


def _pread(fd: int, size: int, offset: int) -> bytes:
    out = b""
    while len(out) < size:
        chunk = os.pread(fd, size - len(out), offset + len(out))
        if not chunk:
            break
        out += chunk
    return out


class MergeError(Exception):
    """Why these checkpoints cannot be merged, in the user's terms."""


@dataclass(frozen=True)
class TensorSpec:
    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count * self.dtype.itemsize


class TensorSource:
    """One checkpoint opened for reading one tensor at a time; `label` names it in messages
    ("A (model.safetensors)"). Use as a context manager."""

    def __init__(self, path: str | Path, label: str | None = None):
        self.path = Path(path)
        self.label = label or self.path.name
        self._stack = contextlib.ExitStack()
        try:
            if self.path.suffix.lower() == ".safetensors":
                self._open_safetensors()
            else:
                self._open_pickle()
        except Exception as e:
            self._stack.close()
            if isinstance(e, MergeError):
                raise
            raise MergeError(f"could not read {self.label}: {type(e).__name__}: {e}") from e

    def _open_safetensors(self) -> None:
        # the header is read here and each tensor with pread into memory of its own, freed once it is
        # written: safe_open would map the file, and every page read stays in the process's RSS until
        # the file is closed (three inputs' worth by the end of a merge, though the kernel may drop them)
        fd = os.open(self.path, os.O_RDONLY)
        self._stack.callback(os.close, fd)
        size = os.fstat(fd).st_size
        head = _pread(fd, 8, 0)
        if len(head) < 8:
            raise MergeError(f"{self.label} is not a .safetensors file (too short)")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100 << 20):
            raise MergeError(f"{self.label} is not a .safetensors file (bad header length)")
        header = json.loads(_pread(fd, length, 8))
        self.metadata = {str(k): str(v) for k, v in (header.pop("__metadata__", None) or {}).items()}
        self._specs: dict[str, TensorSpec] = {}
        self._offsets: dict[str, int] = {}
        for key, entry in header.items():
            dtype = _ST_DTYPES.get(entry.get("dtype"))
            if dtype is None:
                raise MergeError(f"{self.label}: tensor {key} has dtype {entry.get('dtype')}, which torch cannot hold")
            spec = TensorSpec(dtype, tuple(int(n) for n in entry["shape"]))
            start, end = (int(n) for n in entry["data_offsets"])
            if end - start != spec.nbytes or start < 0 or 8 + length + end > size:
                raise MergeError(f"{self.label} is damaged: tensor {key} does not fit its place in the file")
            self._specs[key] = spec
            self._offsets[key] = 8 + length + start
        self._get: Callable[[str], torch.Tensor] = lambda key: self._read(fd, key)

    def _read(self, fd: int, key: str) -> torch.Tensor:
        spec = self._specs[key]
        if spec.nbytes == 0:
            return torch.empty(spec.shape, dtype=spec.dtype)
        data = bytearray(spec.nbytes)
        view, done = memoryview(data), 0
        while done < spec.nbytes:
            n = os.preadv(fd, [view[done:]], self._offsets[key] + done)
            if n <= 0:
                raise MergeError(f"{self.label} ended early while reading {key}")
            done += n
        return torch.frombuffer(data, dtype=torch.uint8).view(spec.dtype).reshape(spec.shape)

    def _open_pickle(self) -> None:
        # mmap: tensors are read from disk when touched, so a .ckpt is not loaded whole either;
        # files in torch's pre-1.6 format cannot be mapped and are read at once
        try:
            obj = torch.load(str(self.path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            obj = torch.load(str(self.path), map_location="cpu", weights_only=True)
        while isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict):
            raise MergeError(f"{self.label} does not contain a state dict")
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        self.metadata = {}
        self._specs = {k: TensorSpec(v.dtype, tuple(v.shape)) for k, v in tensors.items()}
        self._get = tensors.__getitem__

    def keys(self) -> list[str]:
        return list(self._specs)

    def __contains__(self, key: object) -> bool:
        return key in self._specs

    def spec(self, key: str) -> TensorSpec:
        return self._specs[key]

    def get(self, key: str) -> torch.Tensor:
        return self._get(key)

    def family(self) -> str | None:
        """The model family its tensor names show (None when they show none we know)."""
        try:
            return detect_family(dict.fromkeys(self._specs))
        except CheckpointLoadError:
            return None

    def close(self) -> None:
        self._get = self._closed
        self._stack.close()

    def _closed(self, key: str) -> torch.Tensor:
        raise RuntimeError(f"{self.label} is closed")

    def __enter__(self) -> "TensorSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the math ------------------------------------------------------------------------------------
def weighted_sum(a: torch.Tensor, b: torch.Tensor, multiplier: float) -> torch.Tensor:
    """A * (1 - M) + B * M."""
    return a * (1 - multiplier) + b * multiplier


def add_difference(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, multiplier: float) -> torch.Tensor:
    """A + (B - C) * M."""
    return a + (b - c) * multiplier


def to_half(tensor: torch.Tensor, enable: bool) -> torch.Tensor:
    """fp32 -> fp16 when `enable` (A1111's rule: other dtypes are kept)."""
    return tensor.half() if enable and tensor.dtype == torch.float32 else tensor


# --- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MergeStep:
    key: str
    spec: TensorSpec                 # what is written
    source: str                      # "a": A's tensor; "merge": the method's result; "vae": the baked VAE's
    channels: int | None = None      # merge only the first N input channels (inpainting A, normal B)


@dataclass
class MergePlan:
    method: str
    steps: list[MergeStep]
    result_kind: str = ""            # "inpainting" / "instruct-pix2pix": A's extra UNet input channels kept
    kept_from_a: int = 0             # A's weights that B lacks, written unchanged
    left_out_of_b: int = 0           # B's weights that A lacks (the result has A's layout)
    discarded: list[str] = field(default_factory=list)

    def layout(self) -> list[tuple[str, TensorSpec]]:
        return [(s.key, s.spec) for s in self.steps]


def _is_float(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point and dtype.itemsize >= 2     # float8 weights are kept, not interpolated


def _check_families(a: TensorSource, others: list[TensorSource]) -> None:
    fam_a = a.family()
    for other in others:
        fam = other.family()
        if fam_a and fam and fam != fam_a:
            raise MergeError(f"{a.label} is {FAMILY_NAMES.get(fam_a, fam_a)} model and {other.label} is "
                             f"{FAMILY_NAMES.get(fam, fam)} model: checkpoints of different model families "
                             f"cannot be merged")


def _partial_channels(sa: TensorSpec, sb: TensorSpec) -> tuple[int, str] | None:
    """For a UNet input layer whose channel count differs (an inpainting or instruct-pix2pix A with a
    normal B): how many channels to merge and what the result is; None for shapes that do not fit."""
    if len(sa.shape) < 2 or sa.shape[:1] + sa.shape[2:] != sb.shape[:1] + sb.shape[2:]:
        return None
    if sa.shape[1] == 4 and sb.shape[1] == 9:
        raise MergeError("When merging an inpainting model with a normal one, A must be the inpainting model.")
    if sa.shape[1] == 4 and sb.shape[1] == 8:
        raise MergeError("When merging an instruct-pix2pix model with a normal one, A must be the instruct-pix2pix "
                         "model.")
    if sb.shape[1] == 4 and sa.shape[1] in (8, 9):
        return 4, "instruct-pix2pix" if sa.shape[1] == 8 else "inpainting"
    return None


def plan_merge(method: str, a: TensorSource, b: TensorSource | None = None, c: TensorSource | None = None, *,
               half: bool = False, discard: str | None = None, vae: TensorSource | None = None) -> MergePlan:
    """Every tensor the result will have, where it comes from and its dtype and shape; raises
    MergeError for anything that would make the merge fail or produce nonsense."""
    if method not in METHODS:
        raise MergeError(f"unknown interpolation method {method!r}; expected one of {', '.join(METHODS)}")
    needed = MODELS_NEEDED[method]
    b, c = (b if needed >= 2 else None), (c if needed >= 3 else None)
    if (needed >= 2 and b is None) or (needed >= 3 and c is None):
        raise MergeError(f"{method} needs {needed} models")
    try:
        pattern = re.compile(discard) if discard else None
    except re.error as e:
        raise MergeError(f"'Discard weights with matching name' is not a valid regular expression: {e}") from None
    _check_families(a, [m for m in (b, c) if m is not None])

    plan = MergePlan(method, [])
    mismatched: list[str] = []
    for key in a.keys():
        if pattern is not None and pattern.search(key):
            plan.discarded.append(key)
            continue
        sa = a.spec(key)
        if vae is not None and key.startswith(VAE_PREFIX) and key[len(VAE_PREFIX):] in vae:
            sv = vae.spec(key[len(VAE_PREFIX):])
            if sv.shape != sa.shape:
                raise MergeError(f"{vae.label} does not fit {a.label}: {key} has shape {list(sa.shape)} in the "
                                 f"model, {list(sv.shape)} in the VAE")
            plan.steps.append(MergeStep(key, TensorSpec(_out_dtype(sv.dtype, half), sa.shape), "vae"))
            continue
        out = TensorSpec(_out_dtype(sa.dtype, half), sa.shape)
        # A1111 interpolates the weights whose name has "model" in it (all of an SD checkpoint's but
        # a few schedule buffers); the others are A's
        if b is None or "model" not in key or key in SKIP_ON_MERGE:
            plan.steps.append(MergeStep(key, out, "a"))
            continue
        if key not in b:
            plan.kept_from_a += 1
            plan.steps.append(MergeStep(key, out, "a"))
            continue
        sb = b.spec(key)
        channels = None
        if sa.shape != sb.shape:
            partial = _partial_channels(sa, sb)
            if partial is None:
                mismatched.append(f"{key}: shape {list(sa.shape)} in A, {list(sb.shape)} in B")
                continue
            channels, plan.result_kind = partial
        if c is not None and key in c and c.spec(key).shape != sb.shape:
            mismatched.append(f"{key}: shape {list(sb.shape)} in B, {list(c.spec(key).shape)} in C")
            continue
        # non-float tensors (step counters) and, for add difference, weights C lacks (B - C taken as
        # zero, as A1111 does) stay A's
        mergeable = _is_float(sa.dtype) and _is_float(sb.dtype) and (c is None or key in c)
        plan.steps.append(MergeStep(key, out, "merge" if mergeable else "a", channels if mergeable else None))
    if mismatched:
        raise MergeError(f"the models do not fit together: {len(mismatched)} weights differ in shape "
                         f"(are they of the same model family and size?), e.g. {'; '.join(mismatched[:3])}")
    if b is not None:
        plan.left_out_of_b = sum(1 for k in b.keys() if k not in a and "model" in k)
        if not any(s.source == "merge" for s in plan.steps):
            raise MergeError(f"{a.label} and {b.label} have no weights in common: there is nothing to merge")
    return plan


def _out_dtype(dtype: torch.dtype, half: bool) -> torch.dtype:
    return torch.float16 if half and dtype == torch.float32 else dtype


# --- running it ----------------------------------------------------------------------------------
def merged_tensors(plan: MergePlan, multiplier: float, a: TensorSource, b: TensorSource | None = None,
                   c: TensorSource | None = None, vae: TensorSource | None = None) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) in the plan's order, each computed when asked for: the caller writes one
    before the next is read. The arithmetic is done in fp32 and cast to the output dtype."""
    for step in plan.steps:
        if step.source == "vae":
            tensor = vae.get(step.key[len(VAE_PREFIX):])
        elif step.source == "a":
            tensor = a.get(step.key)
        else:
            # a copy (.float() of an fp32 tensor is the tensor itself): a memory-mapped input is never written
            tensor = a.get(step.key).float().clone() if step.channels else a.get(step.key).float()
            tb = b.get(step.key).float()
            if step.channels:
                # only A's first channels have counterparts in B; its extra ones (mask, masked image) stay
                tensor[:, :step.channels] = _combine(plan.method, tensor[:, :step.channels], tb, c, step.key,
                                                     multiplier)
            else:
                tensor = _combine(plan.method, tensor, tb, c, step.key, multiplier)
        yield step.key, tensor.to(step.spec.dtype)


def _combine(method: str, ta: torch.Tensor, tb: torch.Tensor, c: TensorSource | None, key: str,
             multiplier: float) -> torch.Tensor:
    if method == ADD_DIFFERENCE:
        return add_difference(ta, tb, c.get(key).float(), multiplier)
    return weighted_sum(ta, tb, multiplier)


class SafetensorsStreamWriter:
    """Writes a .safetensors file to `out` whose tensors (names, dtypes, shapes, in order) are known
    before their data: the header first, then each tensor as it is given. `sha256` is the digest of
    every byte written, i.e. the file's sha256, with no second read of a multi-GB file."""

    def __init__(self, out: BinaryIO, layout: list[tuple[str, TensorSpec]], metadata: dict[str, str] | None = None):
        self._out = out
        self._hash = hashlib.sha256()
        self._expected = iter(layout)
        self._remaining = len(layout)
        header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
        offset = 0
        for key, spec in layout:
            if spec.dtype not in _ST_NAMES:
                raise MergeError(f"{key}: dtype {spec.dtype} cannot be stored in a .safetensors file")
            header[key] = {"dtype": _ST_NAMES[spec.dtype], "shape": list(spec.shape),
                           "data_offsets": [offset, offset + spec.nbytes]}
            offset += spec.nbytes
        raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        raw += b" " * (-len(raw) % 8)       # the format's alignment: data starts on an 8-byte boundary
        self._write(struct.pack("<Q", len(raw)) + raw)

    def _write(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self._out.write(data)

    def write(self, key: str, tensor: torch.Tensor) -> None:
        expected_key, spec = next(self._expected, (None, None))
        if key != expected_key or tensor.dtype != spec.dtype or tuple(tensor.shape) != spec.shape:
            raise RuntimeError(f"tensor {key} ({tensor.dtype}, {list(tensor.shape)}) is not the next one the header "
                               f"announced ({expected_key})")
        # raw little-endian bytes, as safetensors stores them; viewed, not copied, when already contiguous
        self._write(memoryview(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy()))
        self._remaining -= 1

    def finish(self) -> str:
        if self._remaining:
            raise RuntimeError(f"{self._remaining} tensors announced in the header were not written")
        return self._hash.hexdigest()


def write_merge(out: BinaryIO, fmt: str, plan: MergePlan, tensors: Iterator[tuple[str, torch.Tensor]],
                metadata: dict[str, str] | None = None, on_tensor: Callable[[str], None] | None = None) -> str | None:
    """Write the merge to `out` as "safetensors" (streamed; returns the file's sha256) or "ckpt"
    (a pickle of the whole state dict, which torch.save can only write at once: the result is held
    in memory, the inputs still are not; returns None). `on_tensor(name)` after each tensor."""
    if fmt == "safetensors":
        writer = SafetensorsStreamWriter(out, plan.layout(), metadata)
        for key, tensor in tensors:
            writer.write(key, tensor)
            del tensor
            if on_tensor:
                on_tensor(key)
        return writer.finish()
    if fmt != "ckpt":
        raise MergeError(f"unknown checkpoint format {fmt!r}; expected safetensors or ckpt")
    state = {}
    for key, tensor in tensors:
        # own storage: a tensor of a memory-mapped input must not keep its whole file referenced
        state[key] = tensor.clone() if tensor.untyped_storage().nbytes() > tensor.nbytes else tensor
        if on_tensor:
            on_tensor(key)
    torch.save(state, out)
    return None
