"""Image encoding/metadata, file names and saving, checked against A1111's images.py behaviour."""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import threading

import pytest
from PIL import Image, PngImagePlugin

from sdwebui.engine.images import filenames, grids, infotext, metadata, writing

LONG = ("masterpiece, 猫の写真, 😀 emoji, Ünïcödé, \"quotes\" and \\backslash\\ " * 150).strip()
TEXT = infotext.build(LONG, "低品質, 😡", {"Steps": 20, "Sampler": "Euler a", "Seed": 1, "Size": "64x64",
                                          "Note": "a, b: c"})


def _img(color=(200, 10, 10), size=(16, 16), mode="RGB") -> Image.Image:
    return Image.new(mode, size, color if mode == "RGB" else color + (255,))


def _reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# ------------------------------------------------------------------------------------------------
# Metadata round trips
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "jpg", "jpeg", "webp", "gif", "avif"])
def test_round_trip_non_latin1_long_text(fmt):
    if fmt == "avif" and ".avif" not in Image.registered_extensions():
        pytest.skip("no AVIF support in this Pillow")
    data = metadata.encode_image(_img(), fmt, infotext=TEXT)
    im = _reopen(data)
    assert metadata.read_infotext(im) == TEXT
    text, items = metadata.read_info(im)
    assert text == TEXT and "exif" not in items and "parameters" not in items
    json.dumps(items)  # /png-info returns them as JSON
    assert infotext.parse(text)["Prompt"] == LONG


def test_png_latin1_uses_text_chunk_and_unicode_uses_itxt():
    raw = metadata.encode_image(_img(), "png", infotext="plain é text")
    assert b"tEXtparameters" in raw and b"iTXt" not in raw
    raw = metadata.encode_image(_img(), "png", infotext="猫")
    assert b"iTXtparameters" in raw
    assert metadata.read_infotext(_reopen(raw)) == "猫"


def test_rgba_to_jpeg_and_webp():
    for fmt in ("jpg", "webp"):
        im = _reopen(metadata.encode_image(_img(mode="RGBA"), fmt, infotext="x"))
        assert im.mode == "RGB" and metadata.read_infotext(im) == "x"


def test_exif_user_comment_layout_matches_piexif():
    """Stored in the Exif sub-IFD as b"UNICODE\\0" + UTF-16BE, which is what piexif writes and reads."""
    im = _reopen(metadata.encode_image(_img(), "jpg", infotext="héllo 猫"))
    exif = Image.Exif()
    exif.load(im.info["exif"])
    raw = exif.get_ifd(0x8769)[0x9286]
    assert raw == b"UNICODE\0" + "héllo 猫".encode("utf-16-be") == metadata.user_comment_bytes("héllo 猫")


def _jpeg_with_comment(raw_comment: bytes, *, in_ifd0: bool = False) -> Image.Image:
    exif = Image.Exif()
    if in_ifd0:
        exif[0x9286] = raw_comment
    else:
        exif.get_ifd(0x8769)[0x9286] = raw_comment
    buf = io.BytesIO()
    _img().save(buf, "JPEG", exif=exif.tobytes())
    return _reopen(buf.getvalue())


@pytest.mark.parametrize("raw, text", [
    (b"UNICODE\0" + "Steps: 20, 猫 😀".encode("utf-16-be"), "Steps: 20, 猫 😀"),
    (b"UNICODE\0" + "Steps: 20, 猫 😀".encode("utf-16-le"), "Steps: 20, 猫 😀"),  # other tools' byte order
    (b"UNICODE\0" + "\ufeffSteps: 1".encode("utf-16-le"), "Steps: 1"),  # with a BOM
    (b"UNICODE\0" + "\ufeffSteps: 1".encode("utf-16-be"), "Steps: 1"),
    (b"ASCII\0\0\0Steps: 1", "Steps: 1"),
    (b"\0" * 8 + b"Steps: 1", "Steps: 1"),  # "undefined" charset: read as UTF-8
])
def test_user_comment_encodings(raw, text):
    assert metadata.read_infotext(_jpeg_with_comment(raw)) == text
    assert metadata.decode_user_comment(raw) == text


