"""Extensions in the real browser: the fixture extension `hook-recorder` (tests/fixtures/extensions)
builds its script UI with gradio-3 idioms and A1111's JavaScript globals, adds a tab, a setting and
a stylesheet; the built-in api-payload-display shows each tab's own payload, and posting that
payload to the API gives the same pixels."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import _skip_reason
from tests.browser.test_ui_browser import expect, fill_txt2img, image_bytes, job_over, wait_for_result
from tests.server_process import running_server

pytestmark = pytest.mark.browser
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "extensions" / "hook-recorder"


# a gradio-3 extension's tab with sub-tabs, whose script pairs them with their buttons as images-browser
# does: `tabs.querySelector("div").querySelectorAll("button")` (gradio 3's tab strip, its first div)
SUBTABS_EXTENSION = {
    "scripts/subtabs.py": """
import gradio as gr
from modules import script_callbacks


def on_ui_tabs():
    with gr.Blocks(analytics_enabled=False) as ui:
        with gr.Tabs(elem_id="subtabs_probe"):
            gr.Textbox(visible=False)          # a component first, as images-browser has
            for tag in ("first", "second", "third"):
                with gr.Tab(tag.title(), elem_id=f"subtabs_{tag}_container"):
                    gr.Button(f"the {tag} sub-tab", elem_id=f"subtabs_{tag}_text")
        # images-browser's formatted Generation Info: a key/value Dataframe whose header its CSS hides
        gr.DataFrame([["Steps", "20"], ["Sampler", "Euler a"]], headers=["Key", "Value"], wrap=True,
                     interactive=False, elem_classes="subtabs_info_formatted", elem_id="subtabs_info")
        gr.Textbox("first,second,third", elem_id="subtabs_tags", visible=False)
    return (ui, "Subtabs", "subtabs_probe_tab"),


script_callbacks.on_ui_tabs(on_ui_tabs)
""",
    "style.css": """
.subtabs_info_formatted th { display: none; }
.subtabs_info_formatted td:first-child { width: 30%; }
""",
    "javascript/subtabs.js": """
onUiLoaded(function () {
    const tags = gradioApp().querySelector("#subtabs_tags textarea").value.split(",");
    const buttons = gradioApp().getElementById("subtabs_probe").querySelector("div").querySelectorAll("button");
    document.body.dataset.subtabButtons = Array.from(buttons).map((b) => b.textContent.trim()).join("|");
    buttons.forEach(function (button, i) {
        button.addEventListener("click", () => { document.body.dataset.subtabClicked = tags[i]; });
    });
    window.subtabsClickSecond = () => buttons[1].click();
});
""",
}


# agent-scheduler's "Enqueue", written small: a button put under Generate by after_component, bound at
# app start to the Generate click's own inputs (found in gradio 3's Blocks.dependencies / Blocks.fns),
# the values stored by the handler's parameter names (JSON) and the rest pickled, then run later by a
# thread of its own holding the queue lock, through wrap_gradio_call(modules.txt2img.txt2img)
ENQUEUE_EXTENSION = {
    "scripts/enqueue_probe.py": """
import base64, inspect, io, json, pickle, threading
import gradio as gr
from modules import scripts, script_callbacks
from modules.call_queue import queue_lock, wrap_gradio_call
from modules.txt2img import txt2img, txt2img_create_processing

results = {}


class EnqueueProbe(scripts.Script):
    def __init__(self):
        super().__init__()
        self.generate = self.button = self.checkpoint = None
        script_callbacks.on_app_started(lambda block, app: self.bind(block, app))

    def title(self):
        return "Enqueue probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible if not is_img2img else False

    def after_component(self, component, **kwargs):
        if component.elem_id != "txt2img_generate":
            return
        self.generate = component
        parent = component.parent
        while parent is not None and parent.elem_id != "txt2img_actions_column":
            parent = parent.parent
        with gr.Row(elem_id="txt2img_enqueue_probe_row") as row:
            self.checkpoint = gr.Dropdown(["Current Checkpoint"], value="Current Checkpoint", visible=False)
            self.button = gr.Button("Enqueue", elem_id="txt2img_enqueue_probe")
        component.parent.children.pop()
        parent.add(row)

    def bind(self, root, app):
        deps = [d for d in root.dependencies if d["trigger"] == "click" and self.generate._id in d["targets"]]
        dep = next(d for d in deps if len(d["outputs"]) == 4)
        fn = next(f for f in root.fns if [c._id for c in f.inputs] == dep["inputs"])
        with root:
            self.button.click(fn=register, _js="submit_enqueue_probe", inputs=[self.checkpoint, *fn.inputs],
                              outputs=None, show_progress=False)

        @app.get("/enqueue-probe/result")
        def result():
            return results


