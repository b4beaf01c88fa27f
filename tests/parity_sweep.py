"""A1111 parity beyond the three shared records: a sweep of requests (every sampler x every schedule, every
sampler option, noise sources, emphasis modes, prompt editing, hires, img2img and inpainting) and the
responses a real A1111 v1.10.1 gave for them on the reference checkpoint, kept in tests/parity_records/.

Capturing needs a running A1111 with the reference checkpoint loaded (see tests/parity_records/README.md);
measuring needs only this project:
    python -m tests.parity_sweep capture http://127.0.0.1:7899 [--group grid,options] [--only NAME,...]
    python -m tests.parity_a1111 [--ckpt oracle-sd15.safetensors] [--only ...]   # measures these records too
"""
from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

RECORDS = Path(__file__).resolve().parent / "parity_records"

SAMPLERS = ("DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE", "Euler a",
            "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart", "DDIM", "DDIM CFG++",
            "PLMS", "UniPC", "LCM")
SCHEDULES = ("Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal",
             "Align Your Steps", "Simple", "Normal", "DDIM", "Beta")

BASE = {"prompt": "a photo of a cat", "negative_prompt": "blurry, lowres", "width": 64, "height": 64,
        "steps": 4, "cfg_scale": 7, "seed": 1234}
INIT, MASK = "<png:inputs/init.png>", "<png:inputs/mask.png>"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).replace("+", "p").strip("-")


def _t2i(**kw) -> dict:
    return dict(BASE, **kw)


def _i2i(**kw) -> dict:
    return dict(BASE, **{"sampler_name": "Euler a", "init_images": [INIT], "denoising_strength": 0.6, **kw})


def _opt(sampler: str, **settings) -> dict:
    return _t2i(sampler_name=sampler, override_settings=settings)


T2I, I2I = "/sdapi/v1/txt2img", "/sdapi/v1/img2img"
EDITING = "a [photo:painting:2] of a [cat|dog], (masterpiece:1.2), [blurry]"

# the image requests of the shared reference corpus (../shared/reference/parity/capture.py): 3 steps
_C = dict(BASE, steps=3, sampler_name="Euler a")
_C_EDIT = ("a (photo:1.3) of a [cat|dog], ((masterpiece)), [blurry], \\(literal parens\\), "
           "[red:blue:2] BREAK watercolor AND a landscape :0.5")

