"""LoRA / LyCORIS networks from `models/Lora`, applied by `<lora:name:weight>` in the prompt.

The deltas are merged into the model's weights for one job and the original weights are put
back afterwards. Files in kohya's layout (`lora_unet_*`, `lora_te_*`, `lora_te1_*`/`lora_te2_*`,
with diffusers or LDM module names) and diffusers/PEFT layout (`unet.*.lora_A/B`,
`text_encoder.*`; SD3's and Flux's `transformer.*`, their original names and XLabs': lora_dit.py) are understood, with LoRA/LoCon (`lora_down`/`lora_up`/`alpha`), LoHa
(`hada_*`), LoKr (`lokr_*`), full `diff`, GLoRA, IA3, OFT/BOFT (lora_oft.py), norm-layer modules, and
DoRA's `dora_scale` on any of them.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sdwebui.engine.models.hashes import HashCache
from sdwebui.engine.models.lora_dit import FusedLayers, dit_lora_targets
from sdwebui.engine.models.lora_oft import OFT_KEYS, oft_delta

logger = logging.getLogger(__name__)

LORA_EXTENSIONS = (".safetensors", ".pt", ".ckpt")


class LoraError(ValueError):
    def __init__(self, message: str, field: str = "prompt"):
        super().__init__(message)
        self.field = field


@dataclass
class LoraFile:
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def alias(self) -> str:
        return str(self.metadata.get("ss_output_name") or self.name)

    def api_dict(self) -> dict:
        return {"name": self.name, "alias": self.alias, "path": str(self.path), "metadata": self.metadata}


def _read_metadata(path: Path) -> dict[str, Any]:
    if path.suffix != ".safetensors":
        return {}
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:
        logger.warning("unreadable LoRA %s: %s", path.name, e)
        return {}
    for k, v in list(meta.items()):   # kohya stores some values as JSON strings; A1111 returns them decoded
        if isinstance(v, str) and v[:1] in "{[":
            try:
                meta[k] = json.loads(v)
            except json.JSONDecodeError:
                pass
    return meta


class LoraRegistry:
    def __init__(self, dirs: list[Path], hash_cache: HashCache):
        self.dirs = [Path(d) for d in dirs]
        self.cache = hash_cache
        self._files: list[LoraFile] = []

    def refresh(self) -> list[LoraFile]:
        found: list[LoraFile] = []
        seen: set[Path] = set()
        for d in self.dirs:
            if d.is_dir():
                for p in sorted(d.rglob("*")):
                    if p.is_file() and p.suffix.lower() in LORA_EXTENSIONS and p.resolve() not in seen:
                        seen.add(p.resolve())
                        found.append(LoraFile(p.resolve(), _read_metadata(p)))
        self._files = found
        return found

    def list(self) -> list[LoraFile]:
        return list(self._files)

    def match(self, name: str) -> LoraFile | None:
        for f in self._files:
            if name in (f.name, f.alias):
                return f
        lowered = name.lower()
        for f in self._files:
            if lowered in (f.name.lower(), f.alias.lower()):
                return f
        return None

    def shorthash(self, f: LoraFile) -> str:
        # A1111 hashes a .safetensors network's tensor data only (the additional-networks hash)
        return self.cache.sha256(f.path, f"lora/{f.name}", addnet=Path(f.path).suffix == ".safetensors")[:12]


@dataclass
class LoraUse:
    file: LoraFile
    te: float
    unet: float


def parse_lora_args(args: list[str]) -> tuple[str, float, float]:
    """`<lora:name:te[:unet]>` with A1111's named forms `te=`, `unet=`; unet defaults to te."""
    name = args[0]
    positional, named = [], {}
    for a in args[1:]:
        if "=" in a:
            k, v = a.split("=", 1)
            named[k.strip()] = v.strip()
        else:
            positional.append(a.strip())
    try:
        te = float(named.get("te", positional[0] if positional else 1.0))
        unet = float(named.get("unet", positional[1] if len(positional) > 1 else te))
    except ValueError:
        raise LoraError(f"<lora:{':'.join(args)}>: the weights must be numbers") from None
    return name, te, unet


# --- mapping file keys to the model's modules ----------------------------------------------

# the layers a network file may change: weights of linear and convolution layers, and norm layers (w_norm/b_norm)
_TARGETS = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.LayerNorm, torch.nn.GroupNorm)


