// "Generate forever" and "Cancel generate forever" on the right-click menu of txt2img's and img2img's
// Generate and Interrupt buttons, as A1111 has them: while on, Generate is pressed again whenever
// the tab has no job running. A1111 tells "running" from the Interrupt button being shown, which is
// also false while the tab is not the one on screen, so it queued a job every half second there;
// here the tab's own running flag (a1111_progress.js webuiStartGenerate) decides.

var generateOnRepeatInterval = null;     // A1111 keeps it on window too; extensions may clear it
var webuiForeverTab = null;

function webuiGenerateForever(tab) {
    const press = () => {
        const button = gradioApp().getElementById(`${tab}_generate`);
        if (button && !document.body.classList.contains(`webui-generating-${tab}`)) button.click();
    };
    webuiCancelGenerateForever();
    webuiForeverTab = tab;
    press();
    generateOnRepeatInterval = window.generateOnRepeatInterval = setInterval(press, 500);
}

function webuiCancelGenerateForever() {
    clearInterval(generateOnRepeatInterval);
    clearInterval(window.generateOnRepeatInterval);
    generateOnRepeatInterval = window.generateOnRepeatInterval = null;
    webuiForeverTab = null;
}

["txt2img", "img2img"].forEach((tab) => {
    for (const button of ["generate", "interrupt"]) {
        appendContextMenuOption(`#${tab}_${button}`, "Generate forever", () => webuiGenerateForever(tab));
    }
    for (const button of ["interrupt", "generate"]) {
        appendContextMenuOption(`#${tab}_${button}`, "Cancel generate forever", webuiCancelGenerateForever);
    }
});
