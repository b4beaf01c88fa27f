// The Extensions tab's page side, under A1111's global names (extensions_apply, extensions_check,
// install_extension_from_index, config_state_confirm_restore, toggle_all_extensions,
// toggle_extension). The tables are plain HTML that the server re-renders, so their checkboxes
// and buttons are handled by listeners on the document rather than by inline handlers.

function extensionsCheckboxes() {
    return gradioApp().querySelectorAll('#extensions input[type="checkbox"]');
}

// -> [JSON list of unticked extensions, JSON list of those ticked for update, disable_all]
function extensions_apply(_disabled_list, _update_list, disable_all) {
    const boxes = extensionsCheckboxes();
    if (boxes.length == 0) {
        throw Error("Extensions page not yet loaded.");
    }
    const disable = [];
    const update = [];
    boxes.forEach(function(box) {
        if (box.name.startsWith("enable_") && !box.checked) disable.push(box.name.substring(7));
        if (box.name.startsWith("update_") && box.checked) update.push(box.name.substring(7));
    });
    return [JSON.stringify(disable), JSON.stringify(update), disable_all];
}

// -> [a task id, JSON list of unticked extensions] (those are not checked for updates)
function extensions_check() {
    const disable = [];
    extensionsCheckboxes().forEach(function(box) {
        if (box.name.startsWith("enable_") && !box.checked) disable.push(box.name.substring(7));
    });
    gradioApp().querySelectorAll('#extensions .extension_status').forEach(function(cell) {
        cell.textContent = "Loading...";
    });
    return [randomId(), JSON.stringify(disable)];
}

// the Available list's Install button: hand the URL to the hidden textbox and click the hidden button
function install_extension_from_index(button, url) {
    button.disabled = true;
    button.textContent = "Installing...";
    const box = gradioApp().querySelector('#extension_to_install textarea, #extension_to_install input');
    box.value = url;
    box.dispatchEvent(new Event("input", {bubbles: true}));
    gradioApp().querySelector('#install_extension_button').click();
}

function config_state_confirm_restore(_, config_state_name, config_restore_type) {
    if (config_state_name == "Current") {
        return [false, config_state_name, config_restore_type];
    }
    const what = {
        extensions: "the extensions' commits and enabled states",
        webui: "the web UI's commit",
    }[config_restore_type] || "the web UI's commit and the extensions' commits and enabled states";
    const confirmed = confirm("Restore " + what + " from this saved state? The server restarts afterwards.");
    if (confirmed) {
        gradioApp().querySelectorAll('#extensions .extension_status').forEach(function(cell) {
            cell.textContent = "Loading...";
        });
    }
    return [confirmed, config_state_name, config_restore_type];
}

function toggle_all_extensions(event) {
    gradioApp().querySelectorAll('#extensions .extension_toggle').forEach(function(box) {
        box.checked = event.target.checked;
    });
}

function toggle_extension() {
    const all = gradioApp().querySelector('#extensions .all_extensions_toggle');
    if (!all) return;
    all.checked = Array.from(gradioApp().querySelectorAll('#extensions .extension_toggle')).every((box) => box.checked);
}

// Gradio patches a re-rendered HTML value into the elements already there, and a checkbox the user
// clicked keeps its own state over the new `checked` attribute: each new rendering of the table
// (a new data-render token) takes the ticks the server sent.
let extensionsTableRender = null;
onUiUpdate(function() {
    const table = gradioApp().querySelector('#extensions');
    if (!table || table.dataset.render === extensionsTableRender) return;
    extensionsTableRender = table.dataset.render;
    table.querySelectorAll('input[type="checkbox"]').forEach(function(box) {
        box.checked = box.defaultChecked;
    });
});

(function() {
    function listen(root) {
        root.addEventListener("change", function(event) {
            const target = event.target;
            if (!target.closest || !target.closest('#extensions')) return;
            if (target.classList.contains("all_extensions_toggle")) toggle_all_extensions(event);
            else if (target.classList.contains("extension_toggle")) toggle_extension(event);
        });
        root.addEventListener("click", function(event) {
            const button = event.target.closest && event.target.closest('#available_extensions button.extension-install');
            if (button && !button.disabled) install_extension_from_index(button, button.dataset.url);
        });
    }
    listen(document);
})();
