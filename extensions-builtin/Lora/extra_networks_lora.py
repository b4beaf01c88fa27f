"""The Lora built-in's `extra_networks_lora`: the `<lora:...>` / `<lyco:...>` prompt tag handler,
registered with `modules.extra_networks`, which generation activates once per batch as A1111 does.

The engine, not this handler, merges the networks into the weights and writes the "Lora hashes"
infotext field (sdwebui/engine/processing/generate.py): it reads the tags of the whole job before
the first batch, works when this extension is disabled or its handler unregistered, and gives the
same image either way. Applying them here as well would apply each network twice. So activate only
mirrors the tags into what extensions read: `networks.loaded_networks` (names and multipliers) and
`p.lora_hashes`."""
from __future__ import annotations

import networks
from modules import extra_networks, shared


class ExtraNetworkLora(extra_networks.ExtraNetwork):
    remove_symbols = str.maketrans("", "", ":,")

    def __init__(self) -> None:
        super().__init__("lora")
        self.errors: dict[str, int] = {}    # network name -> errors it had during the job

    def activate(self, p, params_list) -> None:
        self.errors.clear()
        names, te, unet, dyn = [], [], [], []
        for params in params_list:
            if not params.items:
                continue
            positional, named = params.positional, params.named
            names.append(positional[0])
            te_multiplier = float(named.get("te", positional[1] if len(positional) > 1 else 1.0))
            te.append(te_multiplier)
            unet.append(float(named.get("unet", positional[2] if len(positional) > 2 else te_multiplier)))
            dyn_dim = named.get("dyn", positional[3] if len(positional) > 3 else None)
            dyn.append(int(dyn_dim) if dyn_dim is not None else None)
        networks.load_networks(names, te, unet, dyn)
        if shared.opts is None or getattr(shared.opts, "lora_add_hashes_to_infotext", True):
            if not getattr(p, "is_hr_pass", False) or not hasattr(p, "lora_hashes"):
                p.lora_hashes = {}
            p.lora_hashes.update({net.mentioned_name.translate(self.remove_symbols): net.network_on_disk.shorthash
                                  for net in networks.loaded_networks
                                  if net.network_on_disk.shorthash and net.mentioned_name})
            # no p.extra_generation_params["Lora hashes"]: the engine writes it (see the docstring)

    def deactivate(self, p) -> None:
        if self.errors:
            comment = "Networks with errors: " + ", ".join(f"{k} ({v})" for k, v in self.errors.items())
            if hasattr(p, "comment"):
                p.comment(comment)
            self.errors.clear()
