"""A1111's small layout components (`modules.ui_components`), which extensions build their UI with."""
from __future__ import annotations

import inspect

import gradio as gr


class FormComponent:
    def get_expected_parent(self):
        return FormRow


class ToolButton(gr.Button):
    """A small square icon button."""

    def __init__(self, *args, **kwargs):
        classes = kwargs.pop("elem_classes", [])
        # gradio 6 buttons take no tooltip; kept as A1111's patched gradio 3 kept it
        tooltip = kwargs.pop("tooltip", None)
        kwargs.setdefault("min_width", 40)
        kwargs.setdefault("scale", 0)
        super().__init__(*args, elem_classes=["tool", *classes], **kwargs)
        self.webui_tooltip = tooltip

    # gradio sends a component's props to the page by the parameter names of its class's __init__:
    # without gr.Button's, a ToolButton reached the page with no value, elem_id or visibility
    __init__.__signature__ = inspect.signature(gr.Button.__init__)

    def get_block_name(self):
        return "button"


class ResizeHandleRow(gr.Row):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.elem_classes = [*(self.elem_classes or []), "resize-handle-row"]

    def get_block_name(self):
        return "row"


class FormRow(gr.Row):
    def get_block_name(self):
        return "row"


class FormColumn(gr.Column):
    def get_block_name(self):
        return "column"


class FormGroup(gr.Group):
    def get_block_name(self):
        return "group"


class FormHTML(gr.HTML):
    def get_block_name(self):
        return "html"


class FormColorPicker(gr.ColorPicker):
    def get_block_name(self):
        return "colorpicker"


class DropdownMulti(gr.Dropdown):
    def __init__(self, **kwargs):
        super().__init__(multiselect=True, **kwargs)

    def get_block_name(self):
        return "dropdown"


class DropdownEditable(gr.Dropdown):
    def __init__(self, **kwargs):
        super().__init__(allow_custom_value=True, **kwargs)

    def get_block_name(self):
        return "dropdown"


class InputAccordion(gr.Checkbox):
    """A checkbox that shows as an accordion: its value (on/off) is the script argument, and
    `with InputAccordion(...) as acc:` fills the accordion (A1111 1.7+, used by ADetailer)."""

    global_index = 0

    def __init__(self, value: bool = False, **kwargs):
        from gradio.context import get_blocks_context

        if get_blocks_context() is None:
            # gradio rebuilding it from an update, outside any UI (from the arguments given here):
            # the hidden checkbox part only
            kwargs["visible"] = "hidden"
            super().__init__(value, **kwargs)
            return
        self.accordion_id = kwargs.get("elem_id") or f"input-accordion-{InputAccordion.global_index}"
        InputAccordion.global_index += 1
        label = kwargs.get("label", "Accordion")
        checkbox_kwargs = {**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": "hidden",
                           "label": label}
        super().__init__(value, **checkbox_kwargs)
        # gradio describes (and rebuilds) a component from the arguments its outermost class got:
        # make those the hidden checkbox's
        self._constructor_args[0] = {"value": value, **checkbox_kwargs}
        self.accordion = gr.Accordion(label, open=bool(value), elem_id=self.accordion_id,
                                      elem_classes=["input-accordion"])
        self.accordion.expand(lambda: True, [], [self], show_progress="hidden", queue=False)
        self.accordion.collapse(lambda: False, [], [self], show_progress="hidden", queue=False)
        # and the other way: a value set by the program (a pasted infotext) opens or closes it
        self.change(lambda on: gr.update(open=bool(on)), [self], [self.accordion], show_progress="hidden",
                    queue=False)

    def extra(self):
        """A column for extra controls in the accordion's header row (shown inside here)."""
        return gr.Column(elem_id=f"{self.accordion_id}-extra", elem_classes="input-accordion-extra", min_width=0)

    def __enter__(self):
        self.accordion.__enter__()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.accordion.__exit__(exc_type, exc_val, exc_tb)

    def get_block_name(self):
        return "checkbox"


# gradio reads a component's properties through its class's __init__ signature: give InputAccordion
# the checkbox's, so the hidden checkbox's elem_id / visible / label reach the page
InputAccordion.__init__.__signature__ = inspect.signature(gr.Checkbox.__init__)
