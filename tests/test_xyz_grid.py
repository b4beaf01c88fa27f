"""A1111's built-in X/Y/Z plot (scripts/xyz_grid.py) through the API with A1111's positional script_args:
its listing, the axes' indices per tab, the images and infotexts, the grid's size, the Z axis, range
syntax, axes added by extensions, progress and interrupt."""
from __future__ import annotations

import base64
import io
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

from sdwebui.services.plot_values import expand_ranges

SMALL = {"width": 64, "height": 64, "steps": 1, "cfg_scale": 7, "prompt": "a red cat", "seed": 5,
         "sampler_name": "Euler"}

# A1111 1.10's axes, in the order whose positions API clients send
A1111_TXT2IMG = [
    "Nothing", "Seed", "Var. seed", "Var. strength", "Steps", "Hires steps", "CFG Scale", "Prompt S/R", "Prompt order",
    "Sampler", "Hires sampler", "Checkpoint name", "Negative Guidance minimum sigma", "Sigma Churn", "Sigma min",
    "Sigma max", "Sigma noise", "Schedule type", "Schedule min sigma", "Schedule max sigma", "Schedule rho",
    "Beta schedule alpha", "Beta schedule beta", "Eta", "Clip skip", "Denoising", "Initial noise multiplier",
    "Extra noise", "Hires upscaler", "VAE", "Styles", "UniPC Order", "Face restore", "Token merging ratio",
    "Token merging ratio high-res", "Always discard next-to-last sigma", "SGM noise multiplier", "Refiner checkpoint",
    "Refiner switch at", "RNG source", "FP8 mode", "Size"]
A1111_IMG2IMG = [
    "Nothing", "Seed", "Var. seed", "Var. strength", "Steps", "CFG Scale", "Image CFG Scale", "Prompt S/R",
    "Prompt order", "Sampler", "Checkpoint name", "Negative Guidance minimum sigma", "Sigma Churn", "Sigma min",
    "Sigma max", "Sigma noise", "Schedule type", "Schedule min sigma", "Schedule max sigma", "Schedule rho",
    "Beta schedule alpha", "Beta schedule beta", "Eta", "Clip skip", "Denoising", "Initial noise multiplier",
    "Extra noise", "Cond. Image Mask Weight", "VAE", "Styles", "UniPC Order", "Face restore", "Token merging ratio",
    "Token merging ratio high-res", "Always discard next-to-last sigma", "SGM noise multiplier", "Refiner checkpoint",
    "Refiner switch at", "RNG source", "FP8 mode", "Size"]
T = {label: i for i, label in enumerate(A1111_TXT2IMG)}
I2I = {label: i for i, label in enumerate(A1111_IMG2IMG)}


def args(x=(0, ""), y=(0, ""), z=(0, ""), *, legend=True, lone=False, sub_grids=False, keep_seeds=False,
         vary=(False, False, False), margin=0, csv_mode=False, x_dropdown=None) -> list:
    """A1111's script_args of the X/Y/Z plot, in its order."""
    return [x[0], x[1], x_dropdown or [], y[0], y[1], [], z[0], z[1], [], legend, lone, sub_grids, keep_seeds, *vary,
            margin, csv_mode]


def plot(api, script_args: list, route: str = "txt2img", status: int = 200, **fields):
    r = api.post(f"/sdapi/v1/{route}", json={**SMALL, **fields, "script_name": "x/y/z plot",
                                               "script_args": script_args})
    assert r.status_code == status, r.text
    return r.json()


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def xyz_module():
    """The script's module, found as extensions find it (sd-webui-controlnet's find_module)."""
    from modules import scripts

    return next(d.module for d in scripts.scripts_data if d.script_class.__module__ in ("xyz_grid.py", "xy_grid.py"))


