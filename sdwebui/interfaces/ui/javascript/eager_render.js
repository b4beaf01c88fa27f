// Gradio 6 puts a closed accordion's children, and a tab that was never selected, into the page
// only when the user first opens them. A1111 extensions were written for gradio 3, which rendered
// everything at load, and their JavaScript looks those elements up when the UI starts
// (sd-dynamic-prompts clicks a button in a closed accordion, stable-diffusion-webui-state decorates
// its section of the Settings tab). The server marks what must be there (gradio_compat.py):
// * accordions built by extensions, and all accordions in a marked tab, are sent open with the class
//   `webui-eager-closed`: each is closed here as soon as it mounts, before it is painted, and its
//   children stay in the page (gradio hides a closed accordion's content, it does not remove it);
// * tabs with the class `webui-eager` (the extensions' tabs and the tabs inside them, Settings) are
//   shown once, in turn, before the onUiLoaded callbacks run; then every group of tabs is set back
//   to the tab it had.
(function () {
    const EAGER_TAB = "webui-eager";
    const SENT_OPEN = "webui-eager-closed";
    const MAX_FRAMES = 300;     // 5 to 15 s: a tab that never shows does not hold the UI back


    // A click while the accordion mounts is lost (gradio binds its handler afterwards): it is clicked
    // on the next tick, and once more if it has not closed half a second later (a click that did
    // land must not be undone by a second one). style.css hides the content meanwhile.
    function closeWhenReady(accordion, label, clicks) {
        const isOpen = () => label.isConnected && label.classList.contains("open");
        if (!isOpen()) {
            accordion.dataset.webuiEagerClosed = "done";
            return;
        }
        if (clicks <= 0) {
            console.warn(`eager rendering: could not close the accordion #${accordion.id}`);
            accordion.dataset.webuiEagerClosed = "done";
            return;
        }
        label.click();
        let waited = 0;
        const check = () => {
            if (!isOpen()) accordion.dataset.webuiEagerClosed = "done";
            else if ((waited += 25) < 500) setTimeout(check, 25);
            else closeWhenReady(accordion, label, clicks - 1);
        };
        setTimeout(check, 25);
    }

    function closeSentOpen() {
        for (const accordion of gradioApp().querySelectorAll(`.${SENT_OPEN}:not([data-webui-eager-closed])`)) {
            const label = accordion.querySelector(".label-wrap");   // its own label comes before nested ones
            if (!label) continue;                                    // mounted without its label yet
            accordion.dataset.webuiEagerClosed = "closing";
            setTimeout(() => closeWhenReady(accordion, label, 3), 0);
        }
    }

    function eagerTabIds() {
        const components = (window.gradio_config && window.gradio_config.components) || [];
        return components.filter((c) => c.type === "tabitem" && c.props && c.props.elem_id &&
                                        (c.props.elem_classes || []).includes(EAGER_TAB))
            .map((c) => c.props.elem_id);
    }

    // the clickable button of a tab (gradio keeps a hidden copy of the tab buttons for measuring)
    function tabButton(id) {
        const buttons = Array.from(gradioApp().querySelectorAll("button[role='tab']"))
            .filter((b) => b.id === `${id}-button` || b.getAttribute("aria-controls") === id);
        return buttons.find((b) => b.offsetParent !== null) || buttons[0] || null;
    }

    // the next frame; a page in a background tab gets no frames, so a timer stands in for one
    const nextFrame = () => new Promise((resolve) => {
        const timer = setTimeout(resolve, 50);
        requestAnimationFrame(() => { clearTimeout(timer); setTimeout(resolve, 0); });
    });

    async function until(test) {
        for (let i = 0; i < MAX_FRAMES && !test(); i++) await nextFrame();
        return test();
    }

    // the page is settled once two frames in a row bring no new elements
    async function settled() {
        let changed = true;
        const observer = new MutationObserver(() => { changed = true; });
        observer.observe(gradioApp(), {childList: true, subtree: true});
        for (let i = 0; i < MAX_FRAMES && changed; i++) {
            changed = false;
            await nextFrame();
            await nextFrame();
        }
        observer.disconnect();
    }

    const panel = (id) => gradioApp().querySelector(`#${CSS.escape(id)}`);
    // the id of the tab selected in the group of `button` (restored through tabButton: the group
    // may hold copies of a button)
    const selectedIn = (button) => {
        const list = button.closest("[role='tablist']");
        const selected = list && list.querySelector("button[role='tab'][aria-selected='true']");
        return selected ? selected.getAttribute("aria-controls") : null;
    };
    const select = (id) => {
        const button = id && tabButton(id);
        if (button && button.getAttribute("aria-selected") !== "true") button.click();
    };

    // Shows the tab `id`, then, inside it, the pending marked tabs of its own Tabs (an extension's
    // tabs in its tab), each group set back to the tab it had. Returns the tab selected before.
    async function showTab(id, pending) {
        const button = tabButton(id);
        if (!button) {
            // gradio leaves a tab that does not fit in its strip out, in a "More tabs" menu
            console.warn(`eager rendering: no button for the tab #${id}`);
            return null;
        }
        const before = selectedIn(button);
        select(id);
        if (!await until(() => panel(id))) console.warn(`eager rendering: the tab #${id} did not render`);
        // each group of tabs inside -> the tab it had before the first of them was shown (not the
        // one a later tab of the same group was shown from: that would leave the group on its second tab)
        const restore = new Map();
        for (const child of [...pending]) {
            const inside = panel(id) && tabButton(child);
            if (!inside || !panel(id).contains(inside)) continue;
            pending.delete(child);
            const group = inside.closest(".tabs") || inside;
            const before = await showTab(child, pending);
            if (!restore.has(group)) restore.set(group, before);
        }
        restore.forEach((tab) => select(tab));
        return before;
    }

    async function showEagerTabs() {
        const t0 = performance.now();
        const pending = new Set(eagerTabIds().filter((id) => !panel(id)));
        const first = get_uiCurrentTab();
        let firstId = first && first.getAttribute("aria-controls");
        // a tab the user picks meanwhile (a slow machine) is the one the page is left on
        const userPick = (event) => {
            const button = event.isTrusted && event.target.closest && event.target.closest("#tabs button[role='tab']");
            if (button && button.getAttribute("aria-controls")) firstId = button.getAttribute("aria-controls");
        };
        document.addEventListener("click", userPick, true);
        try {
            for (const id of [...pending]) {
                if (pending.delete(id)) await showTab(id, pending);     // else shown already, inside its parent
            }
        } finally {
            document.removeEventListener("click", userPick, true);
        }
        select(firstId);
        await settled();
        // extensions' onUiLoaded callbacks may open or close accordions themselves
        await until(() => !gradioApp().querySelector("[data-webui-eager-closed='closing']"));
        window.webuiEagerRenderMs = performance.now() - t0;    // what it cost (tests and docs read it)
    }

    webuiHoldUiLoaded("eager-render");
    let started = false;
    const observer = new MutationObserver(() => {
        closeSentOpen();
        if (!started && gradioApp().querySelector("#txt2img_prompt") && get_uiCurrentTab()) {
            started = true;
            showEagerTabs()
                .catch((e) => console.error("eager rendering failed", e))
                .finally(() => webuiReleaseUiLoaded("eager-render"));
        }
    });
    const start = () => observer.observe(document.documentElement, {childList: true, subtree: true});
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
