// A1111's progressbar.js helpers: request, pad2, formatTime, setTitle, requestProgress (extensions call
// them too: sd-webui-agent-scheduler shows its running task with requestProgress), and what this UI's
// Generate buttons run when clicked (webuiStartGenerate): like A1111's, they poll /internal/progress
// for the bar, the ETA and the live previews rather than using gradio's progress.

// POST `data` as JSON to `url`; handler(json) on a 200 answer, errorHandler() otherwise
function request(url, data, handler, errorHandler) {
    fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)})
        .then((response) => {
            if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
            return response.json();
        })
        .then(handler, (e) => {
            console.error(e);
            if (errorHandler) errorHandler();
        });
}

function pad2(x) {
    return x < 10 ? "0" + x : String(x);
}

// seconds as "42s", "03:05" or "01:02:03"
function formatTime(secs) {
    const s = Math.floor(secs);
    if (secs > 3600) return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
    if (secs > 60) return `${pad2(Math.floor(s / 60))}:${pad2(s % 60)}`;
    return `${s}s`;
}

var originalAppTitle = undefined;
onUiLoaded(() => { originalAppTitle = document.title; });

// the window title with "[progress] " in front while a task runs (opts.show_progress_in_title)
function setTitle(progress) {
    if (originalAppTitle === undefined) originalAppTitle = document.title;
    const title = opts.show_progress_in_title !== false && progress ?
        `[${progress.trim()}] ${originalAppTitle}` : originalAppTitle;
    if (document.title !== title) document.title = title;
}

// Polls the progress of task `id_task`: a bar above `progressbarContainer`, live previews inside
// `gallery` (may be null). Ends, removing what it added, when the task completes, stops being active,
// or has not started within `inactivityTimeout` seconds; then atEnd(). onProgress(answer) after
// every poll of a running task.
function requestProgress(id_task, progressbarContainer, gallery, atEnd, onProgress, inactivityTimeout = 40) {
    const started = Date.now();
    const period = () => opts.live_preview_refresh_period || 500;
    let wasActive = false;
    let wakeLock = null;
    const parent = progressbarContainer.parentNode;

    const bar = document.createElement("div");
    bar.className = "progressDiv";
    bar.style.display = opts.show_progressbar === false ? "none" : "block";
    const inner = document.createElement("div");
    inner.className = "progress";
    bar.appendChild(inner);
    parent.insertBefore(bar, progressbarContainer);
    let preview = null;
    let done = false;

    if (opts.prevent_screen_sleep_during_generation && navigator.wakeLock) {
        navigator.wakeLock.request("screen").then((lock) => { wakeLock = lock; },
                                                  (e) => console.warn("no screen wake lock:", e));
    }

    const finish = () => {
        if (done) return;
        done = true;
        if (wakeLock) wakeLock.release().catch(() => {});
        setTitle("");
        bar.remove();
        if (preview) preview.remove();
        if (atEnd) atEnd();
    };

    const pollProgress = () => request("./internal/progress", {id_task: id_task, live_preview: false}, (res) => {
        if (done) return;
        if (res.completed) return finish();
        let text = "";
        inner.style.width = `${(res.progress || 0) * 100}%`;
        inner.style.background = res.progress ? "" : "transparent";
        if (res.progress > 0) text = `${((res.progress || 0) * 100).toFixed(0)}%`;
        if (res.eta) text += ` ETA: ${formatTime(res.eta)}`;
        setTitle(text);
        if (res.textinfo && !res.textinfo.includes("\n")) text = `${res.textinfo} ${text}`;
        inner.textContent = text;
        if (res.active) wasActive = true;
        const waited = (Date.now() - started) / 1000;
        if ((!res.active && wasActive) || (waited > inactivityTimeout && !res.queued && !res.active)) return finish();
        if (onProgress) onProgress(res);
        setTimeout(pollProgress, period());
    }, finish);

    const pollPreview = (idLivePreview) => request("./internal/progress",
        {id_task: id_task, id_live_preview: idLivePreview, live_preview: true}, (res) => {
            if (done) return;
            if (res.live_preview) {
                const img = new Image();
                img.onload = () => {
                    if (done) return;
                    if (!preview) {
                        preview = document.createElement("div");
                        preview.className = "livePreview";
                        gallery.insertBefore(preview, gallery.firstElementChild);
                    }
                    preview.appendChild(img);
                    while (preview.childElementCount > 2) preview.removeChild(preview.firstElementChild);
                };
                img.src = res.live_preview;
            }
            setTimeout(() => pollPreview(res.id_live_preview), period());
        }, finish);

    pollProgress();
    if (gallery) pollPreview(0);
    return finish;      // (not in A1111) ends it early: the page learnt that the job is over
}

// Generate was clicked on `tab` ("txt2img" or "img2img"): a new task id for the job (returned: the page
// sends it with the job's inputs), Interrupt and Skip shown (body class "webui-generating-<tab>") until
// the task ends, its progress bar above the gallery and its live previews over it.
var webuiRunningTask = {};      // tab -> {id, finish} of the task its last Generate started

function webuiStartGenerate(tab) {
    const id = randomId();
    const gallery = gradioApp().getElementById(`${tab}_gallery`);
    const running = `webui-generating-${tab}`;
    document.body.classList.add(running);
    const task = {id: id, finish: null};
    webuiRunningTask[tab] = task;
    const ended = () => {
        if (webuiRunningTask[tab] === task) document.body.classList.remove(running);
    };
    if (gallery) task.finish = requestProgress(id, gallery, gallery, ended);
    else ended();
    return id;
}

// The Generate event of `tab` is over (its result or its error arrived): a job refused before it was
// queued must not leave the bar polling until requestProgress gives up.
function webuiEndGenerate(tab) {
    const task = webuiRunningTask[tab];
    if (task && task.finish) task.finish();
    else document.body.classList.remove(`webui-generating-${tab}`);
    return [];
}