def register(request: gr.Request, *args):
    checkpoint, values = args[0], list(args[1:])
    names = inspect.getfullargspec(txt2img_create_processing).args
    values.insert(names.index("request"), None)
    stored = json.dumps(dict(zip(names, values[:len(names)])))
    rest = pickle.dumps(values[len(names):])
    threading.Thread(target=run, args=(stored, rest, checkpoint)).start()


def run(stored, rest, checkpoint):
    names = inspect.getfullargspec(txt2img_create_processing).args
    named = json.loads(stored)
    args = [named.get(n) for n in names] + pickle.loads(rest)
    with queue_lock:
        images, info, _html, log = wrap_gradio_call(txt2img, add_stats=True)(*args)
    buf = io.BytesIO()
    image = images[0][0] if isinstance(images[0], tuple) else images[0]
    image.save(buf, format="PNG")
    results.update(task=named["id_task"], checkpoint=checkpoint, info=json.loads(info), log=log,
                   image=base64.b64encode(buf.getvalue()).decode())
""",
    "javascript/enqueue_probe.js": """
function submit_enqueue_probe(...args) {
    const res = create_submit_args(args);
    res[1] = randomId();
    return res;
}
""",
}


@pytest.fixture(scope="module")
def webui_server(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("browser-ext-data")
    shutil.copytree(FIXTURE, data / "extensions" / "hook-recorder")
    for folder, files in (("subtabs-probe", SUBTABS_EXTENSION), ("enqueue-probe", ENQUEUE_EXTENSION)):
        for name, text in files.items():
            (data / "extensions" / folder / name).parent.mkdir(parents=True, exist_ok=True)
            (data / "extensions" / folder / name).write_text(text, encoding="utf-8")
    with running_server(data, ["--api", "--skip-install"], ready_path="/internal/ping") as srv:
        srv.data = data
        yield srv


def payload_text(page, base: str, expected: str, tab: str = "txt2img") -> str:
    """The payload as a user gets it: open the "API payload" panel and press its copy button, until
    the copied payload is this job's (holds `expected`; bounded wait). The code view renders only the
    lines in sight, so the text is read from the clipboard."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    if not page.locator(f"#{tab}_api_payload_json").is_visible():
        page.locator(f"#{tab}_api_payload .label-wrap").first.click()
    expect(page.locator(f"#{tab}_api_payload_json .cm-content")).to_contain_text('"alwayson_scripts"')
    text = ""
    for _ in range(60):
        page.locator(f"#{tab}_api_payload_json button").first.click()
        text = page.evaluate("navigator.clipboard.readText()")
        if expected in text:
            return text
        page.wait_for_timeout(500)
    raise AssertionError(f"the copied payload never held {expected!r}: {text[:300]}")


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_extension_ui_scripts_styles_and_tab(page, webui_server):
    # A1111's JS globals ran the extension's onUiLoaded with `opts` filled in
    expect(page.locator("body")).to_have_attribute("data-hook-recorder", "loaded")
    expect(page.locator("body")).to_have_attribute("data-hook-recorder-opt", "3")
    # visible=False helpers of a gradio-3 extension are in the page (hidden), as its JS expects
    # (gradio 6 renders an accordion's content once it is opened)
    page.locator("#script_txt2img_hook_recorder_enabled .label-wrap").first.click()
    expect(page.locator("#script_txt2img_hook_recorder_tag")).to_be_visible()
    hidden = page.locator("#script_txt2img_hook_recorder_hidden")
    expect(hidden).to_have_count(1)
    expect(hidden).to_be_hidden()
    expect(page.locator("#script_txt2img_hook_recorder_pull")).to_have_count(1)
    # the always-on section, the Script dropdown with the selectable script, the extension's tab
    expect(page.locator("#txt2img_script_container")).to_be_visible()
    page.get_by_role("tab", name="Recorder").click()
    notes = page.locator("#hook_recorder_notes")
    expect(notes).to_be_visible()
    assert "rgb(1, 2, 3)" in notes.evaluate("e => getComputedStyle(e).outlineColor")