GROUPS: dict[str, dict[str, tuple[str, dict]]] = {
    "corpus": {
        "corpus-euler-a": (T2I, _C),
        "corpus-euler": (T2I, dict(_C, sampler_name="Euler")),
        "corpus-dpmpp-2m-karras": (T2I, dict(_C, sampler_name="DPM++ 2M", scheduler="Karras")),
        "corpus-emphasis-editing": (T2I, dict(_C, prompt=_C_EDIT)),
        "corpus-batch-size-2": (T2I, dict(_C, batch_size=2)),
        "corpus-n-iter-2": (T2I, dict(_C, n_iter=2)),
        "corpus-subseed": (T2I, dict(_C, subseed=5678, subseed_strength=0.5)),
        "corpus-clip-skip-2": (T2I, dict(_C, override_settings={"CLIP_stop_at_last_layers": 2})),
        "corpus-img2img": (I2I, dict(_C, init_images=[INIT], denoising_strength=0.75)),
        "corpus-img2img-mask": (I2I, dict(_C, init_images=[INIT], mask=MASK, denoising_strength=0.75, mask_blur=4,
                                          inpainting_fill=1, inpaint_full_res=False)),
    },
    "grid": {f"grid-{slug(s)}-{slug(k)}": (T2I, _t2i(sampler_name=s, scheduler=k)) for s in SAMPLERS for k in SCHEDULES},
    "options": {
        "opt-eta-ancestral": (T2I, _opt("Euler a", eta_ancestral=0.5)),
        "opt-eta-ddim": (T2I, _opt("DDIM", eta_ddim=0.6)),
        "opt-eta-sde": (T2I, _opt("DPM++ 2M SDE", eta_ancestral=0.4)),
        "opt-s-churn": (T2I, _opt("Euler", s_churn=0.8, s_tmin=0.0, s_tmax=999.0)),
        "opt-s-tmin": (T2I, _opt("Heun", s_churn=0.8, s_tmin=2.0)),
        "opt-s-noise": (T2I, _opt("Euler a", s_noise=0.8)),
        "opt-sigma-min-max-rho": (T2I, dict(_opt("Euler", sigma_min=0.1, sigma_max=8.0, rho=5.0), scheduler="Karras")),
        "opt-discard-penultimate": (T2I, _opt("Euler", always_discard_next_to_last_sigma=True)),
        "opt-sgm-noise-multiplier": (T2I, _opt("Euler a", sgm_noise_multiplier=True)),
        "opt-uni-pc-bh2-order-2": (T2I, _opt("UniPC", uni_pc_variant="bh2", uni_pc_order=2,
                                              uni_pc_lower_order_final=False)),
        "opt-uni-pc-vary-coeff": (T2I, _opt("UniPC", uni_pc_variant="vary_coeff", uni_pc_skip_type="time_quadratic")),
        "opt-uni-pc-logsnr": (T2I, _opt("UniPC", uni_pc_skip_type="logSNR")),
        "opt-ensd": (T2I, _opt("Euler a", eta_noise_seed_delta=31337)),
        "opt-ngms": (T2I, _opt("Euler", s_min_uncond=5.0)),
        "opt-beta-alpha-beta": (T2I, dict(_opt("Euler", beta_dist_alpha=0.3, beta_dist_beta=0.7), scheduler="Beta")),
    },
    "noise": {
        "noise-randn-cpu": (T2I, _opt("Euler a", randn_source="CPU")),
        "noise-randn-nv": (T2I, _opt("Euler a", randn_source="NV")),
        "noise-nv-brownian": (T2I, _opt("DPM++ 2M SDE", randn_source="NV")),
        "noise-variation": (T2I, _t2i(sampler_name="Euler", subseed=77, subseed_strength=0.3)),
        "noise-seed-resize": (T2I, _t2i(sampler_name="Euler", seed_resize_from_w=96, seed_resize_from_h=48)),
        "noise-batch-2": (T2I, _t2i(sampler_name="DPM++ SDE", batch_size=2)),
        "noise-wide-96x64": (T2I, _t2i(sampler_name="Euler", width=96, height=64)),
        "noise-tall-64x96-ancestral": (T2I, _t2i(sampler_name="Euler a", width=64, height=96)),
    },
    "prompt": {
        "prompt-editing-euler": (T2I, _t2i(sampler_name="Euler", prompt=EDITING)),
        "prompt-editing-heun": (T2I, _t2i(sampler_name="Heun", prompt=EDITING)),
        "prompt-emphasis-no-norm": (T2I, dict(_opt("Euler", emphasis="No norm"), prompt=EDITING)),
        "prompt-emphasis-none": (T2I, dict(_opt("Euler", emphasis="None"), prompt=EDITING)),
        "prompt-break-and": (T2I, _t2i(sampler_name="Euler", prompt="a cat BREAK watercolor AND a landscape :0.6")),
        "prompt-long": (T2I, _t2i(sampler_name="Euler", prompt=", ".join(f"word{i} (detail{i}:1.1)" for i in range(40)))),
    },
    "hires": {
        "hires-latent": (T2I, _t2i(sampler_name="Euler", enable_hr=True, hr_scale=2, denoising_strength=0.6,
                                   hr_upscaler="Latent")),
        "hires-latent-nearest-exact": (T2I, _t2i(sampler_name="Euler", enable_hr=True, hr_scale=1.5,
                                                 denoising_strength=0.5, hr_upscaler="Latent (nearest-exact)")),
        "hires-lanczos": (T2I, _t2i(sampler_name="Euler", enable_hr=True, hr_scale=2, denoising_strength=0.5,
                                    hr_upscaler="Lanczos")),
        "hires-sampler-prompt-steps": (T2I, _t2i(sampler_name="Euler", enable_hr=True, hr_scale=2, denoising_strength=0.7,
                                                 hr_upscaler="Latent", hr_sampler_name="DPM++ 2M", hr_scheduler="Karras",
                                                 hr_prompt="a painting of a dog", hr_second_pass_steps=3)),
    },
    "img2img": {
        "img2img-euler-a": (I2I, _i2i()),
        "img2img-dpmpp-2m-karras": (I2I, _i2i(sampler_name="DPM++ 2M", scheduler="Karras", denoising_strength=0.45)),
        "img2img-ddim": (I2I, _i2i(sampler_name="DDIM", denoising_strength=0.7)),
        "img2img-extra-noise": (I2I, dict(_i2i(), override_settings={"img2img_extra_noise": 0.3})),
        "img2img-resize-crop": (I2I, _i2i(width=96, height=64, resize_mode=1)),
        "img2img-resize-just-96x64": (I2I, _i2i(width=96, height=64, resize_mode=0)),
        "img2img-resize-fill": (I2I, _i2i(width=96, height=64, resize_mode=2)),
        "inpaint-fill": (I2I, _i2i(mask=MASK, mask_blur=4, inpainting_fill=0)),
        "inpaint-original": (I2I, _i2i(mask=MASK, mask_blur=4, inpainting_fill=1)),
        "inpaint-latent-noise": (I2I, _i2i(mask=MASK, mask_blur=4, inpainting_fill=2, denoising_strength=1.0)),
        "inpaint-latent-nothing": (I2I, _i2i(mask=MASK, mask_blur=4, inpainting_fill=3, denoising_strength=1.0)),
        "inpaint-full-res": (I2I, _i2i(mask=MASK, mask_blur=2, inpainting_fill=1, inpaint_full_res=True,
                                       inpaint_full_res_padding=8)),
        "inpaint-invert-ddim": (I2I, _i2i(mask=MASK, mask_blur=0, inpainting_fill=1, inpainting_mask_invert=1,
                                          sampler_name="DDIM")),
        "inpaint-soft": (I2I, _i2i(mask=MASK, mask_blur=4, inpainting_fill=1,
                                   alwayson_scripts={"soft inpainting": {"args": [True, 1, 0.5, 4, 0, 0.5, 2]}})),
    },
    # an instruct-pix2pix checkpoint made from the reference one (tests/parity_loras.instruct_pix2pix)
    "pix2pix": {
        "pix2pix-img2img": (I2I, dict(_i2i(denoising_strength=0.8, image_cfg_scale=1.5),
                                      override_settings={"sd_model_checkpoint": "oracle-ip2p"})),
        "pix2pix-img2img-image-cfg-1": (I2I, dict(_i2i(denoising_strength=0.8, image_cfg_scale=1.0),
                                                  override_settings={"sd_model_checkpoint": "oracle-ip2p"})),
        "pix2pix-txt2img": (T2I, _opt("Euler", sd_model_checkpoint="oracle-ip2p")),
    },
    # the network files of tests/parity_loras.py, one per type A1111's Lora extension applies
    "lora": {f"lora-{name}": (T2I, _t2i(sampler_name="Euler", prompt=f"a photo of a cat <lora:parity-{name}:0.8>"))
             for name in ("lora", "dora", "locon-tucker", "loha", "lokr", "full", "ia3", "glora", "oft", "boft",
                          "norm")},
}


