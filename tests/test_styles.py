"""Prompt styles (services/styles.py): several styles files and globs as A1111 reads them, saving a
style back to its own file atomically, CSV quoting, applying with `{prompt}`, and the editor's
handlers (interfaces/ui/styles_editor.py) on the same database the API lists."""
from __future__ import annotations

import csv
import os

import gradio as gr
import pytest

from sdwebui.services.styles import PromptStyle, StyleDatabase, StyleError, merge_prompts

HEADER = "name,prompt,negative_prompt\n"


def write(path, text: str):
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def rows(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_merge_places_the_prompt_as_a1111_does():
    assert merge_prompts("best, {prompt}, 4k", "a cat") == "best, a cat, 4k"
    assert merge_prompts("oil painting", " a cat ") == "a cat, oil painting"
    assert merge_prompts("oil painting", "") == "oil painting"
    assert merge_prompts("", "a cat") == "a cat"
    assert merge_prompts(None, "a cat") == "a cat"


def test_apply_wraps_and_appends_in_order(tmp_path):
    db = StyleDatabase([write(tmp_path / "styles.csv", 'wrap,"best, {prompt}, 4k",blurry\ntail,film grain,\n')])
    assert db.apply("a cat", "ugly", ["wrap", "tail"]) == ("best, a cat, 4k, film grain", "ugly, blurry")
    assert db.apply_styles_to_prompt("a cat", ["tail", "nope"]) == "a cat, film grain"
    assert db.apply_negative_styles_to_prompt("", ["wrap"]) == "blurry"
    assert db.extract_styles_from_prompt("best, a cat, 4k, film grain", "ugly, blurry") == (["wrap", "tail"], "a cat",
                                                                                          "ugly")


def test_several_files_and_globs_each_style_remembers_its_file(tmp_path):
    first = write(tmp_path / "styles.csv", "a,from first,\nshared,first version,\n")
    extra = tmp_path / "more"
    extra.mkdir()
    write(extra / "b-styles.csv", "b,from b,\n")
    write(extra / "c-styles.csv", "shared,later version,\n")
    db = StyleDatabase([str(first), str(extra / "*-styles.csv")])
    assert list(db.styles) == ["a", "shared", "b"]
    assert db.styles["shared"].prompt == "later version"        # the later file wins, as in A1111
    assert db.styles["b"].path == str(extra / "b-styles.csv")
    assert db.default_path == first
    assert db.all_styles_files == [first, extra / "b-styles.csv", extra / "c-styles.csv"]


def test_a_glob_first_saves_new_styles_to_its_first_match_or_styles_csv(tmp_path):
    write(tmp_path / "x-styles.csv", "x,x,\n")
    assert StyleDatabase([str(tmp_path / "*-styles.csv")]).default_path == tmp_path / "x-styles.csv"
    empty = tmp_path / "empty"
    empty.mkdir()
    db = StyleDatabase([str(empty / "*.csv")])
    assert db.default_path == empty / "styles.csv" and db.styles == {}
    db.save_style("new", "p", "n")
    assert rows(empty / "styles.csv") == [{"name": "new", "prompt": "p", "negative_prompt": "n"}]


def test_an_edited_style_goes_back_to_its_own_file_and_a_new_one_to_the_default(tmp_path):
    first = write(tmp_path / "styles.csv", "a,one,\n")
    second = write(tmp_path / "other.csv", "b,two,\n")
    db = StyleDatabase([first, second])
    styles = db.styles
    db.save_style("b", "two edited", "neg")
    db.save_style("c", "three", "")
    assert rows(second) == [{"name": "b", "prompt": "two edited", "negative_prompt": "neg"}]
    assert [r["name"] for r in rows(first)] == ["a", "c"]
    assert db.styles is styles and db.styles["c"].path == str(first)    # the API's object, changed in place
    db.delete_style("a")
    assert [r["name"] for r in rows(first)] == ["c"] and "a" not in db.styles
    assert rows(second)[0]["prompt"] == "two edited"                  # untouched by the other file's change
    db.reload()
    assert db.styles["b"] == PromptStyle("b", "two edited", "neg", str(second))


def test_names_with_commas_quotes_and_newlines_round_trip(tmp_path):
    path = tmp_path / "styles.csv"
    db = StyleDatabase([path])
    name = 'Say "cheese", please'
    db.save_style(name, 'a "quoted", {prompt}\nsecond line', "neg, with comma")
    again = StyleDatabase([path])
    assert again.styles[name].prompt == 'a "quoted", {prompt}\nsecond line'
    assert again.styles[name].negative_prompt == "neg, with comma"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfname,prompt,negative_prompt")   # A1111 writes utf-8-sig


@pytest.mark.parametrize("name", ["", "   ", None, "#comment"])
def test_a_name_that_cannot_be_saved_is_refused_and_nothing_changes(tmp_path, name):
    path = write(tmp_path / "styles.csv", "a,one,\n")
    before = path.read_bytes()
    db = StyleDatabase([path])
    with pytest.raises(StyleError):
        db.save_style(name, "p", "n")
    assert path.read_bytes() == before and list(db.styles) == ["a"]
    with pytest.raises(StyleError, match="no style named"):
        db.delete_style("missing")


def test_a_failing_write_leaves_the_old_file_and_the_styles_as_they_were(tmp_path, monkeypatch):
    path = write(tmp_path / "styles.csv", "a,one,\n")
    before = path.read_bytes()
    db = StyleDatabase([path])

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        db.save_style("a", "changed", "")
    with pytest.raises(OSError):
        db.delete_style("a")
    assert path.read_bytes() == before
    assert db.styles["a"].prompt == "one"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []     # no temp file left over


def test_the_write_is_atomic_keeps_a_backup_and_the_file_mode(tmp_path):
    path = write(tmp_path / "styles.csv", "a,one,\n")
    path.chmod(0o600)
    before = path.read_bytes()
    db = StyleDatabase([path])
    db.save_style("a", "two", "")
    assert (tmp_path / "styles.csv.bak").read_bytes() == before        # A1111 keeps the previous version too
    assert path.stat().st_mode & 0o777 == 0o600
    assert rows(path)[0]["prompt"] == "two"


def test_comments_extra_columns_and_shadowed_rows_survive_a_save(tmp_path):
    first = tmp_path / "styles.csv"
    first.write_text("name,prompt,negative_prompt,notes\n# keep me,,,\ndup,first copy,,n1\na,one,,n2\n",
                     encoding="utf-8")
    second = write(tmp_path / "later.csv", "dup,second copy,\n")
    db = StyleDatabase([first, second])
    db.save_style("a", "one edited", "")
    got = rows(first)
    assert [r["name"] for r in got] == ["# keep me", "dup", "a"]
    assert got[1]["prompt"] == "first copy"        # shadowed by later.csv's "dup", not deleted
    assert got[2] == {"name": "a", "prompt": "one edited", "negative_prompt": "", "notes": "n2"}


def test_an_unreadable_file_is_never_overwritten(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text("just,some,words\n", encoding="utf-8")      # no "name" column
    db = StyleDatabase([path])
    with pytest.raises(StyleError, match="could not be read"):
        db.save_style("a", "p", "")
    assert path.read_text(encoding="utf-8") == "just,some,words\n"


def test_old_two_column_files_are_read_and_rewritten_with_a1111s_columns(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text("name,text\nold,old text\n", encoding="utf-8")
    db = StyleDatabase([path])
    assert db.styles["old"].prompt == "old text"
    db.save_style("new", "n", "")
    assert rows(path) == [{"name": "old", "prompt": "old text", "negative_prompt": ""},
                          {"name": "new", "prompt": "n", "negative_prompt": ""}]


def test_save_styles_writes_what_an_extension_put_in_the_dict(tmp_path):
    first = write(tmp_path / "styles.csv", "a,one,\n")
    second = write(tmp_path / "other.csv", "b,two,\n")
    db = StyleDatabase([first, second])
    db.styles["x"] = PromptStyle("x", "ext", "")          # A1111 extensions: no path -> the default file
    db.styles["b"] = db.styles["b"]._replace(prompt="two changed")
    db.save_styles()
    assert [r["name"] for r in rows(first)] == ["a", "x"]
    assert rows(second)[0]["prompt"] == "two changed"


# --- the editor's handlers, on the database the API lists ------------------------------------------

@pytest.fixture
def live_styles(tmp_path, monkeypatch):
    from sdwebui.services import runtime

    db = StyleDatabase([tmp_path / "styles.csv"])
    monkeypatch.setattr(runtime, "prompt_styles", db)
    return db


def test_editor_handlers_save_select_apply_and_delete(live_styles):
    from sdwebui.interfaces.ui import styles_editor as ui

    assert ui.save_style("frame", "best, {prompt}", "blurry") == gr.update(visible=True)
    assert live_styles.api_list() == [{"name": "frame", "prompt": "best, {prompt}", "negative_prompt": "blurry"}]
    assert ui.select_style("frame") == ("best, {prompt}", "blurry", gr.update(visible=True), gr.update(visible=True))
    assert ui.select_style("brand new")[2:] == (gr.update(visible=False), gr.update(visible=True))
    assert ui.select_style("")[3] == gr.update(visible=False)
    prompt, negative, selection = ui.materialize_styles("a cat", "ugly", ["frame"])
    assert (prompt["value"], negative["value"], selection["value"]) == ("best, a cat", "ugly, blurry", [])
    assert ui.delete_style("") == (gr.skip(), gr.skip(), gr.skip())        # the user cancelled the confirm
    assert ui.delete_style("frame") == ("", "", "") and live_styles.styles == {}


def test_editor_reports_bad_input_and_failed_writes(live_styles, monkeypatch):
    from sdwebui.interfaces.ui import styles_editor as ui

    with pytest.raises(gr.Error, match="needs a name"):
        ui.save_style("  ", "p", "")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError("read-only")))
    with pytest.raises(gr.Error, match="could not be saved.*read-only"):
        ui.save_style("x", "p", "")
    assert live_styles.styles == {}


def test_both_tabs_editors_refresh_each_others_dropdowns(live_styles):
    """Built like the app builds the txt2img and img2img rows: a save in one refreshes the other."""
    from sdwebui.interfaces.ui import styles_editor as ui

    with gr.Blocks() as demo:
        editors = []
        for tab in ("txt2img", "img2img"):
            prompt, negative = gr.Textbox(), gr.Textbox()
            editors.append(ui.UiPromptStyles(tab, prompt, negative))
    first, second = editors
    assert first.dialog.elem_id == "txt2img_styles_dialog" and second.selection.elem_id == "img2img_styles_edit_select"
    refreshed = {c._id for fn in demo.fns.values() if getattr(fn, "trigger_after", None) is not None
                 for c in fn.outputs}
    assert {first.dropdown._id, second.dropdown._id, first.selection._id, second.selection._id} <= refreshed


def test_an_extensions_toprow_has_the_tools_and_the_editor(live_styles):
    from modules.ui_toprow import Toprow

    live_styles.save_style("s", "x", "")
    with gr.Blocks():
        row = Toprow(is_img2img=False, id_part="myext")
    assert row.clear_prompt_button.elem_id == "myext_clear_prompt"
    assert row.apply_styles.elem_id == "myext_style_apply"
    assert row.ui_styles.dropdown.elem_id == "myext_styles" and row.ui_styles.dropdown.choices == [("s", "s")]
    assert row.ui_styles.dialog.elem_id == "myext_styles_dialog"
