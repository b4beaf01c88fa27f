"""Extension-registered extra networks act during generation, as in A1111: a handler registered with
`modules.extra_networks.register_extra_network` is activated once per batch with its `<name:...>`
tags (and with [] when the prompt has none), the tags never reach the model, deactivate runs at the
end, and the Scripts' after_extra_networks_activate hook gets A1111's arguments. The "extension"
below uses only A1111's public names, as a third-party one would; it is registered on the shared
in-process app for one test at a time."""
from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest

from modules import extra_networks, scripts
from tests.test_api import pixels, txt2img
from tests.test_lora import make_lora

SMALL = {"steps": 3, "width": 64, "height": 64, "seed": 21}


# --- the test extension ---------------------------------------------------------------------------
class ProbeNetwork(extra_networks.ExtraNetwork):
    """Records what generation hands it: the arguments, and what `p` holds at that moment."""

    def __init__(self, name: str = "probe", fail: bool = False) -> None:
        super().__init__(name)
        self.calls: list[tuple] = []
        self.fail = fail

    def activate(self, p, params_list):
        self.calls.append(("activate", [(x.items, x.positional, x.named) for x in params_list], list(p.prompts),
                           sorted(p.extra_network_data), p.iteration))
        if self.fail:
            raise RuntimeError("probe exploded")

    def deactivate(self, p):
        self.calls.append(("deactivate",))


class AfterActivateRecorder(scripts.Script):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def title(self):
        return "After activate recorder"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def after_extra_networks_activate(self, p, *args, **kwargs):
        self.seen.append({**kwargs, "extra_network_data": {k: [x.items for x in v]
                                                           for k, v in kwargs["extra_network_data"].items()}})

    def process_batch(self, p, *args, **kwargs):
        self.seen.append({"process_batch": list(p.prompts)})


@pytest.fixture
def probe(api):
    """A registered `<probe:...>` handler and an always-on Script on the txt2img tab; both removed
    after the test."""
    handler = ProbeNetwork()
    extra_networks.register_extra_network(handler)
    runner = scripts.scripts_txt2img
    runner.ensure_ui()
    script = AfterActivateRecorder()
    script.args_from = script.args_to = 0     # no controls, so no arguments
    runner.alwayson_scripts.append(script)
    try:
        yield handler, script
    finally:
        runner.alwayson_scripts.remove(script)
        extra_networks.extra_network_registry.pop("probe", None)


def info(out: dict) -> dict:
    return json.loads(out["info"])


def image(out: dict, index: int = 0) -> np.ndarray:
    return pixels(out["images"][index])


def same_images(a: dict, b: dict) -> bool:
    return len(a["images"]) == len(b["images"]) and all(
        np.array_equal(image(a, i), image(b, i)) for i in range(len(a["images"])))


# --- the tests -----------------------------------------------------------------------------------
def test_handler_gets_its_tags_once_per_batch_and_the_model_never_sees_them(api, probe):
    handler, script = probe
    plain = txt2img(api, prompt="a tree", n_iter=2, **SMALL)
    handler.calls.clear()
    script.seen.clear()
    tagged = txt2img(api, prompt="a tree <probe:x:0.5:k=v>", n_iter=2, **SMALL)
    # the same seeds without the tag give the same images: the tag was taken out before encoding
    assert same_images(tagged, plain)
    args = [(["x", "0.5", "k=v"], ["x", "0.5"], {"k": "v"})]
    assert handler.calls == [("activate", args, ["a tree "], ["probe"], 0),
                             ("activate", args, ["a tree "], ["probe"], 1),
                             ("deactivate",)]
    # A1111's order and arguments: activate, after_extra_networks_activate, then process_batch
    # with the prompts already without their tags
    hooks = [s for s in script.seen if "batch_number" in s]
    assert [s["batch_number"] for s in hooks] == [0, 1]
    assert hooks[0]["prompts"] == ["a tree "] and hooks[0]["extra_network_data"] == {"probe": [["x", "0.5", "k=v"]]}
    assert hooks[0]["seeds"] == info(tagged)["all_seeds"][:1] and "subseeds" in hooks[0]
    assert script.seen[1] == {"process_batch": ["a tree "]}
    # the infotext keeps the prompt as written, as A1111's does
    assert info(tagged)["infotexts"][0].startswith("a tree <probe:x:0.5:k=v>\n")


