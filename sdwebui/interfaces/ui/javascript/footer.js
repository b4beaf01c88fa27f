// The footer (interfaces/ui/footer.py): "Startup profile" shows /internal/profile-startup as a table
// in the page's popup, and the versions line names the current checkpoint's hash, as in A1111.

function showProfile(path) {
    fetch(path, {credentials: "same-origin"}).then((r) => r.json()).then((record) => {
        const box = document.createElement("div");
        box.className = "startup-profile";
        if (!record || !record.records) {
            box.textContent = "No start-up profile was recorded.";
            popup(box);
            return;
        }
        const table = document.createElement("table");
        const total = record.total || 0;
        const head = table.insertRow();
        for (const text of ["Step", "Seconds", ""]) {
            const th = document.createElement("th");
            th.textContent = text;
            head.appendChild(th);
        }
        for (const [name, seconds] of Object.entries(record.records)) {
            const row = table.insertRow();
            const depth = name.split("/").length - 1;     // a sub-step is indented under its step
            const label = row.insertCell();
            label.textContent = name.split("/").pop();
            label.style.paddingLeft = `${0.5 + depth * 1.5}em`;
            row.insertCell().textContent = seconds.toFixed(3);
            const bar = document.createElement("div");
            bar.className = "startup-profile-bar";
            bar.style.width = `${total > 0 ? Math.round(100 * seconds / total) : 0}%`;
            row.insertCell().appendChild(bar);
        }
        const foot = table.insertRow();
        foot.insertCell().textContent = "Total";
        foot.insertCell().textContent = total.toFixed(3);
        box.appendChild(table);
        popup(box);
    }).catch((e) => console.warn("startup profile:", e));
}

onOptionsChanged(function() {
    const elem = gradioApp().getElementById("sd_checkpoint_hash");
    const hash = (typeof opts === "object" && opts.sd_checkpoint_hash) || "";
    const short = hash.substring(0, 10);
    if (elem && short && elem.textContent !== short) {
        elem.textContent = short;
        elem.title = hash;
    }
});
