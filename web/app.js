/*
 * gobi's web page: plain JavaScript, no build step.
 *
 * It speaks the REST API (/api/v1/) and follows the open vault over the
 * WebSocket (/api/v1/ws): the manifest is read once, then every event
 * (create, modify, delete, rename) is applied as it arrives, from any
 * device.  The session token lives in sessionStorage (gone with the tab).
 * Every request is made with credentials: "omit", so that a 401 never
 * makes the browser ask for a password itself.
 */

"use strict";

const API = "/api/v1";
const DEVICE = "web";
const PAGE = 1000;

const state = {
    token: sessionStorage.getItem("gobi.token"),
    user: sessionStorage.getItem("gobi.user"),
    vault: null,        /* the open vault's name */
    folder: "",         /* "" or "a/b/" */
    files: new Map(),   /* path -> {path, version, hash, size, mtime} */
    cursor: 0,          /* the seq the files are at */
    ws: null,
    wsRetry: 0,
    wsTimer: null,
    wsOps: new Map(),   /* op id -> {resolve, reject} */
    wsNextId: 1,
    fresh: new Set(),   /* paths to highlight once */
    history: null       /* {path, next} */
};

const $ = (id) => document.getElementById(id);


/* errors ------------------------------------------------------------- */

class ApiError extends Error {
    constructor(status, code, message, body) {
        super(message || code);
        this.status = status;
        this.code = code;
        this.body = body;
    }
}

function notice(text, ok) {
    $("notice-text").textContent = text;
    $("notice").classList.toggle("ok", !!ok);
    $("notice").hidden = false;
    clearTimeout(notice.timer);
    if (ok) {
        notice.timer = setTimeout(() => { $("notice").hidden = true; }, 4000);
    }
}

function fail(err) {
    if (err instanceof ApiError) {
        if (err.status === 401 && state.token) {
            logoutLocal();
            notice("Your session has ended (" + err.message + "): log in again.");
            return;
        }
        notice(err.message + " (" + err.code + ")");
    } else {
        notice(String(err && err.message || err));
    }
}


/* REST ---------------------------------------------------------------- */

function enc(path) {
    return path.split("/").map(encodeURIComponent).join("/");
}

function fileUrl(vault, path) {
    return API + "/vaults/" + encodeURIComponent(vault) + "/files/" + enc(path);
}

async function api(method, url, opts) {
    opts = opts || {};
    const headers = Object.assign({}, opts.headers || {});
    if (opts.basic) {
        headers.Authorization = "Basic " + opts.basic;
    } else if (state.token) {
        headers.Authorization = "Bearer " + state.token;
    }
    let body = opts.body;
    if (opts.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(opts.json);
    }
    let res;
    try {
        res = await fetch(url.startsWith("/") ? url : API + "/" + url, {
            method, headers, body, credentials: "omit", cache: "no-store"
        });
    } catch (e) {
        throw new ApiError(0, "network_error", "the server cannot be reached");
    }
    if (opts.raw && res.ok) {
        return res;
    }
    const text = await res.text();
    let data = null;
    try {
        data = text ? JSON.parse(text) : null;
    } catch (e) {
        data = null;
    }
    if (!res.ok) {
        const e = data && data.error;
        throw new ApiError(res.status, e ? e.code : "http_" + res.status,
                           e ? e.message : res.statusText || "request failed",
                           data);
    }
    return data;
}

function vaultUrl(rest) {
    return "vaults/" + encodeURIComponent(state.vault) + "/" + rest;
}


/* log in and out ------------------------------------------------------- */

function basic(user, password) {
    /* UTF-8, as the server reads Basic credentials */
    const bytes = new TextEncoder().encode(user + ":" + password);
    let bin = "";
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin);
}

async function login(ev) {
    ev.preventDefault();
    const user = $("login-user").value.trim();
    const password = $("login-password").value;
    $("login-error").hidden = true;
    $("login-submit").disabled = true;
    try {
        const s = await api("POST", "sessions", { basic: basic(user, password) });
        state.token = s.token;
        state.user = (s.user && s.user.username) || user;
        sessionStorage.setItem("gobi.token", state.token);
        sessionStorage.setItem("gobi.user", state.user);
        $("login-password").value = "";
        $("notice").hidden = true;
        route();
    } catch (e) {
        $("login-error").textContent = e.message +
            (e.code ? " (" + e.code + ")" : "");
        $("login-error").hidden = false;
    } finally {
        $("login-submit").disabled = false;
    }
}

