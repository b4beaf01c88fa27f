"""The Lora built-in's `extra_networks_lora`: the `<lora:...>` / `<lyco:...>` prompt tag handler,
registered with `modules.extra_networks` for extensions that look it up. It fills
`networks.loaded_networks` and the "Lora hashes" infotext field; the weights are merged by the app
(see networks.py)."""
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
            hashes = {net.mentioned_name.translate(self.remove_symbols): net.network_on_disk.shorthash
                      for net in networks.loaded_networks if net.network_on_disk.shorthash and net.mentioned_name}
            if hashes:
                p.lora_hashes = hashes
                p.extra_generation_params["Lora hashes"] = ", ".join(f"{k}: {v}" for k, v in hashes.items())

    def deactivate(self, p) -> None:
        if self.errors:
            comment = "Networks with errors: " + ", ".join(f"{k} ({v})" for k, v in self.errors.items())
            if hasattr(p, "comment"):
                p.comment(comment)
            self.errors.clear()