def test_reads_comment_from_ifd0_of_older_files():
    assert metadata.read_infotext(_jpeg_with_comment(b"UNICODE\0" + "old".encode("utf-16-be"), in_ifd0=True)) == "old"


def test_no_metadata_and_items():
    assert metadata.read_info(_reopen(metadata.encode_image(_img(), "png"))) == (None, {})
    text, items = metadata.read_info(_reopen(metadata.encode_image(_img(), "jpg")))
    assert text is None and items == {}  # jfif/dpi container details are left out
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "p")
    info.add_text("Software", "tool")
    info.add_itxt("Title", "タイトル")
    buf = io.BytesIO()
    _img().save(buf, "PNG", pnginfo=info, dpi=(72, 72))
    text, items = metadata.read_info(_reopen(buf.getvalue()))
    assert text == "p" and items == {"Software": "tool", "Title": "タイトル"}
    assert type(items["Title"]) is str


def test_items_drop_binary_and_keep_json_safe():
    im = _img()
    im.info = {"parameters": "p", "blob": b"\x00\x01\xff", "text_bytes": b"GIF89a", "pair": (1, 2),
               "nested": {"a": b"\xff", "b": 1}}
    text, items = metadata.read_info(im)
    assert text == "p" and items == {"text_bytes": "GIF89a", "pair": [1, 2], "nested": {"b": 1}}


def test_novelai_png():
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "NovelAI")
    info.add_text("Description", "1girl")
    info.add_text("Comment", json.dumps({"uc": "bad", "steps": 28, "sampler": "k_euler_ancestral",
                                         "scale": 11, "seed": 42}))
    buf = io.BytesIO()
    _img().save(buf, "PNG", pnginfo=info)
    text, _ = metadata.read_info(_reopen(buf.getvalue()))
    assert text == ("1girl\nNegative prompt: bad\nSteps: 28, Sampler: Euler a, CFG scale: 11, Seed: 42, "
                    "Size: 16x16, Clip skip: 2, ENSD: 31337")


def test_encode_b64():
    import base64

    assert metadata.read_infotext(_reopen(base64.b64decode(metadata.encode_b64(_img(), "webp", infotext="w")))) == "w"
    with pytest.raises(ValueError):
        metadata.encode_image(_img(), "bmp")


# ------------------------------------------------------------------------------------------------
# File names
# ------------------------------------------------------------------------------------------------
NOW = datetime.datetime(2024, 7, 27, 13, 5, 9, tzinfo=datetime.timezone.utc)


def _gen(**values) -> filenames.FilenameGenerator:
    return filenames.FilenameGenerator(values, now=lambda: NOW)


def test_sanitize_filename_part():
    s = filenames.sanitize_filename_part
    assert s('a b#<>:"/\\|?*\n\r\tc') == "a_b" + "_" * 13 + "c"
    assert s("a b", replace_spaces=False) == "a b"
    assert s("  lead and trail. . ") == "__lead_and_trail._._"  # spaces become "_" before the stripping
    assert s("  lead and trail. . ", replace_spaces=False) == "lead and trail"
    assert s("x" * 300) == "x" * 128 and s("x" * 300, 10) == "x" * 10
    assert s('a:b/c', unix_only=True) == "a:b_c"
    assert s(None) is None


