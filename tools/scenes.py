"""Procedural scenes for the embedded default model: a seeded generator, captions, a renderer
and a simple detector.

A scene is one or two shapes (circle, square, triangle) of named colours on a plain background,
optionally with a size word ("small", "large") and, for one shape, a position word ("on the
left"). Its caption says what is drawn: "two small green squares on a yellow background".

Everything here is deterministic given a seed. ``HELD_OUT`` lists (colour, shape, background)
triples that training never draws; the evaluation prompts are built from them.

The renderer works on batches of tensors (CPU or GPU) with supersampled anti-aliasing, so a
training step can draw its own fresh batch. The detector (numpy + scipy) reads back the
background colour, the dominant foreground colour and the shape of the largest object.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (40, 165, 55),
    "blue": (35, 70, 215),
    "yellow": (240, 215, 35),
    "orange": (245, 135, 25),
    "purple": (135, 50, 175),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZES: dict[str, tuple[float, float]] = {  # radius range in pixels at 64 px
    "small": (5.0, 7.0),
    "": (7.0, 12.0),
    "large": (12.0, 15.0),
}
SIZE_SYNONYMS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
POSITIONS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {  # (cx range, cy range) in [0, 1]
    "on the left": ((0.22, 0.32), (0.3, 0.7)),
    "on the right": ((0.68, 0.78), (0.3, 0.7)),
    "at the top": ((0.3, 0.7), (0.22, 0.32)),
    "at the bottom": ((0.3, 0.7), (0.68, 0.78)),
    "in the centre": ((0.45, 0.55), (0.45, 0.55)),
}
JITTER = 12  # +- RGB jitter of every colour in training scenes


def _make_held_out(n: int = 20, seed: int = 1234) -> frozenset[tuple[str, str, str]]:
    rng = random.Random(seed)
    triples = [(c, s, b) for c in COLOUR_NAMES for s in SHAPES for b in COLOUR_NAMES if c != b]
    rng.shuffle(triples)
    return frozenset(triples[:n])


HELD_OUT: frozenset[tuple[str, str, str]] = _make_held_out()


@dataclass
class Shape:
    kind: str
    colour: str
    cx: float  # pixels at 64 px
    cy: float
    r: float


@dataclass
class Scene:
    background: str
    shapes: list[Shape]
    caption: str
    jitter: list[tuple[int, int, int]] = field(default_factory=list)  # bg first, then per shape

    @property
    def colours(self) -> set[str]:
        return {s.colour for s in self.shapes}

    @property
    def kinds(self) -> set[str]:
        return {s.kind for s in self.shapes}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _bg_phrase(rng: random.Random, bg: str) -> str:
    return rng.choice((f" on a {bg} background", f" on a {bg} background", f", {bg} background",
                       f" on {bg}"))


def sample_scene(rng: random.Random, *, held_out: str = "exclude", name_background: float = 0.75,
                 size: int = 64) -> Scene:
    """Draw one scene. held_out: "exclude" (training: no held-out triple anywhere), "only" (the
    first shape's triple is held out and the background is always named) or "any"."""
    s = size / 64.0
    while True:
        bg = rng.choice(COLOUR_NAMES)
        u = rng.random()
        mode = "one" if u < 0.6 else ("two_same" if u < 0.8 else "two_diff")
        c1 = rng.choice([c for c in COLOUR_NAMES if c != bg])
        k1 = rng.choice(SHAPES)
        if mode == "two_diff":
            c2 = rng.choice([c for c in COLOUR_NAMES if c != bg])
            k2 = rng.choice(SHAPES)
            if (c2, k2) == (c1, k1):
                continue
        else:
            c2, k2 = c1, k1
        triples = {(c1, k1, bg)} | ({(c2, k2, bg)} if mode != "one" else set())
        if held_out == "exclude" and triples & HELD_OUT:
            continue
        if held_out == "only" and (c1, k1, bg) not in HELD_OUT:
            continue
        break
    named_bg = held_out == "only" or rng.random() < name_background
    size_word = rng.choice(("small", "", "large")) if rng.random() < 0.5 else None
    lo, hi = SIZES[size_word or ""] if size_word is not None else (5.0, 14.0)
    shapes: list[Shape] = []
    if mode == "one":
        r = rng.uniform(lo, hi)
        pos = rng.choice(tuple(POSITIONS)) if rng.random() < 0.4 else None
        if pos is not None:
            (x0, x1), (y0, y1) = POSITIONS[pos]
            cx, cy = rng.uniform(x0, x1) * 64, rng.uniform(y0, y1) * 64
        else:
            cx, cy = rng.uniform(r + 2, 62 - r), rng.uniform(r + 2, 62 - r)
        cx, cy = min(max(cx, r + 1), 63 - r), min(max(cy, r + 1), 63 - r)
        shapes.append(Shape(k1, c1, cx, cy, r))
        words = ([rng.choice(SIZE_SYNONYMS[size_word])] if size_word else [])
        caption = f"{_article((words + [c1])[0])} {' '.join(words + [c1, k1])}" + (f" {pos}" if pos else "")
    else:
        hi = min(hi, 13.0)
        lo = min(lo, hi)
        r1, r2 = rng.uniform(lo, hi), rng.uniform(lo, hi)
        horizontal = rng.random() < 0.7
        a1, a2 = rng.uniform(r1 + 1, 32 - r1 - 1), rng.uniform(32 + r2 + 1, 63 - r2)  # along the split axis
        b1, b2 = rng.uniform(r1 + 2, 62 - r1), rng.uniform(r2 + 2, 62 - r2)
        if rng.random() < 0.5:
            (c1, k1, r1), (c2, k2, r2) = (c2, k2, r2), (c1, k1, r1)
        p1, p2 = ((a1, b1), (a2, b2)) if horizontal else ((b1, a1), (b2, a2))
        shapes = [Shape(k1, c1, *p1, r1), Shape(k2, c2, *p2, r2)]
        if mode == "two_same":
            words = ([rng.choice(SIZE_SYNONYMS[size_word])] if size_word else [])
            caption = "two " + " ".join(words + [c1, k1 + "s"])
        else:
            first, second = shapes if rng.random() < 0.5 else shapes[::-1]
            caption = (f"{_article(first.colour)} {first.colour} {first.kind} and "
                       f"{_article(second.colour)} {second.colour} {second.kind}")
    if named_bg:
        caption += _bg_phrase(rng, bg)
    for sh in shapes:
        sh.cx, sh.cy, sh.r = sh.cx * s, sh.cy * s, sh.r * s
    jitter = [tuple(rng.randint(-JITTER, JITTER) for _ in range(3)) for _ in range(1 + len(shapes))]
    return Scene(bg, shapes, caption, jitter)  # type: ignore[arg-type]


def render(scenes: list[Scene], size: int = 64, *, supersample: int = 4, jitter: bool = True,
           device: torch.device | str = "cpu") -> torch.Tensor:
    """Scenes -> float tensor (B, 3, size, size) in [-1, 1], anti-aliased by supersampling.
    The geometry is batched: a handful of tensors go to ``device`` whatever the batch size."""
    B, ss = len(scenes), supersample
    n = size * ss

    def rgb(name: str, j) -> np.ndarray:
        base = np.array(COLOURS[name], dtype=np.float32)
        if jitter and j is not None:
            base = base + np.array(j, dtype=np.float32)
        return np.clip(base, 0, 255) / 127.5 - 1.0

    bg = np.stack([rgb(sc.background, sc.jitter[0] if sc.jitter else None) for sc in scenes])
    # per slot (2): present, kind, cx, cy, r, rgb
    geo = np.zeros((2, B, 4), dtype=np.float32)
    cols = np.zeros((2, B, 3), dtype=np.float32)
    for i, sc in enumerate(scenes):
        for slot, sh in enumerate(sc.shapes[:2]):
            geo[slot, i] = (SHAPES.index(sh.kind) + 1, sh.cx, sh.cy, sh.r)
            cols[slot, i] = rgb(sh.colour, sc.jitter[1 + slot] if sc.jitter else None)
    geo_t = torch.from_numpy(geo).to(device).view(2, B, 4, 1, 1)
    cols_t = torch.from_numpy(cols).to(device).view(2, B, 3, 1, 1)
    out = torch.from_numpy(bg).to(device).view(B, 3, 1, 1).expand(B, 3, n, n).clone()
    coords = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / ss * (64.0 / size)
    y, x = coords.view(1, n, 1), coords.view(1, 1, n)
    for slot in range(2):
        kind, cx, cy, r = geo_t[slot, :, 0], geo_t[slot, :, 1], geo_t[slot, :, 2], geo_t[slot, :, 3]
        # geometry in 64-px units (scene coordinates are scaled to `size` by sample_scene)
        f = 64.0 / size
        cx, cy, r = cx * f, cy * f, r * f
        dx, dy = x - cx, y - cy
        circle = dx * dx + dy * dy <= r * r
        half = r * 0.886  # same area as the circle
        square = (dx.abs() <= half) & (dy.abs() <= half)
        height, half_base = 2.1 * r, 1.2 * r
        apex = cy - 0.55 * height
        base_y = cy + 0.45 * height
        tri = (y <= base_y) & (y >= apex) & (dx.abs() <= half_base * (y - apex) / height.clamp(min=1e-6))
        mask = torch.where(kind == 1, circle, torch.where(kind == 2, square, tri)) & (kind > 0)
        out = torch.where(mask.unsqueeze(1), cols_t[slot], out)
    if ss > 1:
        out = torch.nn.functional.avg_pool2d(out, ss)
    return out


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def eval_captions(n: int = 100, seed: int = 777) -> list[Scene]:
    """The held-out evaluation scenes: the first shape's (colour, shape, background) triple never
    occurs in training, and every caption names its background."""
    rng = random.Random(seed)
    return [sample_scene(rng, held_out="only") for _ in range(n)]


# --- detector ---------------------------------------------------------------------------------

_PALETTE = np.array([COLOURS[c] for c in COLOUR_NAMES], dtype=np.float32)


def nearest_colour(rgb: np.ndarray) -> str:
    d = ((_PALETTE - np.asarray(rgb, dtype=np.float32)[None]) ** 2).sum(1)
    return COLOUR_NAMES[int(d.argmin())]


@dataclass
class Detection:
    background: str
    colour: str | None  # of the largest object
    kind: str | None
    objects: int


def detect(img: np.ndarray, *, threshold: float = 70.0) -> Detection:
    """Background = palette colour nearest the median border pixel; objects = connected regions
    far from the background; the largest one's colour and shape (upright triangle: most of its
    mass in its lower half; square: fills its bounding box; else circle)."""
    from scipy import ndimage

    img = img.astype(np.float32)
    h, w, _ = img.shape
    b = max(1, h // 32)
    border = np.concatenate([img[:b].reshape(-1, 3), img[-b:].reshape(-1, 3),
                             img[:, :b].reshape(-1, 3), img[:, -b:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    background = nearest_colour(bg_rgb)
    fg = np.sqrt(((img - bg_rgb) ** 2).sum(-1)) > threshold
    labels, n = ndimage.label(fg)
    if n == 0:
        return Detection(background, None, None, 0)
    sizes = ndimage.sum(fg, labels, index=np.arange(1, n + 1))
    min_size = h * w / 200
    objects = int((sizes >= min_size).sum())
    big = int(sizes.argmax()) + 1
    if sizes[big - 1] < min_size:
        return Detection(background, None, None, 0)
    m = labels == big
    colour = nearest_colour(np.median(img[m], axis=0))
    ys, xs = np.nonzero(m)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fill = m.sum() / float((y1 - y0) * (x1 - x0))
    mid = (y0 + y1) / 2.0
    top, bottom = (ys + 0.5 < mid).sum(), (ys + 0.5 > mid).sum()
    asym = (bottom - top) / max(1.0, float(m.sum()))
    if asym > 0.2 and fill < 0.8:
        kind = "triangle"
    elif fill > 0.88:
        kind = "square"
    else:
        kind = "circle"
    return Detection(background, colour, kind, objects)


def score(scene: Scene, det: Detection) -> dict[str, bool]:
    return {
        "background": det.background == scene.background,
        "colour": det.colour in scene.colours,
        "shape": det.kind in scene.kinds,
    }
