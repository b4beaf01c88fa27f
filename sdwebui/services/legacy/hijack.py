"""A1111's `modules.sd_hijack` family. A1111 patches its LDM model at load (token handling, textual
inversion, attention optimisations); this backend's diffusers models need none of it, so
`model_hijack` carries what extensions read from it (the embedding database, the prompt comments,
the prompt's token count, the attention in use) and its hijack/undo_hijack do nothing. `CondFunc`
(sd_hijack_utils) patches a function by its dotted path, as A1111's does, for any module that exists.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

import torch

from sdwebui.services import runtime
from sdwebui.services.legacy import unsupported, unsupported_class

logger = logging.getLogger(__name__)

__all__ = ["CondFunc", "StableDiffusionModelHijack", "SdOptimization", "apply_optimizations", "get_available_vram",
           "get_xformers_flash_attention_op", "list_optimizers", "model_hijack", "optimizers", "current_optimizer",
           "undo_optimizations", "sub_quad_attention", "EmbeddingsWithFixes", "TextualInversionEmbeddings",
           "FrozenCLIPEmbedderWithCustomWords", "FrozenOpenCLIPEmbedderWithCustomWords",
           "FrozenCLIPEmbedderForSDXLWithCustomWords", "FrozenOpenCLIPEmbedder2WithCustomWords",
           "FrozenXLMREmbedderWithCustomWords", "PromptChunk", "weighted_forward", "add_circular_option_to_conv_2d",
           "apply_circular_forge", "fix_checkpoint", "list_optimizers_now"]

# attention here: diffusers' attention processors, i.e. PyTorch's scaled_dot_product_attention
OPTIMIZATION_NAME = "sdp"


class SdOptimization:
    """A1111's base for an attention optimisation offered through on_list_optimizers. Listed, never
    applied: diffusers' attention processors choose the kernel here."""

    name: str | None = None
    label: str | None = None
    cmd_opt: str | None = None
    priority: int = 0

    def title(self) -> str:
        return self.name if self.label is None else f"{self.name} - {self.label}"

    def is_available(self) -> bool:
        return True

    def apply(self) -> None:
        pass

    def undo(self) -> None:
        pass


optimizers: list[SdOptimization] = []
current_optimizer: SdOptimization | None = None


def list_optimizers() -> list[SdOptimization]:
    """The optimisations extensions offer (on_list_optimizers), available ones first by priority."""
    from sdwebui.services.extensions import callbacks

    found = [o for o in callbacks.list_optimizers_callback() if o.is_available()]
    optimizers[:] = sorted(found, key=lambda o: o.priority, reverse=True)
    return optimizers


list_optimizers_now = list_optimizers


def apply_optimizations(option: str | None = None) -> str:
    """Returns the attention in use ("sdp"); nothing is patched (see module docstring)."""
    return OPTIMIZATION_NAME


def undo_optimizations() -> None:
    pass


def get_available_vram() -> int:
    """Bytes the device can still give: free CUDA memory plus what torch holds in its cache; on the
    CPU, the free RAM."""
    if torch.cuda.is_available() and runtime.device is not None and runtime.device.type == "cuda":
        stats = torch.cuda.memory_stats(runtime.device)
        free_cuda, _ = torch.cuda.mem_get_info(runtime.device)
        return free_cuda + stats.get("reserved_bytes.all.current", 0) - stats.get("active_bytes.all.current", 0)
    import psutil

    return psutil.virtual_memory().available


def get_xformers_flash_attention_op(q: Any, k: Any, v: Any) -> None:
    """No xformers here: None is xformers' own "choose automatically"."""
    return None


_NO_LDM = "the text encoders and UNet are diffusers modules; use shared.sd_model.text_encoder / .unet"
sub_quad_attention = unsupported("sd_hijack_optimizations.sub_quad_attention",
                                 "attention runs through PyTorch's scaled_dot_product_attention")
EmbeddingsWithFixes = unsupported_class("sd_hijack.EmbeddingsWithFixes", _NO_LDM)
TextualInversionEmbeddings = unsupported_class("sd_hijack.TextualInversionEmbeddings", _NO_LDM)
FrozenCLIPEmbedderWithCustomWords = unsupported_class("sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords", _NO_LDM)
FrozenOpenCLIPEmbedderWithCustomWords = unsupported_class("sd_hijack_open_clip.FrozenOpenCLIPEmbedderWithCustomWords",
                                                          _NO_LDM)
