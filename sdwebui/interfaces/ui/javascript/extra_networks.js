// The Extra Networks panel in the browser: a card click adds its text to the prompt (or takes it out
// again), the search box and the folder buttons filter the cards, the sort controls order them, and
// the edit button opens the card's user metadata editor in the popup. The function names are the
// ones A1111's card templates and extensions call (cardClicked, extraNetworksEditUserMetadata, ...).

var extraNetworksApplyFilter = {};      // "{tab}_{page}" -> function(force), as in A1111
var extraNetworksApplySort = {};
var activePromptTextarea = {};          // tab -> the prompt or negative prompt box last focused
var desiredCheckpointName = null;       // read by the hidden change_checkpoint button's event

function webuiPromptBox(tabname, negative) {
    return gradioApp().querySelector(`#${tabname}_${negative ? "neg_prompt" : "prompt"} textarea`);
}

document.addEventListener("focusin", (e) => {
    const box = e.target;
    if (!box || box.tagName !== "TEXTAREA") return;
    const holder = box.closest("[id$='_prompt'], [id$='_neg_prompt']");
    const m = holder && holder.id.match(/^(txt2img|img2img)_(neg_)?prompt$/);
    if (m) activePromptTextarea[m[1]] = box;
});

// --- prompt text --------------------------------------------------------------------------------
var re_extranet = /<([^:^>]+:[^:]+):[\d.]+>(.*)/;
var re_extranet_g = /<([^:^>]+:[^:]+):[\d.]+>/g;
var re_extranet_neg = /\(([^:^>]+:[\d.]+)\)/;
var re_extranet_g_neg = /\(([^:^>]+:[\d.]+)\)/g;

function webuiEscapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Takes `text` out of the box if it is there: for a network tag, the same network at any weight
// (with the activation text after it and the separator before it); otherwise the exact text.
function tryToRemoveExtraNetworkFromPrompt(textarea, text, isNeg) {
    const separator = (typeof opts.extra_networks_add_text_separator === "string")
        ? opts.extra_networks_add_text_separator : " ";
    const one = isNeg ? re_extranet_neg : re_extranet;
    const all = isNeg ? re_extranet_g_neg : re_extranet_g;
    const m = text.match(one);
    let updated;
    if (m) {
        const wanted = m[1];
        const after = m[2] || "";
        let at = -1;
        updated = textarea.value.replace(all, (found, _net, pos) => {
            const fm = found.match(one);
            if (at < 0 && fm && fm[1] === wanted) {
                at = pos;
                return "";
            }
            return found;
        });
        if (at < 0) return false;
        if (after && updated.substr(at, after.length) === after) {
            updated = updated.slice(0, at) + updated.slice(at + after.length);
        }
        if (separator && updated.substr(at - separator.length, separator.length) === separator) {
            updated = updated.slice(0, at - separator.length) + updated.slice(at);
        }
    } else {
        updated = textarea.value.replace(new RegExp(`(?:${webuiEscapeRegExp(separator)})?${webuiEscapeRegExp(text)}`, "g"), "");
        if (updated === textarea.value) return false;
    }
    textarea.value = updated;
    return true;
}

function updatePromptArea(text, textArea, isNeg) {
    if (!textArea || !text) return;
    if (!tryToRemoveExtraNetworkFromPrompt(textArea, text, isNeg)) {
        const separator = (typeof opts.extra_networks_add_text_separator === "string")
            ? opts.extra_networks_add_text_separator : " ";
        textArea.value = textArea.value ? textArea.value + separator + text : text;
    }
    updateInput(textArea);
}

function cardClicked(tabname, textToAdd, textToAddNegative, allowNegativePrompt) {
    if (textToAddNegative && textToAddNegative.length > 0) {
        updatePromptArea(textToAdd, webuiPromptBox(tabname, false));
        updatePromptArea(textToAddNegative, webuiPromptBox(tabname, true), true);
    } else {
        const box = allowNegativePrompt ? (activePromptTextarea[tabname] || webuiPromptBox(tabname, false))
            : webuiPromptBox(tabname, false);
        updatePromptArea(textToAdd, box);
    }
}

function selectCheckpoint(name) {
    desiredCheckpointName = name;
    const button = gradioApp().getElementById("change_checkpoint");
    if (button) button.click();
}

// --- filter and sort ----------------------------------------------------------------------------
function webuiExtraNetworksFilter(full) {
    const search = gradioApp().getElementById(`${full}_extra_search`);
    const term = search ? search.value.toLowerCase() : "";
    gradioApp().querySelectorAll(`#${full}_cards > .card`).forEach((card) => {
        const text = Array.from(card.querySelectorAll(".search_terms, .description, .name"))
            .map((t) => t.textContent.toLowerCase()).join(" ");
        let visible = text.indexOf(term) !== -1;
        if (card.querySelector(".search_only") && term.length < 4) visible = false;
        card.classList.toggle("hidden", !visible);
    });
}

