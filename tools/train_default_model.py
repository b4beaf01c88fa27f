#!/usr/bin/env python3
"""Train the embedded default model: a tiny Stable Diffusion 1.x on procedural scenes.

    venv/bin/python tools/train_default_model.py --out model.safetensors            # CPU preset
    python tools/train_default_model.py --preset gpu --out model.safetensors        # CUDA preset

The model uses the real SD1 classes and layout (diffusers ``UNet2DConditionModel`` and
``AutoencoderKL``, transformers ``CLIPTextModel`` over the 49,408-token CLIP vocabulary), the SD1
noise schedule (scaled-linear betas 0.00085-0.012, 1000 steps, epsilon prediction), and is exported
in A1111's LDM key layout as fp16 safetensors, with its architecture, the recipe and the data seed
in the file's metadata, so it loads through ``sdwebui.engine.models.single_file.load_checkpoint`` like any
user checkpoint.

Two phases, one script:

1. VAE (x8 AutoencoderKL, 4 levels) on rendered scenes: L1 + MSE + a small KL term (the CPU
   preset weights the shapes' pixels 5x, so a short run learns their colours). Afterwards the
   latent space is normalised (per-channel mean and scale folded into ``quant_conv`` /
   ``post_quant_conv``) so that SD1's scaling factor 0.18215 gives unit-variance latents.
2. UNet + text encoder with the VAE frozen: epsilon loss with min-SNR-5 weighting, offset noise
   (SD1's terminal SNR is not zero; on 8x8 latents the background colour otherwise follows the
   noise), 10 % empty captions for classifier-free guidance, EMA of the weights.

Every training batch is drawn from ``random.Random((data_seed, phase, step))`` and every noise draw
from a generator seeded the same way, so a run is reproducible step for step and ``--resume``
continues exactly where the last saved state stopped (state saved every ``--save-every`` seconds
and at the end of each phase, into ``--work-dir``). The loss log is ``<work-dir>/loss.csv``.

``--vae-minutes`` / ``--unet-minutes`` turn a phase into a time box (the CPU preset has its own
boxes, 12 + 40 minutes with a hard stop at 58, since CPUs differ in speed far more than GPUs): after
``--calibrate`` steps the step count is fixed from the measured speed (never above ``--vae-steps`` /
``--unet-steps``), so the learning-rate schedule still completes; the step counts actually run are recorded in the
metadata and reproduce the run when passed back as ``--vae-steps`` / ``--unet-steps``.
"""
from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tools import scenes as S  # noqa: E402

SCALING_FACTOR = 0.18215
NATIVE_SIZE = 64


