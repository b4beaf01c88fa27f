"""The Lora built-in's Extra Networks page (`ui_extra_networks_lora.ExtraNetworksPageLora`): the
networks of `networks.available_networks`, with previews, descriptions and the prompt text a card
inserts (`<lora:alias:weight>` plus the user metadata's activation text)."""
from __future__ import annotations

import os

import network
import networks
from ui_edit_user_metadata import LoraUserMetadataEditor
from modules import shared, ui_extra_networks
from modules.ui_extra_networks import quote_js


class ExtraNetworksPageLora(ui_extra_networks.ExtraNetworksPage):
    def __init__(self) -> None:
        super().__init__("Lora")

    def refresh(self) -> None:
        networks.list_available_networks()

    def create_item(self, name: str, index: int | None = None, enable_filter: bool = True) -> dict | None:
        on_disk = networks.available_networks.get(name)
        if on_disk is None:
            return None
        path = os.path.splitext(on_disk.filename)[0]
        samples_format = getattr(shared.opts, "samples_format", "png") if shared.opts is not None else "png"
        item = {
            "name": name, "filename": on_disk.filename, "shorthash": on_disk.shorthash,
            "preview": self.find_preview(path) or self.find_embedded_preview(path, name, on_disk.metadata),
            "description": self.find_description(path),
            "search_terms": [self.search_terms_from_path(on_disk.filename)] + ([on_disk.hash] if on_disk.hash else []),
            "local_preview": f"{path}.{samples_format}", "metadata": on_disk.metadata,
            "sort_keys": {"default": index, **self.get_sort_keys(on_disk.filename)},
            "sd_version": on_disk.sd_version.name,
        }
        self.read_user_metadata(item)
        user = item["user_metadata"]
        weight = user.get("preferred weight", 0.0)
        item["prompt"] = (quote_js(f"<lora:{on_disk.get_alias()}:") + " + "
                          + (str(weight) if weight else "opts.extra_networks_default_multiplier") + " + " + quote_js(">"))
        if user.get("activation text"):
            item["prompt"] += " + " + quote_js(" " + user["activation text"])
        item["negative_prompt"] = quote_js(f"({user['negative text']}:1)" if user.get("negative text") else "")
        sd_version = user.get("sd version")
        if sd_version in network.SdVersion.__members__:
            item["sd_version"] = sd_version
        return item if not enable_filter or self._shown(network.SdVersion[item["sd_version"]]) else None

    @staticmethod
    def _shown(version: "network.SdVersion") -> bool:
        """A1111 hides networks made for another model family than the loaded one."""
        model = shared.model_manager.sd_model if shared.model_manager is not None else None   # never loads one
        if model is None or (shared.opts is not None and getattr(shared.opts, "lora_show_all", False)):
            return True
        current = "SDXL" if model.is_sdxl else "SD2" if getattr(model, "is_sd2", False) else "SD1"
        if version == network.SdVersion.Unknown:
            hidden = getattr(shared.opts, "lora_hide_unknown_for_versions", []) if shared.opts is not None else []
            return current not in (hidden or [])
        return version.name == current

    def list_items(self):
        for index, name in enumerate(list(networks.available_networks)):
            item = self.create_item(name, index)
            if item is not None:
                yield item

    def allowed_directories_for_previews(self) -> list[str]:
        dirs = [getattr(shared.cmd_opts, "lora_dir", None), getattr(shared.cmd_opts, "lyco_dir_backcompat", None)]
        if shared.paths is not None:
            dirs += [str(shared.paths.lora), str(shared.paths.models / "LyCORIS")]
        return list(dict.fromkeys(str(d) for d in dirs if d))

    def create_user_metadata_editor(self, ui, tabname: str) -> LoraUserMetadataEditor:
        return LoraUserMetadataEditor(ui, tabname, self)
