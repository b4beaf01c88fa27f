"""The Lora page's user metadata editor (A1111's `ui_edit_user_metadata.LoraUserMetadataEditor`):
besides the description and notes, the model family, the activation text a card click adds to the
prompt, the preferred weight, the negative text, and what the file's training metadata tells (its
dataset tags, resolutions, base model), with a random prompt made from those tags."""
from __future__ import annotations

import datetime
import random
import re
from typing import Any

import gradio as gr

from modules import ui_extra_networks_user_metadata

WORD = re.compile(r"[-_\w']+")
COMMA = re.compile(r" *, *")
SD_VERSIONS = ["SD1", "SD2", "SDXL", "Unknown"]


def is_non_comma_tagset(tags: dict[str, int]) -> bool:
    """Captions rather than tags (long on average): their words are counted instead."""
    return sum(len(t) for t in tags) / len(tags) >= 16


def build_tags(metadata: dict) -> list[tuple[str, int]]:
    """The training set's tags with their counts, most frequent first (kohya's ss_tag_frequency)."""
    counts: dict[str, int] = {}
    frequency = metadata.get("ss_tag_frequency") or {}
    if hasattr(frequency, "items"):
        for per_folder in frequency.values():
            if not hasattr(per_folder, "items"):
                continue
            for tag, count in per_folder.items():
                try:
                    counts[tag.strip()] = counts.get(tag.strip(), 0) + int(count)
                except (TypeError, ValueError):
                    continue
    if counts and is_non_comma_tagset(counts):
        words: dict[str, int] = {}
        for text, count in counts.items():
            for word in WORD.findall(text):
                if len(word) >= 3:
                    words[word] = words.get(word, 0) + count
        counts = words
    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)


def _bucket_resolutions(bucket_info: Any) -> list[str]:
    totals: dict[str, int] = {}
    buckets = bucket_info.get("buckets", {}) if isinstance(bucket_info, dict) else {}
    for bucket in buckets.values():
        try:
            height, width = bucket["resolution"][0], bucket["resolution"][1]
            key = f"{width}x{height}"
            totals[key] = totals.get(key, 0) + int(bucket["count"])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return sorted(totals, key=totals.get, reverse=True)


