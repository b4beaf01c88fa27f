"""A1111's settings category "Training": textual inversion and hypernetwork training."""
from __future__ import annotations

from sdwebui.services.options.info import OptionInfo, options_section

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
_NOT_HERE = "training (textual inversion, hypernetworks) is not implemented"

INERT: dict[str, str] = {
    "unload_models_when_training": _NOT_HERE,
    "pin_memory": _NOT_HERE,
    "save_optimizer_state": _NOT_HERE,
    "save_training_settings_to_txt": _NOT_HERE,
    "dataset_filename_word_regex": _NOT_HERE,
    "dataset_filename_join_string": _NOT_HERE,
    "training_image_repeats_per_epoch": _NOT_HERE,
    "training_write_csv_every": _NOT_HERE,
    "training_xattention_optimizations": _NOT_HERE,
    "training_enable_tensorboard": _NOT_HERE,
    "training_tensorboard_save_images": _NOT_HERE,
    "training_tensorboard_flush_every": _NOT_HERE,
}


def options() -> dict[str, OptionInfo]:
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("training", "Training", "training"), {
        "unload_models_when_training": OptionInfo(False, "Move VAE and CLIP to RAM when training if possible. Saves VRAM.", "checkbox"),
        "pin_memory": OptionInfo(False, "Turn on pin_memory for DataLoader. Makes training slightly faster but can increase memory usage.", "checkbox"),
        "save_optimizer_state": OptionInfo(False, "Saves Optimizer state as separate *.optim file. Training of embedding or HN can be resumed with the matching optim file.", "checkbox"),
        "save_training_settings_to_txt": OptionInfo(True, "Save textual inversion and hypernet settings to a text file whenever training starts.", "checkbox"),
        "dataset_filename_word_regex": OptionInfo("", "Filename word regex", "textbox"),
        "dataset_filename_join_string": OptionInfo(" ", "Filename join string", "textbox"),
        "training_image_repeats_per_epoch": OptionInfo(1, "Number of repeats for a single input image per epoch; used only for displaying epoch number", "number", component_args={"precision": 0}),
        "training_write_csv_every": OptionInfo(500, "Save an csv containing the loss to log directory every N steps, 0 to disable", "number"),
        "training_xattention_optimizations": OptionInfo(False, "Use cross attention optimizations while training", "checkbox"),
        "training_enable_tensorboard": OptionInfo(False, "Enable tensorboard logging.", "checkbox"),
        "training_tensorboard_save_images": OptionInfo(False, "Save generated images within tensorboard.", "checkbox"),
        "training_tensorboard_flush_every": OptionInfo(120, "How often, in seconds, to flush the pending tensorboard events and summaries to disk.", "number"),
    }))
    return t