def test_ui_generation_payload_reproduces_the_image(open_ui, webui_server):
    page = open_ui()
    fill_txt2img(page, prompt="payload check", steps=4, seed=-1)
    # turn the recorder on through its accordion and give it a tag: its args go into the payload
    page.locator("#script_txt2img_hook_recorder_enabled .label-wrap").first.click()
    page.locator("#script_txt2img_hook_recorder_tag textarea, #script_txt2img_hook_recorder_tag input").first \
        .fill("from-ui")
    page.locator("#txt2img_generate").click()
    info = page.locator("#html_info_txt2img")
    expect(info).to_contain_text("Recorder tag: from-ui", timeout=120_000)
    job_over(page)
    shown = image_bytes(page)

    payload = json.loads(payload_text(page, webui_server.base, "payload check"))
    assert payload["prompt"] == "payload check" and payload["steps"] == 4
    assert isinstance(payload["seed"], int) and payload["seed"] >= 0, "the seed actually used, not -1"
    assert f"Seed: {payload['seed']}" in info.inner_text()
    assert payload["alwayson_scripts"]["Hook Recorder"]["args"] == [True, "from-ui", 8]
    assert "API payload" not in payload["alwayson_scripts"]
    assert payload["override_settings"]["sd_model_checkpoint"].startswith("tiny-default-sd1")

    r = httpx.post(webui_server.base + "/sdapi/v1/txt2img", json=payload, timeout=120)
    assert r.status_code == 200, r.text
    import base64

    again = base64.b64decode(r.json()["images"][0])
    assert np.array_equal(pixels(again), pixels(shown)), "the payload must make the same image"
    page.console_log.check()


def test_each_browser_tab_sees_only_its_own_payload(open_ui, webui_server):
    first, second = open_ui(), open_ui()
    for page, prompt, seed in ((first, "first tab", 101), (second, "second tab", 202)):
        fill_txt2img(page, prompt=prompt, steps=2, seed=seed)
        page.locator("#txt2img_generate").click()
        wait_for_result(page, seed=seed)
    assert json.loads(payload_text(first, webui_server.base, "first tab"))["seed"] == 101
    assert json.loads(payload_text(second, webui_server.base, "second tab"))["seed"] == 202
    # a new generation in the second tab does not change what the first one shows
    fill_txt2img(second, prompt="second again", steps=2, seed=303)
    second.locator("#txt2img_generate").click()
    wait_for_result(second, seed=303)
    assert json.loads(payload_text(second, webui_server.base, "second again"))["seed"] == 303
    again = json.loads(payload_text(first, webui_server.base, "first tab"))
    assert (again["prompt"], again["seed"]) == ("first tab", 101)
    for page in (first, second):
        page.console_log.check()


def test_paste_fills_script_fields_and_fires_infotext_pasted(page, webui_server):
    httpx.get(webui_server.base + "/hook-recorder/calls", params={"clear": True}, timeout=30)
    page.locator("#txt2img_prompt textarea").fill("a fox\nSteps: 6, Sampler: Euler, Seed: 9, Recorder tag: pasted")
    page.locator("#txt2img_paste").click()
    tag = page.locator("#script_txt2img_hook_recorder_tag textarea, #script_txt2img_hook_recorder_tag input").first
    expect(tag).to_have_value("pasted")
    expect(page.locator("#txt2img_seed input")).to_have_value("9")
    calls = httpx.get(webui_server.base + "/hook-recorder/calls", timeout=30).json()
    pasted = [c for c in calls if c["hook"] == "infotext_pasted"]
    assert pasted and "Recorder tag" in pasted[0]["keys"] and pasted[0]["infotext"].startswith("a fox")


