"""What sd-webui-controlnet lists: its preprocessors (`/controlnet/module_list`) and its control
types, the filter of preprocessors and models by what they control (`/controlnet/control_types` and
the UI's "Control Type" radio)."""
from __future__ import annotations

import controlnet_registry as registry
from sdwebui.engine.control.preprocess import ordered

CONTROL_TAGS = ("Canny", "Depth", "IP-Adapter", "Inpaint", "Instant-ID", "InstructP2P", "Lineart", "MLSD",
                "NormalMap", "OpenPose", "Recolor", "Reference", "Revision", "Scribble", "Segmentation", "Shuffle",
                "SoftEdge", "SparseCtrl", "T2I-Adapter", "Tile")
_TAG_ALIASES = {"InstructP2P": ("ip2p",), "Segmentation": ("seg",), "NormalMap": ("normal",),
                "T2I-Adapter": ("t2i_adapter", "t2iadapter", "t2ia"), "IP-Adapter": ("ip_adapter", "ipadapter"),
                "Instant-ID": ("instant_id", "instantid"), "Scribble": ("sketch",), "Tile": ("blur",)}


def control_types() -> dict:
    models = [m for m in registry.names() if m != "None"]
    out = {"All": {"module_list": [p.label for p in ordered()],
                   "model_list": ["None", *models], "default_option": "none", "default_model": "None"}}
    for tag in CONTROL_TAGS:
        words = (tag.lower(), *_TAG_ALIASES.get(tag, ()))
        modules = ["none", *[p.label for p in ordered() if tag in p.tags and p.name != "none"]]
        matching = [m for m in models if any(w in m.lower() for w in words)]
        preferred = [m for m in matching if "11" in m.split(" [")[0]]
        out[tag] = {"module_list": modules, "model_list": ["None", *matching],
                    "default_option": modules[1] if len(modules) > 1 else "none",
                    "default_model": (preferred or matching or ["None"])[0]}
    return {"control_types": out}


def module_list(alias_names: bool = False) -> dict:
    """Names (or, with alias_names, the UI's labels) in the extension's order, and each one's
    sliders and whether it needs a ControlNet model."""
    listed = ordered()
    name = (lambda p: p.label) if alias_names else (lambda p: p.name)
    return {"module_list": [name(p) for p in listed],
            "module_detail": {name(p): {"model_free": p.model_free, "sliders": [s.as_dict() for s in p.sliders]}
                              for p in listed}}
