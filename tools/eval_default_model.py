#!/usr/bin/env python3
"""Measure the embedded default model through the app's own API.

    venv/bin/python tools/eval_default_model.py [--model FILE] [--sheet docs/default-model-samples.png]

The model file is put in a temporary --data-dir and the real app (API only, in-process, the same
loader, queue and processing as a user's checkpoint) generates one image for each of 100 held-out
captions (tools/scenes.eval_captions: their first shape's colour/shape/background triple never
occurs in training, and each names its background) at the model's native size, 20 steps,
DPM++ 2M, CFG 7. tools/scenes.detect reads back the background colour, the largest object's
colour and its shape; the script prints the agreement rates and the median time per request
(JSON on the last line), writes a contact sheet of 16 samples with their prompts, and with
--extras img2img and hires-fix sheets and their agreement rates over 30 captions.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.pop("COMMANDLINE_ARGS", None)

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from tools import scenes as S  # noqa: E402

DEFAULT_MODEL = ROOT / "modules" / "loader" / "data" / "default-sd1.safetensors"


def b64_to_array(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


def array_to_b64(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def contact_sheet(images: list[np.ndarray], labels: list[str], path: Path, *, cols: int = 4,
                  scale: int = 3) -> None:
    """Images with their prompts underneath, `cols` per row, nearest-neighbour enlarged."""
    h, w = images[0].shape[:2]
    cw, ch = w * scale, h * scale
    th = 30
    rows = (len(images) + cols - 1) // cols
    cell_w = max(cw, 200)
    sheet = Image.new("RGB", (cols * (cell_w + 8) + 8, rows * (ch + th + 8) + 8), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (img, label) in enumerate(zip(images, labels)):
        r, c = divmod(i, cols)
        x, y = 8 + c * (cell_w + 8), 8 + r * (ch + th + 8)
        sheet.paste(Image.fromarray(img).resize((cw, ch), Image.NEAREST), (x + (cell_w - cw) // 2, y))
        words, lines, line = label.split(), [], ""
        for word in words:  # wrap at ~34 characters
            if len(line) + len(word) + 1 > 34 and line:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        for j, text in enumerate(lines[:2]):
            draw.text((x, y + ch + 2 + 13 * j), text, fill=(0, 0, 0))
    sheet.save(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("-n", type=int, default=100, help="held-out captions")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=7.0)
    ap.add_argument("--sampler", default="DPM++ 2M")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the first image (+1 per image)")
    ap.add_argument("--sheet", type=Path, default=None, help="contact sheet of 16 samples (PNG)")
    ap.add_argument("--extras", type=Path, default=None,
                    help="folder for img2img and hires-fix sheets (default-model-img2img.png, -hires.png)")
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from sdwebui.interfaces import app as webui
    from sdwebui.interfaces.cli import flags as cmd_args
    from sdwebui.services import runtime as shared
    from sdwebui.engine.models.single_file import read_state_dict

    _, meta = read_state_dict(args.model)
    size = int(json.loads(meta["sd_webui_config"]).get("default_size", 64))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "models" / "Stable-diffusion"
        ckpt.mkdir(parents=True)
        shutil.copy(args.model, ckpt / args.model.name)
        ns = cmd_args.parse_args(["--nowebui", "--data-dir", tmp], use_env=False)
        app = webui.create_app(ns)
        with TestClient(app) as api:
            def txt2img(**kw):
                body = {"width": size, "height": size, "steps": args.steps, "cfg_scale": args.cfg,
                        "sampler_name": args.sampler, **kw}
                r = api.post("/sdapi/v1/txt2img", json=body)
                r.raise_for_status()
                return r.json()

            txt2img(prompt="warm up", seed=0)
            scenes = S.eval_captions(args.n)
            totals = {"background": 0, "colour": 0, "shape": 0}
            times, images = [], []
            misses: dict[str, int] = {}
            for i, sc in enumerate(scenes):
                t = time.perf_counter()
                out = txt2img(prompt=sc.caption, seed=args.seed + i)
                times.append(time.perf_counter() - t)
                img = b64_to_array(out["images"][0])
                images.append(img)
                det = S.detect(img)
                for k, ok in S.score(sc, det).items():
                    totals[k] += ok
                if det.kind not in sc.kinds:  # what the shape misses were read as
                    key = f"{'/'.join(sorted(sc.kinds))} -> {det.kind} ({det.objects} objects)"
                    misses[key] = misses.get(key, 0) + 1
            # chance level: the same detector on images from an empty prompt
            chance = {"background": 0, "colour": 0, "shape": 0}
            for i, sc in enumerate(scenes[:20]):
                img = b64_to_array(txt2img(prompt="", seed=args.seed + i)["images"][0])
                for k, ok in S.score(sc, S.detect(img)).items():
                    chance[k] += ok
            if args.sheet:
                contact_sheet(images[:16], [s.caption for s in scenes[:16]], args.sheet)
            extra = None
            if args.extras:
                args.extras.mkdir(parents=True, exist_ok=True)
                extra = extras(txt2img, api, size, args)
        shared.queue.stop()
    n = len(scenes)
    result = {
        "n": n, "size": size, "steps": args.steps, "cfg": args.cfg, "sampler": args.sampler,
        "background": totals["background"] / n, "colour": totals["colour"] / n, "shape": totals["shape"] / n,
        "chance_empty_prompt_n20": {k: v / 20 for k, v in chance.items()},
        "median_seconds_per_request": round(statistics.median(times), 3),
        "min_seconds_per_request": round(min(times), 3),
        "model_bytes": args.model.stat().st_size,
        "shape_misses": dict(sorted(misses.items(), key=lambda kv: -kv[1])),
    }
    if extra:
        result["n30_agreement"] = extra
    print(json.dumps(result))
    return 0


def extras(txt2img, api, size: int, args) -> dict:
    """img2img (rendered scenes redrawn to other prompts, denoising 0.6) and hires fix (x2, Lanczos,
    denoising 0.3): a contact sheet of each, and the detector's agreement over 30 held-out captions."""
    import random

    def img2img(init: np.ndarray, prompt: str, seed: int) -> np.ndarray:
        body = {"init_images": [array_to_b64(init)], "prompt": prompt, "denoising_strength": 0.6,
                "width": size, "height": size, "steps": args.steps, "cfg_scale": args.cfg,
                "sampler_name": args.sampler, "seed": seed}
        r = api.post("/sdapi/v1/img2img", json=body)
        r.raise_for_status()
        return b64_to_array(r.json()["images"][0])

    def hires(prompt: str, seed: int) -> np.ndarray:
        return b64_to_array(txt2img(prompt=prompt, seed=seed, enable_hr=True, hr_scale=2, denoising_strength=0.3,
                                    hr_upscaler="Lanczos")["images"][0])

    rng = random.Random(3)
    src = [S.sample_scene(rng, held_out="any", name_background=1.0) for _ in range(30)]
    arrs = S.to_uint8(S.render(src, size))
    targets = S.eval_captions(30)
    agree = {"img2img": {"background": 0, "colour": 0, "shape": 0},
             "hires": {"background": 0, "colour": 0, "shape": 0}}
    i2i, hr = [], []
    for i, (a, sc) in enumerate(zip(arrs, targets)):
        out = img2img(a, sc.caption, 7 + i)
        i2i.append(out)
        for k, ok in S.score(sc, S.detect(out)).items():
            agree["img2img"][k] += ok
        big = hires(sc.caption, args.seed + i)
        hr.append(big)
        for k, ok in S.score(sc, S.detect(big)).items():
            agree["hires"][k] += ok
    imgs, labels = [], []
    for i in range(4):
        imgs += [arrs[i], i2i[i]]
        labels += [f"input: {src[i].caption}", f"img2img 0.6: {targets[i].caption}"]
    contact_sheet(imgs, labels, args.extras / "default-model-img2img.png", cols=4)
    imgs, labels = [], []
    for i in range(4):
        lo = b64_to_array(txt2img(prompt=targets[i].caption, seed=args.seed + i)["images"][0])
        imgs += [np.asarray(Image.fromarray(lo).resize(hr[i].shape[:2][::-1], Image.NEAREST)), hr[i]]
        labels += [f"{size} px: {targets[i].caption}", f"hires x2 (Lanczos, 0.3): {targets[i].caption}"]
    contact_sheet(imgs, labels, args.extras / "default-model-hires.png", cols=4, scale=2)
    return {k: {m: v / len(targets) for m, v in d.items()} for k, d in agree.items()}


if __name__ == "__main__":
    raise SystemExit(main())