def memory_format(device: torch.device) -> torch.memory_format:
    """Convolutions train ~20 % faster in channels-last on the CPU. The GPU preset keeps the default
    layout, in which the shipped file was trained (other kernels, other rounding)."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format

# --- architecture ------------------------------------------------------------------------------

# GroupNorm with 8 groups everywhere: with SD's 32 groups a 32/64-channel layer is normalised per
# channel or pair, which erases flat colours (see docs/default-model.md).
UNET_CONFIG: dict = {
    "sample_size": NATIVE_SIZE // 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": [64, 128],
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "attention_head_dim": [4, 8],  # diffusers' SD1 naming: heads per level (head dim 16)
    "cross_attention_dim": 64,
    "norm_num_groups": 8,
}
VAE_CONFIG: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [32, 64, 96, 96],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": NATIVE_SIZE,
    "scaling_factor": SCALING_FACTOR,
}
TEXT_ENCODER_CONFIG: dict = {
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "hidden_act": "quick_gelu",
    "projection_dim": 64,
}

# --- recipes -----------------------------------------------------------------------------------

PRESETS: dict[str, dict] = {
    # the project's 2-core CPU, time-boxed to finish within an hour (see docs/default-model.md): a
    # narrower VAE (a third of the compute per image), so the UNet gets most of the hour
    "cpu": {"vae_steps": 6000, "vae_batch": 16, "vae_lr": 1.5e-3, "vae_channels": [16, 32, 64, 64],
            "unet_steps": 12000, "unet_batch": 32, "unet_lr": 1e-3, "supersample": 2,
            # shapes cover a few % of a scene: their pixels count 1 + this in the VAE loss, or in a
            # short run the VAE learns shapes' outlines but not their colours
            "vae_foreground_weight": 4.0,
            "minutes": {"vae": 12, "unet": 40, "max": 58}},
    # the shipped model: one H200/H100, time-boxed
    "gpu": {"vae_steps": 20000, "vae_batch": 128, "vae_lr": 1e-3, "vae_channels": [32, 64, 96, 96],
            "unet_steps": 40000, "unet_batch": 512, "unet_lr": 1e-3, "supersample": 4},
}
COMMON: dict = {
    "kl_weight": 1e-6, "warmup": 100, "lr_floor": 0.05, "weight_decay": 0.01, "grad_clip": 1.0,
    "offset_noise": 0.15, "caption_dropout": 0.1, "min_snr_gamma": 5.0, "ema_decay": 0.999,
    "vae_foreground_weight": 0.0,
    "betas": [0.00085, 0.012], "train_timesteps": 1000,
}


def build_models(seed: int, vae_channels: list[int] | None = None):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    vae = AutoencoderKL(**{**VAE_CONFIG, **({"block_out_channels": vae_channels} if vae_channels else {})})
    te = CLIPTextModel(CLIPTextConfig(**TEXT_ENCODER_CONFIG))
    with torch.no_grad():  # start the posterior nearly deterministic: log-variance bias -6
        vae.quant_conv.bias[4:].fill_(-6.0)
    return unet, vae, te


def configs_for_metadata(unet, vae, te) -> dict:
    from sdwebui.engine.models.tiny import _diffusers_config, _transformers_config

    return {"unet": _diffusers_config(unet), "vae": _diffusers_config(vae),
            "text_encoder": _transformers_config(te), "text_encoder_2": None, "default_size": NATIVE_SIZE}


# --- helpers -----------------------------------------------------------------------------------

def step_seed(data_seed: int, phase: str, step: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{data_seed}/{phase}/{step}".encode()).digest()[:8], "little")


def size_phase(st: dict, phase: str, minutes: float, calibrate: int, step: int, total: int, bar) -> int:
    """A time-boxed phase (`minutes` > 0) times its steps `calibrate`..2*`calibrate`, then fixes its
    step count so it ends in time; the count goes into the state (`<phase>_total`), so a resumed run
    keeps the same learning-rate schedule. Returns the phase's step count."""
    key = f"{phase}_total"
    if not minutes or key in st:
        return total
    if step == calibrate:
        st[f"_{phase}_timed_from"] = time.time()
    elif step == 2 * calibrate and f"_{phase}_timed_from" in st:
        rate = (time.time() - st.pop(f"_{phase}_timed_from")) / calibrate
        total = min(total, max(step + 1, int(minutes * 60 / rate)))
        st[key] = total
        bar.total = total
        bar.refresh()
    return total