class LoraUserMetadataEditor(ui_extra_networks_user_metadata.UserMetadataEditor):
    def __init__(self, ui: Any, tabname: str, page: Any):
        super().__init__(ui, tabname, page)
        self.select_sd_version = None
        self.taginfo = None
        self.edit_activation_text = None
        self.slider_preferred_weight = None
        self.edit_negative_text = None
        self.edit_notes = None

    def save_lora_user_metadata(self, name: str, desc: str, sd_version: str, activation_text: str,
                                preferred_weight: float, negative_text: str, notes: str) -> None:
        metadata = self.get_user_metadata(name)
        metadata.update({"description": desc, "sd version": sd_version, "activation text": activation_text,
                         "preferred weight": preferred_weight, "negative text": negative_text, "notes": notes})
        self.write_user_metadata(name, metadata)

    def get_metadata_table(self, name: str) -> list:
        table = super().get_metadata_table(name)
        metadata = self.page.items.get(name, {}).get("metadata") or {}
        for key, label in (("ss_output_name", "Output name:"), ("ss_sd_model_name", "Model:"),
                           ("ss_clip_skip", "Clip skip:"), ("ss_network_module", "Kohya module:")):
            value = metadata.get(key)
            if value is not None and str(value) != "None":
                table.append((label, str(value)))
        started = metadata.get("ss_training_started_at")
        if started:
            try:
                when = datetime.datetime.fromtimestamp(float(started), datetime.timezone.utc)
                table.append(("Date trained:", when.strftime("%Y-%m-%d %H:%M")))
            except (TypeError, ValueError, OverflowError):
                pass
        resolutions = _bucket_resolutions(metadata.get("ss_bucket_info"))
        if resolutions:
            shown = ", ".join(resolutions[:4]) + (", ..." if len(resolutions) > 4 else "")
            table.append(("Resolutions:" if len(resolutions) > 1 else "Resolution:", shown))
        images = 0
        dataset_dirs = metadata.get("ss_dataset_dirs") or {}
        for params in dataset_dirs.values() if hasattr(dataset_dirs, "values") else []:
            try:
                images += int(params.get("img_count", 0))
            except (AttributeError, TypeError, ValueError):
                continue
        if images:
            table.append(("Dataset size:", images))
        return table

    def put_values_into_components(self, name: str) -> list:
        user = self.get_user_metadata(name)
        values = super().put_values_into_components(name)
        item = self.page.items.get(name, {})
        tags = build_tags(item.get("metadata") or {})
        return [*values[:5], item.get("sd_version", "Unknown"),
                gr.update(value=[(tag, str(count)) for tag, count in tags[:24]], visible=bool(tags)),
                user.get("activation text", ""), float(user.get("preferred weight", 0.0) or 0.0),
                user.get("negative text", ""), gr.update(visible=bool(tags)),
                gr.update(value=self.generate_random_prompt_from_tags(tags), visible=bool(tags))]

    def generate_random_prompt(self, name: str) -> str:
        return self.generate_random_prompt_from_tags(build_tags(self.page.items.get(name, {}).get("metadata") or {}))

    @staticmethod
    def generate_random_prompt_from_tags(tags: list[tuple[str, int]]) -> str:
        """Each tag kept with a chance proportional to its count (the most frequent always)."""
        if not tags:
            return ""
        top = tags[0][1] or 1
        chosen = [re.sub(r"([(){}\[\]])", r"\\\1", tag) for tag, count in tags if count > random.random() * top]
        return ", ".join(sorted(chosen))

    def create_extra_default_items_in_left_column(self) -> None:
        self.select_sd_version = gr.Dropdown(SD_VERSIONS, value="Unknown", label="Stable Diffusion version",
                                             interactive=True)

    def create_editor(self) -> None:
        self.create_default_editor_elems()
        self.taginfo = gr.HighlightedText(label="Training dataset tags")
        self.edit_activation_text = gr.Textbox(label="Activation text", info="Will be added to prompt along with Lora")
        self.slider_preferred_weight = gr.Slider(label="Preferred weight", info="Set to 0 to disable", minimum=0.0,
                                                 maximum=2.0, step=0.01)
        self.edit_negative_text = gr.Textbox(label="Negative prompt", info="Will be added to negative prompts")
        with gr.Row() as row_random_prompt:
            with gr.Column(scale=8):
                random_prompt = gr.Textbox(label="Random prompt", lines=4, max_lines=4, interactive=False)
            with gr.Column(scale=1, min_width=120):
                generate = gr.Button("Generate", size="lg", scale=1)
        self.edit_notes = gr.TextArea(label="Notes", lines=4)
        generate.click(self.generate_random_prompt, [self.edit_name_input], [random_prompt], show_progress="hidden")

        def select_tag(activation_text: str, evt: gr.SelectData) -> str:
            # a click on a tag adds it to the activation text, or takes it out again
            tag = evt.value[0] if isinstance(evt.value, (list, tuple)) else str(evt.value)
            words = [w for w in COMMA.split(activation_text or "") if w.strip()]
            if tag in words:
                return ", ".join(w for w in words if w != tag)
            return f"{activation_text}, {tag}" if activation_text else tag

        self.taginfo.select(select_tag, [self.edit_activation_text], [self.edit_activation_text],
                            show_progress="hidden")
        self.create_default_buttons()
        viewed = [self.edit_name, self.edit_description, self.html_filedata, self.html_preview, self.edit_notes,
                  self.select_sd_version, self.taginfo, self.edit_activation_text, self.slider_preferred_weight,
                  self.edit_negative_text, row_random_prompt, random_prompt]
        self.button_edit.click(self.put_values_into_components, [self.edit_name_input], viewed,
                               show_progress="hidden")
        edited = [self.edit_description, self.select_sd_version, self.edit_activation_text,
                  self.slider_preferred_weight, self.edit_negative_text, self.edit_notes]
        self.setup_save_handler(self.button_save, self.save_lora_user_metadata, edited)


__all__ = ["LoraUserMetadataEditor", "build_tags", "is_non_comma_tagset"]
