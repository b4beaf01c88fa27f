"""The Extra Networks pages' HTML and routes without a browser: cards, hidden folders, the options'
order and description rules, the tree and folder views, single cards and cover images, the user
metadata files, and the Lora editor's reading of training metadata."""
from __future__ import annotations

import base64
import io
import json
import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from sdwebui.interfaces.ui import extra_networks, extra_networks_html
from sdwebui.interfaces.ui.extra_networks_metadata import save_preview_image, write_atomically


class FilePage(extra_networks.ExtraNetworksPage):
    """A page of the `.thing` files under one folder (as an extension's page would be)."""

    def __init__(self, folder):
        super().__init__("My Things")
        self.folder = str(folder)

    def create_item(self, name, index=None, enable_filter=True):
        path = os.path.join(self.folder, name + ".thing")
        if not os.path.exists(path):
            for root, _, files in os.walk(self.folder):
                if name + ".thing" in files:
                    path = os.path.join(root, name + ".thing")
        if not os.path.exists(path):
            return None
        stem = os.path.splitext(path)[0]
        return {"name": name, "filename": path, "shorthash": None, "preview": self.find_preview(stem),
                "description": self.find_description(stem), "search_terms": [self.search_terms_from_path(path)],
                "prompt": extra_networks.quote_js(f"<thing:{name}:1>"), "local_preview": stem + ".png",
                "metadata": {"ss_cover": "yes"} if name == "b" else {},
                "sort_keys": {"default": index, **self.get_sort_keys(path)}}

    def list_items(self):
        names = sorted(os.path.splitext(f)[0] for _, _, files in os.walk(self.folder) for f in files
                       if f.endswith(".thing"))
        for i, name in enumerate(names):
            item = self.create_item(name, i)
            if item:
                yield item

    def allowed_directories_for_previews(self):
        return [self.folder]


@pytest.fixture
def things(tmp_path, monkeypatch):
    folder = tmp_path / "things"
    (folder / "sub").mkdir(parents=True)
    (folder / ".secret").mkdir()
    for rel in ("b.thing", "a.thing", "sub/c.thing", ".secret/d.thing"):
        (folder / rel).write_bytes(b"x")
    (folder / "a.txt").write_text("<b>bold</b> words")
    values = dict(extra_networks_html._DEFAULTS)
    monkeypatch.setattr(extra_networks_html, "opt", values.__getitem__)
    saved = list(extra_networks.extra_pages)
    page = FilePage(folder)
    extra_networks.register_page(page)
    yield page, values
    extra_networks.extra_pages[:] = saved


def card_names(html: str) -> list[str]:
    import re

    return re.findall(r'<div class="card" [^>]*data-name="([^"]+)"', html)


def test_cards_folders_and_hidden_files(things):
    page, values = things
    html = page.create_html("txt2img")
    assert card_names(html) == ["a", "b", "c", "d"]            # "Path" order: the list's own
    assert "cardClicked(&#x27;txt2img&#x27;, &quot;&lt;thing:a:1&gt;&quot;" in html
    # a file in a dot folder is found only by searching (a search_only term); "Never" leaves it out
    assert "search_terms search_only" in html[html.index('data-name="d"'):]
    assert "search_only" not in html[:html.index('data-name="d"')]
    values["extra_networks_hidden_models"] = "Never"
    assert card_names(page.create_html("txt2img")) == ["a", "b", "c"]
    values["extra_networks_hidden_models"] = "Always"
    assert "search_only" not in page.create_html("txt2img")
    # the folder buttons: all, sub/ and the dot folder unless hidden folders are not shown
    dirs = page.create_dirs_view_html("txt2img")
    assert "search-all" in dirs and "all</button>" in dirs
    assert "sub/" in dirs and ".secret/" in dirs
    values["extra_networks_show_hidden_directories"] = False
    assert ".secret" not in page.create_dirs_view_html("txt2img")
    # only a card with metadata gets the metadata button
    b_card = html[html.index('data-name="b"'):].split('data-name="c"')[0]
    a_card = html[html.index('data-name="a"'):].split('data-name="b"')[0]
    assert "metadata-button" in b_card and "metadata-button" not in a_card


def test_order_description_and_card_size_options(things):
    page, values = things
    values.update(extra_networks_card_order_field="Name", extra_networks_card_order="Descending")
    html = page.create_html("img2img")
    assert card_names(html) == ["d", "c", "b", "a"]
    assert 'id="img2img_my_things_extra_sort_name" class="extra-network-control--sort extra-network-control--enabled"' in html
    assert 'data-sortdir="Descending"' in html
    assert "&lt;b&gt;bold&lt;/b&gt; words" in html                    # escaped by default
    values["extra_networks_card_description_is_html"] = True
    assert "<b>bold</b> words" in page.create_html("img2img")
    values["extra_networks_card_show_desc"] = False
    assert "bold" not in page.create_html("img2img")
    values.update(extra_networks_card_width=150, extra_networks_card_height=200, extra_networks_card_text_scale=1.5)
    assert 'style="height: 200px;width: 150px;font-size: 150.0%;"' in page.create_html("img2img")
    values["extra_networks_tree_view_default_enabled"] = False
    assert "extra-network-pane extra-network-dirs-hidden" in page.create_html("img2img")


