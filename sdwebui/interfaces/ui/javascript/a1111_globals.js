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
var uiLoadedDone = false;

function onUiUpdate(callback) { uiUpdateCallbacks.push(callback); }
function onAfterUiUpdate(callback) { uiAfterUpdateCallbacks.push(callback); }
function onUiLoaded(callback) {
    // a script that comes after the UI started (one an extension adds later) still gets its call
    if (uiLoadedDone) setTimeout(() => executeCallbacks([callback]), 0);
    else uiLoadedCallbacks.push(callback);
}
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

var optionsText = null;   // the settings_json text `opts` was last read from

function readOptionsJson() {
    const box = gradioApp().querySelector("#settings_json textarea, #settings_json input");
    if (!box || !box.value || box.value === optionsText) return false;
    try {
        const fresh = JSON.parse(box.value);
        const had = Object.keys(opts).length !== 0;
        optionsText = box.value;
        opts = fresh;
        if (!had) executeCallbacks(optionsAvailableCallbacks);
        executeCallbacks(optionsChangedCallbacks);
        return true;
    } catch (e) {
        console.error("settings_json is not JSON", e);
        return false;
    }
}

// Gradio sets the box's value as a property, which no MutationObserver sees: the box's own setter
// tells (as A1111's script.js does)
function watchOptionsBox() {
    const box = gradioApp().querySelector("#settings_json textarea, #settings_json input");
    if (!box || box.dataset.webuiWatched) return;
    box.dataset.webuiWatched = "1";
    const native = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), "value");
    Object.defineProperty(box, "value", {
        configurable: true,
        get() { return native.get.call(this); },
        set(value) {
            native.set.call(this, value);
            if (uiLoadedDone) readOptionsJson();
        },
    });
}

// The extensions' scripts come from /file= and run after these inline ones (Gradio adds the head's
// tags in order, scripts with async=false); the UI counts as loaded once each of them (data-webui-asset)
// has run or failed, so their onUiLoaded callbacks always run.
function pendingAssetScripts() {
    return Array.from(document.querySelectorAll("script[data-webui-asset]")).filter((s) => !s.dataset.webuiAssetDone);
}
["load", "error"].forEach((type) => document.addEventListener(type, (event) => {
    const el = event.target;
    if (el && el.tagName === "SCRIPT" && el.dataset && el.dataset.webuiAsset !== undefined) {
        el.dataset.webuiAssetDone = type;
        if (type === "error") console.error("could not load the extension script " + el.src);
        checkUiLoaded();
    }
}, true));   // capture: load and error do not bubble

function checkUiLoaded() {
    if (uiLoadedDone || !gradioApp().querySelector("#txt2img_prompt") || pendingAssetScripts().length) return;
    uiLoadedDone = true;
    readOptionsJson();
    executeCallbacks(uiLoadedCallbacks);
}

// `opts` follows the settings: the settings_json box is refreshed from the server after a change in
// the Settings tab or the quicksettings (A1111 returns it from those events), and a new value in
// the box fills `opts` and runs the onOptionsChanged callbacks.
var optionsRefreshTimer = null;
function refreshOptionsSoon() {
    clearTimeout(optionsRefreshTimer);
    optionsRefreshTimer = setTimeout(() => {
        const button = gradioApp().querySelector("#settings_json_refresh");
        if (button) button.click();
    }, 600);
}
function inSettingsControls(node) {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    return !!(el && el.closest && el.closest("#quicksettings, #settings_result"));
}
["change", "input", "click"].forEach((type) => document.addEventListener(type, (event) => {
    const el = event.target;
    if (!el || !el.closest) return;
    if ((type === "click" && el.closest("#settings_submit, #settings_reload_values")) ||
        (type !== "click" && el.closest("#quicksettings"))) refreshOptionsSoon();
}, true));

(function () {
    const observer = new MutationObserver((mutations) => {
        watchOptionsBox();
        checkUiLoaded();
        if (uiLoadedDone) readOptionsJson();   // a no-op unless the box holds new text
        // a settings event finished (its loading state left the quicksettings or the result changed)
        if (uiLoadedDone && mutations.some((m) => inSettingsControls(m.target))) refreshOptionsSoon();
        executeCallbacks(uiUpdateCallbacks, mutations);
        clearTimeout(uiAfterUpdateTimeout);
        uiAfterUpdateTimeout = setTimeout(() => executeCallbacks(uiAfterUpdateCallbacks), 200);
        const tab = get_uiCurrentTab();
        if (tab && tab !== uiCurrentTab) {
            uiCurrentTab = tab;
            executeCallbacks(uiTabChangeCallbacks);
        }
    });
    const start = () => {
        observer.observe(gradioApp(), {childList: true, subtree: true});
        checkUiLoaded();
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