def test_basic_tokens():
    img = _img(size=(640, 384))
    g = _gen(seed=1234, steps=20, cfg=7.0, sampler="DPM++ 2M", scheduler="Automatic", model_hash="6ce0161689",
             model_name="v1-5 pruned", job_timestamp="20240727130509", clip_skip=2, denoising=0.75, user="bob/x",
             batch_size=1, image=img, styles=["None", "Cinematic: warm"], width=1, height=1)
    assert g.apply("[seed]-[steps]-[cfg]-[width]x[height]") == "1234-20-7.0-640x384"
    assert g.apply("[sampler]|[sampler_scheduler]|[scheduler]") == "DPM++ 2M|DPM++ 2M Karras|Karras"
    assert g.apply("[model_hash]-[model_name]-[job_timestamp]-[clip_skip]-[denoising]") == \
        "6ce0161689-v1-5 pruned-20240727130509-2-0.75"
    assert g.apply("[user]") == "bob_x"
    assert g.apply("[styles]") == "Cinematic_ warm"
    assert _gen().apply("[styles]") == "None"
    assert g.apply("[none]") == "" and g.apply("a[NONE]b") == "ab"
    assert _gen(sampler="Euler", scheduler="sgm uniform").apply("[scheduler]") == "Sgm uniform"
    assert _gen(sampler="Euler a", scheduler="Automatic").apply("[sampler_scheduler]") == "Euler a Automatic"
    assert _gen(width=8, height=9).apply("[width]x[height]") == "8x9"  # no image: the requested size


def test_unknown_missing_and_skip_tokens():
    g = _gen(seed=5, batch_size=1)
    assert g.apply("[foo]-[bar<x>]-[steps]") == "[foo]-[bar]-[steps]"  # kept, args dropped, as A1111
    assert g.apply("[seed]-[seed_last]") == "5"  # skip also drops the "-" before it
    assert g.apply("[seed_first]-[batch_number]-[generation_number]x") == "5x"
    assert _gen(denoising=0).apply("a-[denoising]") == ""
    g = _gen(seed=5, all_seeds=[5, 6, 7], batch_size=3, batch_number=2, generation_number=5, n_iter=2)
    assert g.apply("[seed_first]-[seed_last]-[batch_number]-[batch_size]-[generation_number]") == "5-7-2-3-5"
    assert _gen(seed=None).apply("[seed]") == ""


def test_prompt_tokens():
    prompt = "A cat, (best:1.2) quality/photo?\nsecond line with many more words here"
    g = _gen(prompt=prompt, negative_prompt="blurry")
    assert g.apply("[prompt]") == filenames.sanitize_filename_part(prompt)
    assert g.apply("[prompt]").startswith("A_cat,_(best_1.2)_quality_photo_")
    assert g.apply("[prompt_spaces]").startswith("A cat, (best_1.2) quality_photo_")
    assert g.apply("[prompt_words]") == "A cat best 1 2 quality photo second"  # first 8 words
    assert filenames.FilenameGenerator({"prompt": prompt}, max_prompt_words=2).apply("[prompt_words]") == "A cat"
    assert _gen(prompt="!!!").apply("[prompt_words]") == "empty"
    assert g.apply("[prompt_no_styles]") == g.apply("[prompt_spaces]")  # no styles: the whole prompt
    styled = _gen(prompt="a cat, masterpiece, best quality", style_prompts=["{prompt}, masterpiece", "best quality"])
    assert styled.apply("[prompt_no_styles]") == "a cat"
    assert _gen(prompt="x" * 300).apply("[prompt]") == "x" * 128
    assert _gen(prompt="a red cat").apply("[hasprompt<Red|blue><dog|nodog><>]") == "rednodog"
    assert _gen(prompt="a cat").apply("[hasprompt<dog>]") == ""


def test_hash_tokens():
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    img = _img()
    g = _gen(prompt="cat", negative_prompt="dog", image=img)
    assert g.apply("[prompt_hash]") == sha("cat")[:8]
    assert g.apply("[prompt_hash<12>]") == sha("cat")[:12]
    assert g.apply("[negative_prompt_hash<4>]") == sha("dog")[:4]
    assert g.apply("[full_prompt_hash]") == sha("cat dog")[:8]
    assert g.apply("[image_hash]") == hashlib.sha256(img.tobytes()).hexdigest()
    assert g.apply("[image_hash<6>]") == hashlib.sha256(img.tobytes()).hexdigest()[:6]
    assert g.apply("[prompt_hash<x>]") == "[prompt_hash]"  # a bad argument leaves the token, as A1111


