// A1111's aspectRatioOverlay.js: while width or height is edited in img2img, a red frame over the
// source image shows the part the new size covers. Extensions that set the size themselves call
// dimensionChange(event, is_width, is_height) (sd-webui-aspect-ratio-helper does after each ratio).

var currentWidth = null;
var currentHeight = null;
var webuiAspectFrameTimer = null;

// the source image of the img2img mode on screen (img2img, Inpaint or Inpaint upload)
function webuiImg2imgSourceImage() {
    const ids = ["img2img_image", "img2maskimg", "img_inpaint_base"];
    for (const id of ids) {
        const container = gradioApp().getElementById(id);
        if (!container || container.offsetParent === null) continue;
        const image = Array.from(container.querySelectorAll("img")).find((img) => img.naturalWidth && img.offsetParent);
        if (image) return image;
    }
    return null;
}

function dimensionChange(e, is_width, is_height) {
    const value = Number(e && e.target ? e.target.value : NaN);
    if (!Number.isFinite(value) || value <= 0) return;
    if (is_width) currentWidth = value;
    if (is_height) currentHeight = value;

    const tab = gradioApp().getElementById("tab_img2img");
    if (!tab || tab.offsetParent === null || !currentWidth || !currentHeight) return;
    const image = webuiImg2imgSourceImage();
    if (!image) return;

    let frame = gradioApp().querySelector("#imageARPreview");
    if (!frame) {
        frame = document.createElement("div");
        frame.id = "imageARPreview";
        gradioApp().appendChild(frame);
    }
    // the image is drawn scaled to fit its box: the frame is the new size, scaled to fit that
    const box = image.getBoundingClientRect();
    const shown = Math.min(image.clientWidth / image.naturalWidth, image.clientHeight / image.naturalHeight);
    const shownWidth = image.naturalWidth * shown, shownHeight = image.naturalHeight * shown;
    const scale = Math.min(shownWidth / currentWidth, shownHeight / currentHeight);
    const width = currentWidth * scale, height = currentHeight * scale;
    const centreX = box.left + window.scrollX + image.clientWidth / 2;
    const centreY = box.top + window.scrollY + image.clientHeight / 2;
    Object.assign(frame.style, {left: `${centreX - width / 2}px`, top: `${centreY - height / 2}px`,
                                width: `${width}px`, height: `${height}px`, display: "block"});
    clearTimeout(webuiAspectFrameTimer);
    webuiAspectFrameTimer = setTimeout(() => { frame.style.display = "none"; }, 2000);
}

// the img2img size fields report their edits (each input once)
onAfterUiUpdate(() => {
    for (const [id, isWidth] of [["img2img_width", true], ["img2img_height", false]]) {
        gradioApp().querySelectorAll(`#${id} input`).forEach((input) => {
            if (input.dataset.webuiAspectWatch) return;
            input.dataset.webuiAspectWatch = "1";
            input.addEventListener("input", (e) => dimensionChange(e, isWidth, !isWidth));
            if (isWidth) currentWidth = Number(input.value) || currentWidth;
            else currentHeight = Number(input.value) || currentHeight;
        });
    }
});
