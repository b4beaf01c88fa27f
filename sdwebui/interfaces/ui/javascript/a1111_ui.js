// The helpers of A1111's ui.js and localStorage.js that extensions call, on this UI's DOM (Gradio 6):
// switching tabs, the selected gallery image, the submit pre-processors, updateInput, localSet/Get.
// Each keeps A1111's name, arguments and return value.

window.args_to_array = Array.from;

// The tab buttons of the gr.Tabs with this elem_id, in order (Gradio 6 keeps a hidden copy of the
// buttons for measuring and nests the tabs' own Tabs in their content: only the tablist's count).
function webuiTabButtons(tabsId) {
    const tabs = gradioApp().getElementById(tabsId);
    if (!tabs) return [];
    const list = tabs.querySelector(":scope > .tab-wrapper [role='tablist']") || tabs.querySelector("[role='tablist']");
    return list ? Array.from(list.querySelectorAll("button[role='tab']")) : [];
}

function webuiSelectTab(tabsId, tabElemId) {
    const button = webuiTabButtons(tabsId).find((b) => b.getAttribute("aria-controls") === tabElemId ||
                                                      b.dataset.tabId === tabElemId);
    if (button) button.click();
    return !!button;
}

function get_tab_index(tabId) {
    const index = webuiTabButtons(tabId).findIndex((b) => b.classList.contains("selected") ||
                                                         b.getAttribute("aria-selected") === "true");
    return Math.max(index, 0);
}

function create_tab_index_args(tabId, args) {
    const res = Array.from(args);
    res[0] = get_tab_index(tabId);
    return res;
}

function get_img2img_tab_index() {
    const res = Array.from(arguments);
    res.splice(-2);
    res[0] = get_tab_index("mode_img2img");
    return res;
}

function switch_to_txt2img() {
    webuiSelectTab("tabs", "tab_txt2img");
    return Array.from(arguments);
}

// A1111's img2img modes by number (the mode tabs' order): img2img, Sketch, Inpaint, Inpaint sketch,
// Inpaint upload, Batch.
var webuiImg2imgModes = ["img2img_img2img_tab", "img2img_img2img_sketch_tab", "img2img_inpaint_tab",
                         "img2img_inpaint_sketch_tab", "img2img_inpaint_upload_tab", "img2img_batch_tab"];

function switch_to_img2img_tab(no) {
    webuiSelectTab("tabs", "tab_img2img");
    // the mode tabs are drawn once their tab shows
    setTimeout(() => webuiSelectTab("mode_img2img", webuiImg2imgModes[no] || webuiImg2imgModes[0]), 0);
}

function switch_to_img2img() { switch_to_img2img_tab(0); return Array.from(arguments); }
function switch_to_sketch() { switch_to_img2img_tab(1); return Array.from(arguments); }
function switch_to_inpaint() { switch_to_img2img_tab(2); return Array.from(arguments); }
function switch_to_inpaint_sketch() { switch_to_img2img_tab(3); return Array.from(arguments); }

function switch_to_extras() {
    webuiSelectTab("tabs", "tab_extras");
    return Array.from(arguments);
}

// the thumbnails of the galleries in the tab that shows (those on screen)
function all_gallery_buttons() {
    const content = get_uiCurrentTabContent();
    if (!content) return [];
    return Array.from(content.querySelectorAll("div[id$=_gallery] .thumbnail-item"))
        .filter((el) => el.offsetParent !== null);
}

function selected_gallery_button() {
    return all_gallery_buttons().find((el) => el.classList.contains("selected")) || null;
}

function selected_gallery_index() {
    return all_gallery_buttons().findIndex((el) => el.classList.contains("selected"));
}

function gallery_container_buttons(gallery_container) {
    return gradioApp().querySelectorAll(`#${gallery_container} .thumbnail-item`);
}

function selected_gallery_index_id(gallery_container) {
    return Array.from(gallery_container_buttons(gallery_container)).findIndex((el) => el.classList.contains("selected"));
}

function extract_image_from_gallery(gallery) {
    if (!gallery || gallery.length === 0) return [null];
    const index = selected_gallery_index();
    return [gallery[index >= 0 && index < gallery.length ? index : 0]];
}

// The pre-processors A1111 puts on its Generate buttons (`_js="submit"`): the first argument becomes a
// new task id, and the previous gallery is not sent back. This UI's own buttons show progress
// themselves, so these only shape the arguments.
function create_submit_args(args) {
    const res = Array.from(args);
    if (res.length >= 3 && Array.isArray(res[res.length - 3])) res[res.length - 3] = null;
    return res;
}

function webuiSubmitArgs(args) {
    const res = create_submit_args(args);
    res[0] = randomId();
    return res;
}

function submit() { return webuiSubmitArgs(arguments); }
function submit_txt2img_upscale() { return webuiSubmitArgs(arguments); }
function submit_extras() { return webuiSubmitArgs(arguments); }

function submit_img2img() {
    const res = webuiSubmitArgs(arguments);
    res[1] = get_tab_index("mode_img2img");
    return res;
}

// After a script changes an input's value, Gradio learns of it from an input event
function updateInput(target) {
    const event = new Event("input", {bubbles: true});
    Object.defineProperty(event, "target", {value: target});
    target.dispatchEvent(event);
}

function setRandomSeed(elem_id) {
    const input = gradioApp().querySelector(`#${elem_id} input`);
    if (input) {
        input.value = "-1";
        updateInput(input);
    }
    return [];
}

function switchWidthHeight(tabname) {
    const width = gradioApp().querySelector(`#${tabname}_width input[type=number]`);
    const height = gradioApp().querySelector(`#${tabname}_height input[type=number]`);
    if (width && height) {
        [width.value, height.value] = [height.value, width.value];
        updateInput(width);
        updateInput(height);
    }
    return [];
}

function set_theme(theme) {
    const url = new URL(window.location.href);
    if (!url.searchParams.has("__theme")) {
        url.searchParams.set("__theme", theme);
        window.location.replace(url.toString());
    }
}

// localStorage that never throws (private windows, storage turned off)
function localSet(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { console.warn("localStorage unavailable", e); }
}

function localGet(key, fallback) {
    try { const value = localStorage.getItem(key); return value === null ? fallback : value; } catch (e) { return fallback; }
}

function localRemove(key) {
    try { localStorage.removeItem(key); } catch (e) { console.warn("localStorage unavailable", e); }
}