def _module_map(model) -> dict[str, tuple[str, torch.nn.Module]]:
    """Every name a network file may use for a module -> (component, module)."""
    from sdwebui.engine.models.ldm_export import unet_to_ldm

    out: dict[str, tuple[str, Any]] = {}
    if getattr(model, "is_sd3", False) or getattr(model, "is_flux", False):
        for key, layers in dit_lora_targets(model.unet.transformer, model.family).items():
            out[key] = ("unet", layers[0] if len(layers) == 1 else FusedLayers(layers))
    unet_modules = dict(model.unet.named_modules())
    for name, module in unet_modules.items():
        if isinstance(module, _TARGETS):
            out["lora_unet_" + name.replace(".", "_")] = ("unet", module)
            out["unet." + name] = ("unet", module)
            out[name] = ("unet", module)
    # kohya's SDXL files (and some SD1 ones) name UNet modules by their LDM (A1111) names
    weights = {k: v for k, v in model.unet.state_dict().items() if k.endswith(".weight")}
    try:
        ldm = unet_to_ldm(weights, model.unet.config)
        ldm_by_tensor = {id(v): k for k, v in ldm.items()}
        for k, v in weights.items():
            ldm_key = ldm_by_tensor.get(id(v))
            module = unet_modules.get(k.removesuffix(".weight"))
            if ldm_key and isinstance(module, _TARGETS):
                out["lora_unet_" + ldm_key.removesuffix(".weight").replace(".", "_")] = ("unet", module)
    except (KeyError, ValueError, AttributeError) as e:
        logger.debug("no LDM names for this UNet: %s", e)
    encoders = [("te", model.text_encoder, "text_encoder"), ("te2", model.text_encoder_2, "text_encoder_2")]
    for short, encoder, diffusers_prefix in encoders:
        if encoder is None:
            continue
        for name, module in encoder.named_modules():
            if not isinstance(module, (torch.nn.Linear, torch.nn.LayerNorm)):
                continue
            full = name if name.startswith("text_model.") else "text_model." + name
            kohya = full.replace(".", "_")
            if model.is_sdxl or getattr(model, "is_sd3", False) or getattr(model, "is_flux", False):
                out[f"lora_{'te1' if short == 'te' else 'te2'}_{kohya}"] = (short, module)
            else:
                out[f"lora_te_{kohya}"] = (short, module)
            out[f"{diffusers_prefix}.{full}"] = (short, module)
            out[f"{diffusers_prefix}.{name}"] = (short, module)
    return out


_SUFFIXES = ("lora_down.weight", "lora_up.weight", "lora_mid.weight", "alpha", "lora_A.weight", "lora_B.weight",
             "lora.down.weight", "lora.up.weight", "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b",
             "hada_t1", "hada_t2", "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b",
             "lokr_t2", "diff", "diff_b", "scale", "dora_scale", "a1.weight", "a2.weight", "b1.weight", "b2.weight",
             "on_input", "w_norm", "b_norm", *OFT_KEYS,
             "down.weight", "up.weight",    # XLabs' Flux LoRAs (`...qkv_lora1.down.weight`)
             "weight")     # bare `weight` last: IA3's, once every longer name had its chance