def test_date_tokens():
    g = _gen()
    local = NOW.astimezone()
    assert g.apply("[date]") == NOW.strftime("%Y-%m-%d")
    assert g.apply("[datetime]") == local.strftime("%Y%m%d%H%M%S")
    assert g.apply("[datetime<%Y/%m/%d %H:%M>]") == local.strftime("%Y_%m_%d %H_%M")  # sanitised, spaces kept
    assert g.apply("[datetime<%H%M><UTC>]") == "1305"
    assert g.apply("[datetime<%H%M><Asia/Tokyo>]") == "2205"
    assert g.apply("[datetime<%H%M><Not/AZone>]") == local.strftime("%H%M")
    assert g.apply("[datetime<><UTC>]") == "20240727130509"


def test_vae_filename_and_basename():
    assert _gen().apply("[vae_filename]") == "NoneType"
    assert _gen(vae_filename="/m/VAE/kl-f8.vae.pt").apply("[vae_filename]") == "kl-f8"
    assert _gen(vae_filename=".hidden.pt").apply("[vae_filename]") == "hidden"
    assert _gen().apply("[basename]") == "img"


# ------------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------------
def _save(tmp_path, **kw):
    kw.setdefault("values", {"seed": 77, "prompt": "a cat"})
    kw.setdefault("infotext", "a cat\nSteps: 1, Seed: 77, Sampler: Euler")
    return writing.write_image(_img(), tmp_path, **kw)


def _no_temp_files(root) -> bool:
    return not [f for _, _, files in os.walk(root) for f in files if f.endswith(".tmp")]


def test_default_names_and_dirs(tmp_path):
    today = datetime.datetime.now().strftime("%Y-%m-%d")
    p = _save(tmp_path)
    assert p == tmp_path / today / "00000-77.png"
    assert metadata.read_infotext(Image.open(p)).startswith("a cat")
    p = _save(tmp_path, save_to_dirs=False)
    assert p == tmp_path / "00000-77-a cat.png"  # [seed]-[prompt_spaces] without dirs
    p = _save(tmp_path, save_to_dirs=True, dir_pattern="", values={"seed": 1, "prompt": "Red cat, (x) sits"})
    assert p.parent.name == "Red cat x sits"  # an empty dir pattern means [prompt_words]
    p = _save(tmp_path, dir_pattern="../../[seed]/sub", fmt="jpg")
    assert p == tmp_path / "77" / "sub" / "00000-77.jpg"  # stays inside the output folder
    assert _no_temp_files(tmp_path)


def test_numbering_increments_and_never_overwrites(tmp_path, monkeypatch):
    names = [_save(tmp_path, save_to_dirs=False, pattern="[seed]").name for _ in range(3)]
    assert names == ["00000-77.png", "00001-77.png", "00002-77.png"]
    (tmp_path / "00041.png").write_bytes(b"x")  # any name starting with a number counts
    (tmp_path / "notanumber-5.png").write_bytes(b"x")
    assert _save(tmp_path, save_to_dirs=False, pattern="[seed]").name == "00042-77.png"
    # another writer took the number between the scan and the write: the next free number is used
    monkeypatch.setattr(writing, "next_sequence_number", lambda folder, basename="": 0)
    p = _save(tmp_path, save_to_dirs=False, pattern="[seed]")
    assert p.name == "00003-77.png" and (tmp_path / "00000-77.png").stat().st_size > 10
    assert _no_temp_files(tmp_path)