function logoutLocal() {
    state.token = null;
    state.user = null;
    sessionStorage.removeItem("gobi.token");
    sessionStorage.removeItem("gobi.user");
    closeWs();
    if (location.hash !== "#/") {
        location.hash = "#/";
    }
    route();
}

async function logout() {
    try {
        await api("DELETE", "sessions/current");
    } catch (e) {
        /* gone already: log out here all the same */
    }
    logoutLocal();
}


/* views and routes ------------------------------------------------------ */

function show(view) {
    for (const v of ["login", "vaults", "vault"]) {
        $("view-" + v).hidden = v !== view;
    }
    const inside = view !== "login";
    $("who").hidden = !inside;
    $("who").textContent = state.user || "";
    $("logout").hidden = !inside;
    $("live").hidden = view !== "vault";
}

/* #/ the vaults; #/v/<vault>/<folder/> a folder of a vault */
function parseHash() {
    const h = location.hash.replace(/^#\/?/, "");
    if (!h.startsWith("v/")) {
        return { vault: null, folder: "" };
    }
    const parts = h.slice(2).split("/");
    const vault = decodeURIComponent(parts.shift());
    let folder = parts.filter((p) => p !== "").map(decodeURIComponent).join("/");
    if (folder) {
        folder += "/";
    }
    return { vault, folder };
}

function folderHash(vault, folder) {
    return "#/v/" + encodeURIComponent(vault) + "/" +
        (folder ? enc(folder.replace(/\/$/, "")) + "/" : "");
}

async function route() {
    if (!state.token) {
        closeWs();
        state.vault = null;
        crumbs();
        show("login");
        $("login-user").focus();
        return;
    }
    const r = parseHash();
    if (!r.vault) {
        closeWs();
        state.vault = null;
        crumbs();
        show("vaults");
        await loadVaults();
        return;
    }
    show("vault");
    state.folder = r.folder;
    if (r.vault !== state.vault) {
        state.vault = r.vault;
        state.files = new Map();
        $("vault-title").textContent = r.vault;
        render();
        await openVault();
    } else {
        render();
    }
}

function crumbs() {
    const nav = $("crumbs");
    nav.textContent = "";
    if (!state.vault) {
        return;
    }
    const add = (text, href) => {
        if (nav.childNodes.length) {
            const s = document.createElement("span");
            s.className = "sep";
            s.textContent = "/";
            nav.append(s);
        }
        const a = document.createElement("a");
        a.href = href;
        a.textContent = text;
        nav.append(a);
    };
    add(state.vault, folderHash(state.vault, ""));
    let at = "";
    for (const part of state.folder.split("/").filter(Boolean)) {
        at += part + "/";
        add(part, folderHash(state.vault, at));
    }
}


/* vaults ---------------------------------------------------------------- */

async function loadVaults() {
    try {
        const data = await api("GET", "vaults");
        const ul = $("vault-list");
        ul.textContent = "";
        for (const v of data.vaults) {
            const li = document.createElement("li");
            const a = document.createElement("a");
            a.href = folderHash(v.name, "");
            a.textContent = v.name;
            a.dataset.vault = v.name;
            const info = document.createElement("span");
            info.className = "muted";
            info.textContent = v.head_seq +
                (v.head_seq === 1 ? " change \u00b7 " : " changes \u00b7 ") +
                v.conflict_strategy + " \u00b7 created " + when(v.created_at);
            li.append(a, info);
            ul.append(li);
        }
        $("vault-empty").hidden = data.vaults.length > 0;
    } catch (e) {
        fail(e);
    }
}

async function createVault(ev) {
    ev.preventDefault();
    const name = $("vault-name").value.trim();
    try {
        await api("POST", "vaults", { json: { name } });
        $("vault-name").value = "";
        await loadVaults();
    } catch (e) {
        fail(e);
    }
}


/* a vault: the manifest, then live events --------------------------------- */

async function openVault() {
    closeWs();
    const vault = state.vault;
    try {
        const files = new Map();
        let after = null, seq = null;
        do {
            const q = "?limit=" + PAGE +
                (after !== null ? "&after=" + encodeURIComponent(after) : "");
            const page = await api("GET", vaultUrl("files" + q));
            if (state.vault !== vault) {
                return;
            }
            if (seq === null) {
                seq = page.seq;     /* the events after it bring the rest */
            }
            for (const f of page.files) {
                if (!f.deleted) {
                    files.set(f.path, f);
                }
            }
            after = page.next;
        } while (after !== null && after !== undefined);
        state.files = files;
        state.cursor = seq;
        render();
        openWs();
    } catch (e) {
        fail(e);
        if (e.code === "vault_not_found") {
            location.hash = "#/";
        }
    }
}

function applyEvent(ev) {
    if (ev.seq <= state.cursor && ev.seq !== undefined && !applyEvent.replay) {
        return false;
    }
    switch (ev.type) {
    case "create":
    case "modify":
        state.files.set(ev.path, {
            path: ev.path, version: ev.version, hash: ev.hash,
            size: ev.size, mtime: ev.mtime
        });
        state.fresh.add(ev.path);
        break;
    case "delete":
        state.files.delete(ev.path);
        break;
    case "rename": {
        const old = state.files.get(ev.from) || {};
        state.files.delete(ev.from);
        state.files.set(ev.path, Object.assign({}, old, {
            path: ev.path, version: ev.version,
            hash: ev.hash || old.hash,
            size: ev.size !== undefined ? ev.size : old.size,
            mtime: ev.mtime !== undefined ? ev.mtime : old.mtime
        }));
        state.fresh.add(ev.path);
        break;
    }
    default:
        return false;
    }
    if (ev.seq > state.cursor) {
        state.cursor = ev.seq;
    }
    return true;
}

function setLive(on, text) {
    const el = $("live");
    el.classList.toggle("on", on);
    el.classList.toggle("off", !on);
    el.textContent = text;
}

function openWs() {
    const vault = state.vault;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + API +
                             "/ws?access_token=" +
                             encodeURIComponent(state.token));
    state.ws = ws;
    setLive(false, "connecting");
    let welcomed = false;

    ws.onopen = () => {
        ws.send(JSON.stringify({
            type: "hello", vault, since: state.cursor, device: DEVICE,
            protocol: 1
        }));
    };

    ws.onmessage = (m) => {
        if (state.ws !== ws) {
            return;
        }
        let msg;
        try {
            msg = JSON.parse(m.data);
        } catch (e) {
            return;
        }
        switch (msg.type) {
        case "welcome":
            welcomed = true;
            state.wsRetry = 0;
            setLive(true, "live");
            break;
        case "events":
            /* a squashed replay page: apply in order */
            applyEvent.replay = true;
            for (const ev of msg.events) {
                applyEvent(ev);
            }
            applyEvent.replay = false;
            render();
            break;
        case "event":
            if (applyEvent(msg.event)) {
                render();
            }
            break;
        case "resync":
            /* too far behind: the manifest again */
            openVault();
            break;
        case "ack":
        case "reject": {
            const op = state.wsOps.get(msg.id);
            if (op) {
                state.wsOps.delete(msg.id);
                if (msg.type === "ack") {
                    op.resolve(msg);
                } else {
                    op.reject(new ApiError(409, msg.code, msg.message, msg));
                }
            }
            break;
        }
        case "error":
            if (msg.id !== undefined && msg.id !== null && state.wsOps.has(msg.id)) {
                state.wsOps.get(msg.id).reject(
                    new ApiError(400, msg.code, msg.message, msg));
                state.wsOps.delete(msg.id);
            } else if (msg.code === "unauthorized") {
                fail(new ApiError(401, msg.code, msg.message));
            } else {
                notice(msg.message + " (" + msg.code + ")");
            }
            break;
        }
    };

    ws.onclose = () => {
        if (state.ws !== ws) {
            return;
        }
        state.ws = null;
        for (const op of state.wsOps.values()) {
            op.reject(new ApiError(0, "disconnected",
                                   "the live connection was lost"));
        }
        state.wsOps.clear();
        if (!state.token || state.vault !== vault) {
            return;
        }
        if (!welcomed && state.wsRetry >= 2) {
            setLive(false, "no live updates");
            if (state.wsRetry === 2) {
                notice("Live updates are not available: the server refused " +
                       "the WebSocket (is this page's origin listed in " +
                       "gobi_ws_allowed_origins?)");
            }
        } else {
            setLive(false, "reconnecting");
        }
        /* back off up to 30 s; the cursor brings what was missed */
        const delay = Math.min(30000, 500 * Math.pow(2, state.wsRetry++));
        state.wsTimer = setTimeout(() => {
            if (state.vault === vault && state.token && !state.ws) {
                openWs();
            }
        }, delay);
    };
}

