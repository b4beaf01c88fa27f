"""The HTML of an Extra Networks page: its cards, its directory buttons or tree, and the pane with the
search and sort controls, made from the page's items and the templates in `html/` (A1111's template
names and placeholders, so an extension that swaps `page.card_tpl` for its own keeps working).

Everything here reads a page object (`ExtraNetworksPage` or an extension's subclass) and the
options; `ExtraNetworksPage.create_html()` and friends call these functions. The page's JavaScript
(javascript/extra_networks.js) filters and sorts the cards in the browser.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any

from sdwebui.services import runtime as shared
from sdwebui.services.util import html as read_template, natural_sort_key

# the options' defaults, for a page rendered before the options exist (tests, extensions' tools)
_DEFAULTS = {"extra_networks_card_height": 0, "extra_networks_card_width": 0, "extra_networks_card_text_scale": 1.0,
             "extra_networks_hidden_models": "When searched", "extra_networks_card_show_desc": True,
             "extra_networks_card_description_is_html": False, "extra_networks_card_order_field": "Path",
             "extra_networks_card_order": "Ascending", "extra_networks_tree_view_style": "Dirs",
             "extra_networks_tree_view_default_enabled": True, "extra_networks_tree_view_default_width": 180,
             "extra_networks_dir_button_function": False, "extra_networks_show_hidden_directories": True}

# the sort key of each choice of extra_networks_card_order_field (the cards' data-sort-* attributes)
SORT_FIELDS = {"Path": "default", "Name": "name", "Date Created": "date_created", "Date Modified": "date_modified"}


def opt(key: str) -> Any:
    opts = shared.opts
    if opts is not None and key in opts.data_labels:
        return getattr(opts, key)
    return _DEFAULTS[key]


@dataclass
class ExtraNetworksItem:
    """One item (a dict from a page's create_item) placed in a directory tree."""
    item: dict


def get_tree(paths: str | list[str], items: dict[str, ExtraNetworksItem]) -> dict:
    """{root folder name: {relative path: sub tree or ExtraNetworksItem}} for the files in `items`
    (keyed by file path) under each of `paths`; empty folders are left out below the roots."""
    roots = [paths] if isinstance(paths, str) else list(paths)

    def walk(path: str, root: str) -> dict:
        out: dict = {}
        if os.path.isdir(path):
            for child in sorted(os.listdir(path)):
                child_path = os.path.join(path, child)
                if os.path.isdir(child_path):
                    sub = walk(child_path, root)
                    if sub:
                        out[os.path.relpath(child_path, root)] = sub
                elif child_path in items:
                    out[os.path.relpath(child_path, root)] = items[child_path]
        return out

    return {os.path.basename(os.path.normpath(p)): walk(p, os.path.dirname(os.path.normpath(p))) for p in roots}


def card_style() -> str:
    height, width = opt("extra_networks_card_height"), opt("extra_networks_card_width")
    style = f"height: {height}px;" if height else ""
    style += f"width: {width}px;" if width else ""
    return style + f"font-size: {opt('extra_networks_card_text_scale') * 100}%;"


def quote_js(s: str) -> str:
    """A JavaScript string literal of `s` (as A1111 writes it into onclick handlers)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _local_path(page: Any, filename: str) -> str:
    """The file's path below the page's folder it is in ("" when it is in none)."""
    local = ""
    for folder in page.allowed_directories_for_previews():
        folder = os.path.abspath(folder)
        if filename.startswith(folder):
            local = filename[len(folder):]
    return local


def item_html(page: Any, tabname: str, item: dict, template: str | None = None) -> str | dict:
    """One card: with a template, its HTML ("" when the card must not be shown); without one, the
    values the template's placeholders take."""
    preview = item.get("preview")
    background = f'<img src="{html.escape(preview)}" class="preview" loading="lazy">' if preview else ""
    onclick = item.get("onclick")
    if onclick is None:
        # prompt and negative_prompt are JavaScript expressions already (quote_js'd by the page)
        onclick = html.escape(f"cardClicked('{tabname}', {item['prompt']}, {item.get('negative_prompt', quote_js(''))}, "
                              f"{str(page.allow_negative_prompt).lower()});")
    metadata_button = ""
    if item.get("metadata"):
        metadata_button = page.btn_metadata_tpl.format(extra_networks_tabname=page.extra_networks_tabname)
    filename = item.get("filename", "")
    local = _local_path(page, filename)
    # a file under a dot folder shows only when searched for (extra_networks_hidden_models)
    hidden_setting = opt("extra_networks_hidden_models")
    search_only = hidden_setting != "Always" and ("/." in local or "\\." in local)
    if search_only and hidden_setting == "Never":
        return ""
    sort_keys = " ".join(f'data-sort-{k}="{html.escape(str(v))}"' for k, v in item.get("sort_keys", {}).items())
    only = " search_only" if search_only else ""
    search_terms = "".join(f"<span class='hidden search_terms{only}'>{html.escape(str(term))}</span>"
                           for term in item.get("search_terms", []) if term)
    description = (item.get("description") or "") if opt("extra_networks_card_show_desc") else ""
    if not opt("extra_networks_card_description_is_html"):
        description = html.escape(description)
    args = {
        "background_image": background,
        "card_clicked": onclick,
        "copy_path_button": page.btn_copy_path_tpl.format(filename=html.escape(filename)),
        "description": description,
        "edit_button": page.btn_edit_item_tpl.format(tabname=tabname,
                                                     extra_networks_tabname=page.extra_networks_tabname),
        "local_preview": quote_js(item.get("local_preview", "")),
        "metadata_button": metadata_button,
        "name": html.escape(item["name"]),
        "prompt": item.get("prompt"),
        "save_card_preview": html.escape(f"return saveCardPreview(event, '{tabname}', "
                                         f"'{item.get('local_preview', '')}');"),
        "search_only": only,
        "search_terms": search_terms,
        "sort_keys": sort_keys,
        "style": card_style(),
        "tabname": tabname,
        "extra_networks_tabname": page.extra_networks_tabname,
    }
    return template.format(**args) if template else args


def _tree_button(page: Any, tabname: str, *, subclass: str, path: str, label: str, visual: str,
                 onclick: str = "", data_hash: str = "", trailing: str = "") -> str:
    return page.btn_tree_tpl.format(
        search_terms="", subclass=subclass, tabname=tabname, extra_networks_tabname=page.extra_networks_tabname,
        onclick_extra=onclick, data_path=html.escape(path), data_hash=html.escape(data_hash or ""),
        action_list_item_action_leading="<i class='tree-list-item-action-chevron'></i>",
        action_list_item_visual_leading=visual, action_list_item_label=html.escape(label),
        action_list_item_visual_trailing="", action_list_item_action_trailing=trailing)


def tree_dir_item_html(page: Any, tabname: str, dir_path: str, content: str | None = None) -> str | None:
    """A folder of the tree view, collapsed, holding `content` (None when the folder is empty)."""
    if not content:
        return None
    button = _tree_button(page, tabname, subclass="tree-list-content-dir", path=dir_path,
                          label=os.path.basename(dir_path), visual="\U0001f5c0")
    return ("<li class='tree-list-item tree-list-item--has-subitem' data-tree-entry-type='dir'>"
            f"{button}<ul class='tree-list tree-list--subgroup' hidden>{content}</ul></li>")


def tree_file_item_html(page: Any, tabname: str, file_path: str, item: dict) -> str:
    """A file of the tree view: clicking it acts as clicking its card."""
    args = item_html(page, tabname, item)
    buttons = f"<div class=\"button-row\">{args['copy_path_button']}{args['metadata_button']}{args['edit_button']}</div>"
    button = _tree_button(page, tabname, subclass="tree-list-content-file", path=file_path, label=item["name"],
                          visual="\U0001f5ce", onclick=args["card_clicked"], data_hash=item.get("shorthash") or "",
                          trailing=buttons)
    return f"<li class='tree-list-item tree-list-item--subitem' data-tree-entry-type='file'>{button}</li>"


def tree_view_html(page: Any, tabname: str) -> str:
    roots = [os.path.abspath(x) for x in page.allowed_directories_for_previews()]
    tree = get_tree(roots, items={v["filename"]: ExtraNetworksItem(v) for v in page.items.values()
                                  if v.get("filename")})

    def build(data: dict | None) -> str | None:
        if not data:
            return None
        dirs, files = [], []
        for key, value in sorted(data.items(), key=lambda kv: natural_sort_key(kv[0])):
            if isinstance(value, ExtraNetworksItem):
                files.append(tree_file_item_html(page, tabname, key, value.item))
            else:
                dirs.append(tree_dir_item_html(page, tabname, key, build(value)) or "")
        return "".join(dirs) + "".join(files)       # folders first

    body = "".join(tree_dir_item_html(page, tabname, k, build(v)) or ""
                   for k, v in sorted(tree.items(), key=lambda kv: natural_sort_key(kv[0])))
    return f"<ul class='tree-list tree-list--tree'>{body}</ul>" if body else ""


def dirs_view_html(page: Any, tabname: str) -> str:
    """One button per sub-folder of the page's folders; clicking it searches for the folder."""
    subdirs: dict[str, None] = {}
    leading_sep = opt("extra_networks_dir_button_function")
    show_hidden = opt("extra_networks_show_hidden_directories")
    for parent in (os.path.abspath(x) for x in page.allowed_directories_for_previews()):
        for root, dirs, _ in sorted(os.walk(parent, followlinks=True), key=lambda x: natural_sort_key(x[0])):
            for name in sorted(dirs, key=natural_sort_key):
                full = os.path.join(root, name)
                if not os.path.isdir(full):
                    continue
                sub = os.path.abspath(full)[len(parent):]
                sub = (sub if sub.startswith(os.sep) else os.sep + sub) if leading_sep else sub.lstrip(os.sep)
                if os.listdir(full) and not sub.endswith(os.sep):
                    sub += os.sep
                if (os.sep + "." in sub or sub.startswith(".")) and not show_hidden:
                    continue
                subdirs[sub] = None
    if not subdirs:
        return ""
    buttons = []
    for sub in ["", *subdirs]:
        cls = " search-all" if sub == "" else ""
        buttons.append(f"<button class='lg secondary gradio-button custom-button{cls}' "
                       f"onclick='extraNetworksSearchButton(\"{tabname}\", \"{page.extra_networks_tabname}\", event)'>"
                       f"{html.escape(sub or 'all')}</button>")
    return "".join(buttons)


def sorted_items(items: list[dict]) -> list[dict]:
    """The items in the order the options ask for (the page's script re-sorts when the user asks)."""
    key = SORT_FIELDS.get(opt("extra_networks_card_order_field"), "default")

    def value(item: dict) -> tuple:
        v = item.get("sort_keys", {}).get(key)
        return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v if v is not None else ""))

    ordered = sorted(items, key=value)
    return ordered[::-1] if opt("extra_networks_card_order") == "Descending" else ordered