def test_extension_sub_tabs_have_gradio3s_tab_strip(page):
    # the first div of an extension's gr.Tabs holds its tab buttons alone, in order (gradio 6's
    # overflow menu would put hidden copies first), so the script's handlers are on the real buttons
    expect(page.locator("body")).to_have_attribute("data-subtab-buttons", "First|Second|Third")
    page.get_by_role("tab", name="Subtabs").click()
    expect(page.locator("#subtabs_first_text")).to_be_visible()
    page.evaluate("subtabsClickSecond()")
    expect(page.locator("#subtabs_second_text")).to_be_visible()
    expect(page.locator("#subtabs_first_text")).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-subtab-clicked", "second")
    # gradio 3's inline display of the shown panel (images-browser finds the shown sub-tab by it)
    shown = page.evaluate("""() => Array.from(document.querySelectorAll("#subtabs_probe > [role='tabpanel']"))
                                 .map((p) => p.id + ':' + p.style.display)""")
    assert shown == ["subtabs_first_container:none", "subtabs_second_container:block",
                     "subtabs_third_container:none"], shown
    # a user's click on a sub-tab's button is seen by the handler too
    page.get_by_role("tab", name="Third").click()
    expect(page.locator("#subtabs_third_text")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-subtab-clicked", "third")


def test_a_dataframe_whose_header_an_extension_hides_still_shows_its_rows(page):
    """gradio 6 sizes a Dataframe's columns by its header cells; with the header hidden by the
    extension's CSS (images-browser's formatted Generation Info) the columns keep their widths."""
    page.get_by_role("tab", name="Subtabs").click()
    cells = page.locator("#subtabs_info span.text")
    expect(cells.filter(has_text="Sampler").first).to_be_visible()
    widths = page.evaluate("""() => Array.from(document.querySelectorAll('#subtabs_info span.text'))
                                 .filter((s) => !s.closest('th'))
                                 .map((s) => Math.round(s.getBoundingClientRect().width))""")
    assert len(widths) >= 4 and all(w > 30 for w in widths), widths
    header = page.evaluate("""() => Array.from(document.querySelectorAll('#subtabs_info th.header-cell'))
                                 .map((th) => [getComputedStyle(th).visibility, th.getBoundingClientRect().height])""")
    assert header and all(vis == "hidden" and h < 2 for vis, h in header), header


def test_an_extension_re_submits_the_generate_inputs_and_runs_them_later(page, webui_server):
    """agent-scheduler's Enqueue path (ENQUEUE_EXTENSION above): the page's values, stored, then run by
    the extension's thread through modules.txt2img.txt2img, make the image the API makes of them."""
    import base64
    import time

    fill_txt2img(page, prompt="queued later", steps=3, seed=77)
    button = page.locator("#txt2img_actions_column #txt2img_enqueue_probe")     # placed under Generate
    expect(button).to_be_visible()
    button.click()
    result = {}
    for _ in range(240):
        result = httpx.get(webui_server.base + "/enqueue-probe/result", timeout=30).json()
        if result:
            break
        time.sleep(0.5)
    assert result, "the enqueued job never ran"
    assert result["task"].startswith("task(") and result["checkpoint"] == "Current Checkpoint"
    info = result["info"]
    assert (info["prompt"], info["seed"], info["steps"], info["width"]) == ("queued later", 77, 3, 64)
    assert "Time taken" in result["log"]
    r = httpx.post(webui_server.base + "/sdapi/v1/txt2img", timeout=120, json={
        "prompt": "queued later", "seed": 77, "steps": 3, "width": 64, "height": 64,
        "sampler_name": info["sampler_name"]})
    assert r.status_code == 200, r.text
    assert np.array_equal(pixels(base64.b64decode(result["image"])), pixels(base64.b64decode(r.json()["images"][0])))
    page.console_log.check()