function webuiExtraNetworksSort(full) {
    const parent = gradioApp().getElementById(`${full}_cards`);
    if (!parent) return;
    const active = gradioApp().querySelector(`#${full}_controls .extra-network-control--sort.extra-network-control--enabled`);
    const key = active ? active.dataset.sortkey : "default";
    const field = "sort" + key.charAt(0).toUpperCase() + key.slice(1);   // data-sort-date_created -> sortDate_created
    const dir = gradioApp().getElementById(`${full}_extra_sort_dir`);
    const cards = Array.from(parent.querySelectorAll(":scope > .card"));
    cards.sort((a, b) => {
        const x = a.dataset[field];
        const y = b.dataset[field];
        if (x !== undefined && y !== undefined && !isNaN(x) && !isNaN(y)) return parseFloat(x) - parseFloat(y);
        return (x || "") < (y || "") ? -1 : ((x || "") > (y || "") ? 1 : 0);
    });
    if (dir && dir.dataset.sortdir === "Descending") cards.reverse();
    parent.append(...cards);
}

function webuiRegisterExtraNetworksPage(full) {
    if (!extraNetworksApplyFilter[full]) {
        extraNetworksApplyFilter[full] = (force) => { webuiExtraNetworksFilter(full); };
        extraNetworksApplySort[full] = (force) => { webuiExtraNetworksSort(full); };
    }
}

function applyExtraNetworkFilter(full) {
    webuiRegisterExtraNetworksPage(full);
    setTimeout(() => extraNetworksApplyFilter[full](true), 1);
}

function applyExtraNetworkSort(full) {
    webuiRegisterExtraNetworksPage(full);
    setTimeout(() => extraNetworksApplySort[full](true), 1);
}

document.addEventListener("input", (e) => {
    const box = e.target;
    if (box && box.classList && box.classList.contains("extra-network-control--search-text")) {
        applyExtraNetworkFilter(box.id.replace(/_extra_search$/, ""));
    }
});

function extraNetworksSearchButton(tabname, extra_networks_tabname, event) {
    const box = gradioApp().getElementById(`${tabname}_${extra_networks_tabname}_extra_search`);
    const button = event.target.closest("button") || event.target;
    box.value = button.classList.contains("search-all") ? "" : button.textContent.trim();
    updateInput(box);
}

function extraNetworksControlSortOnClick(event, tabname, extra_networks_tabname) {
    const self = event.currentTarget;
    self.parentElement.querySelectorAll(".extra-network-control--sort")
        .forEach((x) => x.classList.remove("extra-network-control--enabled"));
    self.classList.add("extra-network-control--enabled");
    applyExtraNetworkSort(`${tabname}_${extra_networks_tabname}`);
}

function extraNetworksControlSortDirOnClick(event, tabname, extra_networks_tabname) {
    const self = event.currentTarget;
    self.dataset.sortdir = self.dataset.sortdir === "Ascending" ? "Descending" : "Ascending";
    self.title = `Sort ${self.dataset.sortdir.toLowerCase()}`;
    applyExtraNetworkSort(`${tabname}_${extra_networks_tabname}`);
}

function extraNetworksControlTreeViewOnClick(event, tabname, extra_networks_tabname) {
    const button = event.currentTarget;
    button.classList.toggle("extra-network-control--enabled");
    const pane = gradioApp().getElementById(`${tabname}_${extra_networks_tabname}_pane`);
    if (pane) pane.classList.toggle("extra-network-dirs-hidden", !button.classList.contains("extra-network-control--enabled"));
}

function extraNetworksControlRefreshOnClick(event, tabname, extra_networks_tabname) {
    const button = gradioApp().getElementById(`${tabname}_${extra_networks_tabname}_extra_refresh_internal`);
    if (button) button.click();
}

// --- the tree view ------------------------------------------------------------------------------
function extraNetworksTreeProcessFileClick(event, btn, tabname, extra_networks_tabname) {
    // the file's own onclick (the card's action) runs after this
}

function extraNetworksTreeProcessDirectoryClick(event, btn, tabname, extra_networks_tabname) {
    const list = btn.nextElementSibling;
    const toggle = () => {
        if (!list) return;
        if (list.hasAttribute("hidden")) {
            list.removeAttribute("hidden");
            btn.dataset.expanded = "";
        } else {
            list.setAttribute("hidden", "");
            delete btn.dataset.expanded;
        }
    };
    const search = (text) => {
        const box = gradioApp().getElementById(`${tabname}_${extra_networks_tabname}_extra_search`);
        if (box) {
            box.value = text;
            updateInput(box);
        }
    };
    if (event.target.closest(".tree-list-item-action--leading")) {
        toggle();           // the chevron only opens or closes
        return;
    }
    const open = list && !list.hasAttribute("hidden");
    if ("selected" in btn.dataset && open) {
        toggle();
        delete btn.dataset.selected;
        search("");
        return;
    }
    if (!open) toggle();
    btn.closest(".extra-network-tree").querySelectorAll("div.tree-list-content")
        .forEach((el) => delete el.dataset.selected);
    btn.dataset.selected = "";
    search(btn.dataset.path);
}

