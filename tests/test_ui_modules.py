"""A1111's UI module names (`modules.ui`, `ui_common`, `ui_components`, `ui_extra_networks` ...):
each imports, and what extensions use from them works on gradio 6 (built inside gr.Blocks,
handlers called directly; no server)."""
from __future__ import annotations

import importlib
import json

import gradio as gr
import pytest
from PIL import Image

from tests.ext_helpers import ext_env  # noqa: F401

UI_MODULES = ["ui", "ui_common", "ui_components", "ui_extra_networks", "ui_extra_networks_checkpoints",
              "ui_extra_networks_hypernets", "ui_extra_networks_textual_inversion", "ui_extra_networks_user_metadata",
              "ui_extra_networks_checkpoints_user_metadata", "ui_settings", "ui_loadsave", "ui_toprow",
              "ui_prompt_styles", "ui_postprocessing", "ui_tempdir", "ui_gradio_extensions", "ui_checkpoint_merger",
              "shared_gradio_themes", "gradio_extensons"]

# what popular extensions import from them (the issue-18 survey, plus A1111's own Lora built-in)
USED = {
    "ui": ["create_refresh_button", "plaintext_to_html", "create_output_panel", "ordered_ui_categories", "gr_show",
           "switch_values_symbol", "refresh_symbol", "random_symbol", "reuse_symbol", "paste_symbol",
           "detect_image_size_symbol", "apply_setting", "calc_resolution_hires", "versions_html"],
    "ui_common": ["create_refresh_button", "plaintext_to_html", "create_output_panel", "save_files", "ToolButton",
                  "OutputPanel", "folder_symbol", "refresh_symbol", "setup_dialog", "update_generation_info"],
    "ui_components": ["ToolButton", "FormRow", "FormColumn", "FormGroup", "FormHTML", "DropdownMulti",
                      "DropdownEditable", "InputAccordion", "ResizeHandleRow", "FormColorPicker", "FormComponent"],
    "ui_extra_networks": ["ExtraNetworksPage", "ExtraNetworksItem", "register_page", "extra_pages", "quote_js",
                          "initialize", "intialize", "register_default_pages", "get_tree", "allowed_dirs",
                          "pages_in_preferred_order", "path_is_parent", "ExtraNetworksUi"],
    "ui_settings": ["UiSettings", "create_setting_component", "get_value_for_setting"],
    "ui_loadsave": ["UiLoadsave", "radio_choices"],
    "ui_tempdir": ["save_pil_to_file", "on_tmpdir_changed", "register_tmp_file", "check_tmp_file", "Savedfile",
                   "is_gradio_temp_path", "cleanup_tmpdr", "install_ui_tempdir_override"],
    "ui_gradio_extensions": ["javascript_html", "css_html", "webpath", "reload_javascript"],
}


@pytest.mark.parametrize("name", UI_MODULES)
def test_module_imports_and_every_name_resolves(name):
    module = importlib.import_module(f"modules.{name}")
    for attr in module.__all__:
        getattr(module, attr)
    for attr in USED.get(name, []):
        assert hasattr(module, attr), f"modules.{name}.{attr}"


def test_plaintext_to_html_escapes_and_keeps_lines():
    from modules import ui, ui_common

    assert ui.plaintext_to_html is ui_common.plaintext_to_html
    assert ui_common.plaintext_to_html("a <b>\nc") == "<p>a &lt;b&gt;<br>\nc</p>"
    assert ui_common.plaintext_to_html("x", classname="error") == "<p class='error'>x</p>"
    assert ui.gr_show(False) == {"visible": False, "__type__": "update"}
    assert ui.switch_values_symbol == "\u21c5" and ui.refresh_symbol == "\U0001f504"


def test_refresh_button_calls_the_method_and_updates_the_component():
    from modules import ui

    calls = []
    with gr.Blocks() as demo:
        dropdown = gr.Dropdown(choices=["a"], label="Model")
        button = ui.create_refresh_button(dropdown, lambda: calls.append(1), lambda: {"choices": ["a", "b"]}, "refresh_x")
    assert button.elem_id == "refresh_x" and "tool" in button.elem_classes
    fn = next(f for f in demo.fns.values() if dropdown in f.outputs)
    update = fn.fn()
    assert calls == [1] and update["choices"] == ["a", "b"]
    # the component keeps the new choices, so a page built later shows them too
    assert [c[0] if isinstance(c, tuple) else c for c in dropdown.choices] == ["a", "b"]