# --- unit: range syntax ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, kind, expected", [
    ("1-5", int, [1, 2, 3, 4, 5]),
    ("1-5 (+2)", int, [1, 3, 5]),
    ("1-6 (+2)", int, [1, 3, 5]),
    ("10-1 (-3)", int, [10, 7, 4, 1]),
    ("5-1", int, [5, 4, 3, 2, 1]),
    ("1-10 [5]", int, [1, 3, 5, 7, 10]),
    ("-2-2", int, [-2, -1, 0, 1, 2]),
    ("0.5-1.5 (+0.25)", float, [0.5, 0.75, 1.0, 1.25, 1.5]),
    ("0-1 (+0.1)", float, [round(i / 10, 10) for i in range(11)]),
    ("1-2 [3]", float, [1.0, 1.5, 2.0]),
    ("1-3", float, [1.0, 2.0, 3.0]),
    ("1-5 (-1)", int, []),
    ("7", int, ["7"]),
    ("-0.5", float, ["-0.5"]),
    ("1e-3", float, ["1e-3"]),
])
def test_range_syntax(text, kind, expected):
    assert expand_ranges([text], kind) == expected


def test_ranges_mix_with_values_and_blanks_drop():
    assert expand_ranges(["1-3", " ", "8", "10-12 (+2)"], int) == [1, 2, 3, "8", 10, 12]


# --- listing and indices -----------------------------------------------------------------------------
def test_listed_with_a1111_title_and_argument_order(api):
    listed = api.get("/sdapi/v1/scripts").json()
    assert "x/y/z plot" in listed["txt2img"] and "x/y/z plot" in listed["img2img"]
    info = {(i["name"], i["is_img2img"]): i for i in api.get("/sdapi/v1/script-info").json()}
    t2i, i2i = info[("x/y/z plot", False)], info[("x/y/z plot", True)]
    assert t2i["is_alwayson"] is False
    assert [a["label"] for a in t2i["args"]] == [
        "X type", "X values", "X values", "Y type", "Y values", "Y values", "Z type", "Z values", "Z values",
        "Draw legend", "Include Sub Images", "Include Sub Grids", "Keep -1 for seeds", "Vary seeds for X",
        "Vary seeds for Y", "Vary seeds for Z", "Grid margins (px)", "Use text inputs instead of dropdowns"]
    assert [a["value"] for a in t2i["args"]][9:] == [True, False, False, False, False, False, False, 0, False]
    assert t2i["args"][0]["choices"] == A1111_TXT2IMG and t2i["args"][0]["value"] == "Seed"
    assert i2i["args"][0]["choices"] == A1111_IMG2IMG and i2i["args"][3]["value"] == "Nothing"
    assert t2i["args"][16]["maximum"] == 500 and t2i["args"][16]["step"] == 2


def test_axis_lists_are_a1111s_per_tab(api):
    xyz = xyz_module()
    assert [o.label for o in xyz.options_for(False)] == A1111_TXT2IMG
    assert [o.label for o in xyz.options_for(True)] == A1111_IMG2IMG
    for name in ("AxisOption", "AxisOptionImg2Img", "AxisOptionTxt2Img", "axis_options", "apply_field",
                 "apply_override", "boolean_choice", "format_value", "format_value_add_label",
                 "format_value_join_list", "str_permutations", "list_to_csv_string", "csv_string_to_list_strip",
                 "draw_xyz_grid", "SharedSettingsStackHelper", "re_range", "AxisInfo"):
        assert hasattr(xyz, name), name


