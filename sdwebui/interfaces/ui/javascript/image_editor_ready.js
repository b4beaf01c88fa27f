// A picture given to an image editor (img2img's Sketch, Inpaint, Inpaint sketch, an extension's
// gr.ImageEditor) before the editor has set itself up is kept and handed over once it has.
// gradio 6's ImageEditor starts its two PixiJS canvases asynchronously when it is first shown; an
// upload that lands before then calls into a canvas that does not exist yet ("Cannot read properties
// of undefined (reading 'reset_layers')") and the picture is lost. On a busy machine that start takes
// long enough for a quick user (or a file dropped right after switching to the tab) to hit it.
// The editor's canvases are appended to their `.pixi-target` divs as the last step of its set-up, so
// both being there means it is ready. Until then a chosen or dropped file waits in the editor's file
// input and its `change` is sent when the canvases appear.
(function () {
    const ready = (editor) => editor.querySelector(".pixi-target canvas") && editor.querySelector(".pixi-target-crop canvas");

    function editorOf(node) {
        const block = node instanceof Element ? node.closest(".block") : null;
        return block && block.querySelector(".pixi-target") ? block : null;
    }

    function whenReady(editor, then) {
        const observer = new MutationObserver(() => {
            if (!ready(editor)) return;
            observer.disconnect();
            then();
        });
        observer.observe(editor, {childList: true, subtree: true});
    }

    const held = new WeakSet();    // inputs whose change is waiting for their editor

    document.addEventListener("change", (event) => {
        const input = event.target;
        if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
        const editor = editorOf(input);
        if (!editor || ready(editor)) return;
        event.stopImmediatePropagation();
        if (held.has(input)) return;
        held.add(input);
        whenReady(editor, () => {
            held.delete(input);
            input.dispatchEvent(new Event("change", {bubbles: true}));
        });
    }, true);

    document.addEventListener("drop", (event) => {
        const editor = editorOf(event.target);
        const files = event.dataTransfer ? event.dataTransfer.files : null;
        if (!editor || ready(editor) || !files || !files.length) return;
        const input = editor.querySelector("input[type=file]");
        if (!input) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        // the drop's files are readable only during the event: they move to the file input now
        const transfer = new DataTransfer();
        for (const file of files) transfer.items.add(file);
        input.files = transfer.files;
        input.dispatchEvent(new Event("change", {bubbles: true}));     // held above until ready
    }, true);
})();