def lr_at(step: int, total: int, base: float, warmup: int, floor: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def batch_scenes(data_seed: int, phase: str, step: int, n: int) -> list[S.Scene]:
    rng = random.Random(step_seed(data_seed, phase, step))
    return [S.sample_scene(rng) for _ in range(n)]


class Tokens:
    def __init__(self):
        from sdwebui.engine.models.tokenizer import get_tokenizer

        self.tok = get_tokenizer("<|endoftext|>")
        self.cache: dict[str, list[int]] = {}

    def __call__(self, captions: list[str], device) -> torch.Tensor:
        missing = [c for c in set(captions) if c not in self.cache]
        if missing:
            ids = self.tok(missing, padding="max_length", max_length=77, truncation=True).input_ids
            self.cache.update(zip(missing, ids))
        return torch.tensor([self.cache[c] for c in captions], device=device)


def encode_text(te, ids: torch.Tensor) -> torch.Tensor:
    return te(ids).last_hidden_state


class Logger:
    def __init__(self, path: Path):
        self.path = path
        new = not path.exists()
        self.fh = path.open("a", newline="")
        self.w = csv.writer(self.fh)
        if new:
            self.w.writerow(["phase", "step", "loss", "lr", "seconds"])

    def log(self, *row):
        self.w.writerow(row)

    def flush(self):
        self.fh.flush()


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# --- state -------------------------------------------------------------------------------------

def save_state(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


# --- phase 1: VAE ------------------------------------------------------------------------------

def train_vae(vae, args, recipe, st, device, log, deadline_fn):
    from tqdm import tqdm

    fmt = memory_format(device)
    vae.to(device, memory_format=fmt).train()
    opt = torch.optim.AdamW(vae.parameters(), lr=recipe["vae_lr"], betas=(0.9, 0.99), weight_decay=0.0)
    if st.get("vae_opt"):
        opt.load_state_dict(st["vae_opt"])
    step, total = st.get("vae_step", 0), st.get("vae_total", recipe["vae_steps"])
    t0 = time.time()
    bar = tqdm(total=total, initial=step, desc="VAE", dynamic_ncols=True)
    last_save = time.time()
    ema_loss = None
    while step < total:
        total = size_phase(st, "vae", args.vae_minutes, args.calibrate, step, total, bar)
        lr = lr_at(step, total, recipe["vae_lr"], recipe["warmup"], recipe["lr_floor"])
        for g in opt.param_groups:
            g["lr"] = lr
        scenes = batch_scenes(args.data_seed, "vae", step, recipe["vae_batch"])
        x = S.render(scenes, supersample=recipe["supersample"], device=device).contiguous(memory_format=fmt)
        w = pixel_weights(scenes, x, recipe["vae_foreground_weight"])
        gen = torch.Generator(device=device).manual_seed(step_seed(args.data_seed, "vae-noise", step) % 2**63)
        with autocast(device):
            post = vae.encode(x).latent_dist
            z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen, device=device)
            rec = vae.decode(z).sample.float()
        l1 = (w * (rec - x).abs()).mean() / w.mean()
        mse = (w * (rec - x) ** 2).mean() / w.mean()
        kl = post.kl().mean() / (z[0].numel())
        loss = l1 + mse + recipe["kl_weight"] * kl * z[0].numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), recipe["grad_clip"])
        opt.step()
        step += 1
        lv = float(loss.detach())
        ema_loss = lv if ema_loss is None else 0.98 * ema_loss + 0.02 * lv
        log.log("vae", step, f"{lv:.5f}", f"{lr:.3e}", f"{time.time() - t0:.1f}")
        bar.update(1)
        bar.set_postfix(loss=f"{ema_loss:.4f}", l1=f"{float(l1.detach()):.4f}")
        st["vae_step"] = step
        if time.time() - last_save > args.save_every or step == total or deadline_fn():
            st["vae"] = vae.state_dict()
            st["vae_opt"] = opt.state_dict()
            save_state(args.work_dir / "state.pt", st)
            log.flush()
            last_save = time.time()
        if deadline_fn():
            st["vae_total"] = step
            break
    bar.close()
    st["vae_loss"] = ema_loss
    st["vae_seconds"] = st.get("vae_seconds", 0) + time.time() - t0
    return vae


def pixel_weights(scenes: list[S.Scene], x: torch.Tensor, foreground: float) -> torch.Tensor:
    """Per-pixel loss weights (B, 1, H, W): 1 on the background, 1 + `foreground` on the shapes."""
    if not foreground:
        return torch.ones_like(x[:, :1])
    backgrounds = S.render([S.Scene(sc.background, [], "", sc.jitter[:1]) for sc in scenes], x.shape[-1],
                           supersample=1, device=x.device)
    return 1 + foreground * ((x - backgrounds).abs().amax(1, keepdim=True) > 0.02).float()


@torch.no_grad()
def normalise_latents(vae, args, recipe, device) -> dict:
    """Fold per-channel latent mean/scale into quant_conv and post_quant_conv so that
    latents * 0.18215 have zero mean and unit variance per channel on the scene distribution."""
    vae.eval()
    zs = []
    for i in range(8):
        x = S.render(batch_scenes(args.data_seed, "vae-stats", i, 256), supersample=recipe["supersample"],
                     device=device)
        zs.append(vae.encode(x).latent_dist.mean.float())
    z = torch.cat(zs)
    m = z.mean(dim=(0, 2, 3))
    sd = z.std(dim=(0, 2, 3))
    k = SCALING_FACTOR * sd  # z' = (z - m) / k
    q, pq = vae.quant_conv, vae.post_quant_conv
    q.weight[:4] /= k.view(4, 1, 1, 1)
    q.bias[:4] = (q.bias[:4] - m) / k
    q.bias[4:] -= 2 * torch.log(k)
    w = pq.weight.clone()  # (4, 4, 1, 1)
    pq.bias += (w[:, :, 0, 0] @ m)
    pq.weight *= k.view(1, 4, 1, 1)
    return {"latent_mean": m.tolist(), "latent_std": sd.tolist()}


