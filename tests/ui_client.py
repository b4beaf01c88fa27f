"""Calling the web UI's Generate through Gradio's HTTP API (gradio_client), as a browser's click does.

The Generate inputs are one ordered list (task id, A1111's parameters, this UI's fields, then the scripts'
controls): tests name the fields they set by elem_id, and every other input is sent at its default, as the
page sends it when nobody touches it."""
from __future__ import annotations

import uuid

import httpx


def generate_args(base: str, api_name: str, values: dict[str, object]) -> list:
    """The endpoint's inputs in order: `values` by elem_id, the rest at the page's defaults.

    gradio_client leaves gr.State inputs out of the call, so they are left out here too."""
    config = httpx.get(base.rstrip("/") + "/config", timeout=60).json()
    components = {c["id"]: c for c in config["components"]}
    dep = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
    args, unused = [], dict(values)
    for cid in dep["inputs"]:
        comp = components[cid]
        if comp["type"] == "state":
            continue
        elem_id = comp["props"].get("elem_id")
        if elem_id in unused:
            args.append(unused.pop(elem_id))
        else:
            args.append(comp["props"].get("value"))
    assert not unused, f"no such input of {api_name}: {sorted(unused)}"
    return args


def ui_txt2img(client, base: str, **values) -> tuple[list, str, str]:
    """Runs the txt2img tab's Generate; returns (gallery, generation info JSON, html info)."""
    values.setdefault("txt2img_task_id", f"task({uuid.uuid4().hex[:12]})")
    gallery, info_json, html_info, _log = client.predict(*generate_args(base, "txt2img", values),
                                                         api_name="/txt2img")
    return gallery, info_json, html_info