function closeWs() {
    clearTimeout(state.wsTimer);
    const ws = state.ws;
    state.ws = null;
    state.wsRetry = 0;
    if (ws) {
        ws.close(1000);
    }
}

function wsOp(msg) {
    return new Promise((resolve, reject) => {
        if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
            reject(new ApiError(0, "disconnected",
                                "renaming needs the live connection, " +
                                "which is not open"));
            return;
        }
        msg.id = state.wsNextId++;
        state.wsOps.set(msg.id, { resolve, reject });
        state.ws.send(JSON.stringify(msg));
    });
}


/* the folder listing ---------------------------------------------------- */

function size(n) {
    if (n === undefined || n === null) {
        return "";
    }
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) {
        n /= 1024;
        i++;
    }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + " " + u[i];
}

function when(ms) {
    if (!ms) {
        return "";
    }
    return new Date(ms).toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit"
    });
}

function button(text, cls, onclick, label) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small quiet " + (cls || "");
    b.textContent = text;
    if (label) {
        b.setAttribute("aria-label", label);
    }
    b.addEventListener("click", onclick);
    return b;
}

function render() {
    if (!state.vault) {
        return;
    }
    crumbs();
    $("drop-where").textContent = state.vault + "/" + state.folder;
    const folders = new Map(), files = [];
    const pre = state.folder;
    for (const f of state.files.values()) {
        if (!f.path.startsWith(pre)) {
            continue;
        }
        const rest = f.path.slice(pre.length);
        const slash = rest.indexOf("/");
        if (slash >= 0) {
            const name = rest.slice(0, slash);
            const d = folders.get(name) || { count: 0, mtime: 0 };
            d.count++;
            d.mtime = Math.max(d.mtime, f.mtime || 0);
            folders.set(name, d);
        } else {
            files.push(f);
        }
    }
    const tbody = $("file-rows");
    tbody.textContent = "";
    const cmp = (a, b) => a.localeCompare(b, undefined, { numeric: true });

    for (const name of [...folders.keys()].sort(cmp)) {
        const d = folders.get(name);
        const tr = document.createElement("tr");
        tr.className = "folder";
        tr.dataset.name = name + "/";
        const td = document.createElement("td");
        td.className = "name";
        const icon = document.createElement("span");
        icon.className = "icon folder";
        const a = document.createElement("a");
        a.href = folderHash(state.vault, pre + name + "/");
        a.textContent = name + "/";
        td.append(icon, a);
        tr.append(td, cell(d.count + (d.count === 1 ? " file" : " files"), "num"),
                  cell(when(d.mtime)), cell(""), cell(""));
        tbody.append(tr);
    }

    files.sort((a, b) => cmp(a.path, b.path));
    for (const f of files) {
        const name = f.path.slice(pre.length);
        const tr = document.createElement("tr");
        tr.dataset.path = f.path;
        tr.dataset.version = f.version;
        if (state.fresh.has(f.path)) {
            tr.classList.add("fresh");
        }
        const td = document.createElement("td");
        td.className = "name";
        const icon = document.createElement("span");
        icon.className = "icon file";
        const a = document.createElement("a");
        a.href = "#";
        a.textContent = name;
        a.title = "download";
        a.addEventListener("click", (e) => { e.preventDefault(); download(f.path); });
        td.append(icon, a);
        const act = document.createElement("td");
        act.className = "actions";
        act.append(
            button("Download", "download", () => download(f.path), "download " + name),
            button("History", "history", () => openHistory(f.path), "history of " + name),
            button("Rename", "rename", () => rename(f.path), "rename " + name),
            button("Delete", "danger delete", () => remove(f.path), "delete " + name));
        tr.append(td, cell(size(f.size), "num"), cell(when(f.mtime)),
                  cell(String(f.version), "num"), act);
        tbody.append(tr);
    }
    state.fresh.clear();
    $("folder-empty").hidden = folders.size + files.length > 0;
}

