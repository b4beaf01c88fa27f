"""The Lora built-in extension's module names (`networks`, `lora`, `network`, ...), as third-party
extensions import them: backed by the app's LoRA registry and live after a refresh. The last test
starts the app as a user would, with a small extension written here that imports them and the UI
modules, registers an Extra Networks page and builds an InputAccordion in an always-on script."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import save_file

from tests.ext_helpers import make_ext
from tests.server_process import ROOT, running_server

LORA_DIR = ROOT / "extensions-builtin" / "Lora"


def write_lora(path: Path, alias: str | None = None, **metadata: str) -> Path:
    """A small safetensors file with kohya's metadata (listing needs no real network)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**({"ss_output_name": alias} if alias else {}), **metadata}
    save_file({"lora_te_text_model_encoder_layers_0_mlp_fc1.alpha": torch.tensor(1.0)}, str(path), metadata=meta)
    return path


@pytest.fixture
def lora_env(tmp_path, monkeypatch):
    """The runtime's LoRA registry over a fresh folder, and the built-in's folder on sys.path."""
    from sdwebui.engine.models.hashes import HashCache
    from sdwebui.engine.models.lora import LoraRegistry
    from sdwebui.services import runtime

    folder = tmp_path / "Lora"
    write_lora(folder / "alpha.safetensors", alias="Alpha Style", ss_base_model_version="sdxl_base_v1-0")
    write_lora(folder / "sub" / "beta.safetensors")
    registry = LoraRegistry([folder], HashCache(tmp_path / "cache.json"))
    registry.refresh()
    monkeypatch.setattr(runtime, "loras", registry)
    monkeypatch.syspath_prepend(str(LORA_DIR))
    import networks

    networks.list_available_networks()
    return folder, registry


def test_networks_and_lora_list_the_registry_by_name_and_alias(lora_env):
    import lora
    import network
    import networks

    assert sorted(networks.available_networks) == ["alpha", "beta"]
    alpha = networks.available_networks["alpha"]
    assert isinstance(alpha, network.NetworkOnDisk)
    assert alpha.alias == "Alpha Style" and alpha.sd_version is network.SdVersion.SDXL
    assert Path(alpha.filename).name == "alpha.safetensors" and alpha.metadata["ss_output_name"] == "Alpha Style"
    assert networks.available_network_aliases["Alpha Style"] is alpha
    assert networks.available_network_aliases["alpha"] is alpha
    assert networks.available_networks["beta"].sd_version is network.SdVersion.Unknown
    assert "none" in networks.forbidden_network_aliases
    # lora's names are networks' objects (A1111 1.5+), so they are live too
    assert lora.available_loras is networks.available_networks
    assert lora.loaded_loras is networks.loaded_networks
    assert lora.list_available_loras is networks.list_available_networks


def test_listing_follows_the_files_after_a_refresh(lora_env):
    import lora
    import networks

    folder, registry = lora_env
    write_lora(folder / "gamma.pt")
    assert "gamma" not in networks.available_networks          # not scanned yet
    registry.refresh()                                         # what /sdapi/v1/refresh-loras does
    assert "gamma" in networks.available_networks and "gamma" in lora.available_loras
    (folder / "sub" / "beta.safetensors").unlink()
    networks.list_available_networks()                         # A1111's own refresh
    assert sorted(lora.available_loras) == ["alpha", "gamma"]
    # a second file with the same alias makes the alias ambiguous (A1111's forbidden aliases)
    write_lora(folder / "alpha2.safetensors", alias="Alpha Style")
    networks.list_available_networks()
    assert "alpha style" in networks.forbidden_network_aliases
    assert networks.available_networks["alpha"].get_alias() == "alpha"


def test_load_networks_resolves_names_aliases_and_multipliers(lora_env):
    import networks

    networks.load_networks(["Alpha Style", "beta", "missing"], [0.5, 1.0, 1.0], [0.25, 1.0, 1.0], [None, 4, None])
    loaded = networks.loaded_networks
    assert [n.name for n in loaded] == ["Alpha Style", "beta"]
    assert loaded[0].network_on_disk is networks.available_networks["alpha"]
    assert (loaded[0].te_multiplier, loaded[0].unet_multiplier) == (0.5, 0.25)
    assert loaded[1].dyn_dim == 4 and loaded[0].mentioned_name == "Alpha Style"
    loaded[1].multiplier = 0.7              # the pre-1.5 name some extensions still set
    assert loaded[1].te_multiplier == loaded[1].unet_multiplier == 0.7


def test_forward_helpers_run_the_original_forward(lora_env):
    import lora_patches
    import networks

    networks.originals = lora_patches.LoraPatches()
    layer = torch.nn.Linear(3, 2)
    x = torch.ones(1, 3)
    assert torch.equal(networks.network_forward(layer, x, networks.originals.Linear_forward), layer(x))
    assert torch.equal(networks.network_Linear_forward(layer, x), layer(x))
    networks.network_apply_weights(layer)      # nothing to do: the app merges weights for the job