FrozenCLIPEmbedderForSDXLWithCustomWords = unsupported_class("sd_hijack_clip.FrozenCLIPEmbedderForSDXLWithCustomWords",
                                                             _NO_LDM)
FrozenOpenCLIPEmbedder2WithCustomWords = unsupported_class(
    "sd_hijack_open_clip.FrozenOpenCLIPEmbedder2WithCustomWords", _NO_LDM)
FrozenXLMREmbedderWithCustomWords = unsupported_class("sd_hijack_xlmr.FrozenXLMREmbedderWithCustomWords", _NO_LDM)
weighted_forward = unsupported("sd_hijack_unet.weighted_forward", _NO_LDM)
add_circular_option_to_conv_2d = unsupported("sd_hijack.add_circular_option_to_conv_2d",
                                             "tiling is the processing object's `tiling` field")
apply_circular_forge = add_circular_option_to_conv_2d
fix_checkpoint = unsupported("sd_hijack.fix_checkpoint", "gradient checkpointing is for A1111's training")


class PromptChunk:
    """A1111's unit of a tokenized prompt: 75 tokens with their weights and fixes."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.multipliers: list[float] = []
        self.fixes: list[Any] = []


class StableDiffusionModelHijack:
    fixes = None
    layers = None
    circular_enabled = False
    clip = None
    optimization_method: str | None = OPTIMIZATION_NAME

    def __init__(self) -> None:
        self.comments: list[str] = []
        self.extra_generation_params: dict[str, Any] = {}

    @property
    def embedding_db(self) -> Any:
        """The textual inversion database of the running app (word_embeddings, skipped_embeddings ...)."""
        return runtime.embeddings

    def apply_optimizations(self, option: str | None = None) -> None:
        self.optimization_method = apply_optimizations(option)

    def convert_sdxl_to_ssd(self, m: Any) -> None:
        raise NotImplementedError("sd_hijack.convert_sdxl_to_ssd: SSD-1B conversion is not part of this backend")

    def hijack(self, m: Any) -> None:
        """Nothing to patch: the diffusers model handles embeddings and attention itself."""

    def undo_hijack(self, m: Any) -> None:
        """Nothing was patched (see hijack)."""

    def redo_hijack(self, m: Any) -> None:
        """Nothing was patched (see hijack)."""

    def apply_circular(self, enable: bool) -> None:
        self.circular_enabled = bool(enable)

    def clear_comments(self) -> None:
        self.comments = []
        self.extra_generation_params = {}

    def get_prompt_lengths(self, text: str) -> tuple[int, int]:
        """(tokens the prompt uses, the limit rounded up to whole 75-token chunks), with the resident
        model's tokenizer, as the UI's token counter shows."""
        from sdwebui.engine.models.tokenizer import get_tokenizer
        from sdwebui.engine.prompt.encoding import count_tokens

        model = runtime.model_manager.sd_model if runtime.model_manager is not None else None
        tokenizer = getattr(model, "tokenizer", None) or get_tokenizer()
        return count_tokens(tokenizer, text)


model_hijack = StableDiffusionModelHijack()


class CondFunc:
    """Replace the function at `orig_func` (a dotted path, or an (object, name) pair) with one that
    calls `sub_func(orig, *args)` when `cond_func(orig, *args)` holds (always, without cond_func), and
    the original otherwise. A path into A1111's LDM (`ldm.`, `sgm.`, `modules.sd_hijack...`) names
    nothing here and raises ImportError that says so."""

    def __new__(cls, orig_func: Any, sub_func: Callable, cond_func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        owner, attr = _resolve_owner(orig_func) if isinstance(orig_func, str) else orig_func
        self.__orig_func = getattr(owner, attr)
        self.__sub_func = sub_func
        self.__cond_func = cond_func
        setattr(owner, attr, lambda *args, **kwargs: self(*args, **kwargs))
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass    # __new__ did the work (Python calls this again with the path given)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.__cond_func or self.__cond_func(self.__orig_func, *args, **kwargs):
            return self.__sub_func(self.__orig_func, *args, **kwargs)
        return self.__orig_func(*args, **kwargs)


def _resolve_owner(path: str) -> tuple[Any, str]:
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    why = "this backend has no LDM modules" if parts[0] in ("ldm", "sgm", "k_diffusion") else "no such module"
    raise ImportError(f"CondFunc({path!r}): {why}; the path must name an importable module")
