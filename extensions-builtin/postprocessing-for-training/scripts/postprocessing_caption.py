"""Extras: caption each image with DeepBooru tags and/or a BLIP description, written beside the
saved image as .txt (A1111's "Caption"). Neither model is part of this server: choosing one
fails with an error that says so."""
import gradio as gr

from modules import deepbooru, scripts_postprocessing, shared, ui_components

CAPTION_MODELS = ["Deepbooru", "BLIP"]


class CaptionModelMissing(ValueError):
    """A caption model this server does not have (a 4xx naming the field)."""

    def __init__(self, message):
        super().__init__(message)
        self.field = "scripts.Caption.option"


class ScriptPostprocessingCeption(scripts_postprocessing.ScriptPostprocessing):
    name = "Caption"
    order = 4040

    def ui(self):
        with ui_components.InputAccordion(False, label="Caption") as enable:
            option = gr.CheckboxGroup(value=["Deepbooru"], choices=CAPTION_MODELS, show_label=False)
        return {"enable": enable, "option": option}

    def process(self, pp, enable, option):
        if not enable:
            return
        option = list(option or [])
        captions = [pp.caption]
        if "Deepbooru" in option:
            model = getattr(deepbooru, "model", None)   # an extension may provide one
            if model is None:
                raise CaptionModelMissing("Caption: the Deepbooru tagger is not part of this server; "
                                          "choose none of " + ", ".join(CAPTION_MODELS) + " or turn Caption off")
            captions.append(model.tag(pp.image))
        if "BLIP" in option:
            try:
                captions.append(shared.interrogator.interrogate(pp.image.convert("RGB")))
            except NotImplementedError as e:
                raise CaptionModelMissing(f"Caption: BLIP: {e}") from e
        pp.caption = ", ".join(c for c in captions if c)