# --- images, infotexts, grid size --------------------------------------------------------------------------
def test_xy_plot_cells_infotexts_and_grid_layout(api):
    out = plot(api, args((T["Steps"], "1-2"), (T["CFG Scale"], "3, 7.5"), legend=False, lone=True))
    info = json.loads(out["info"])
    assert len(out["images"]) == 1 + 4 and len(info["infotexts"]) == 1 + 4
    grid, cells = decode(out["images"][0]), [decode(b) for b in out["images"][1:]]
    assert grid.size == (128, 128) and all(c.size == (64, 64) for c in cells)
    # cells x-fastest: (steps 1, cfg 3), (2, 3), (1, 7.5), (2, 7.5); the grid shows them in that layout
    for i, (steps, cfg) in enumerate([(1, 3.0), (2, 3.0), (1, 7.5), (2, 7.5)]):
        text = info["infotexts"][1 + i]
        assert f"Steps: {steps}," in text and f"CFG scale: {cfg}," in text and "Seed: 5," in text
        crop = grid.crop((64 * (i % 2), 64 * (i // 2), 64 * (i % 2) + 64, 64 * (i // 2) + 64))
        assert np.array_equal(np.asarray(crop.convert("RGB")), np.asarray(cells[i].convert("RGB")))
    assert not np.array_equal(np.asarray(cells[0]), np.asarray(cells[1]))
    grid_text = info["infotexts"][0]
    for part in ("Script: X/Y/Z plot", "X Type: Steps", "X Values: 1-2", "Y Type: CFG Scale", 'Y Values: "3, 7.5"'):
        assert part in grid_text, (part, grid_text)
    assert "Z Type" not in grid_text and info["index_of_first_image"] == 1
    assert decode(out["images"][0]).info["parameters"] == grid_text


def test_grid_size_follows_cells_margin_and_legend(api):
    base = args((T["Steps"], "1-3"), (T["Seed"], "1, 2"))
    legend = decode(plot(api, base)["images"][0])
    pad_left = 64 * 3 // 4
    assert legend.width == 3 * 64 + pad_left
    assert 2 * 64 + 64 // 25 < legend.height < 2 * 64 + 64      # one line of titles on top
    margin = decode(plot(api, args((T["Steps"], "1-3"), (T["Seed"], "1, 2"), margin=10))["images"][0])
    assert margin.size == (legend.width + 2 * 10, legend.height + 10)
    bare = decode(plot(api, args((T["Steps"], "1-3"), (T["Seed"], "1, 2"), legend=False, margin=6))["images"][0])
    assert bare.size == (3 * 64 + 2 * 6, 2 * 64 + 6)
    # the space between the cells is the background colour
    assert bare.convert("RGB").getpixel((64 + 3, 10)) == (255, 255, 255)


def test_z_axis_makes_a_grid_of_grids(api):
    out = plot(api, args((T["Seed"], "1, 2"), (0, ""), (T["CFG Scale"], "4, 9"), legend=False, sub_grids=True,
                         lone=True))
    info = json.loads(out["info"])
    assert len(out["images"]) == 1 + 2 + 4 and len(info["infotexts"]) == 7 and len(info["all_seeds"]) == 7
    main, sub1, sub2 = (decode(b) for b in out["images"][:3])
    assert sub1.size == sub2.size == (128, 64) and main.size == (256, 64)
    assert np.array_equal(np.asarray(main.crop((128, 0, 256, 64)).convert("RGB")), np.asarray(sub2.convert("RGB")))
    assert "Z Type: CFG Scale" in info["infotexts"][0] and 'Fixed X Values: "1, 2"' in info["infotexts"][0]
    assert "X Type: Seed" in info["infotexts"][2] and "Z Type" not in info["infotexts"][2]
    assert "CFG scale: 9.0" in info["infotexts"][2] and "CFG scale: 4.0" in info["infotexts"][1]
    assert info["all_seeds"][3:] == [1, 2, 1, 2]
    # without sub grids and lone images: the main grid only, the cells' infotexts still listed
    out = plot(api, args((T["Seed"], "1, 2"), (0, ""), (T["CFG Scale"], "4, 9")))
    info = json.loads(out["info"])
    assert len(out["images"]) == 1 and len(info["infotexts"]) == 1 + 4
    titled = decode(out["images"][0])
    assert titled.width == 256 and titled.height > 64     # Z titles above, X titles above each sub grid


def test_seeds_fixed_kept_or_varied(api):
    info = json.loads(plot(api, args((T["Steps"], "1, 2"), vary=(True, False, False)), seed=100)["info"])
    assert info["all_seeds"][1:] == [100, 101]
    info = json.loads(plot(api, args((T["Seed"], "-1, -1")), seed=-1)["info"])
    seeds = info["all_seeds"][1:]
    assert -1 not in seeds and f'Fixed X Values: "{seeds[0]}, {seeds[1]}"' in info["infotexts"][0]
    info = json.loads(plot(api, args((T["Seed"], "-1"), keep_seeds=True))["info"])
    assert "Fixed X Values" not in info["infotexts"][0]


def test_choices_axes_dropdown_and_csv_modes(api):
    dropdown = args((T["Sampler"], ""), x_dropdown=["Euler", "DDIM"])
    info = json.loads(plot(api, dropdown)["info"])
    assert "Sampler: Euler," in info["infotexts"][1] and "Sampler: DDIM," in info["infotexts"][2]
    assert "X Values: \"Euler,DDIM\"" in info["infotexts"][0] or "X Values: Euler,DDIM" in info["infotexts"][0]
    csv_mode = args((T["Sampler"], "DDIM, Euler"), x_dropdown=["Euler"], csv_mode=True)
    info = json.loads(plot(api, csv_mode)["info"])
    assert "Sampler: DDIM," in info["infotexts"][1] and len(info["infotexts"]) == 3
    # a label instead of an index, and the prompt axes
    info = json.loads(plot(api, args(("Prompt S/R", "red, blue")))["info"])
    assert "a red cat" in info["infotexts"][1] and "a blue cat" in info["infotexts"][2]
    info = json.loads(plot(api, args((T["Prompt order"], "red, cat")))["info"])
    assert info["infotexts"][1].startswith("a red cat") and info["infotexts"][2].startswith("a cat red")


def test_img2img_indices_differ_as_a1111s(api):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    init = base64.b64encode(buf.getvalue()).decode()
    # position 5 is CFG Scale on img2img (Hires steps on txt2img)
    info = json.loads(plot(api, args((I2I["CFG Scale"], "3, 5")), route="img2img", init_images=[init],
                           denoising_strength=0.5)["info"])
    assert I2I["CFG Scale"] == 5 == T["Hires steps"]
    assert "CFG scale: 3.0" in info["infotexts"][1] and "CFG scale: 5.0" in info["infotexts"][2]
    assert "X Type: CFG Scale" in info["infotexts"][0]


def test_bad_arguments_answer_422_naming_the_position(api):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "x/y/z plot", "script_args": args((99, "1"))})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "script_args", "0"]
    assert "Steps" in r.text
    detail = plot(api, args((T["Steps"], "one, two")), status=422)["detail"][0]
    assert detail["loc"] == ["body", "script_args", "1"] and "Steps" in detail["msg"]
    detail = plot(api, args((0, ""), (T["Sampler"], "Nope"), csv_mode=True), status=422)["detail"][0]
    assert detail["loc"] == ["body", "script_args", "4"] and "Euler a" in detail["msg"]
    detail = plot(api, args(("Prompt S/R", "green, blue")), status=422)["detail"][0]
    assert "green" in detail["msg"]
    assert "x_type" in plot(api, args(("No such axis", "1")), status=422)["detail"][0]["msg"]