def test_lora_page_and_tag_handler(lora_env, monkeypatch):
    from types import SimpleNamespace

    import extra_networks_lora
    import networks
    import ui_extra_networks_lora
    from sdwebui.services import runtime

    page = ui_extra_networks_lora.ExtraNetworksPageLora()
    # no model loaded (set here: once the app has started, an earlier test's SD1 model is): every network shown
    monkeypatch.setattr(runtime, "model_manager", None)
    items = {i["name"]: i for i in page.list_items()}
    assert set(items) == {"alpha", "beta"}
    # with an SD1 model loaded, A1111 hides the SDXL one; one of unknown version stays
    sd1 = SimpleNamespace(sd_model=SimpleNamespace(is_sdxl=False, is_sd2=False))
    monkeypatch.setattr(runtime, "model_manager", sd1)
    assert [i["name"] for i in page.list_items()] == ["beta"]
    assert items["alpha"]["prompt"] == '"<lora:Alpha Style:" + opts.extra_networks_default_multiplier + ">"'
    assert items["alpha"]["sd_version"] == "SDXL"

    class P:
        extra_generation_params: dict = {}

    from modules import extra_networks

    handler = extra_networks_lora.ExtraNetworkLora()
    assert isinstance(handler, extra_networks.ExtraNetwork) and handler.name == "lora"
    handler.activate(P(), [extra_networks.ExtraNetworkParams(["alpha", "0.6", "unet=0.2"])])
    assert [(n.name, n.te_multiplier, n.unet_multiplier) for n in networks.loaded_networks] == [("alpha", 0.6, 0.2)]


TEST_EXTENSION = '''
import gradio as gr
from fastapi import FastAPI

import lora
import networks
from modules import script_callbacks, scripts, ui_common, ui_components, ui_extra_networks


class TestPage(ui_extra_networks.ExtraNetworksPage):
    def __init__(self):
        super().__init__("Test Things")

    def list_items(self):
        for index, name in enumerate(networks.available_networks):
            yield {"name": name, "filename": networks.available_networks[name].filename,
                   "prompt": ui_extra_networks.quote_js(f"<lora:{name}:1>")}

    def allowed_directories_for_previews(self):
        return []


script_callbacks.on_before_ui(lambda: ui_extra_networks.register_page(TestPage()))


class Script(scripts.Script):
    def title(self):
        return "Accordion test"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        with ui_components.InputAccordion(False, label="Accordion test", elem_id=self.elem_id("acc")) as enabled:
            with ui_components.FormRow():
                strength = gr.Slider(0, 1, 0.5, label="Strength")
                ui_common.ToolButton(value=ui_common.refresh_symbol)
        return [enabled, strength]


def routes(_demo, app: FastAPI):
    @app.get("/ui-names-test/state")
    def state():
        return {"available": sorted(lora.available_loras), "loaded": len(networks.loaded_networks),
                "pages": [p.name for p in ui_extra_networks.extra_pages],
                "items": [i["name"] for p in ui_extra_networks.extra_pages if p.name == "test things"
                          for i in p.list_items()]}


script_callbacks.on_app_started(routes)
'''


def test_extension_using_lora_and_ui_names_loads_and_the_page_serves(tmp_path):
    data = tmp_path / "data"
    write_lora(data / "models" / "Lora" / "first.safetensors", alias="First One")
    make_ext(data / "extensions", "ui-names-test", {"scripts/ui_names_test.py": TEST_EXTENSION})
    with running_server(data, ["--api", "--skip-install", "--skip-load-model-at-start"], ready_path="/") as srv:
        client = httpx.Client(base_url=srv.base, timeout=60)
        state = client.get("/ui-names-test/state").json()
        assert state["available"] == ["first"]
        assert state["pages"][:3] == ["textual inversion", "hypernetworks", "checkpoints"]
        assert "lora" in state["pages"] and "test things" in state["pages"]
        assert state["items"] == ["first"]
        # the always-on script's InputAccordion is in the page, and its value is a script argument
        config = client.get("/config").json()
        ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert {"script_txt2img_accordion_test_acc", "script_txt2img_accordion_test_acc-checkbox"} <= ids
        info = {s["name"]: s for s in client.get("/sdapi/v1/script-info").json()}
        assert [a["label"] for a in info["accordion test"]["args"]] == ["Accordion test", "Strength"]
        # the listing is live: a file added and refreshed through the API shows in `lora`
        write_lora(data / "models" / "Lora" / "second.safetensors")
        assert client.post("/sdapi/v1/refresh-loras").status_code == 200
        assert client.get("/ui-names-test/state").json()["available"] == ["first", "second"]
        assert "error loading script" not in srv.log_tail(50000)