def test_output_panel_has_a1111_fields_and_ids():
    from modules import ui_common

    with gr.Blocks():
        panel = ui_common.create_output_panel("myext", "outputs/myext")
    assert isinstance(panel, ui_common.OutputPanel)
    assert panel.gallery.elem_id == "myext_gallery"
    assert panel.infotext.elem_id == "html_info_myext" and panel.html_log.elem_id == "html_log_myext"
    assert panel.generation_info.elem_id == "generation_info_myext"
    with gr.Blocks():
        extras = ui_common.create_output_panel("extras", "outputs/extras")
    assert extras.generation_info.elem_id == "html_info_x_extras"


def test_update_generation_info_picks_the_image_infotext():
    from modules import ui_common

    info = json.dumps({"infotexts": ["first <x>", "second"]})
    assert ui_common.update_generation_info(info, "old", 1)[0] == "<p>second</p>"
    assert ui_common.update_generation_info(info, "old", 5)[0] == "old"
    assert ui_common.update_generation_info("not json", "old", 0)[0] == "old"


def test_input_accordion_value_is_the_open_state():
    from modules import ui_components

    with gr.Blocks():
        with ui_components.InputAccordion(True, label="Detailer", elem_id="ad_main") as acc:
            with ui_components.FormRow():
                inner = gr.Slider(0, 1, 0.4, label="Strength")
        multi = ui_components.DropdownMulti(choices=["a", "b"], label="M")
        editable = ui_components.DropdownEditable(choices=["a"], label="E")
    assert isinstance(acc, gr.Checkbox) and acc.value is True
    assert acc.accordion.open is True and acc.accordion.elem_id == "ad_main"
    assert acc.elem_id == "ad_main-checkbox"
    assert inner.parent is not None and multi.multiselect and editable.allow_custom_value


def test_extra_networks_page_registers_and_lists(tmp_path):
    from modules import ui_extra_networks

    (tmp_path / "thing.safetensors").write_bytes(b"x")
    (tmp_path / "thing.png").write_bytes(b"png")
    (tmp_path / "thing.txt").write_text("a description", encoding="utf-8")
    (tmp_path / "thing.json").write_text(json.dumps({"description": "from user", "activation text": "go"}))

    class Page(ui_extra_networks.ExtraNetworksPage):
        def __init__(self):
            super().__init__("My Things")

        def list_items(self):
            path = str(tmp_path / "thing")
            yield {"name": "thing", "filename": path + ".safetensors", "preview": self.find_preview(path),
                   "description": self.find_description(path), "sort_keys": self.get_sort_keys(path + ".safetensors"),
                   "prompt": ui_extra_networks.quote_js('<thing:"1">')}

        def allowed_directories_for_previews(self):
            return [str(tmp_path)]

    saved = list(ui_extra_networks.extra_pages)
    try:
        page = Page()
        ui_extra_networks.register_page(page)
        ui_extra_networks.register_page(Page())         # a UI reload: replaced, not listed twice
        names = [p.name for p in ui_extra_networks.extra_pages]
        assert names.count("my things") == 1 and page.extra_networks_tabname == "my_things"
        assert str(tmp_path) in ui_extra_networks.allowed_dirs
        item = ui_extra_networks.extra_pages[names.index("my things")].refresh_items()["thing"]
        assert item["preview"].startswith("./sd_extra_networks/thumb?filename=") and "thing.png" in item["preview"]
        assert item["description"] == "from user" and item["user_metadata"]["activation text"] == "go"
        assert item["prompt"] == '"<thing:\\"1\\">"'
        pane = page.create_html("txt2img")
        assert 'data-name="thing"' in pane and "cardClicked(&#x27;txt2img&#x27;" in pane
        assert 'id="txt2img_my_things_extra_search"' in pane
    finally:
        ui_extra_networks.extra_pages[:] = saved


def test_get_tree_nests_items_by_folder(tmp_path):
    from modules import ui_extra_networks

    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/one.pt", "a/b/two.pt", "a/ignored.txt"):
        (tmp_path / rel).write_bytes(b"x")
    items = {str(tmp_path / "a" / "one.pt"): ui_extra_networks.ExtraNetworksItem({"name": "one"}),
             str(tmp_path / "a" / "b" / "two.pt"): ui_extra_networks.ExtraNetworksItem({"name": "two"})}
    tree = ui_extra_networks.get_tree([str(tmp_path / "a")], items)
    assert set(tree["a"]) == {"a/one.pt", "a/b"}
    assert tree["a"]["a/b"]["a/b/two.pt"].item == {"name": "two"}