def test_an_extension_adds_an_axis(api):
    xyz = xyz_module()

    def apply(p, x, xs):
        p.extra_generation_params["Test axis"] = x

    xyz.axis_options.append(xyz.AxisOption("[Test] Value", int, apply))
    try:
        index = len(xyz.options_for(False)) - 1
        info = json.loads(plot(api, args((index, "4-5")))["info"])
        assert "Test axis: 4" in info["infotexts"][1] and "Test axis: 5" in info["infotexts"][2]
        assert "X Type: [Test] Value" in info["infotexts"][0]
    finally:
        xyz.axis_options.pop()


def test_grid_saved_with_grid_format(api, data_dir):
    folder = data_dir / "outputs" / "txt2img-grids"
    before = set(folder.rglob("*xyz_grid*")) if folder.exists() else set()
    assert api.post("/sdapi/v1/options", json={"grid_format": "jpg"}).status_code == 200
    try:
        plot(api, args((T["Steps"], "1, 2")))
    finally:
        api.post("/sdapi/v1/options", json={"grid_format": "png"})
    new = set(folder.rglob("*xyz_grid*")) - before
    assert len(new) == 1 and next(iter(new)).suffix == ".jpg"


def run_in_thread(api, script_args: list) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run():
        result["r"] = api.post("/sdapi/v1/txt2img", json={**SMALL, "script_name": "x/y/z plot",
                                                          "script_args": script_args})

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_10x10_plot_runs_to_the_end_with_progress_per_cell(api, capfd):
    thread, result = run_in_thread(api, args((T["Seed"], "1-10"), (T["CFG Scale"], "1-10"), legend=False))
    seen = []
    while thread.is_alive():
        state = api.get("/sdapi/v1/progress").json()["state"]
        if state["job_count"] == 100:
            seen.append(state["job_no"])
        time.sleep(0.05)
    thread.join()
    assert result["r"].status_code == 200, result["r"].text
    info = json.loads(result["r"].json()["info"])
    assert decode(result["r"].json()["images"][0]).size == (640, 640)
    assert len(info["infotexts"]) == 101 and "CFG scale: 10.0" in info["infotexts"][100]
    # the cells advance job_no one by one (polled: some are missed, none goes back)
    assert seen == sorted(seen) and len(set(seen)) >= 5 and seen[-1] >= 50, seen
    # the whole plot's console bar: 100 cells of one step
    err = capfd.readouterr().err
    assert "Total progress" in err and "100/100" in err


