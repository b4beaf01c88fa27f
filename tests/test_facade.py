"""A1111's module names (`modules/`) as extensions use them: they read the live objects, and a
replacement they assign at run time (`modules.processing.process_images = wrapper`) is what the
app then calls, although the implementation (`sdwebui/`) never imports `modules`."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

import modules.images
import modules.processing
import modules.scripts
import modules.shared
from sdwebui.services import runtime
from sdwebui.services.extensions import scripts as scripts_impl
from sdwebui.services.job_state import State

SMALL = {"steps": 2, "width": 64, "height": 64, "seed": 7, "prompt": "a red circle"}


def test_shared_names_are_the_runtime_objects(api):
    assert modules.shared.opts is runtime.opts
    assert modules.shared.cmd_opts is runtime.cmd_opts
    # the job state extensions poll is the one the queue drives
    assert isinstance(modules.shared.state, State)
    assert modules.shared.state is runtime.state is runtime.queue.state


def test_shared_values_an_extension_assigns_land_where_the_app_reads_them(monkeypatch):
    from sdwebui.services import queue as queue_mod, shared_items

    import modules.call_queue
    import modules.face_restoration

    # the lock extensions take is the one the queue's worker holds
    assert modules.call_queue.queue_lock is queue_mod.queue_lock
    restorers = [modules.face_restoration.FaceRestoration()]
    monkeypatch.setattr(modules.shared, "face_restorers", restorers)
    assert shared_items.face_restorers is restorers
    monkeypatch.setattr(modules.shared, "tab_names", ["txt2img", "Mine"])
    assert shared_items.tab_names == ["txt2img", "Mine"]


def test_a_monkeypatched_name_gets_its_owners_value_back():
    """pytest's monkeypatch (9.x) undoes a module attribute that is no data descriptor by deleting it,
    which the facade would forward to the owner (later tests then lacked shared.face_restorers)."""
    from sdwebui.services import shared_items

    before = shared_items.face_restorers
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(modules.shared, "face_restorers", [])
        mp.setattr(modules.shared, "face_restorers", ["twice"])
        assert shared_items.face_restorers == ["twice"]
    assert shared_items.face_restorers is before and modules.shared.face_restorers is before
    assert "face_restorers" not in vars(modules.shared)     # still read from the owner, not a copy


def test_processing_classes_are_the_engine_classes():
    from modules.processing import Processed, StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img

    for cls in (StableDiffusionProcessingTxt2Img, StableDiffusionProcessingImg2Img, Processed):
        assert cls.__module__.startswith("sdwebui.engine."), cls
    assert issubclass(StableDiffusionProcessingTxt2Img, modules.processing.StableDiffusionProcessing)


def test_a_wrapped_process_images_runs_for_an_api_request(api):
    original = modules.processing.process_images
    seen = []

    def wrapper(p, *args, **kwargs):
        # what an extension sees: the job's p, on the queue worker, with the job state running
        seen.append((p, modules.shared.state.job))
        p.extra_generation_params["Wrapped by"] = "facade test"
        return original(p, *args, **kwargs)

    modules.processing.process_images = wrapper
    try:
        r = api.post("/sdapi/v1/txt2img", json=SMALL)
    finally:
        modules.processing.process_images = original
    assert r.status_code == 200, r.text
    assert len(seen) == 1
    p, job = seen[0]
    assert isinstance(p, modules.processing.StableDiffusionProcessingTxt2Img) and p.prompt == SMALL["prompt"]
    assert job == "txt2img"
    # the wrapper's change reaches the response: its infotext and the image's own metadata
    assert "Wrapped by: facade test" in json.loads(r.json()["info"])["infotexts"][0]
    image = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0])))
    assert image.size == (64, 64) and "Wrapped by: facade test" in image.info["parameters"]
    # restored: the next request runs the original again
    assert modules.processing.process_images is original
    assert api.post("/sdapi/v1/txt2img", json=SMALL).status_code == 200 and len(seen) == 1


def test_a_wrapped_save_image_saves_every_sample(api):
    original = modules.images.save_image
    calls = []

    def wrapper(image, path, basename="", *args, **kwargs):
        result = original(image, path, basename, *args, **kwargs)
        calls.append((image, kwargs.get("p"), result))
        return result

    modules.images.save_image = wrapper
    try:
        # the API saves samples when the request asks for it and the samples_save option is on
        r = api.post("/sdapi/v1/txt2img", json={**SMALL, "batch_size": 2, "save_images": True,
                                                "override_settings": {"samples_save": True, "grid_save": False}})
    finally:
        modules.images.save_image = original
    assert r.status_code == 200, r.text
    assert len(r.json()["images"]) == 3       # the grid, then the two samples
    assert len(calls) == 2                    # one save per sample (grid_save is off)
    for image, p, (filename, _txt) in calls:
        assert isinstance(image, Image.Image)
        assert isinstance(p, modules.processing.StableDiffusionProcessingTxt2Img)
        assert Path(filename).is_file()
    assert modules.images.save_image is original


class FacadeProbe(scripts_impl.Script):
    """An always-on script as an extension writes it; it overrides no hook."""

    def title(self):
        return "Facade probe"

    def show(self, is_img2img):
        return scripts_impl.AlwaysVisible


@pytest.fixture
def probe_script():
    """FacadeProbe loaded as if from an extension; the app's scripts are put back afterwards."""
    runners = (scripts_impl.scripts_txt2img, scripts_impl.scripts_img2img)
    saved_data = list(scripts_impl.scripts_data)
    saved_runners = [dict(r.__dict__) for r in runners]
    scripts_impl.scripts_data.append(scripts_impl.ScriptClassData(FacadeProbe, __file__, str(Path(__file__).parent),
                                                                  None))
    scripts_impl.initialize_runners()
    yield FacadeProbe
    scripts_impl.scripts_data[:] = saved_data
    for runner, state in zip(runners, saved_runners):
        runner.__dict__.clear()
        runner.__dict__.update(state)


def test_patched_script_methods_run(api, probe_script, monkeypatch):
    # the class an extension finds through modules.scripts is the one the runner instantiated
    loaded = [s for s in modules.scripts.scripts_txt2img.alwayson_scripts if isinstance(s, probe_script)]
    assert len(loaded) == 1 and modules.scripts.Script is scripts_impl.Script
    ran = []
    # on the extension's class, and on the base class for a hook the script inherits
    monkeypatch.setattr(type(loaded[0]), "process", lambda self, p, *args: ran.append(("process", p.prompt)))
    monkeypatch.setattr(modules.scripts.Script, "before_process",
                        lambda self, p, *args: ran.append(("before_process", type(self).__name__)))
    r = api.post("/sdapi/v1/txt2img", json=SMALL)
    assert r.status_code == 200, r.text
    assert ("process", SMALL["prompt"]) in ran and ("before_process", "FacadeProbe") in ran