def test_concurrent_saves_get_distinct_files(tmp_path):
    out: list = []
    threads = [threading.Thread(target=lambda: out.append(_save(tmp_path, save_to_dirs=False))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 8 and len(list(tmp_path.iterdir())) == 8


def test_add_number_off_and_forced_numbers(tmp_path):
    p = _save(tmp_path, save_to_dirs=False, pattern="[seed]", add_number=False)
    assert p.name == "77.png"
    assert _save(tmp_path, save_to_dirs=False, pattern="[seed]", add_number=False) == p  # "Replace"
    p2 = _save(tmp_path, save_to_dirs=False, pattern="[seed]", add_number=False, replace_action="Add number suffix")
    assert p2.name == "77-1.png"
    # as in A1111, "77.png" counts as number 77 for the next numbered file
    assert _save(tmp_path, save_to_dirs=False, pattern="[seed]").name == "00078-77.png"
    other = tmp_path / "other"
    # an empty decoration forces the number even with add_number False
    assert _save(other, save_to_dirs=False, pattern="[none]", add_number=False).name == "00000.png"
    assert _save(other, save_to_dirs=False, values={"seed": None}).name == "00001.png"
    assert _save(other, save_to_dirs=False, forced_filename="fixed").name == "fixed.png"
    assert _save(other, save_to_dirs=False, pattern="a/b[seed]").name == "00002-a_b77.png"
    assert _no_temp_files(tmp_path)


def test_save_txt_sidecar(tmp_path):
    p = _save(tmp_path, save_to_dirs=False, save_txt=True, fmt="webp")
    assert p.suffix == ".webp"
    assert p.with_suffix(".txt").read_text(encoding="utf-8") == "a cat\nSteps: 1, Seed: 77, Sampler: Euler\n"
    assert not _save(tmp_path, save_to_dirs=False, infotext=None, save_txt=True).with_suffix(".txt").exists()


def test_oversized_webp_falls_back_to_png(tmp_path):
    p = writing.write_image(Image.new("RGB", (16384, 1)), tmp_path, values={"seed": 1}, infotext="x",
                          fmt="webp", save_to_dirs=False)
    assert p.suffix == ".png" and metadata.read_infotext(Image.open(p)) == "x"


def test_grid_names(tmp_path):
    grid = grids.image_grid([_img()] * 4)
    p1 = writing.save_grid(grid, tmp_path, values={"seed": 5, "prompt": "x"}, infotext="g", save_to_dirs=False)
    p2 = writing.save_grid(grid, tmp_path, values={"seed": 5, "prompt": "x"}, infotext="g", save_to_dirs=False)
    assert (p1.name, p2.name) == ("grid-0000.png", "grid-0001.png")
    _save(tmp_path, save_to_dirs=False)  # sample numbering ignores grid files and vice versa
    assert sorted(f.name for f in tmp_path.iterdir())[0] == "00000-77-a cat.png"
    p3 = writing.save_grid(grid, tmp_path, values={"seed": 5, "prompt": "x"}, infotext="g", save_to_dirs=False,
                          extended_filename=True, pattern="[seed]")
    assert p3.name == "grid-0002-5.png"


@pytest.mark.parametrize("count, rows, cols", [
    (1, 1, 1), (2, 1, 2), (3, 2, 2), (4, 2, 2), (5, 2, 3), (6, 2, 3), (7, 3, 3), (8, 3, 3), (9, 3, 3),
])
def test_grid_layout(count, rows, cols):
    grid = grids.image_grid([_img(size=(10, 6))] * count)
    assert grid.size == (cols * 10, rows * 6)
    assert grids.grid_rows(count) == rows


def test_grid_options_and_centering():
    imgs = [_img(size=(10, 10))] * 6
    assert grids.image_grid(imgs, n_rows=3).size == (20, 30)
    assert grids.image_grid(imgs, batch_size=6, n_rows=0).size == (10, 60)
    assert grids.image_grid(imgs, rows=10).size == (10, 60)  # rows never exceed the count
    assert grids.grid_rows(7, prevent_empty_spots=True) == 1 and grids.grid_rows(8, prevent_empty_spots=True) == 2
    grid = grids.image_grid([_img((255, 0, 0), (10, 10)), _img((0, 0, 255), (4, 4))], rows=1)
    assert grid.size == (20, 10)
    assert grid.getpixel((15, 5)) == (0, 0, 255) and grid.getpixel((11, 1)) == (255, 255, 255)
    with pytest.raises(ValueError):
        grids.image_grid([])


def test_jpeg_too_long_infotext_is_left_out(caplog):
    text = "x" * 33000  # UTF-16 does not fit one 64 KiB JPEG segment
    im = _reopen(metadata.encode_image(_img(), "jpg", infotext=text))
    assert metadata.read_infotext(im) is None and "too long" in caplog.text
    assert metadata.read_infotext(_reopen(metadata.encode_image(_img(), "webp", infotext=text))) == text