def _group(sd: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        for suffix in _SUFFIXES:
            if key.endswith("." + suffix):
                groups.setdefault(key[: -len(suffix) - 1], {})[suffix] = value
                break
    # a bare `weight` is IA3's only beside its `on_input`; elsewhere (a stray tensor some trainers
    # save) it is ignored, as it was before IA3 was read
    for name in [n for n, parts in groups.items() if "weight" in parts and "on_input" not in parts]:
        del groups[name]["weight"]
        if not groups[name]:
            del groups[name]
    return groups


def _scale(parts: dict[str, torch.Tensor], rank: int | None) -> float:
    """A1111's calc_scale: a file's own `scale` wins; else alpha / rank where both exist; else 1."""
    if "scale" in parts:
        return float(parts["scale"])
    if rank and "alpha" in parts:
        return float(parts["alpha"]) / rank
    return 1.0


def tucker(core: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """A Tucker/CP-decomposed convolution kernel: core (r1, r2, kh, kw) with the output factor `left`
    (out, r1) and the input factor `right` (r2, in) -> (out, in, kh, kw)."""
    return torch.einsum("abkl,oa,bi->oikl", core.float(), left.flatten(1).float(), right.flatten(1).float())


def _delta(parts: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
    """The weight difference one module of a network file describes for the module's current weight, with
    its scale (alpha / rank, or the file's `scale`), before DoRA and the multiplier."""
    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a.flatten(1).float() @ b.flatten(1).float()

    weight_shape = weight.shape
    if "a1.weight" in parts:                # GLoRA: W' - W = B2 B1 + W A2 A1 (A1111 applies no alpha / rank)
        w = weight.float().flatten(1)
        d = mm(parts["b2.weight"], parts["b1.weight"]) + (w @ parts["a2.weight"].flatten(1).float()) @ \
            parts["a1.weight"].flatten(1).float()
        return (d * _scale(parts, None)).reshape(weight_shape)
    if "weight" in parts and "on_input" in parts:   # IA3: the weight scaled per output (or input) channel
        w = parts["weight"].float().flatten()
        rest = [1] * (len(weight_shape) - 2)
        w = w.reshape(1, -1, *rest) if bool(parts["on_input"].item()) else w.reshape(-1, 1, *rest)
        return ((weight.float() * w) * _scale(parts, None)).reshape(weight_shape)

    up = parts.get("lora_up.weight", parts.get("lora_B.weight", parts.get("lora.up.weight", parts.get("up.weight"))))
    down = parts.get("lora_down.weight", parts.get("lora_A.weight", parts.get("lora.down.weight",
                                                                               parts.get("down.weight"))))
    if up is not None and down is not None:
        if "lora_mid.weight" in parts:      # LoCon with a CP-decomposed kernel
            d = tucker(parts["lora_mid.weight"], up, down)
        else:
            d = mm(up, down)
        return (d * _scale(parts, down.shape[0])).reshape(weight_shape)
    if "hada_w1_a" in parts:
        if "hada_t1" in parts:              # LoHa with Tucker kernels: the factors' roles as LyCORIS has them
            d = (torch.einsum("abkl,bi,ao->oikl", parts["hada_t1"].float(), parts["hada_w1_b"].float(),
                              parts["hada_w1_a"].float()) *
                 torch.einsum("abkl,bi,ao->oikl", parts["hada_t2"].float(), parts["hada_w2_b"].float(),
                              parts["hada_w2_a"].float()))
        else:
            d = mm(parts["hada_w1_a"], parts["hada_w1_b"]) * mm(parts["hada_w2_a"], parts["hada_w2_b"])
        return (d * _scale(parts, parts["hada_w1_b"].shape[0])).reshape(weight_shape)
    if any(k.startswith("lokr_") for k in parts):
        decomposed = "lokr_w1_a" in parts or "lokr_w2_a" in parts
        w1 = parts["lokr_w1"].float() if "lokr_w1" in parts else mm(parts["lokr_w1_a"], parts["lokr_w1_b"])
        if "lokr_w2" in parts:
            w2 = parts["lokr_w2"].float()
        elif "lokr_t2" in parts:
            w2 = torch.einsum("abkl,bi,ao->oikl", parts["lokr_t2"].float(), parts["lokr_w2_b"].float(),
                              parts["lokr_w2_a"].float())
        else:
            w2 = mm(parts["lokr_w2_a"], parts["lokr_w2_b"])
        rank = (parts.get("lokr_w1_b", parts.get("lokr_w2_b"))).shape[0] if decomposed else None
        if w2.ndim == 4 or len(weight_shape) == 4 and w2.ndim == 2 and w2.numel() * w1.numel() != weight_shape.numel():
            w2 = w2.reshape(w2.shape[0], w2.shape[1], *(weight_shape[2:] if w2.ndim == 2 else w2.shape[2:]))
            w1 = w1.reshape(*w1.shape, 1, 1)
        return ((torch.kron(w1.contiguous(), w2.contiguous())) * _scale(parts, rank)).reshape(weight_shape)
    if "diff" in parts:
        return ((parts["diff"].float()) * _scale(parts, None)).reshape(weight_shape)
    if "oft_blocks" in parts or "oft_diag" in parts:
        return oft_delta(parts, weight)
    if "w_norm" in parts:                   # a norm layer's weight difference (its bias: b_norm)
        return ((parts["w_norm"].float()) * _scale(parts, None)).reshape(weight_shape)
    raise LoraError(f"unknown network module layout: {sorted(parts)}")


def weight_decompose(delta: torch.Tensor, weight: torch.Tensor, dora_scale: torch.Tensor) -> torch.Tensor:
    """DoRA: the merged weight W + delta keeps its direction and takes the file's magnitudes, one
    per input channel (the norm over every other axis; LyCORIS' default and A1111's reading) or, for a
    `dora_scale` shaped per output channel (LyCORIS' wd_on_out), one per output channel. Returns the
    difference to W."""
    w = weight.float()
    merged = w + delta
    scale = dora_scale.float()
    per_output = scale.shape[0] == merged.shape[0] and scale.shape[0] != 1 and scale.numel() == merged.shape[0]
    if per_output:
        norm = merged.reshape(merged.shape[0], -1).norm(dim=1).reshape(merged.shape[0], *[1] * (merged.ndim - 1))
    else:
        norm = merged.transpose(0, 1).reshape(merged.shape[1], -1).norm(dim=1)
        norm = norm.reshape(1, merged.shape[1], *[1] * (merged.ndim - 2))
    return merged * (scale.reshape(norm.shape) / norm) - w


def load_network(path: Path) -> dict[str, torch.Tensor]:
    from sdwebui.engine.models.single_file import read_state_dict

    sd, _ = read_state_dict(path)
    return sd


class LoraApplier:
    """Merges networks into one model's weights and restores the originals."""

    def __init__(self, model):
        self.model = model
        self._map: dict[str, tuple[str, torch.nn.Module]] | None = None
        self._backup: dict[int, tuple[torch.nn.Module, torch.Tensor, torch.Tensor | None]] = {}

    def _modules(self) -> dict[str, tuple[str, torch.nn.Module]]:
        if self._map is None:
            self._map = _module_map(self.model)
        return self._map

    @torch.no_grad()
    def apply(self, uses: list[LoraUse]) -> None:
        modules = self._modules()
        for use in uses:
            groups = _group(load_network(use.file.path))
            matched, unmatched = 0, []
            for key, parts in groups.items():
                target = modules.get(key)
                if target is None:
                    unmatched.append(key)
                    continue
                component, module = target
                multiplier = use.unet if component == "unet" else use.te
                if multiplier == 0:
                    matched += 1
                    continue
                weight = module.weight
                try:
                    delta = _delta(parts, weight)
                    if "dora_scale" in parts:   # A1111: scaled by alpha / rank, decomposed, then the multiplier
                        delta = weight_decompose(delta, weight, parts["dora_scale"])
                    delta = delta * multiplier
                    bias_delta = None
                    extra_bias = parts.get("diff_b", parts.get("b_norm"))
                    if extra_bias is not None:
                        bias_delta = extra_bias.float().reshape(weight.shape[0]) * multiplier
                except RuntimeError:   # the product does not have the module's shape
                    self.restore()
                    raise LoraError(f"LoRA {use.file.name!r} does not fit this model: its module {key} does not "
                                    f"match the weight of shape {tuple(weight.shape)} (made for another model "
                                    f"family?)") from None
                if isinstance(module, FusedLayers):     # one original layer, several diffusers ones
                    for layer, part in module.split(delta):
                        self._merge(layer, part)
                    matched += 1
                    continue
                self._merge(module, delta)
                if bias_delta is not None:
                    if module.bias is None:     # a layer with no bias gets one for the file's diff_b, as A1111
                        module.bias = torch.nn.Parameter(torch.zeros_like(bias_delta, dtype=weight.dtype,
                                                                          device=weight.device), requires_grad=False)
                    module.bias.add_(bias_delta.to(device=module.bias.device, dtype=module.bias.dtype))
                matched += 1
            if matched == 0:
                self.restore()
                raise LoraError(f"LoRA {use.file.name!r} does not fit this model (none of its {len(groups)} "
                                f"modules match; made for another model family?)")
            if unmatched:
                logger.warning("LoRA %s: %d of %d modules do not match this model (first: %s)",
                               use.file.name, len(unmatched), len(groups), unmatched[0])
            logger.info("LoRA %s applied (te %.2f, unet %.2f, %d modules)", use.file.name, use.te, use.unet, matched)

    def _merge(self, module: torch.nn.Module, delta: torch.Tensor) -> None:
        """Add `delta` to the module's weight, keeping the original for restore(). An fp8 weight (kept in
        fp8, cast per layer while it runs) is added to in float and stored back in fp8."""
        weight = module.weight
        if id(module) not in self._backup:
            bias = None if module.bias is None else module.bias.detach().clone()
            self._backup[id(module)] = (module, weight.detach().clone(), bias)
        if weight.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
            weight.data = (weight.float() + delta.to(weight.device)).to(weight.dtype)
        else:
            weight.add_(delta.to(device=weight.device, dtype=weight.dtype))

    @torch.no_grad()
    def restore(self) -> None:
        for module, weight, bias in self._backup.values():
            module.weight.copy_(weight)
            if bias is not None:
                module.bias.copy_(bias)
            else:                       # a bias added for a diff_b goes again
                module.bias = None
        self._backup.clear()


_TAG_RE = re.compile(r"<(\w+):([^>]+)>")


def requested(prompts: list[str], registry: LoraRegistry) -> list[LoraUse]:
    """The LoRAs the prompts ask for (first occurrence of each name wins)."""
    uses: dict[str, LoraUse] = {}
    for prompt in prompts:
        for kind, args in _TAG_RE.findall(prompt):
            if kind not in ("lora", "lyco"):
                continue
            name, te, unet = parse_lora_args(args.split(":"))
            f = registry.match(name)
            if f is None:
                raise LoraError(f"LoRA {name!r} not found in {[str(d) for d in registry.dirs]}; available: "
                                f"{[x.name for x in registry.list()]}")
            uses.setdefault(f.name, LoraUse(f, te, unet))
    return list(uses.values())