def test_loadsave_applies_saved_defaults_and_writes_changes(tmp_path):
    from modules import ui_loadsave

    path = tmp_path / "ui-config.json"
    path.write_text(json.dumps({"myext/Steps/value": 33, "myext/Mode/value": "not a choice"}))
    loadsave = ui_loadsave.UiLoadsave(str(path))
    with gr.Blocks():
        with gr.Column() as column:
            steps = gr.Slider(1, 150, 20, label="Steps")
            mode = gr.Radio(["a", "b"], value="a", label="Mode")
        loadsave.add_block(column, "myext")
    assert steps.value == 33 and mode.value == "a"          # an invalid saved choice is ignored
    loadsave.dump_defaults()
    assert json.loads(path.read_text())["myext/Steps/minimum"] == 1
    # the changed steps, and the mode whose saved value was not a choice
    assert loadsave.ui_apply(40, "a") == "Wrote 2 changes."
    saved = json.loads(path.read_text())
    assert saved["myext/Steps/value"] == 40 and saved["myext/Mode/value"] == "a"
    assert "No changes" in loadsave.ui_view(40, "a")


def test_tempdir_keeps_the_infotext(tmp_path):
    from modules import ui_tempdir

    image = Image.new("RGB", (8, 8))
    image.info["parameters"] = "a cat\nSteps: 4"
    filename = ui_tempdir.save_pil_to_file(None, image, dir=str(tmp_path))
    assert filename.startswith(str(tmp_path)) and Image.open(filename).info["parameters"] == "a cat\nSteps: 4"
    assert ui_tempdir.is_gradio_temp_path(str(tmp_path / "x.png")) is False


def test_save_files_writes_images_log_and_zip(ext_env, tmp_path):  # noqa: F811
    from modules import ui_common
    from sdwebui.services import runtime

    ext_env.configure()
    runtime.opts.set("outdir_save", str(tmp_path / "saved"))
    image = Image.new("RGB", (8, 8), "red")
    data = json.dumps({"infotexts": ["a red square\nSteps: 4, Seed: 7, Size: 8x8"], "index_of_first_image": 0,
                       "width": 8, "height": 8, "sampler_name": "Euler", "cfg_scale": 7, "steps": 4})
    files, message = ui_common.save_files(data, [(image, None)], True, 0)
    saved = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert any(n.endswith(".png") for n in saved) and "log.csv" in saved and any(n.endswith(".zip") for n in saved)
    assert "Saved:" in message and files["value"][0].endswith(".zip")
    log = (tmp_path / "saved" / "log.csv").read_text().splitlines()
    assert log[0].startswith("prompt,seed,width") and log[1].startswith("a red square,7,8,8,Euler")


def test_gradio3_only_internals_say_what_differs():
    from modules import gradio_extensons

    with pytest.raises(RuntimeError, match="gradio 6 has no IOComponent"):
        gradio_extensons.IOComponent_init(None)
    with gr.Blocks():
        button = gr.Button("x", elem_classes=["mine"])
    gradio_extensons.add_classes_to_gradio_component(button)
    assert button.elem_classes[:2] == ["gradio-button", "mine"]


def test_hires_text_and_ui_categories(ext_env):  # noqa: F811
    from modules import ui

    ext_env.configure()
    assert ui.calc_resolution_hires(False, 512, 512, 2, 0, 0) == ""
    assert "1024x768" in ui.calc_resolution_hires(True, 512, 384, 2, 0, 0)
    categories = list(ui.ordered_ui_categories())
    assert categories[0] == "prompt" and categories[-1] == "scripts"


def test_theme_flag_opens_the_page_in_that_theme(api, monkeypatch):
    """--theme dark|light: the page's head sends the browser to the same address with gradio's
    `__theme` (A1111's set_theme); without the flag the page follows the browser's colour scheme."""
    from sdwebui.interfaces.ui import page_assets
    from sdwebui.services import runtime as shared

    redirect = 'set_theme("'
    assert redirect not in page_assets.head_html()
    monkeypatch.setattr(shared.cmd_opts, "theme", "dark")
    head = page_assets.head_html()
    assert 'set_theme("dark");' in head and head.index("function set_theme(") < head.index('set_theme("dark");')
    monkeypatch.setattr(shared.cmd_opts, "theme", "purple")     # not a gradio theme: nothing done
    assert redirect not in page_assets.head_html()