function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) {
        td.className = cls;
    }
    td.textContent = text;
    return td;
}


/* file operations ---------------------------------------------------------- */

async function download(path, version) {
    try {
        let url = fileUrl(state.vault, path);
        if (version) {
            url += "?version=" + version;
        }
        const res = await api("GET", url, { raw: true });
        const blob = await res.blob();
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = path.split("/").pop();
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    } catch (e) {
        fail(e);
    }
}

async function rename(path) {
    const f = state.files.get(path);
    const to = await ask("Rename", "New path of " + path + " in the vault:", path);
    if (!to || to === path) {
        return;
    }
    try {
        await wsOp({ type: "rename", from: path, to,
                     base_version: f ? f.version : 0 });
        notice("Renamed " + path + " to " + to, true);
    } catch (e) {
        fail(e);
    }
}

async function remove(path) {
    const f = state.files.get(path);
    if (!await ask("Delete", "Delete " + path + "? Its history stays, and " +
                   "it can be restored from there.")) {
        return;
    }
    try {
        const headers = { "X-Gobi-Device": DEVICE };
        if (f) {
            headers["If-Match"] = '"' + f.version + '"';
        }
        await api("DELETE", fileUrl(state.vault, path), { headers });
        notice("Deleted " + path, true);
    } catch (e) {
        fail(e);
    }
}

