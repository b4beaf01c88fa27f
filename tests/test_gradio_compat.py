"""gradio_compat on gradio 6, without a server: the gradio-3 `_js=` keyword on every kind of event
listener (components' events, a Dependency's .then/.success/.failure, gr.on, Blocks.load), and the
eager rendering marks (an extension's closed accordion is sent open with the class the page's
script closes it by; the app's own accordions are not)."""
from __future__ import annotations

import gradio as gr
import pytest

from sdwebui.interfaces.ui import gradio_compat


@pytest.fixture(scope="module", autouse=True)
def _installed():
    gradio_compat.install()


def _dependencies(demo: gr.Blocks) -> list[dict]:
    return demo.get_config_file()["dependencies"]


def test_js_keyword_on_every_listener_kind():
    with gr.Blocks() as demo:
        box = gr.Textbox()
        button = gr.Button()
        first = button.click(None, [box], [box], _js="(v) => v + 'a'")
        first.then(lambda v: v, [box], [box], _js="(v) => v + 'b'") \
            .success(None, [box], [box], _js="(v) => v + 'c'")
        first.failure(None, _js="() => 'd'")
        gr.on([box.submit], None, [box], [box], _js="(v) => v + 'e'")
        demo.load(None, _js="() => 'f'")
    assert [d["js"] for d in _dependencies(demo)] == [
        "(v) => v + 'a'", "(v) => v + 'b'", "(v) => v + 'c'", "() => 'd'", "(v) => v + 'e'", "() => 'f'"]
    # the chain is kept: .then runs after the click, .success after .then
    deps = _dependencies(demo)
    assert deps[1]["trigger_after"] == deps[0]["id"] and deps[2]["trigger_after"] == deps[1]["id"]
    assert deps[2]["trigger_only_on_success"] and deps[3]["trigger_only_on_failure"]


def test_js_keyword_does_not_replace_an_explicit_js():
    with gr.Blocks() as demo:
        button = gr.Button()
        button.click(None, js="() => 'new'", _js=None).then(None, js="() => 'kept'", _js="() => 'old'")
    assert [d["js"] for d in _dependencies(demo)] == ["() => 'new'", "() => 'kept'"]


def test_extension_accordions_are_sent_open_to_be_closed_by_the_page():
    with gr.Blocks() as demo:
        with gr.Accordion("app's own", open=False) as own:
            gr.Button("a")
        with gradio_compat.extension_ui():
            with gr.Accordion("extension closed", open=False) as closed:
                gr.Button("b")
            with gr.Accordion("extension open", open=True) as opened:
                gr.Button("c")
    config = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert config[own._id]["open"] is False
    assert gradio_compat.EAGER_CLOSED_CLASS not in (config[own._id].get("elem_classes") or [])
    assert config[closed._id]["open"] is True
    assert gradio_compat.EAGER_CLOSED_CLASS in config[closed._id]["elem_classes"]
    assert config[opened._id]["open"] is True
    assert gradio_compat.EAGER_CLOSED_CLASS not in (config[opened._id].get("elem_classes") or [])
    # the Python side still says closed: updates and saved UI defaults see the real state
    assert closed.open is False


def test_page_scripts_that_keep_the_contract():
    """The class names gradio_compat sends are the ones the page's script looks for."""
    from sdwebui.interfaces.ui.page_assets import UI_DIR

    script = (UI_DIR / "javascript" / "eager_render.js").read_text(encoding="utf-8")
    assert f'"{gradio_compat.EAGER_CLASS}"' in script and f'"{gradio_compat.EAGER_CLOSED_CLASS}"' in script
    style = (UI_DIR / "style.css").read_text(encoding="utf-8")
    assert f".{gradio_compat.EAGER_CLOSED_CLASS}:not(" in style


def test_tabs_an_extension_builds_are_marked_to_be_shown_at_load():
    with gr.Blocks() as demo:
        with gr.Tabs():
            with gr.Tab("app's own") as own:
                gr.Button("a")
        with gradio_compat.extension_ui():
            with gr.Tabs():
                with gr.Tab("extension's", elem_classes="theirs") as theirs:
                    gr.Button("b")
    config = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert gradio_compat.EAGER_CLASS not in (config[own._id].get("elem_classes") or [])
    assert config[theirs._id]["elem_classes"] == ["theirs", gradio_compat.EAGER_CLASS]


def test_a_component_before_the_tabs_of_a_tabs_goes_after_them():
    # images-browser puts a hidden textbox first in its gr.Tabs; gradio 6's page then numbered the
    # tabs wrongly (its strip showed "txt2img" twice and no "img2img", seen in Chromium)
    with gr.Blocks() as demo:
        with gradio_compat.extension_ui():
            with gr.Tabs() as tabs:
                dummy = gr.Textbox(visible=False)
                with gr.Tab("txt2img") as first:
                    with gr.Blocks():
                        gr.Textbox(label="inside")
                with gr.Tab("img2img") as second:
                    gr.Button("b")
    assert [c._id for c in tabs.children[:2]] == [first._id, second._id] and len(tabs.children) == 3

    def layout_children(node, wanted):
        if node["id"] == wanted:
            return [c["id"] for c in node.get("children", [])]
        return next((found for c in node.get("children", []) if (found := layout_children(c, wanted))), None)

    # on the page too: the two tabs first, then the textbox (in the form gradio wraps it in)
    shown = layout_children(demo.get_config_file()["layout"], tabs._id)
    assert shown[:2] == [first._id, second._id] and layout_children(
        demo.get_config_file()["layout"], shown[2]) == [dummy._id]


