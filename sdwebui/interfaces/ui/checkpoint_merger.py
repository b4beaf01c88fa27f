"""The "Checkpoint Merger" tab (A1111's `modules.ui_checkpoint_merger`, with `extras.run_modelmerger` and
`extras.read_metadata`): the same fields, element ids and positional arguments as A1111 1.10, over
`sdwebui.services.checkpoint_merge`, which does the work.

The merge runs as a job on the generation queue (A1111 holds the queue lock for it), reported
under the page's task id, so the tab shows A1111's progress bar; the loaded model is not touched.
Afterwards the three model lists and the quicksettings checkpoint dropdown offer the new file.
"""
from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr

from sdwebui.engine.models.merge import SKIP_ON_MERGE, to_half
from sdwebui.interfaces.ui.common import create_refresh_button
from sdwebui.interfaces.ui.components import FormRow
from sdwebui.services import checkpoint_merge, runtime
from sdwebui.services.call_queue import wrap_gradio_gpu_call
from sdwebui.services.checkpoint_merge import CONFIG_SOURCES, FORMATS, METHODS, MergeError, MergeRequest

logger = logging.getLogger(__name__)

__all__ = ["UiCheckpointMerger", "update_interp_description", "modelmerger", "run_modelmerger", "read_metadata",
           "create_config", "to_half", "checkpoint_dict_skip_on_merge", "create_checkpoint_merger_tab"]

_DESCRIPTIONS = {
    "No interpolation": "No interpolation will be used. Requires one model; A. Allows for format conversion and VAE "
                        "baking.",
    "Weighted sum": "A weighted sum will be used for interpolation. Requires two models; A and B. The result is "
                    "calculated as A * (1 - M) + B * M",
    "Add difference": "The difference between the last two models will be added to the first. Requires three "
                      "models; A, B and C. The result is calculated as A + (B - C) * M",
}
# the quicksettings dropdown this tab updates after a merge (settings.py builds it with this id)
QUICK_CHECKPOINT_ID = "setting_sd_model_checkpoint"
# the page gives the merge a task id and polls its progress above the results panel (A1111's
# javascript `modelmerger()`); the bar is removed when the event ends, also after an error
_START_JS = """(...args) => {
    const id = randomId();
    const panel = gradioApp().getElementById('modelmerger_results_panel');
    window.webuiModelmergerProgressEnd = panel ? requestProgress(id, panel, null, () => {}) : null;
    args[0] = id;
    return args;
}"""
_END_JS = "() => { if (window.webuiModelmergerProgressEnd) window.webuiModelmergerProgressEnd(); return []; }"

# A1111's module-level names of modules.extras, for extensions
checkpoint_dict_skip_on_merge = list(SKIP_ON_MERGE)
create_config = checkpoint_merge.copy_config


def update_interp_description(value: str) -> str:
    return f"<p style='margin-bottom: 2.5em'>{_DESCRIPTIONS[value]}</p>"


def _checkpoint_titles() -> list[str]:
    return [info.title for info in runtime.registry.list()] if runtime.registry is not None else []


def _vae_names() -> list[str]:
    return ["None", *(v.model_name for v in runtime.vae_registry.list())] if runtime.vae_registry is not None \
        else ["None"]


def _refresh_vaes() -> None:
    if runtime.vae_registry is not None:
        runtime.vae_registry.refresh()


def _list_updates(*selected: str | None) -> list[Any]:
    """A1111's four dropdown updates: the three model lists (each showing its model's title as it is
    now: a merge hashes its inputs, which adds `[hash]` to their titles) and the quicksettings checkpoint."""
    titles = _checkpoint_titles()
    updates = []
    for name in selected:
        info = runtime.registry.match(name) if name and runtime.registry is not None else None
        updates.append(gr.update(choices=titles, value=info.title) if info is not None else gr.update(choices=titles))
    return updates + [gr.update(choices=titles) for _ in range(4 - len(updates))]


def read_metadata(primary_model_name: str | None, secondary_model_name: str | None,
                  tertiary_model_name: str | None) -> str:
    """A1111's extras.read_metadata: the selected checkpoints' metadata as JSON, for the editor."""
    return checkpoint_merge.read_metadata(primary_model_name, secondary_model_name, tertiary_model_name)