# --- phase 2: UNet + text encoder --------------------------------------------------------------

def make_schedule(recipe, device):
    b0, b1 = recipe["betas"]
    betas = torch.linspace(b0 ** 0.5, b1 ** 0.5, recipe["train_timesteps"], dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float().to(device)


def train_unet(unet, te, vae, args, recipe, st, device, log, deadline_fn):
    from tqdm import tqdm

    tokens = Tokens()
    fmt = memory_format(device)
    vae.to(device, memory_format=fmt).eval().requires_grad_(False)
    unet.to(device, memory_format=fmt).train()
    te.to(device).train()
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=recipe["unet_lr"], betas=(0.9, 0.99), weight_decay=recipe["weight_decay"])
    ema = st.get("ema") or {"unet": copy.deepcopy(unet.state_dict()), "te": copy.deepcopy(te.state_dict())}
    ema = {k: {n: t.to(device) for n, t in v.items()} for k, v in ema.items()}
    if st.get("unet_opt"):
        opt.load_state_dict(st["unet_opt"])
    alphas = make_schedule(recipe, device)
    step, total = st.get("unet_step", 0), st.get("unet_total", recipe["unet_steps"])
    t0 = time.time()
    bar = tqdm(total=total, initial=step, desc="UNet+TE", dynamic_ncols=True)
    last_save = time.time()
    ema_loss = None
    B = recipe["unet_batch"]

    def ema_update(decay):
        with torch.no_grad():
            for key, model in (("unet", unet), ("te", te)):
                for n, p in model.state_dict().items():
                    e = ema[key][n]
                    if p.dtype.is_floating_point:
                        e.lerp_(p, 1 - decay)
                    else:
                        e.copy_(p)

    def snapshot():
        st["unet"] = unet.state_dict()
        st["te"] = te.state_dict()
        st["ema"] = ema
        st["unet_opt"] = opt.state_dict()
        save_state(args.work_dir / "state.pt", st)
        log.flush()

    while step < total:
        total = size_phase(st, "unet", args.unet_minutes, args.calibrate, step, total, bar)
        lr = lr_at(step, total, recipe["unet_lr"], recipe["warmup"], recipe["lr_floor"])
        for g in opt.param_groups:
            g["lr"] = lr
        rng = random.Random(step_seed(args.data_seed, "unet-captions", step))
        scenes = batch_scenes(args.data_seed, "unet", step, B)
        captions = ["" if rng.random() < recipe["caption_dropout"] else s.caption for s in scenes]
        gen = torch.Generator(device=device).manual_seed(step_seed(args.data_seed, "unet-noise", step) % 2**63)
        with torch.no_grad(), autocast(device):
            x = S.render(scenes, supersample=recipe["supersample"], device=device).contiguous(memory_format=fmt)
            lat = vae.encode(x).latent_dist.mean.float() * SCALING_FACTOR
        noise = torch.randn(lat.shape, generator=gen, device=device)
        noise = noise + recipe["offset_noise"] * torch.randn((B, 4, 1, 1), generator=gen, device=device)
        t = torch.randint(0, recipe["train_timesteps"], (B,), generator=gen, device=device)
        a = alphas[t].view(B, 1, 1, 1)
        noisy = a.sqrt() * lat + (1 - a).sqrt() * noise
        ids = tokens(captions, device)
        with autocast(device):
            ctx = encode_text(te, ids)
            pred = unet(noisy, t, encoder_hidden_states=ctx).sample.float()
        snr = a.view(B) / (1 - a.view(B))
        weight = torch.clamp(snr, max=recipe["min_snr_gamma"]) / snr
        loss = (weight * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, recipe["grad_clip"])
        opt.step()
        step += 1
        ema_update(min(recipe["ema_decay"], (1 + step) / (10 + step)))
        lv = float(loss.detach())
        ema_loss = lv if ema_loss is None else 0.98 * ema_loss + 0.02 * lv
        log.log("unet", step, f"{lv:.5f}", f"{lr:.3e}", f"{time.time() - t0:.1f}")
        bar.update(1)
        bar.set_postfix(loss=f"{ema_loss:.4f}")
        st["unet_step"] = step
        if time.time() - last_save > args.save_every or step == total or deadline_fn():
            snapshot()
            last_save = time.time()
        if deadline_fn():
            st["unet_total"] = step
            break
    bar.close()
    st["unet_loss"] = ema_loss
    st["unet_seconds"] = st.get("unet_seconds", 0) + time.time() - t0
    unet.load_state_dict(ema["unet"])
    te.load_state_dict(ema["te"])
    return unet, te


