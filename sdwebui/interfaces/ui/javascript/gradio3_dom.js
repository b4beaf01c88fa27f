// Parts of the page in gradio 3's shape, for A1111 extensions' JavaScript (gradio_compat.py makes
// the rest on the server: an extension's gr.Tabs gets the "wrap" strip, whose first div holds the tab
// buttons alone).
// * Tab panels: gradio 3 showed the selected tab's panel with the inline style `display: block` (the
//   others `display: none`); gradio 6 writes `display: flex`. Extensions find the shown tab by that
//   value (images-browser: `element.style.display === "block"` over its sub-tabs' panels and over
//   `#tabs > [id^='tab_']`), so a shown panel's inline display is made `block` as gradio sets it.
//   The panel's only child is gradio's column, which fills the panel's width either way.
// * Gallery thumbnails: gradio 3's grid held the thumbnail buttons side by side; gradio 6 wraps each
//   in a `.gallery-item` div, so an extension counting a clicked thumbnail's previous siblings
//   (images-browser) always gets 0. A grid thumbnail's previous/next sibling (and element sibling)
//   are the neighbouring thumbnails, as in gradio 3. Only these buttons' own properties are set:
//   gradio's Svelte walks the DOM through Node.prototype's getters, which stay as they are.
// * Dataframe headers: gradio 6 sizes a Dataframe's columns by measuring its header cells, so an
//   extension's CSS that hides them (images-browser's `th { display: none }` over its formatted
//   Generation Info) made every column 0 px wide and the grid blank. A header cell hidden that way is
//   kept in the table's layout at no height and out of sight: the columns get their widths from the
//   rows, and the header stays hidden as the extension wants.
(function () {
    const isPanel = (node) => node.getAttribute("role") === "tabpanel" && node.classList.contains("tabitem");

    function asGradio3Panel(panel) {
        if (panel.style.display === "flex") panel.style.display = "block";
    }

    // the thumbnail of the next `.gallery-item` before (step "previousElementSibling") or after
    function neighbour(button, step) {
        let item = button.parentElement;
        while (item && (item = item[step])) {
            const thumb = item.classList.contains("gallery-item") && item.querySelector(":scope > .thumbnail-item");
            if (thumb) return thumb;
        }
        return null;
    }

    const SIBLINGS = {previousSibling: "previousElementSibling", previousElementSibling: "previousElementSibling",
                      nextSibling: "nextElementSibling", nextElementSibling: "nextElementSibling"};

    function asGradio3Thumbnail(button) {
        if (button.webuiGradio3Siblings) return;
        button.webuiGradio3Siblings = true;
        for (const [name, step] of Object.entries(SIBLINGS)) {
            const own = Object.getOwnPropertyDescriptor(Node.prototype, name) ||
                        Object.getOwnPropertyDescriptor(Element.prototype, name);
            Object.defineProperty(button, name, {
                configurable: true,
                get() {
                    const item = this.parentElement;
                    if (item && item.classList.contains("gallery-item")) return neighbour(this, step);
                    return own.get.call(this);
                },
            });
        }
    }

    const THUMBNAIL = ".gallery-item > .thumbnail-item";
    const HEADER_CELL = "th.header-cell";
    const NO_HEIGHT = {display: "table-cell", height: "0", "padding-top": "0", "padding-bottom": "0",
                       "border-width": "0", "line-height": "0", "font-size": "0", overflow: "hidden",
                       visibility: "hidden"};

    function keepHeaderInLayout(th) {
        if (th.webuiHeaderKept || getComputedStyle(th).display !== "none") return;
        th.webuiHeaderKept = true;
        for (const [name, value] of Object.entries(NO_HEIGHT)) th.style.setProperty(name, value, "important");
        // the row folds away; its cells keep the widths the columns are sized by
        if (th.parentElement && th.parentElement.tagName === "TR") {
            th.parentElement.style.setProperty("visibility", "collapse", "important");
        }
    }

    function visit(node) {
        if (node.nodeType !== 1) return;
        if (isPanel(node)) asGradio3Panel(node);
        else if (node.matches(THUMBNAIL)) asGradio3Thumbnail(node);
        else if (node.matches(HEADER_CELL)) keepHeaderInLayout(node);
        if (node.firstElementChild) {
            node.querySelectorAll(".tabitem[role='tabpanel']").forEach(asGradio3Panel);
            node.querySelectorAll(THUMBNAIL).forEach(asGradio3Thumbnail);
            node.querySelectorAll(HEADER_CELL).forEach(keepHeaderInLayout);
        }
    }

    const observer = new MutationObserver((records) => {
        for (const record of records) {
            if (record.type === "attributes") {
                if (isPanel(record.target)) asGradio3Panel(record.target);
                continue;
            }
            record.addedNodes.forEach(visit);
        }
    });
    const start = () => observer.observe(document.documentElement,
                                         {childList: true, subtree: true, attributes: true, attributeFilter: ["style"]});
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