def run_modelmerger(id_task: str | None, primary_model_name: str | None, secondary_model_name: str | None,
                    tertiary_model_name: str | None, interp_method: str, multiplier: float, save_as_half: bool,
                    custom_name: str, checkpoint_format: str, config_source: int | str, bake_in_vae: str | None,
                    discard_weights: str, save_metadata: bool, add_merge_recipe: bool, copy_metadata_fields: bool,
                    metadata_json: str, overwrite: bool = False) -> list[Any]:
    """A1111's extras.run_modelmerger: [four dropdown updates, message]. A merge that cannot be done
    says why in the message; the `Failed: ...` ones are A1111's. It runs as a job of the generation
    queue (inline when called from one, as the Merge button's handler is)."""
    request = MergeRequest(primary_model_name, secondary_model_name, tertiary_model_name, interp_method,
                           float(multiplier), bool(save_as_half), custom_name or "", checkpoint_format,
                           config_source, bake_in_vae, discard_weights or "", bool(save_metadata),
                           bool(add_merge_recipe), bool(copy_metadata_fields), metadata_json, bool(overwrite))

    def merge() -> checkpoint_merge.MergeResult:
        return checkpoint_merge.merge_checkpoints(request, state=runtime.state)

    try:
        result = runtime.queue.run(merge, name="model-merge") if runtime.queue is not None else merge()
    except MergeError as e:
        message = str(e)
        logger.warning("checkpoint merge refused: %s", message)
        if not message.startswith("Failed"):
            message = f"Error merging checkpoints: {message}"
        return [*[gr.update() for _ in range(4)], html.escape(message)]
    return [*_list_updates(primary_model_name, secondary_model_name, tertiary_model_name),
            html.escape(result.message)]


def modelmerger(*args: Any) -> list[Any]:
    """The Merge button's handler (A1111's): run_modelmerger, with an unexpected error shown as
    "Error merging checkpoints: ..." and the lists rescanned (a file may have gone)."""
    try:
        return run_modelmerger(*args)
    except Exception as e:
        logger.exception("Error loading/saving model file")
        if runtime.registry is not None:
            runtime.registry.refresh()
        return [*_list_updates(), html.escape(f"Error merging checkpoints: {e}")]


