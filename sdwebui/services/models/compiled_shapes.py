"""Which input shapes a compiled model part (UNet, VAE decoder) is compiled for, so that no user
request ever waits for the compiler.

A compiled module's calls pass through a `ShapeRecorder`. A call whose shapes are compiled runs the
compiled code; a call with new shapes (another image size, batch size, prompt length ...) runs eagerly
at once, at plain speed, and its shapes join the model's `ShapeBook` as pending. When the generation
queue has been idle for a moment, it compiles the pending shapes one at a time
(`compile_next`), by calling the module with zero tensors of the recorded shapes. The shapes a server
has seen are remembered per model family in `<compile cache>/shapes.json`, so after a restart (or a
model switch) they are compiled again in the idle queue, from inductor's disk cache in seconds.

A shape is described by its call signature: nested tuples of every tensor's shape, stride, dtype and
device and of the plain values beside them (which is what torch.compile's guards check for a static
compile), so a JSON round trip gives back the same key.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

logger = logging.getLogger(__name__)

Signature = tuple


class Unrepresentable(Exception):
    """A call argument that cannot be recorded (an arbitrary object): that call stays eager."""


def signature(args: tuple, kwargs: dict) -> Signature:
    return ("L", tuple(_describe(a) for a in args)), _describe(kwargs)


def _describe(value: Any) -> tuple:
    if isinstance(value, torch.Tensor):
        return "T", tuple(value.shape), tuple(value.stride()), str(value.dtype).removeprefix("torch."), str(value.device)
    if isinstance(value, dict):
        return "D", tuple((str(k), _describe(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "L" if isinstance(value, list) else "U", tuple(_describe(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return "V", value
    raise Unrepresentable(type(value).__name__)


def materialize(sig: Signature) -> tuple[tuple, dict]:
    """Zero-filled arguments matching `sig` (the compiler only cares about their shapes)."""
    args, kwargs = sig
    return tuple(_build(a) for a in args[1]), _build(kwargs)


def _build(desc: tuple) -> Any:
    kind, *rest = desc
    if kind == "T":
        shape, stride, dtype, device = rest
        return torch.empty_strided(shape, stride, dtype=getattr(torch, dtype), device=device).zero_()
    if kind == "D":
        return {k: _build(v) for k, v in rest[0]}
    if kind in ("L", "U"):
        items = [_build(v) for v in rest[0]]
        return items if kind == "L" else tuple(items)
    return rest[0]


def _tuplify(value: Any) -> Any:
    """JSON gives lists back where the signature had tuples."""
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def _well_formed(sig: Any) -> bool:
    try:
        hash(sig)
    except TypeError:       # a JSON object (dict) somewhere inside
        return False
    return isinstance(sig, tuple) and len(sig) == 2 and sig[0][:1] == ("L",) and sig[1][:1] == ("D",)


def describe_input(sig: Signature) -> str:
    """The first tensor argument's shape, for log lines: "2x4x64x64"."""
    for desc in sig[0][1]:
        if desc[0] == "T":
            return "x".join(str(n) for n in desc[1])
    return "(no tensor input)"


class ShapeBook:
    """Per model: for each compiled part, the signatures seen (most recent last, at most `limit`)
    and those compiled in this process. The queue worker writes it; others may count what is pending."""

    def __init__(self, key: str, *, limit: int, store: "ShapeStore | None" = None):
        self.key = key                      # family, dtypes and device: whose shapes fit this model
        self.limit = limit
        self.store = store
        self._lock = threading.Lock()
        self.seen: dict[str, OrderedDict[Signature, None]] = {}
        self.ready: dict[str, set[Signature]] = {}
        self.failed: set[tuple[str, Signature]] = set()
        self.compiling = False
        self.bypass = False             # within eager_only(): calls run eagerly and are not booked
        self._modules: dict[str, weakref.ref] = {}

    def use_module(self, part: str, module: torch.nn.Module) -> None:
        """`module` serves `part` from now on; if it is another module than before (a VAE swapped in
        or back), what was compiled for the old one does not count for it."""
        known = self._modules.get(part)
        if known is None or known() is not module:
            self.forget_compiled(part)
            self._modules[part] = weakref.ref(module)

    def note(self, part: str, sig: Signature) -> bool:
        """Record a call; True when it may run compiled code now."""
        with self._lock:
            return self._note(part, sig)

    def _note(self, part: str, sig: Signature) -> bool:
        seen = self.seen.setdefault(part, OrderedDict())
        ready = self.ready.setdefault(part, set())
        if self.compiling:
            ready.add(sig)
        if sig in seen:
            seen.move_to_end(sig)
            return sig in ready
        if len(seen) >= self.limit and not self.compiling:
            return False        # torch.compile keeps at most `limit` shapes per part: this one stays eager
        seen[sig] = None
        while len(seen) > self.limit:
            seen.popitem(last=False)
        if self.store is not None:
            self.store.save(self)
        return sig in ready

    def pending(self) -> list[tuple[str, Signature]]:
        """Seen but not compiled yet, the most recently used first."""
        out = []
        with self._lock:
            for part, seen in self.seen.items():
                ready = self.ready.get(part, set())
                out += [(part, s) for s in reversed(seen) if s not in ready and (part, s) not in self.failed]
        return out

    def mark_failed(self, part: str, sig: Signature) -> None:
        """Its compile raised: not compiled (the call booked it as such when it began), not retried."""
        with self._lock:
            self.ready.get(part, set()).discard(sig)
            self.failed.add((part, sig))

    def forget_compiled(self, part: str) -> None:
        """The part's module was replaced (another VAE): its shapes must be compiled again."""
        with self._lock:
            self.ready.pop(part, None)
            self.failed = {(p, s) for p, s in self.failed if p != part}

    def restore(self) -> None:
        """Add the shapes remembered on disk for this kind of model (pending until compiled)."""
        if self.store is None:
            return
        remembered = self.store.load(self.key)
        with self._lock:
            for part, sigs in remembered.items():
                seen = self.seen.setdefault(part, OrderedDict())
                for sig in reversed(sigs):      # newest first, each placed before what is there
                    if sig not in seen and len(seen) < self.limit:
                        seen[sig] = None
                        seen.move_to_end(sig, last=False)   # older than anything seen in this process

    @contextmanager
    def eager_only(self) -> Iterator[None]:
        """Within: calls run eagerly and their shapes are not booked, for rare one-off shapes not worth
        a compiled slot (VAE tiles of a huge image, the fp32 retry of a VAE that overflowed)."""
        before = self.bypass
        self.bypass = True
        try:
            yield
        finally:
            self.bypass = before

    @contextmanager
    def compiling_now(self) -> Iterator[None]:
        """Within: calls compile their shapes (torch.compile's default stance) and count as compiled."""
        before = self.compiling
        self.compiling = True
        try:
            with torch.compiler.set_stance("default"):
                yield
        finally:
            self.compiling = before