def card_view_html(page: Any, tabname: str, *, none_message: str | None = None) -> str:
    cards = [item_html(page, tabname, item, page.card_tpl) for item in sorted_items(list(page.items.values()))]
    if not cards:
        dirs = "".join(f"<li>{html.escape(str(x))}</li>" for x in page.allowed_directories_for_previews())
        return none_message or read_template("extra-networks-no-cards.html").format(dirs=dirs)
    return "".join(cards)


def page_html(page: Any, tabname: str, *, empty: bool = False) -> str:
    """The whole pane of `page` for the txt2img or img2img tab (`empty`: its controls and "Loading...",
    what the page shows before its cards are first asked for)."""
    if empty:
        page.lister.reset()
        page.items, page.metadata = {}, {}
    else:
        page.refresh_items()
    field = opt("extra_networks_card_order_field")
    show_tree = opt("extra_networks_tree_view_default_enabled")
    params = {
        "tabname": tabname,
        "extra_networks_tabname": page.extra_networks_tabname,
        "data_sortdir": opt("extra_networks_card_order"),
        "sort_path_active": " extra-network-control--enabled" if field == "Path" else "",
        "sort_name_active": " extra-network-control--enabled" if field == "Name" else "",
        "sort_date_created_active": " extra-network-control--enabled" if field == "Date Created" else "",
        "sort_date_modified_active": " extra-network-control--enabled" if field == "Date Modified" else "",
        "tree_view_btn_extra_class": "extra-network-control--enabled" if show_tree else "",
        "items_html": card_view_html(page, tabname, none_message="Loading..." if empty else None),
        "extra_networks_tree_view_default_width": opt("extra_networks_tree_view_default_width"),
        "tree_view_div_default_display_class": "" if show_tree else "extra-network-dirs-hidden",
    }
    if opt("extra_networks_tree_view_style") == "Tree":
        content = page.pane_content_tree_tpl.format(**params, tree_html=tree_view_html(page, tabname))
    else:
        content = page.pane_content_dirs_tpl.format(**params, dirs_html=dirs_view_html(page, tabname))
    return page.pane_tpl.format(**params, pane_content=content)
