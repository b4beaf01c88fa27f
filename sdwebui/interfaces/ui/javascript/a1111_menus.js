// A1111's page helpers for menus, popups and tooltips that extensions call:
// appendContextMenuOption / removeContextMenuOption (contextMenus.js: sd-webui-agent-scheduler adds
// "Queue with task name" to the Enqueue button), popup / popupId / closePopup (extraNetworks.js:
// agent-scheduler, sd-webui-controlnet), updateTooltip (hints.js: the `titles` table).

// --- context menus: right-click on an element matching a registered selector ---------------------
var webuiContextMenus = new Map();    // selector -> [{id, name, func}]
var webuiContextMenuListening = false;

// adds `name` to the right-click menu of the elements matching `selector`; returns the entry's id
function appendContextMenuOption(selector, name, func) {
    if (!webuiContextMenus.has(selector)) webuiContextMenus.set(selector, []);
    const id = `${selector}_${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
    webuiContextMenus.get(selector).push({id: id, name: name, func: func});
    addContextMenuEventListener();
    return id;
}

function removeContextMenuOption(id) {
    for (const entries of webuiContextMenus.values()) {
        const index = entries.findIndex((entry) => entry.id === id);
        if (index >= 0) entries.splice(index, 1);
    }
}

function webuiCloseContextMenu() {
    const menu = document.getElementById("context-menu");
    if (menu) menu.remove();
}

function webuiShowContextMenu(event, entries) {
    webuiCloseContextMenu();
    const look = getComputedStyle(get_uiCurrentTabContent() || document.body);
    const menu = document.createElement("nav");
    menu.id = "context-menu";
    menu.style.background = look.background;
    menu.style.color = look.color;
    menu.style.fontFamily = look.fontFamily;
    menu.style.top = `${event.pageY}px`;
    menu.style.left = `${event.pageX}px`;
    const list = document.createElement("ul");
    list.className = "context-menu-items";
    for (const entry of entries) {
        const item = document.createElement("a");
        item.innerHTML = entry.name;     // A1111 takes markup here; extensions pass their own labels
        item.addEventListener("click", () => entry.func());
        list.append(item);
    }
    menu.append(list);
    gradioApp().appendChild(menu);
}

function addContextMenuEventListener() {
    if (webuiContextMenuListening) return;
    webuiContextMenuListening = true;
    // any real click closes the menu (after the item's own click handler ran)
    document.addEventListener("click", (e) => { if (e.isTrusted) webuiCloseContextMenu(); });
    ["contextmenu", "touchstart"].forEach((type) => document.addEventListener(type, (e) => {
        let point = e;
        if (type === "touchstart") {
            if (e.touches.length !== 2) return;     // a two-finger tap opens it on touch screens
            point = e.touches[0];
        }
        webuiCloseContextMenu();
        const target = e.composedPath()[0];
        if (!target || !target.closest) return;
        // the clicked element or the element it is part of (a gradio button holds spans)
        const entries = [];
        for (const [selector, items] of webuiContextMenus) {
            if (items.length && target.closest(selector)) entries.push(...items);
        }
        if (entries.length) {
            webuiShowContextMenu(point, entries);
            e.preventDefault();
        }
    }));
}

// --- a full-page popup over the UI ----------------------------------------------------------------
var globalPopup = null;
var globalPopupInner = null;
var storedPopupIds = {};

function closePopup() {
    if (globalPopup) globalPopup.style.display = "none";
}

// shows the element `contents` (moved into the popup) over the page; a click beside it closes it
function popup(contents) {
    if (!globalPopup) {
        globalPopup = document.createElement("div");
        globalPopup.className = "global-popup";
        const close = document.createElement("div");
        close.className = "global-popup-close";
        close.title = "Close";
        close.addEventListener("click", closePopup);
        globalPopupInner = document.createElement("div");
        globalPopupInner.className = "global-popup-inner";
        globalPopup.append(close, globalPopupInner);
        (gradioApp().querySelector(".main") || gradioApp().querySelector(".gradio-container") || document.body)
            .appendChild(globalPopup);
    }
    globalPopupInner.replaceChildren(contents);
    globalPopup.style.display = "flex";
}

// popup() of the element with this id (remembered: once moved into the popup it stays there)
function popupId(id) {
    if (!storedPopupIds[id]) storedPopupIds[id] = gradioApp().getElementById(id);
    if (storedPopupIds[id]) popup(storedPopupIds[id]);
}

document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && globalPopup && globalPopup.style.display !== "none") closePopup();
});

// --- tooltips from `titles` (text, value, dropdown item or class -> tooltip) ----------------------
function webuiTitleFor(key) {
    if (!key || !Object.prototype.hasOwnProperty.call(titles, key)) return null;
    const text = titles[key];
    return (typeof localization === "object" && localization[text]) || text;
}

function updateTooltip(element) {
    if (element.title) return;
    let tooltip = webuiTitleFor(element.textContent) || webuiTitleFor(element.value) ||
                  webuiTitleFor(element.dataset && element.dataset.value);
    for (const c of element.classList || []) {
        if (tooltip) break;
        tooltip = webuiTitleFor(c);
    }
    if (tooltip) element.title = tooltip;
}

var webuiTooltipNodes = new Set();
var webuiTooltipTimer = null;
webuiOnDomUpdate((mutations) => {
    if (!Object.keys(titles).length) return;
    for (const record of mutations || []) {
        for (const node of record.addedNodes) {
            if (node.nodeType !== Node.ELEMENT_NODE) continue;
            if (node.matches("span, button, p, input, li.item")) webuiTooltipNodes.add(node);
            node.querySelectorAll("span, button, p").forEach((n) => webuiTooltipNodes.add(n));
        }
    }
    if (!webuiTooltipNodes.size) return;
    clearTimeout(webuiTooltipTimer);
    webuiTooltipTimer = setTimeout(() => {       // once the page has settled: text is filled in late
        webuiTooltipNodes.forEach(updateTooltip);
        webuiTooltipNodes.clear();
    }, 1000);
});
