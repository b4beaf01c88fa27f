// A1111's prompt shortcuts: Ctrl+Enter generates, Alt+Enter skips, Esc interrupts.
document.addEventListener("keydown", (event) => {
    const box = event.target.closest ? event.target.closest("#txt2img_prompt, #txt2img_neg_prompt, #img2img_prompt, #img2img_neg_prompt") : null;
    if (!box) return;
    const tab = box.id.startsWith("img2img") ? "img2img" : "txt2img";
    let target = null;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) target = `${tab}_generate`;
    else if (event.key === "Enter" && event.altKey) target = `${tab}_skip`;
    else if (event.key === "Escape") target = `${tab}_interrupt`;
    if (!target) return;
    const button = document.getElementById(target);
    if (button) {
        event.preventDefault();
        button.click();
    }
});