def test_handler_without_tags_gets_an_empty_list_and_no_deactivate(api, probe, caplog):
    handler, _ = probe
    with caplog.at_level(logging.WARNING, logger="sdwebui.services.legacy.networks"):
        out = txt2img(api, prompt="a tree <nosuch:1>", n_iter=2, **SMALL)
    # A1111 deactivates only when the prompt had tags its data holds; "nosuch" has no handler
    assert [c[:2] for c in handler.calls] == [("activate", []), ("activate", []), ("deactivate",)]
    unknown = [r.getMessage() for r in caplog.records if "nosuch" in r.getMessage()]
    assert len(unknown) == 1 and "Skipping unknown extra network: nosuch" in unknown[0]     # once per job
    assert np.array_equal(image(out), image(txt2img(api, prompt="a tree", **SMALL)))
    handler.calls.clear()
    txt2img(api, prompt="a tree", **SMALL)
    assert handler.calls == [("activate", [], ["a tree"], [], 0)]


def test_a_failing_handler_is_logged_and_the_job_goes_on(api, probe, caplog):
    """A1111 logs a handler's exception and goes on with the job; here the job's warnings say it too."""
    failing = ProbeNetwork("boom", fail=True)
    extra_networks.register_extra_network(failing)
    try:
        with caplog.at_level(logging.ERROR, logger="sdwebui.services.legacy.networks"):
            out = txt2img(api, prompt="a tree <boom:1>", **SMALL)
    finally:
        extra_networks.extra_network_registry.pop("boom")
    assert failing.calls[0][:2] == ("activate", [(["1"], ["1"], {})])
    warnings = info(out)["warnings"]
    assert any("activating extra network boom with arguments [['1']]: RuntimeError: probe exploded" in w
               for w in warnings), warnings
    assert any(r.exc_info and "probe exploded" in str(r.exc_info[1]) for r in caplog.records)
    assert probe[0].calls[0][:2] == ("activate", [])     # the other handlers still ran
    assert np.array_equal(image(out), image(txt2img(api, prompt="a tree", **SMALL)))


def test_hypernetwork_tags_are_reported_once_per_job(api):
    out = txt2img(api, prompt="a tree <hypernet:anime:0.7>", n_iter=2, **SMALL)
    warnings = [w for w in info(out).get("warnings", []) if "hypernet" in w]
    assert len(warnings) == 1 and "not applied" in warnings[0] and "<lora:" in warnings[0]
    assert same_images(out, txt2img(api, prompt="a tree", n_iter=2, **SMALL))


def test_disable_extra_networks_activates_nothing_but_still_removes_the_tags(api, probe):
    handler, script = probe
    out = txt2img(api, prompt="a tree <probe:x>", disable_extra_networks=True, **SMALL)
    assert handler.calls == [] and not [s for s in script.seen if "batch_number" in s]
    assert np.array_equal(image(out), image(txt2img(api, prompt="a tree", **SMALL)))


@pytest.fixture(scope="module")
def probe_lora(api, data_dir, tiny_files):
    from sdwebui.engine.models.single_file import load_checkpoint

    folder = data_dir / "models" / "Lora"
    folder.mkdir(parents=True, exist_ok=True)
    path = make_lora(folder / "handler-probe.safetensors", load_checkpoint(tiny_files["sd1"]), seed=7)
    assert api.post("/sdapi/v1/refresh-loras").status_code == 200
    return path


def test_builtin_lora_handler_mirrors_the_tags_and_the_weights_are_merged_once(api, probe_lora):
    """The engine merges the LoRA; the built-in Lora extension's handler (registered in on_before_ui,
    which the API-only app calls too, as A1111's does) only fills networks.loaded_networks: the image
    and the "Lora hashes" field are the same with and without it."""
    lora_ext = sys.modules.get("extra_networks_lora")
    networks = sys.modules.get("networks")
    assert lora_ext is not None and networks is not None, "the built-in Lora extension was not loaded"
    registry, aliases = extra_networks.extra_network_registry, extra_networks.extra_network_aliases
    assert isinstance(registry.get("lora"), lora_ext.ExtraNetworkLora) and aliases.get("lyco") is registry["lora"]
    prompt = "a tree <lora:handler-probe:0.9>"
    saved = dict(registry), dict(aliases)
    try:
        registry.pop("lora")
        aliases.pop("lyco")
        without = txt2img(api, prompt=prompt, **SMALL)
    finally:
        for table, before in zip((registry, aliases), saved):
            table.clear()
            table.update(before)
    assert not np.array_equal(image(without), image(txt2img(api, prompt="a tree", **SMALL)))
    with_handler = txt2img(api, prompt=prompt, **SMALL)
    assert [(n.name, n.te_multiplier, n.unet_multiplier) for n in networks.loaded_networks] == [
        ("handler-probe", 0.9, 0.9)]
    assert np.array_equal(image(with_handler), image(without))
    hashes = [t.split("Lora hashes: ")[1] for t in (info(with_handler)["infotexts"][0], info(without)["infotexts"][0])]
    assert hashes[0] == hashes[1] and "handler-probe" in hashes[0]