async function upload(items) {
    const list = items.filter((it) => it.file);
    if (!list.length) {
        return;
    }
    const status = $("upload-status");
    let done = 0, failed = 0;
    for (const it of list) {
        const path = state.folder + it.path;
        status.textContent = "Uploading " + path + " (" + (done + 1) + " of " +
            list.length + ")";
        const headers = {
            "X-Gobi-Device": DEVICE,
            "X-Gobi-Mtime": String(it.file.lastModified || Date.now())
        };
        const known = state.files.get(path);
        if (known) {
            headers["If-Match"] = '"' + known.version + '"';
        } else {
            headers["If-None-Match"] = "*";
        }
        try {
            const r = await api("PUT", fileUrl(state.vault, path),
                                { body: it.file, headers });
            /* the event comes over the WebSocket too; this shows it at once */
            applyEvent({ type: known ? "modify" : "create", path: r.path,
                         version: r.version, hash: r.hash, size: r.size,
                         mtime: r.mtime, seq: undefined });
            done++;
        } catch (e) {
            failed++;
            if (e.code === "conflict_copied" && e.body && e.body.error.copy) {
                notice(path + " changed meanwhile: your upload was kept as " +
                       e.body.error.copy.path);
            } else {
                fail(new ApiError(e.status, e.code, path + ": " + e.message));
            }
        }
        render();
    }
    status.textContent = "Uploaded " + done + " file" + (done === 1 ? "" : "s") +
        (failed ? ", " + failed + " failed" : "");
}

/* a drop: files, and folders through the entries API where there is one */
async function dropped(dt) {
    const items = [];
    const entries = [];
    if (dt.items && dt.items.length && dt.items[0].webkitGetAsEntry) {
        for (const item of dt.items) {
            const e = item.kind === "file" && item.webkitGetAsEntry();
            if (e) {
                entries.push(e);
            }
        }
    }
    if (entries.length && entries.some((e) => e.isDirectory)) {
        for (const e of entries) {
            await walk(e, "", items);
        }
    } else {
        for (const file of dt.files) {
            items.push({ path: file.name, file });
        }
    }
    await upload(items);
}

function walk(entry, prefix, out) {
    return new Promise((resolve) => {
        if (entry.isFile) {
            entry.file((file) => {
                out.push({ path: prefix + entry.name, file });
                resolve();
            }, () => resolve());
            return;
        }
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries(async (batch) => {
            if (!batch.length) {
                for (const e of all) {
                    await walk(e, prefix + entry.name + "/", out);
                }
                resolve();
                return;
            }
            all.push(...batch);
            next();
        }, () => resolve());
        next();
    });
}


/* history ------------------------------------------------------------------- */

