"""The Lora built-in's script: registers the Lora Extra Networks page and the `<lora>` / `<lyco>`
tag handler before the UI is built, and turns pasted "Lora hashes" back into the current names.

Loading it puts `network`, `networks`, `lora`, `lora_patches`, `extra_networks_lora` and
`ui_extra_networks_lora` in sys.modules, as in A1111, so other extensions can `import networks`.
Its options (sd_lora, lora_preferred_name ...) are among the app's own; /sdapi/v1/loras and
/sdapi/v1/refresh-loras are the app's routes, on the same registry."""
import re

import extra_networks_lora
import lora  # noqa: F401  (A1111 imports it here; extensions find it in sys.modules)
import lora_patches
import networks
import ui_extra_networks_lora
from modules import extra_networks, script_callbacks, ui_extra_networks

networks.originals = lora_patches.LoraPatches()


def before_ui() -> None:
    ui_extra_networks.register_page(ui_extra_networks_lora.ExtraNetworksPageLora())
    networks.extra_network_lora = extra_networks_lora.ExtraNetworkLora()
    extra_networks.register_extra_network(networks.extra_network_lora)
    extra_networks.register_extra_network_alias(networks.extra_network_lora, "lyco")


re_lora = re.compile("<lora:([^:]+):")


def infotext_pasted(infotext: str, d: dict) -> None:
    """A pasted prompt's <lora:name:...> whose "Lora hashes" entry matches a file here gets that
    file's current alias (the file may have been renamed since)."""
    text = d.get("Lora hashes")
    if not text or "Prompt" not in d:
        return
    pairs = [x.strip().split(":", 1) for x in text.split(",") if ":" in x]
    hashes = {name.strip().replace(",", ""): h.strip() for name, h in pairs}

    def replacement(m: re.Match) -> str:
        on_disk = networks.available_network_hash_lookup.get(hashes.get(m.group(1), ""))
        return f"<lora:{on_disk.get_alias()}:" if on_disk is not None else m.group(0)

    d["Prompt"] = re_lora.sub(replacement, d["Prompt"])


script_callbacks.on_model_loaded(networks.assign_network_names_to_compvis_modules)
script_callbacks.on_before_ui(before_ui)
script_callbacks.on_infotext_pasted(networks.infotext_pasted)
script_callbacks.on_infotext_pasted(infotext_pasted)