def test_tree_view(things):
    page, values = things
    values["extra_networks_tree_view_style"] = "Tree"
    html = page.create_html("txt2img")
    assert 'id="txt2img_my_things_tree"' in html and "tree-list--tree" in html
    tree = page.create_tree_view_html("txt2img")
    # the root folder, its sub folder (before the files), and each file with the card's action
    import re

    labels = re.findall(r'tree-list-item-label--truncate">([^<]*)</span>', tree)
    assert labels == ["things", ".secret", "d", "sub", "c", "a", "b"]
    assert tree.count("data-tree-entry-type='file'") == 4
    assert tree.count("data-tree-entry-type='dir'") == 3       # things, .secret, sub


def test_single_card_cover_images_and_thumbnails(things, tmp_path):
    page, _ = things
    page.refresh_items()
    cover = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 255, 0)).save(cover, format="PNG")
    page.metadata["a"] = {"ssmd_cover_images": json.dumps([base64.b64encode(cover.getvalue()).decode()])}
    app = FastAPI()
    extra_networks.add_pages_to_demo(app)
    client = TestClient(app)
    r = client.get("/sd_extra_networks/get-single-card", params={"page": "My Things", "tabname": "txt2img",
                                                                "name": "a"})
    assert r.status_code == 200 and card_names(r.json()["html"]) == ["a"]
    assert client.get("/sd_extra_networks/get-single-card",
                      params={"page": "my_things", "tabname": "txt2img", "name": "zzz"}).status_code == 404
    r = client.get("/sd_extra_networks/cover-images", params={"page": "my_things", "item": "a", "index": 0})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).getpixel((0, 0)) == (0, 255, 0)
    assert client.get("/sd_extra_networks/cover-images", params={"page": "my_things", "item": "a",
                                                                 "index": 3}).status_code == 404
    Image.new("RGB", (2, 2)).save(page.folder + "/a.png")
    assert client.get("/sd_extra_networks/thumb", params={"filename": page.folder + "/a.png"}).status_code == 200
    outside = tmp_path / "elsewhere.png"
    Image.new("RGB", (2, 2)).save(outside)
    assert client.get("/sd_extra_networks/thumb", params={"filename": str(outside)}).status_code == 403
    r = client.get("/sd_extra_networks/metadata", params={"page": "my things", "item": "b"})
    assert json.loads(r.json()["metadata"]) == {"ss_cover": "yes"}


def test_preview_and_metadata_writes(tmp_path, monkeypatch):
    target = tmp_path / "card.json"
    target.write_text('{"old": true}')

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomically(str(target), b'{"new": true}')
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]       # no temporary file left
    write_atomically(str(target), b'{"new": true}')
    assert json.loads(target.read_text()) == {"new": True}

    first, second = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    second.info["parameters"] = "a blue square\nSteps: 5"
    save_preview_image([(first, None), (second, None)], "7", str(tmp_path / "card.png"))   # clamped to the last
    saved = Image.open(tmp_path / "card.png")
    assert saved.convert("RGB").getpixel((0, 0)) == (0, 0, 255) and saved.info["parameters"].startswith("a blue")


def test_lora_editor_reads_training_metadata():
    import sys
    from pathlib import Path

    lora_dir = str(Path(__file__).resolve().parents[1] / "extensions-builtin" / "Lora")
    sys.path.insert(0, lora_dir)
    try:
        from ui_edit_user_metadata import LoraUserMetadataEditor, build_tags
    finally:
        sys.path.remove(lora_dir)
    assert build_tags({"ss_tag_frequency": {"a": {"fox": 3, " tree": 1}, "b": {"fox": 2}}}) == [("fox", 5), ("tree", 1)]
    # captions (long texts) are counted by their words of 3 letters or more
    captions = {"ss_tag_frequency": {"x": {"a photo of a red fox in the snow": 2, "a red fox sleeping at home": 1}}}
    tags = dict(build_tags(captions))
    assert tags["red"] == 3 and tags["fox"] == 3 and "a" not in tags and "of" not in tags
    assert LoraUserMetadataEditor.generate_random_prompt_from_tags([("(most)", 10)]) == "\\(most\\)"

    class Page:
        items = {"x": {"filename": __file__, "metadata": {
            "ss_output_name": "x", "ss_training_started_at": "1700000000",
            "ss_bucket_info": {"buckets": {"0": {"resolution": [512, 768], "count": 3}}},
            "ss_dataset_dirs": {"d": {"img_count": 12}}}}}

        def allowed_directories_for_previews(self):
            return []

    editor = LoraUserMetadataEditor.__new__(LoraUserMetadataEditor)
    editor.page = Page()
    table = dict(editor.get_metadata_table("x"))
    assert table["Output name:"] == "x" and table["Resolution:"] == "768x512" and table["Dataset size:"] == 12
    assert table["Date trained:"] == "2023-11-14 22:13"
