// The JavaScript globals A1111 extensions call (A1111's script.js names): gradioApp(), onUiLoaded,
// onUiUpdate, onAfterUiUpdate, onUiTabChange, onOptionsChanged, onOptionsAvailable, get_uiCurrentTab,
// get_uiCurrentTabContent, opts, onEdit, uiElementIsVisible, uiElementInSight, randomId.
// Loaded before any extension script.

function gradioApp() {
    const app = document.getElementsByTagName("gradio-app");
    const root = app.length === 0 ? document : app[0];
    if (root !== document && !root.getElementById) {
        // extensions call gradioApp().getElementById(...), which an element does not have
        root.getElementById = (id) => document.getElementById(id);
    }
    return root.shadowRoot ? root.shadowRoot : root;
}

var opts = {};
var titles = {};          // A1111 hints.js: element text -> tooltip; extensions add theirs
var uiUpdateCallbacks = [];
var uiAfterUpdateCallbacks = [];
var uiLoadedCallbacks = [];
var uiTabChangeCallbacks = [];
var optionsChangedCallbacks = [];
var optionsAvailableCallbacks = [];
var uiAfterUpdateTimeout = null;
var uiCurrentTab = null;

function onUiUpdate(callback) { uiUpdateCallbacks.push(callback); }
function onAfterUiUpdate(callback) { uiAfterUpdateCallbacks.push(callback); }
function onUiLoaded(callback) { uiLoadedCallbacks.push(callback); }
function onUiTabChange(callback) { uiTabChangeCallbacks.push(callback); }
function onOptionsChanged(callback) { optionsChangedCallbacks.push(callback); }
function onOptionsAvailable(callback) {
    if (Object.keys(opts).length !== 0) { callback(); return; }
    optionsAvailableCallbacks.push(callback);
}

function executeCallbacks(queue, arg) {
    for (const callback of queue) {
        try {
            callback(arg);
        } catch (e) {
            console.error("error running callback", callback, ":", e);
        }
    }
}

function get_uiCurrentTab() {
    return gradioApp().querySelector("#tabs > .tab-nav > button.selected, #tabs button[role='tab'][aria-selected='true']");
}

function get_uiCurrentTabContent() {
    return gradioApp().querySelector("#tabs > .tabitem[id^=tab_]:not([style*='display: none']), #tabs [role='tabpanel'][id^=tab_]:not([style*='display: none'])");
}

function uiElementIsVisible(el) {
    if (el === document) return true;
    const computedStyle = getComputedStyle(el);
    if (computedStyle.display === "none") return false;
    return el.parentNode ? uiElementIsVisible(el.parentNode) : true;
}

function uiElementInSight(el) {
    const rect = el.getBoundingClientRect();
    return rect.top >= 0 && rect.left >= 0 && rect.bottom <= window.innerHeight && rect.right <= window.innerWidth;
}

function randomId() {
    return "task(" + Math.random().toString(36).slice(2, 7) + Math.random().toString(36).slice(2, 7) + ")";
}

// onEdit: run `func` a moment after the user stops typing in `elem` (A1111 1.7+)
function onEdit(editId, elem, afterMs, func) {
    let timer = null;
    const edited = function() {
        clearTimeout(timer);
        timer = setTimeout(func, afterMs);
    };
    elem.addEventListener("input", edited);
    return edited;
}

function readOptionsJson() {
    const box = gradioApp().querySelector("#settings_json textarea, #settings_json input");
    if (!box || !box.value) return false;
    try {
        const fresh = JSON.parse(box.value);
        const had = Object.keys(opts).length !== 0;
        opts = fresh;
        if (!had) executeCallbacks(optionsAvailableCallbacks);
        executeCallbacks(optionsChangedCallbacks);
        return true;
    } catch (e) {
        console.error("settings_json is not JSON", e);
        return false;
    }
}

(function () {
    let loaded = false;
    let lastOptions = null;
    const observer = new MutationObserver((mutations) => {
        if (!loaded && gradioApp().querySelector("#txt2img_prompt")) {
            loaded = true;
            readOptionsJson();
            executeCallbacks(uiLoadedCallbacks);
        }
        const box = gradioApp().querySelector("#settings_json textarea, #settings_json input");
        if (box && box.value !== lastOptions) {
            lastOptions = box.value;
            readOptionsJson();
        }
        executeCallbacks(uiUpdateCallbacks, mutations);
        clearTimeout(uiAfterUpdateTimeout);
        uiAfterUpdateTimeout = setTimeout(() => executeCallbacks(uiAfterUpdateCallbacks), 200);
        const tab = get_uiCurrentTab();
        if (tab && tab !== uiCurrentTab) {
            uiCurrentTab = tab;
            executeCallbacks(uiTabChangeCallbacks);
        }
    });
    const start = () => observer.observe(gradioApp(), {childList: true, subtree: true});
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