def test_interrupt_returns_the_grid_of_the_cells_made(api):
    thread, result = run_in_thread(api, args((T["Seed"], "1-6"), (T["CFG Scale"], "1-6"), legend=False))
    deadline = time.time() + 120
    while time.time() < deadline and thread.is_alive():
        state = api.get("/sdapi/v1/progress").json()["state"]
        if state["job_count"] == 36 and state["job_no"] >= 3:
            break
        time.sleep(0.02)
    assert api.post("/sdapi/v1/interrupt").json() == {}
    thread.join(120)
    assert result["r"].status_code == 200, result["r"].text
    info = json.loads(result["r"].json()["info"])
    grid = decode(result["r"].json()["images"][0])
    assert grid.size == (6 * 64, 6 * 64)
    made = [t for t in info["infotexts"][1:] if t]
    assert 3 <= len(made) < 36 and "Seed: 1," in made[0]
    # the cells not made are blank (black)
    assert grid.convert("RGB").getpixel((6 * 64 - 32, 6 * 64 - 32)) == (0, 0, 0)


# --- grids: the settings -----------------------------------------------------------------------------
def test_titles_use_the_colour_settings_and_the_shipped_font(caplog):
    from sdwebui.engine.images.grid_annotations import DEFAULT_FONT, GridAnnotation, GridStyle, draw_grid_annotations

    assert DEFAULT_FONT.is_file() and (DEFAULT_FONT.parent / "LiberationSans-LICENSE.txt").is_file()
    cells = Image.new("RGB", (2 * 100, 100), (0, 0, 0))
    style = GridStyle(font="/no/such/font.ttf", text_active="#ff0000", text_inactive="#00ff00", background="#0000ff")
    out = draw_grid_annotations(cells, 100, 100, [[GridAnnotation("Steps: 20")], [GridAnnotation("off", False)]],
                                [[GridAnnotation()]], margin=0, style=style)
    assert "does not load" in caplog.text      # a bad font setting falls back to the shipped font
    assert out.width == 200 and out.height > 100 and out.getpixel((0, 0)) == (0, 0, 255)
    top = np.asarray(out.crop((0, 0, 200, out.height - 100)))
    r, g, b = (top[..., i].astype(int) for i in range(3))
    red, green = (r > 150) & (g < 80) & (b < 100), (g > 150) & (r < 80) & (b < 100)   # text is antialiased
    assert red[:, :100].any() and not red[:, 100:].any()     # the active title over the first column
    assert green[:, 100:].sum() > 20 and not green[:, :100].any()   # the struck-through one over the second


def test_batch_grid_follows_rows_empty_spots_and_background_settings(api):
    def grid(**overrides):
        # A1111's API makes the batch's grid only when it saves images
        out = api.post("/sdapi/v1/txt2img", json={**SMALL, "batch_size": 3, "save_images": True,
                                                  "override_settings": overrides})
        assert out.status_code == 200, out.text
        return decode(out.json()["images"][0])

    sparse = grid(return_grid=True, n_rows=2, grid_background_color="#ff0000")
    assert sparse.size == (128, 128) and sparse.convert("RGB").getpixel((100, 100)) == (255, 0, 0)
    assert grid(return_grid=True, n_rows=-1).size == (128, 128)          # round(sqrt(3)) rows
    assert grid(return_grid=True, n_rows=-1, grid_prevent_empty_spots=True).size == (192, 64)