function extraNetworksTreeOnClick(event, tabname, extra_networks_tabname) {
    const btn = event.currentTarget;
    if (btn.parentElement.dataset.treeEntryType === "file") {
        extraNetworksTreeProcessFileClick(event, btn, tabname, extra_networks_tabname);
    } else {
        extraNetworksTreeProcessDirectoryClick(event, btn, tabname, extra_networks_tabname);
    }
}

// --- tabs ---------------------------------------------------------------------------------------
// the compact prompt layout (moving the prompts into a page) is not offered here: nothing to move
function extraNetworksTabSelected(tabname, id, showPrompt, showNegativePrompt, tabname_full) {}
function extraNetworksUnrelatedTabSelected(tabname) {}
function setupExtraNetworks() {}
function setupExtraNetworksForTab(tabname) {}
if (typeof setupAllResizeHandles !== "function") {
    var setupAllResizeHandles = function() {};
}

// --- card buttons -------------------------------------------------------------------------------
function requestGet(url, data, handler, errorHandler) {
    const args = new URLSearchParams(data).toString();
    fetch(`${url}?${args}`, {credentials: "same-origin"})
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status}`))))
        .then(handler)
        .catch((e) => { if (errorHandler) errorHandler(e); });
}

function extraNetworksCopyCardPath(event) {
    const text = event.target.getAttribute("data-clipboard-text");
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
    event.stopPropagation();
}

function webuiCardName(event) {
    const holder = event.target.closest("[data-name]");
    return holder ? holder.getAttribute("data-name") : null;
}

// `{"a": "{\"b\": 1}"}` -> {"a/b": 1, "a": ""}: nested and JSON-in-string metadata as one flat table
function extraNetworksFlattenMetadata(obj) {
    const out = {};
    const walk = (value, prefix) => {
        if (typeof value === "string") {
            try {
                const parsed = JSON.parse(value);
                if (parsed && typeof parsed === "object") value = parsed;
            } catch (e) { /* a plain string */ }
        }
        if (value && typeof value === "object") {
            if (prefix) out[prefix] = "";
            for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}/${k}` : k);
        } else {
            out[prefix] = value;
        }
    };
    walk(obj, "");
    return out;
}

function extraNetworksShowMetadata(text) {
    let parsed = null;
    try {
        parsed = JSON.parse(text);
    } catch (e) { /* shown as text */ }
    if (parsed && typeof parsed === "object") {
        const table = document.createElement("table");
        table.className = "popup-metadata-table";
        for (const [key, value] of Object.entries(extraNetworksFlattenMetadata(parsed))) {
            const row = table.insertRow();
            const depth = key.split("/").length - 1;
            const th = document.createElement("th");
            th.textContent = key.split("/").pop();
            th.style.paddingLeft = `${depth * 1.5 + 0.5}em`;
            const td = document.createElement("td");
            td.textContent = String(value);
            row.append(th, td);
        }
        popup(table);
        return;
    }
    const pre = document.createElement("pre");
    pre.className = "popup-metadata";
    pre.textContent = text;
    popup(pre);
}

function extraNetworksRequestMetadata(event, extraPage) {
    const name = webuiCardName(event);
    const failed = () => extraNetworksShowMetadata("there was an error getting metadata");
    requestGet("./sd_extra_networks/metadata", {page: extraPage, item: name}, (data) => {
        if (data && data.metadata) extraNetworksShowMetadata(data.metadata);
        else failed();
    }, failed);
    event.stopPropagation();
}

function extraNetworksEditUserMetadata(event, tabname, extraPage) {
    const id = `${tabname}_${extraPage}_edit_user_metadata`;
    const editor = gradioApp().getElementById(id);
    const nameBox = gradioApp().querySelector(`#${id}_name textarea, #${id}_name input`);
    const button = gradioApp().getElementById(`${id}_button`);
    event.stopPropagation();
    if (!editor || !nameBox || !button) return;
    nameBox.value = webuiCardName(event);
    updateInput(nameBox);
    // gradio reads the box's new value before the click is sent
    setTimeout(() => button.click(), 0);
    popup(editor);
}

function extraNetworksRefreshSingleCard(page, tabname, name) {
    requestGet("./sd_extra_networks/get-single-card", {page: page, tabname: tabname, name: name}, (data) => {
        if (!data || !data.html) return;
        const cards = gradioApp().getElementById(`${tabname}_${page.replace(/ /g, "_")}_cards`);
        const card = cards && cards.querySelector(`:scope > .card[data-name="${CSS.escape(name)}"]`);
        if (!card) return;
        const holder = document.createElement("div");
        holder.innerHTML = data.html;
        if (holder.firstElementChild) card.replaceWith(holder.firstElementChild);
    });
}

function saveCardPreview(event, tabname, filename) {
    const box = gradioApp().querySelector(`#${tabname}_preview_filename textarea, #${tabname}_preview_filename input`);
    const button = gradioApp().getElementById(`${tabname}_save_preview`);
    event.stopPropagation();
    event.preventDefault();
    if (!box || !button) return;
    box.value = filename;
    updateInput(box);
    setTimeout(() => button.click(), 0);
}