# --- export ------------------------------------------------------------------------------------

def export(unet, vae, te, path: Path, recipe: dict, st: dict, args) -> Path:
    from sdwebui.engine.models.ldm_export import components_to_ldm, save_checkpoint

    unet, vae, te = (m.to("cpu").float().eval() for m in (unet, vae, te))
    training = {
        "recipe": recipe,
        "data_seed": args.data_seed,
        "seed": args.seed,
        "preset": args.preset,
        "vae_steps_run": st.get("vae_step", 0),
        "unet_steps_run": st.get("unet_step", 0),
        "vae_seconds": round(st.get("vae_seconds", 0), 1),
        "unet_seconds": round(st.get("unet_seconds", 0), 1),
        "final_vae_loss": st.get("vae_loss"),
        "final_unet_loss": st.get("unet_loss"),
        "latent_stats": st.get("latent_stats"),
        "device": st.get("device"),
        "data": "tools/scenes.py procedural scenes (one or two circles/squares/triangles, 8 named colours)",
        "held_out_triples": sorted("/".join(t) for t in S.HELD_OUT),
        "script": "tools/train_default_model.py",
        "reproduce": (f"--preset {args.preset} --seed {args.seed} --data-seed {args.data_seed} "
                      f"--vae-steps {st.get('vae_step', 0)} --unet-steps {st.get('unet_step', 0)}"),
    }
    metadata = {
        "sd_webui_family": "sd1",
        "sd_webui_prediction_type": "epsilon",
        "sd_webui_config": json.dumps(configs_for_metadata(unet, vae, te), sort_keys=True),
        "sd_webui_training": json.dumps(training, sort_keys=True),
        "modelspec.title": "sd-webui-diffusers tiny default (procedural shapes)",
        "modelspec.resolution": f"{NATIVE_SIZE}x{NATIVE_SIZE}",
    }
    sd = components_to_ldm(unet, vae, te, family="sd1")
    save_checkpoint(sd, path, metadata=metadata, half=True)
    return path


