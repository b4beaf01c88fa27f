// A1111's page translation: with a localization chosen in the settings (`localization`, whose
// localizations/*.json strings the page gets as window.localization), every text, title and
// placeholder of the UI that is a key of it is shown translated. What users type, model names and
// code are left alone. getTranslation(text) is A1111's name for the lookup.

var webuiLocalizationSkip = "textarea, input, script, style, code, pre, .cm-editor, #settings_json, " +
    "#setting_sd_model_checkpoint, #setting_sd_vae, [id$='_prompt'], [id$='_neg_prompt'], .webui-no-localization";

function hasLocalization() {
    return !!window.localization && Object.keys(window.localization).length > 0;
}

function getTranslation(text) {
    if (!text || !hasLocalization()) return undefined;
    const translated = window.localization[text.trim()];
    return typeof translated === "string" ? translated : undefined;
}

function webuiLocalizable(el) {
    return !!el && !(el.closest && el.closest(webuiLocalizationSkip));
}

function processTextNode(node) {
    if (!webuiLocalizable(node.parentElement)) return;
    const translated = getTranslation(node.textContent);
    if (translated !== undefined) node.textContent = node.textContent.replace(node.textContent.trim(), translated);
}

function translateAttributes(el) {
    for (const attr of ["title", "placeholder"]) {
        const translated = getTranslation(el.getAttribute(attr));
        if (translated !== undefined) el.setAttribute(attr, translated);
    }
}

function processNode(node) {
    if (node.nodeType === Node.TEXT_NODE) {
        processTextNode(node);
        return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || !webuiLocalizable(node)) return;
    translateAttributes(node);
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (n.nodeType === Node.TEXT_NODE) processTextNode(n);
        else if (webuiLocalizable(n)) translateAttributes(n);
    }
}

function localizeWholePage() {
    if (hasLocalization()) processNode(gradioApp() === document ? document.body : gradioApp());
}

onUiLoaded(localizeWholePage);
webuiOnDomUpdate(function(mutations) {
    if (!hasLocalization() || !mutations) return;
    for (const m of mutations) m.addedNodes.forEach(processNode);
});