def all_cases() -> dict[str, tuple[str, dict]]:
    return {name: case for group in GROUPS.values() for name, case in group.items()}


# ------------------------------------------------------------------------------------------ inputs

def input_images() -> dict[str, bytes]:
    """The img2img picture (a colour pattern) and the inpainting mask (a centred square), as PNG."""
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([(x * 4) % 256, (y * 4) % 256, ((x ^ y) * 8) % 256], -1).astype(np.uint8)
    mask = (((x >= 16) & (x < 48) & (y >= 20) & (y < 44)) * 255).astype(np.uint8)
    out = {}
    for name, arr in (("init.png", rgb), ("mask.png", mask)):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        out[name] = buf.getvalue()
    return out


def resolve(value, inputs: dict[str, bytes]):
    """The request as sent: "<png:inputs/NAME>" placeholders become base64."""
    if isinstance(value, dict):
        return {k: resolve(v, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, inputs) for v in value]
    if isinstance(value, str) and value.startswith("<png:inputs/"):
        return base64.b64encode(inputs[value[len("<png:inputs/"):-1]]).decode()
    return value


# ------------------------------------------------------------------------------------------ records

def load_records(folder: Path = RECORDS) -> list[dict]:
    """Every recorded case: name, path, the request as sent, A1111's infotext and its image files."""
    inputs = {p.name: p.read_bytes() for p in (folder / "inputs").glob("*.png")}
    out = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("status") != 200:
            continue
        out.append({"name": record["name"], "path": record["path"], "request": resolve(record["request"], inputs),
                    "info": record.get("info"), "pngs": [folder / f for f in record["images"]]})
    return out