class ShapeStore:
    """`shapes.json`: the signatures seen per model kind and part, rewritten atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            logger.warning("Ignoring unreadable %s: %s", self.path, e)
            return {}

    def load(self, key: str) -> dict[str, list[Signature]]:
        """The remembered signatures for `key`; entries that cannot be signatures (a hand-edited or
        damaged file) are left out. One that is well-formed but wrong fails its compile, logged."""
        entry = self._read().get(key, {})
        out = {}
        for part, sigs in entry.items() if isinstance(entry, dict) else ():
            if isinstance(sigs, list):
                out[part] = [sig for sig in map(_tuplify, sigs) if _well_formed(sig)]
        return out

    def save(self, book: ShapeBook) -> None:
        from sdwebui.engine.atomic_write import atomic_write_text

        data = self._read()
        data[book.key] = {part: [list(s) for s in seen] for part, seen in book.seen.items()}
        try:
            atomic_write_text(self.path, json.dumps(data, separators=(",", ":")))
        except OSError as e:     # a read-only data dir costs the memory across restarts, nothing else
            logger.warning("Could not write %s: %s", self.path, e)


class ShapeRecorder:
    """Stands in for a compiled module's `_compiled_call_impl`: known shapes run the compiled code
    (never compiling during a request), new shapes run eagerly and are booked for compiling later."""

    def __init__(self, module: torch.nn.Module, part: str, book: ShapeBook, compiled: Callable):
        self.part = part
        self.book = book
        self.compiled = compiled
        self.eager = module._call_impl

    def __call__(self, *args, **kwargs):
        if self.book.bypass:
            return self.eager(*args, **kwargs)
        try:
            sig = signature(args, kwargs)
        except Unrepresentable:
            sig = None
        if self.book.compiling:
            if sig is not None:
                self.book.note(self.part, sig)
            return self.compiled(*args, **kwargs)
        if sig is not None and self.book.note(self.part, sig):
            # compiled for these shapes; should a guard still differ (a patched module ...), run
            # eagerly rather than compile inside the request
            with torch.compiler.set_stance("eager_on_recompile"):
                return self.compiled(*args, **kwargs)
        return self.eager(*args, **kwargs)


def compile_next(model, modules: dict[str, torch.nn.Module], *, cuda_graphs: bool) -> bool:
    """Compile one pending shape of `model` by calling its module with zero inputs of that shape;
    False when nothing is pending. CUDA graphs are recorded on a shape's second call, so with them the
    module runs three times (compile, record, first replay), in the thread that serves requests."""
    book: ShapeBook | None = getattr(model, "compiled_shapes", None)
    if book is None:
        return False
    todo = [(part, sig) for part, sig in book.pending() if part in modules]
    if not todo:
        return False
    part, sig = todo[0]
    start = time.perf_counter()
    try:
        with book.compiling_now(), torch.inference_mode():
            args, kwargs = materialize(sig)
            for _ in range(3 if cuda_graphs else 1):
                if cuda_graphs:
                    torch.compiler.cudagraph_mark_step_begin()
                modules[part](*args, **kwargs)
            if model.device.type == "cuda":
                torch.cuda.synchronize(model.device)
    except Exception:
        book.mark_failed(part, sig)
        logger.exception("Compiling %s %s for input %s failed; that shape keeps running eagerly",
                         model.family, part, describe_input(sig))
        return True
    hits, misses = fx_cache_counts()
    logger.info("Compiled %s %s for input %s while the queue was idle in %.1fs; compiler cache: %d hits, %d misses "
                "so far (%d shapes left)", model.family, part, describe_input(sig), time.perf_counter() - start,
                hits, misses, len(todo) - 1)
    return True


def fx_cache_counts() -> tuple[int, int]:
    """inductor's on-disk graph cache hits and misses in this process."""
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["fxgraph_cache_hit"]), int(counters["inductor"]["fxgraph_cache_miss"])
