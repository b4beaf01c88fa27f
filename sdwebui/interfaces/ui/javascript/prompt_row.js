// The prompt row's tool buttons and the styles editor (interfaces/ui/styles_editor.py): A1111's
// confirm_clear_prompt (ui.js), the confirmation before a style is deleted, the dialog opened in the
// page's popup (popup() of a1111_menus.js), and the buttons' tooltips (A1111's).

// 🗑️: [prompt, negative prompt] emptied if the user agrees, else as they were
function confirm_clear_prompt(prompt, negative_prompt) {
    if (confirm("Delete prompt?")) {
        prompt = "";
        negative_prompt = "";
    }
    return [prompt, negative_prompt];
}

// Delete in the styles dialog: the style's name if the user agrees, "" (nothing to delete) if not
function webuiConfirmDeleteStyle(name) {
    if (!name) return "";
    return confirm("Delete style " + name + "?") ? name : "";
}

// 🖌️: the tab's styles dialog, shown in the popup. Looked up by id each time rather than remembered
// (popupId), so a dialog gradio has drawn again is the one shown.
function webuiOpenStylesDialog(tabname) {
    const dialog = gradioApp().getElementById(tabname + "_styles_dialog");
    if (dialog) popup(dialog);
}

// tooltips of these buttons (their text is an emoji), set when the pointer first reaches one. Not
// through A1111's `titles` table: a non-empty table makes its observer visit every node the page adds.
const webuiPromptRowTooltips = [
    [/_clear_prompt$/, "Clear prompt"],
    [/_style_apply$/, "Apply all selected styles to prompts."],
    [/_styles_edit_button$/, "Edit styles"],
    [/_style_apply_dialog$/, "Apply all selected styles from the style selection dropdown in main UI to the prompt."],
    [/_style_copy$/, "Copy main UI prompt to style."],
    [/^refresh_.*_styles$/, "Styles: refresh"],
];
document.addEventListener("mouseover", (event) => {
    const button = event.target.closest ? event.target.closest("button[id]") : null;
    if (!button || button.title) return;
    const hit = webuiPromptRowTooltips.find(([pattern]) => pattern.test(button.id));
    if (hit) button.title = hit[1];
});