def capture(base_url: str, names: list[str], folder: Path = RECORDS) -> None:
    import httpx

    cases = all_cases()
    inputs = input_images()
    (folder / "inputs").mkdir(parents=True, exist_ok=True)
    for name, data in inputs.items():
        (folder / "inputs" / name).write_bytes(data)
    base = base_url.rstrip("/")
    # A1111 keeps a request's override_settings for every later request when the option was never set
    # before (it restores only options that config.json holds): set them back by hand after each case
    defaults = httpx.get(base + "/sdapi/v1/options", timeout=60).json()
    for name in names:
        path, request = cases[name]
        r = httpx.post(base + path, json=resolve(request, inputs), timeout=1800)
        overridden = {k: defaults[k] for k in request.get("override_settings", {}) if k in defaults}
        if overridden:
            httpx.post(base + "/sdapi/v1/options", json=overridden, timeout=60).raise_for_status()
        record = {"name": name, "path": path, "request": request, "status": r.status_code, "images": []}
        if r.status_code == 200:
            body = r.json()
            info = json.loads(body["info"])
            record["info"] = info["infotexts"]
            # A1111 puts a grid first for a batch when it returns one; keep the per-image pictures only
            images = body["images"][-len(info["infotexts"]):]
            for k, b64 in enumerate(images):
                (folder / f"{name}.{k}.png").write_bytes(base64.b64decode(b64))
                record["images"].append(f"{name}.{k}.png")
        else:
            record["response_text"] = r.text[:2000]
        (folder / f"{name}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"{name:40s} {r.status_code} {r.elapsed.total_seconds():7.1f}s", flush=True)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["capture", "list"])
    ap.add_argument("base_url", nargs="?")
    ap.add_argument("--group", help="comma-separated groups: " + ",".join(GROUPS))
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument("--missing", action="store_true", help="only cases with no record yet")
    ap.add_argument("--out", type=Path, default=RECORDS, help="where the records go (default: tests/parity_records)")
    args = ap.parse_args()
    names = [n for g, cases in GROUPS.items() if not args.group or g in args.group.split(",") for n in cases]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    if args.missing:
        names = [n for n in names if not (args.out / f"{n}.json").exists()]
    if args.command == "list":
        print("\n".join(names))
        return 0
    if not args.base_url:
        ap.error("capture needs the A1111 server's URL")
    capture(args.base_url, names, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
