"""The X/Y/Z plot's run over its axes (scripts/xyz_grid.py builds the axes and the cells): every
combination in the cheapest loop order, then the grids laid out with their titles; and the axes'
value formatters (A1111's names, which the script re-exports for extensions' own axes)."""
from __future__ import annotations

import logging
import os.path
from copy import copy
from typing import Callable

from PIL import Image

from sdwebui.engine.processing.processed import Processed
from sdwebui.services import runtime
from sdwebui.services.image_grids import plot_grids

logger = logging.getLogger(__name__)


def draw_xyz_grid(p, xs, ys, zs, x_labels, y_labels, z_labels, cell, draw_legend, include_lone_images,
                  include_sub_grids, first_axes_processed, second_axes_processed, margin_size):
    """Run `cell` for every combination (the costly axes outermost) and lay out the result: a grid per
    Z value (its cells x-fastest), then those grids side by side. Returns a Processed whose images and
    infotexts are [main grid, one per Z value, every cell]; a cell that made no image is left blank."""
    state = runtime.state
    count = len(xs) * len(ys) * len(zs)
    state.job_count = count * p.n_iter
    results: list[Processed | None] = [None] * count
    axes = {"x": list(enumerate(xs)), "y": list(enumerate(ys)), "z": list(enumerate(zs))}
    third = ({"x", "y", "z"} - {first_axes_processed, second_axes_processed}).pop()
    for a in axes[first_axes_processed]:
        for b in axes[second_axes_processed]:
            for c in axes[third]:
                at = {first_axes_processed: a, second_axes_processed: b, third: c}
                (ix, x), (iy, y), (iz, z) = at["x"], at["y"], at["z"]
                index = ix + iy * len(xs) + iz * len(xs) * len(ys)
                state.job = f"{index + 1} out of {count}"
                results[index] = cell(x, y, z, ix, iy, iz)
    made = [r for r in results if r is not None and r.images]
    if not made:
        logger.warning("X/Y/Z plot: no cell made an image")
        return Processed(p, [], infotexts=[])
    size = made[0].images[0].size
    cells = [r.images[0] if r is not None and r.images else Image.new("RGB", size) for r in results]
    infos = [r.infotexts[0] if r is not None and r.images and r.infotexts else "" for r in results]
    per_z = len(xs) * len(ys)
    main, sub_grids = plot_grids(cells, len(xs), len(ys), *((x_labels, y_labels, z_labels) if draw_legend
                                                                   else (None, None, None)), margin_size)
    result = copy(made[0])
    firsts = [(r.all_prompts[0], r.all_negative_prompts[0], r.all_seeds[0], r.all_subseeds[0])
              if r is not None and r.images else (p.prompt, p.negative_prompt, p.seed, p.subseed) for r in results]
    lead = [firsts[i * per_z] for i in range(len(zs))]
    rows = [firsts[0], *lead, *firsts]       # aligned with the images: main grid, Z grids, cells
    result.images = [main, *sub_grids, *cells]
    result.infotexts = [infos[0], *(infos[i * per_z] for i in range(len(zs))), *infos]
    result.all_prompts, result.all_negative_prompts, result.all_seeds, result.all_subseeds = map(list, zip(*rows))
    result.index_of_first_image = 1
    result.warnings = list(dict.fromkeys(w for r in results if r is not None for w in getattr(r, "warnings", [])))
    return result


def loop_order(costs: dict[str, float]) -> tuple[str, str]:
    """The outer and middle loop of the plot: the axis slowest to change (a checkpoint) outermost."""
    for a, b, c in (("x", "y", "z"), ("y", "x", "z"), ("z", "x", "y")):
        if costs[a] > costs[b] and costs[a] > costs[c]:
            return a, (b if costs[b] > costs[c] else c)
    return "z", "y"


def boolean_choice(reverse: bool = False) -> Callable[[], list[str]]:
    def choice():
        return ["False", "True"] if reverse else ["True", "False"]
    return choice


def _rounded(x):
    return round(x, 8) if isinstance(x, float) else x


def format_value_add_label(p, opt, x):
    return f"{opt.label}: {_rounded(x)}"


def format_value(p, opt, x):
    return _rounded(x)


def format_value_join_list(p, opt, x):
    return ", ".join(x)


def do_nothing(p, x, xs):
    pass


def format_nothing(p, opt, x):
    return ""


def format_remove_path(p, opt, x):
    return os.path.basename(x)