class UiCheckpointMerger:
    """A1111's class: the tab's components (built in a gr.Blocks of their own, rendered where it is
    constructed) and `setup_ui`, which wires them once the quicksettings dropdown exists."""

    def __init__(self) -> None:
        with gr.Blocks(analytics_enabled=False) as modelmerger_interface:
            with gr.Row(equal_height=False):
                with gr.Column(variant="compact"):
                    self._build_inputs()
                with gr.Column(variant="compact", elem_id="modelmerger_results_container"):
                    with gr.Group(elem_id="modelmerger_results_panel"):
                        self.modelmerger_result = gr.HTML(elem_id="modelmerger_result")
        self.blocks = modelmerger_interface

    def _model_dropdown(self, label: str, elem_id: str, refresh_id: str) -> gr.Dropdown:
        # a custom value is let through (the merge looks it up by any name and says if it is unknown):
        # a title gains `[hash]` once the file is hashed, and gradio 6 would refuse the one still shown
        # value=None: gradio 6 would otherwise select the first checkpoint (A1111's lists start empty)
        dropdown = gr.Dropdown(_checkpoint_titles(), value=None, elem_id=elem_id, label=label, allow_custom_value=True)
        create_refresh_button(dropdown, lambda: runtime.registry.refresh(),
                              lambda: {"choices": _checkpoint_titles()}, refresh_id)
        return dropdown

    def _build_inputs(self) -> None:
        self.interp_description = gr.HTML(value=update_interp_description("Weighted sum"),
                                          elem_id="modelmerger_interp_description")
        with FormRow(elem_id="modelmerger_models"):
            self.primary_model_name = self._model_dropdown("Primary model (A)", "modelmerger_primary_model_name",
                                                           "refresh_checkpoint_A")
            self.secondary_model_name = self._model_dropdown("Secondary model (B)", "modelmerger_secondary_model_name",
                                                             "refresh_checkpoint_B")
            self.tertiary_model_name = self._model_dropdown("Tertiary model (C)", "modelmerger_tertiary_model_name",
                                                            "refresh_checkpoint_C")
        self.custom_name = gr.Textbox(label="Custom Name (Optional)", elem_id="modelmerger_custom_name")
        self.interp_amount = gr.Slider(minimum=0.0, maximum=1.0, step=0.05, value=0.3,
                                       label="Multiplier (M) - set to 0 to get model A",
                                       elem_id="modelmerger_interp_amount")
        self.interp_method = gr.Radio(choices=list(METHODS), value="Weighted sum", label="Interpolation Method",
                                      elem_id="modelmerger_interp_method")
        # queue=False: a text swap needs none of the queue's status messages
        self.interp_method.change(fn=update_interp_description, inputs=[self.interp_method],
                                  outputs=[self.interp_description], show_progress="hidden", queue=False)
        with FormRow():
            self.checkpoint_format = gr.Radio(choices=list(FORMATS), value="safetensors", label="Checkpoint format",
                                              elem_id="modelmerger_checkpoint_format")
            self.save_as_half = gr.Checkbox(value=False, label="Save as float16", elem_id="modelmerger_save_as_half")
        with FormRow():
            with gr.Column():
                self.config_source = gr.Radio(choices=list(CONFIG_SOURCES), value="A, B or C", label="Copy config from",
                                              type="index", elem_id="modelmerger_config_method")
            with gr.Column():
                with FormRow():
                    self.bake_in_vae = gr.Dropdown(choices=_vae_names(), value="None", label="Bake in VAE",
                                                   elem_id="modelmerger_bake_in_vae")
                    create_refresh_button(self.bake_in_vae, _refresh_vaes, lambda: {"choices": _vae_names()},
                                          "modelmerger_refresh_bake_in_vae")
        with FormRow():
            self.discard_weights = gr.Textbox(value="", label="Discard weights with matching name",
                                              elem_id="modelmerger_discard_weights")
        with FormRow():
            # not in A1111, which replaces an existing file of the same name without asking
            self.overwrite = gr.Checkbox(value=False, label="Overwrite existing file", elem_id="modelmerger_overwrite")
        with gr.Accordion("Metadata", open=False) as metadata_editor:
            with FormRow():
                self.save_metadata = gr.Checkbox(value=True, label="Save metadata", elem_id="modelmerger_save_metadata")
                self.add_merge_recipe = gr.Checkbox(value=True, label="Add merge recipe metadata",
                                                    elem_id="modelmerger_add_recipe")
                self.copy_metadata_fields = gr.Checkbox(value=True, label="Copy metadata from merged models",
                                                        elem_id="modelmerger_copy_metadata")
            self.metadata_json = gr.TextArea("{}", label="Metadata in JSON format", elem_id="modelmerger_metadata_json")
            self.read_metadata = gr.Button("Read metadata from selected checkpoints",
                                           elem_id="modelmerger_read_metadata")
        self.metadata_editor = metadata_editor
        with FormRow():
            self.modelmerger_merge = gr.Button(elem_id="modelmerger_merge", value="Merge", variant="primary")

    def setup_ui(self, dummy_component: Any, sd_model_checkpoint_component: Any = None) -> None:
        """Wire the buttons; `dummy_component` carries the page's task id, and the quicksettings
        checkpoint dropdown (None when quicksettings do not show it) gets the new list."""
        # a .ckpt holds no metadata
        self.checkpoint_format.change(lambda fmt: gr.update(visible=fmt == "safetensors"),
                                      inputs=[self.checkpoint_format], outputs=[self.metadata_editor],
                                      show_progress="hidden", queue=False)
        self.read_metadata.click(read_metadata, inputs=[self.primary_model_name, self.secondary_model_name,
                                                        self.tertiary_model_name], outputs=[self.metadata_json])
        lists = [self.primary_model_name, self.secondary_model_name, self.tertiary_model_name]
        if sd_model_checkpoint_component is not None:
            lists.append(sd_model_checkpoint_component)
            handler = modelmerger
        else:
            def handler(*args: Any) -> list[Any]:
                out = modelmerger(*args)
                return [*out[:3], *out[4:]]
        merge = wrap_gradio_gpu_call(handler, extra_outputs=[gr.update() for _ in lists])
        self.modelmerger_merge.click(fn=lambda: "", inputs=[], outputs=[self.modelmerger_result], queue=False,
                                     show_progress="hidden")
        self.modelmerger_merge.click(
            fn=merge, js=_START_JS, show_progress="hidden",
            inputs=[dummy_component, self.primary_model_name, self.secondary_model_name, self.tertiary_model_name,
                    self.interp_method, self.interp_amount, self.save_as_half, self.custom_name, self.checkpoint_format,
                    self.config_source, self.bake_in_vae, self.discard_weights, self.save_metadata,
                    self.add_merge_recipe, self.copy_metadata_fields, self.metadata_json, self.overwrite],
            outputs=[*lists, self.modelmerger_result]).then(None, js=_END_JS)
        # a value loaded from ui-config.json fires no change event (A1111's workaround)
        self.interp_description.value = update_interp_description(self.interp_method.value)


def _quicksettings_checkpoint() -> Any:
    """The quicksettings checkpoint dropdown of the UI being built, if the quicksettings show it."""
    root = gr.context.Context.root_block
    blocks = root.blocks.values() if root is not None else []
    return next((b for b in blocks if getattr(b, "elem_id", None) == QUICK_CHECKPOINT_ID), None)


def create_checkpoint_merger_tab() -> UiCheckpointMerger:
    """The tab's body (call inside its gr.Tab, after the quicksettings were built)."""
    ui = UiCheckpointMerger()
    task_id = gr.Textbox(visible=False, elem_id="modelmerger_task_id")
    ui.setup_ui(dummy_component=task_id, sd_model_checkpoint_component=_quicksettings_checkpoint())
    return ui