def test_a_row_an_extension_builds_hidden_stays_in_the_page_and_its_updates_move_a_class():
    # gradio 6 leaves a hidden row's children out of the page (images-browser clicks a button kept in
    # one) and shows a row given visible="hidden"; here it is sent visible with a class that hides it
    from gradio.blocks import postprocess_update_dict

    with gr.Blocks() as demo:
        with gradio_compat.extension_ui():
            with gr.Row(visible=False) as theirs:
                gr.Button("Renew")
        with gr.Row(visible=False) as own:
            gr.Button("x")
    config = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert config[theirs._id]["visible"] is True
    assert config[theirs._id]["elem_classes"] == [gradio_compat.HIDEABLE_CLASS, gradio_compat.HIDDEN_CLASS]
    assert config[own._id]["visible"] is False and not config[own._id].get("elem_classes")

    # an update as gradio makes it: a new block from the constructor's arguments and the update
    shown = gr.Row(**{**theirs.constructor_args, "visible": True, "render": False})
    out = postprocess_update_dict(shown, {"visible": True})
    assert out["visible"] is True and out["elem_classes"] == [gradio_compat.HIDEABLE_CLASS]
    hidden = gr.Row(**{**theirs.constructor_args, "visible": False, "render": False})
    out = postprocess_update_dict(hidden, {"visible": False})
    assert out["visible"] is True and gradio_compat.HIDDEN_CLASS in out["elem_classes"]
    plain = gr.Row(visible=False, render=False)
    assert postprocess_update_dict(plain, {"visible": False})["visible"] is False


def test_extension_tabs_get_gradio3s_tab_strip_and_their_hidden_parts_stay_in_the_page():
    # images-browser pairs its sub-tabs with `tabs.querySelector("div").querySelectorAll("button")`:
    # gradio 6's "wrap" strip is that div with the tab buttons alone ("menu" puts measuring copies first)
    from gradio.blocks import postprocess_update_dict

    with gr.Blocks() as demo:
        with gr.Tabs() as own:
            with gr.Tab("app's own"):
                gr.Button("a")
        with gradio_compat.extension_ui():
            with gr.Tabs() as theirs:
                with gr.Tab("theirs"):
                    with gr.Row() as panel:          # shown at first, hidden by an update later
                        button = gr.Button("Delete")
            with gr.Tabs(overflow_behavior="menu") as chosen:
                with gr.Tab("chosen"):
                    gr.Button("c")
    config = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert config[own._id]["overflow_behavior"] == "menu"
    assert config[theirs._id]["overflow_behavior"] == "wrap"
    assert config[chosen._id]["overflow_behavior"] == "menu"
    assert config[panel._id]["visible"] is True and config[panel._id]["elem_classes"] == [gradio_compat.HIDEABLE_CLASS]

    # updates as gradio makes them: a new block from the recorded constructor arguments and the update
    def updated(block, **update):
        new = type(block)(**{**block.constructor_args, **update, "render": False})
        return new, postprocess_update_dict(new, dict(update))

    _, out = updated(panel, visible=False)
    assert out["visible"] is True and gradio_compat.HIDDEN_CLASS in out["elem_classes"]
    hidden, out = updated(button, visible=False)
    assert out["visible"] == "hidden", "an extension's component hidden by an update stays in the page"
    _, out = updated(hidden, visible=True)
    assert out["visible"] is True
    mine = gr.Button("mine", render=False)
    assert updated(mine, visible=False)[1]["visible"] is False


def test_gradio3_update_takes_the_value_first():
    # agent-scheduler: gr.Textbox.update(infotext, visible=...) (gradio 6's gr.update takes elem_id first)
    assert gr.Textbox.update("Steps: 20", visible=True) == {"__type__": "update", "value": "Steps: 20",
                                                              "visible": True}
    assert gr.Gallery.update(value=None)["value"] is None and "elem_id" not in gr.Dropdown.update(choices=["a"])
    with pytest.raises(TypeError):
        gr.Textbox.update("a", "b")


def test_extension_dropdowns_take_values_outside_their_choices():
    with gradio_compat.extension_ui():
        theirs = gr.Dropdown(choices=["Current Checkpoint"], value="Current Checkpoint")
    ours = gr.Dropdown(choices=["a"], value="a")
    assert theirs.preprocess("model.safetensors [abc]") == "model.safetensors [abc]"   # as gradio 3
    with pytest.raises(gr.Error):
        ours.preprocess("b")
