// The JavaScript globals A1111 extensions call (A1111's script.js names): gradioApp(), onUiLoaded,
// onUiUpdate, onAfterUiUpdate, onUiTabChange, onOptionsChanged, onOptionsAvailable, get_uiCurrentTab,
// get_uiCurrentTabContent, opts, onEdit, uiElementIsVisible, uiElementInSight, randomId.
// Loaded before any extension script.

// A1111 writes the extensions' scripts into the page's HTML, so a script can wait for
// `DOMContentLoaded` (or window `load`) before it looks for the UI. Gradio adds them to the head
// after the document has loaded: such a listener would never run (stable-diffusion-webui-state and
// sd-webui-aspect-ratio-helper start that way). A listener for an event that has already fired,
// added by an extension's script (one served from /file=), is called on the next tick instead, as
// if the script had been in the HTML. Gradio's own code is left alone: it never waits for these.
(function () {
    let windowLoaded = document.readyState === "complete";
    window.addEventListener("load", () => { windowLoaded = true; });
    const fired = (target, type) => (type === "DOMContentLoaded" && document.readyState !== "loading") ||
                                    (type === "load" && target === window && windowLoaded);
    const fromExtensionScript = () => {
        const script = document.currentScript;
        if (script && script.dataset && script.dataset.webuiAsset !== undefined) return true;
        // a module script, or a function an extension's script called later: its frames name the file
        return /\/file=/.test(new Error().stack || "");
    };
    const pending = new Map();   // listener -> timer, so removeEventListener still cancels it
    [document, window].forEach((target) => {
        const add = target.addEventListener, remove = target.removeEventListener;
        target.addEventListener = function (type, listener, options) {
            if (listener && fired(this, type) && fromExtensionScript()) {
                const call = () => {
                    pending.delete(listener);
                    const event = new Event(type);
                    try {
                        if (typeof listener === "function") listener.call(this, event);
                        else listener.handleEvent(event);
                    } catch (e) {
                        console.error(`error in a ${type} listener of an extension:`, e);
                    }
                };
                pending.set(listener, setTimeout(call, 0));
                return undefined;
            }
            return add.call(this, type, listener, options);
        };
        target.removeEventListener = function (type, listener, options) {
            if (pending.has(listener)) {
                clearTimeout(pending.get(listener));
                pending.delete(listener);
            }
            return remove.call(this, type, listener, options);
        };
    });
})();

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
var uiUpdateCallbacksEarly = [];     // the app's own (localization, tooltips): every change, from the start
var uiMutationsBeforeLoaded = [];
var uiAfterUpdateCallbacks = [];
var uiLoadedCallbacks = [];
var uiTabChangeCallbacks = [];
var optionsChangedCallbacks = [];
var optionsAvailableCallbacks = [];
var uiAfterUpdateTimeout = null;
var uiCurrentTab = null;
var uiLoadedDone = false;
// what must finish before the onUiLoaded callbacks run (eager_render.js showing the lazily rendered
// tabs once); while one is held, tab switches are not reported to onUiTabChange either
var uiLoadedHolds = new Set();

function webuiHoldUiLoaded(name) { if (!uiLoadedDone) uiLoadedHolds.add(name); }
function webuiReleaseUiLoaded(name) { uiLoadedHolds.delete(name); checkUiLoaded(); }

function onUiUpdate(callback) { uiUpdateCallbacks.push(callback); }
function webuiOnDomUpdate(callback) { uiUpdateCallbacksEarly.push(callback); }
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
    if (uiLoadedDone || uiLoadedHolds.size || !gradioApp().querySelector("#txt2img_prompt") ||
        pendingAssetScripts().length) return;
    uiLoadedDone = true;
    readOptionsJson();
    executeCallbacks(uiLoadedCallbacks);
    // what changed while the page was being put together, in one call (see the observer below)
    const mutations = uiMutationsBeforeLoaded;
    uiMutationsBeforeLoaded = [];
    runUiUpdateCallbacks(mutations);
}

function runUiUpdateCallbacks(mutations) {
    executeCallbacks(uiUpdateCallbacks, mutations);
    clearTimeout(uiAfterUpdateTimeout);
    uiAfterUpdateTimeout = setTimeout(() => executeCallbacks(uiAfterUpdateCallbacks), 200);
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
        executeCallbacks(uiUpdateCallbacksEarly, mutations);
        // Gradio 3 drew the whole page at once, so an extension's onUiUpdate never saw an element
        // without its children; gradio 6 draws it piece by piece (a closed accordion's content after
        // the accordion: sd-dynamic-thresholding then found no checkbox in its accordion and threw on
        // every change). As in A1111, these callbacks start after the onUiLoaded ones, on a whole page.
        if (uiLoadedDone) runUiUpdateCallbacks(mutations);
        else for (const m of mutations) uiMutationsBeforeLoaded.push(m);   // (a spread of a big batch can overflow)
        const tab = get_uiCurrentTab();
        if (tab && tab !== uiCurrentTab && !uiLoadedHolds.size) {
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