async function openHistory(path) {
    state.history = { path, next: null };
    $("history-path").textContent = path;
    $("history-rows").textContent = "";
    if (!$("history").open) {
        $("history").showModal();
    }
    await moreHistory();
}

async function moreHistory() {
    const h = state.history;
    try {
        const q = "?limit=50" + (h.next ? "&before=" + h.next : "");
        const data = await api("GET", vaultUrl("versions/" + enc(h.path) + q));
        if (state.history !== h) {
            return;
        }
        const current = state.files.get(h.path);
        for (const v of data.versions) {
            const tr = document.createElement("tr");
            tr.dataset.version = v.version;
            if (v.deleted) {
                tr.className = "deleted";
            }
            const act = document.createElement("td");
            act.className = "actions";
            if (v.deleted) {
                act.textContent = "deleted";
            } else {
                act.append(button("Download", "download",
                                  () => download(h.path, v.version)));
                if (current && current.version === v.version) {
                    const s = document.createElement("span");
                    s.className = "muted";
                    s.textContent = " current";
                    act.append(s);
                } else {
                    act.append(button("Restore", "restore",
                                      () => restore(h.path, v.version)));
                }
            }
            tr.append(cell(String(v.version), "num"), cell(when(v.ts || v.mtime)),
                      cell(v.deleted ? "" : size(v.size), "num"),
                      cell(v.device || "\u2014"), act);
            $("history-rows").append(tr);
        }
        h.next = data.next;
        $("history-more").hidden = !data.next;
    } catch (e) {
        fail(e);
    }
}

async function restore(path, version) {
    try {
        const r = await api("POST", vaultUrl("restore"), { json: { path, version } });
        notice(r.unchanged
               ? path + " already has the content of version " + version
               : "Restored " + path + " from version " + version +
                 " as version " + r.version, true);
        applyEvent({ type: "modify", path: r.path, version: r.version,
                     hash: r.hash, size: r.size, mtime: r.mtime, seq: undefined });
        render();
        await openHistory(path);
    } catch (e) {
        fail(e);
    }
}


/* a small dialog in place of prompt() and confirm() ----------------------------- */

function ask(title, text, value) {
    const d = $("ask");
    $("ask-title").textContent = title;
    $("ask-text").textContent = text;
    const input = $("ask-input");
    input.hidden = value === undefined;
    input.required = value !== undefined;
    input.value = value || "";
    return new Promise((resolve) => {
        d.onclose = () => {
            const ok = d.returnValue === "ok";
            resolve(ok ? (value === undefined ? true : input.value.trim()) : null);
        };
        d.returnValue = "";
        d.showModal();
        if (value !== undefined) {
            input.focus();
            input.select();
        }
    });
}


/* start ------------------------------------------------------------------ */

function start() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("vault-form").addEventListener("submit", createVault);
    $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
    $("history-more").querySelector("button").addEventListener("click", moreHistory);
    $("history").addEventListener("close", () => { state.history = null; });

    $("upload-input").addEventListener("change", async (e) => {
        const files = [...e.target.files].map((file) => ({ path: file.name, file }));
        e.target.value = "";
        await upload(files);
    });

    $("folder-new").addEventListener("click", async () => {
        const name = await ask("New folder",
                               "Folder name (it is kept once a file is in it):", "");
        if (name) {
            location.hash = folderHash(state.vault,
                                       state.folder + name.replace(/^\/+|\/+$/g, "") + "/");
        }
    });

    /* the whole page takes drops while a vault is open */
    const drop = $("drop");
    let depth = 0;
    document.addEventListener("dragenter", (e) => {
        if (state.vault && e.dataTransfer && [...e.dataTransfer.types].includes("Files")) {
            depth++;
            drop.classList.add("over");
        }
    });
    document.addEventListener("dragleave", () => {
        if (depth && --depth === 0) {
            drop.classList.remove("over");
        }
    });
    document.addEventListener("dragover", (e) => {
        if (state.vault) {
            e.preventDefault();
            e.dataTransfer.dropEffect = "copy";
        }
    });
    document.addEventListener("drop", (e) => {
        e.preventDefault();
        depth = 0;
        drop.classList.remove("over");
        if (state.vault && e.dataTransfer) {
            dropped(e.dataTransfer);
        }
    });

    window.addEventListener("hashchange", route);
    route();
}

start();