@torch.no_grad()
def sample_grid(unet, vae, te, device, path: Path, prompts: list[str], seed: int = 0, cfg: float = 7.0,
                steps: int = 20) -> None:
    """A quick DPM++ 2M contact sheet straight from the components (the app is not needed)."""
    import numpy as np
    from diffusers import DPMSolverMultistepScheduler
    from PIL import Image

    sched = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        num_train_timesteps=1000, algorithm_type="dpmsolver++",
                                        solver_order=2, use_karras_sigmas=True)
    unet, vae, te = (m.to(device).eval() for m in (unet, vae, te))
    tokens = Tokens()
    n = len(prompts)
    ctx = encode_text(te, tokens(list(prompts) + [""] * n, device))
    g = torch.Generator(device="cpu").manual_seed(seed)
    lat = torch.randn((n, 4, NATIVE_SIZE // 8, NATIVE_SIZE // 8), generator=g).to(device)
    sched.set_timesteps(steps, device=device)
    lat = lat * sched.init_noise_sigma
    for t in sched.timesteps:
        x = sched.scale_model_input(torch.cat([lat, lat]), t)
        out = unet(x, t, encoder_hidden_states=torch.cat([ctx[:n], ctx[n:]])).sample
        c, u = out[:n], out[n:]
        lat = sched.step(u + cfg * (c - u), t, lat).prev_sample
    img = vae.decode(lat / SCALING_FACTOR).sample
    arr = S.to_uint8(img.float())
    cols = 8
    rows = (n + cols - 1) // cols
    sheet = np.zeros((rows * NATIVE_SIZE, cols * NATIVE_SIZE, 3), np.uint8)
    for i, a in enumerate(arr):
        r, c = divmod(i, cols)
        sheet[r * NATIVE_SIZE:(r + 1) * NATIVE_SIZE, c * NATIVE_SIZE:(c + 1) * NATIVE_SIZE] = a
    Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.NEAREST).save(path)


# --- main --------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "modules" / "loader" / "data" / "default-sd1.safetensors")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "tmp" / "train-default-model")
    ap.add_argument("--preset", choices=sorted(PRESETS), default=None,
                    help="recipe preset (default: gpu when CUDA is available, else cpu)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    ap.add_argument("--data-seed", type=int, default=20261128, help="seed of the training scenes and noise")
    ap.add_argument("--vae-steps", type=int)
    ap.add_argument("--unet-steps", type=int)
    ap.add_argument("--vae-batch", type=int)
    ap.add_argument("--unet-batch", type=int)
    ap.add_argument("--vae-minutes", type=float, default=None,
                    help="time box for the VAE phase (0: none; default: the preset's)")
    ap.add_argument("--unet-minutes", type=float, default=None,
                    help="time box for the UNet phase (0: none; default: the preset's)")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="hard stop for the whole run; the model is still exported (0: none; default: the preset's)")
    ap.add_argument("--calibrate", type=int, default=20, help="steps timed to size a time-boxed phase")
    ap.add_argument("--save-every", type=float, default=120.0, help="seconds between resumable states")
    ap.add_argument("--resume", action="store_true", help="continue from <work-dir>/state.pt")
    ap.add_argument("--samples", type=Path, default=None, help="write a contact sheet PNG here")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = ap.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.preset = args.preset or ("gpu" if device.type == "cuda" else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    recipe = {**COMMON, **PRESETS[args.preset]}
    for k in ("vae_steps", "unet_steps", "vae_batch", "unet_batch"):
        if getattr(args, k) is not None:
            recipe[k] = getattr(args, k)
    for phase in ("vae", "unet", "max"):    # time boxes: the flag, else the preset's, else none
        attr = f"{phase}_minutes"
        if getattr(args, attr) is None:
            setattr(args, attr, float(recipe.get("minutes", {}).get(phase, 0.0)))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    state_path = args.work_dir / "state.pt"
    start = time.time()
    deadline_fn = (lambda: time.time() - start > args.max_minutes * 60) if args.max_minutes else (lambda: False)

    unet, vae, te = build_models(args.seed, recipe.get("vae_channels"))
    st: dict = {}
    if args.resume and state_path.exists():
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        if st.get("recipe") != recipe:
            print("warning: resuming with a recipe that differs from the saved one", file=sys.stderr)
        for key, model in (("vae", vae), ("unet", unet), ("te", te)):
            if key in st:
                model.load_state_dict(st[key])
        print(f"resumed: vae step {st.get('vae_step', 0)}, unet step {st.get('unet_step', 0)}")
    elif (args.work_dir / "loss.csv").exists():
        (args.work_dir / "loss.csv").unlink()
    st["recipe"] = recipe
    st["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    log = Logger(args.work_dir / "loss.csv")
    print(f"device {st['device']}, preset {args.preset}, recipe {json.dumps(recipe)}", flush=True)

    if not st.get("vae_done"):
        train_vae(vae, args, recipe, st, device, log, deadline_fn)
        st["latent_stats"] = normalise_latents(vae, args, recipe, device)
        st["vae"] = vae.state_dict()
        st["vae_done"] = True
        save_state(state_path, st)
        print(f"VAE: {st['vae_step']} steps, loss {st['vae_loss']:.4f}, latents {st['latent_stats']}", flush=True)
    if not st.get("unet_done"):
        train_unet(unet, te, vae, args, recipe, st, device, log, deadline_fn)
        st["unet_done"] = True
        st["unet"], st["te"] = unet.state_dict(), te.state_dict()
        save_state(state_path, st)
        print(f"UNet: {st['unet_step']} steps, loss {st['unet_loss']:.4f}", flush=True)
    else:  # finished earlier: the saved weights are the EMA ones
        unet.load_state_dict(st["unet"])
        te.load_state_dict(st["te"])
    log.flush()
    if args.samples:
        prompts = [s.caption for s in S.eval_captions(16, seed=5)]
        sample_grid(unet, vae, te, device, args.samples, prompts)
    path = export(unet, vae, te, args.out, recipe, st, args)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {(time.time() - start) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
