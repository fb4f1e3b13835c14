// SPDX-License-Identifier: MIT
// ui.js -- the dashboard's script: polls the API (same origin only) and renders with textContent (never HTML).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 25;
  const state = {
    endpoints: {},
    schema: null,
    sample: { table: "", offset: 0, order: "", rows: 0 },
    sampleSeq: 0,
    token: sessionStorage.getItem("pgseed-token") || "",
    timers: [],
  };

  // ---- helpers ------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function fmtInt(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "–";
  }

  function fmtBytes(n) {
    if (typeof n !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function fmtDuration(s) {
    if (typeof s !== "number") return "–";
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const t = new Date(iso);
    return isNaN(t) ? iso : t.toLocaleString();
  }

  // An API error exactly as the API words it: {"error": {"code", "message", "hint"}}.
  class ApiError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || {};
      super(err.message || `HTTP ${status}`);
      this.status = status;
      this.code = err.code || `http_${status}`;
      this.hint = err.hint || "";
    }
  }

  async function api(path, opts = {}) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let r;
    try {
      r = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store", credentials: "same-origin" });
    } catch (e) {
      throw new ApiError(0, { error: { code: "unreachable", message: "pgseedd does not answer: " + e.message,
                                       hint: "Is it running? `pgseedctl status`" } });
    }
    const text = await r.text();
    let body = null;
    if (opts.raw) body = text;
    else {
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    }
    if (!r.ok && !(opts.accept || []).includes(r.status)) {
      let parsed = body;
      if (opts.raw) { try { parsed = JSON.parse(text); } catch (e) { parsed = null; } }
      const err = new ApiError(r.status, parsed);
      // auth = all: reads need the token too; ask for it once, above everything.
      if (r.status === 401 && !opts.method) askSignIn(err);
      throw err;
    }
    return { status: r.status, body };
  }

  function askSignIn(e) {
    state.needToken = true;
    const form = $("signin");
    $("signin-error").textContent = `${e.code}: ${e.message}`;
    if (form.hidden) {
      form.hidden = false;
      $("signin-token").focus();
    }
  }

  async function signIn(ev) {
    ev.preventDefault();
    state.token = $("signin-token").value.trim();
    sessionStorage.setItem("pgseed-token", state.token);
    $("signin").hidden = true;
    clearError();
    await loadAll();
  }

  function showError(e) {
    $("error-code").textContent = e.code ? e.code + ":" : "";
    $("error-message").textContent = e.message;
    $("error-hint").textContent = e.hint || "";
    $("error-banner").hidden = false;
  }

  function clearError() {
    $("error-banner").hidden = true;
  }

  let toastTimer = 0;
  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  function tag(text, kind) {
    return el("span", { class: "tag " + kind, text });
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  // ---- status -------------------------------------------------------------

  function renderHealth(h) {
    const st = h.status || "unknown";
    $("state").textContent = st;
    $("state").dataset.state = st;
    $("reason").textContent = h.reason || "";
    $("reason").title = h.reason || "";
    $("card-state").textContent = st;
    $("card-since").textContent = h.since ? "since " + fmtTime(h.since) : "";
    $("card-uptime").textContent = fmtDuration(h.uptime_s);
    $("card-restarts").textContent = `${h.restarts || 0} Postgres restart${h.restarts === 1 ? "" : "s"}`;
    const pg = h.postgres_version || "";
    $("card-pg").textContent = pg ? pg.split(" ")[0] : "–";
    $("card-pg").title = pg;
    $("card-url").textContent = h.database ? h.database.url : "";
    $("card-url").title = h.database ? h.database.url : "";
    $("card-runtime").textContent = h.runtime || "–";
    $("card-runtime-id").textContent = h.runtime_id || h.runtime_reason || "";
    $("card-rows").textContent = fmtInt(h.rows_total);
    $("card-checked").textContent = h.checked_at ? "counted " + new Date(h.checked_at).toLocaleTimeString() : "";
    if (h.seeding) {
      $("card-state").textContent = `${st} · ${h.seeding.phase} ${h.seeding.percent}%`;
    }

    const tables = h.tables || [];
    const max = Math.max(1, ...tables.map((t) => t.rows || 0));
    fill($("tables").tBodies[0], tables.map((t) => {
      const bar = el("span");
      bar.style.width = Math.max(1, Math.round(((t.rows || 0) / max) * 100)) + "%";
      const row = el("tr", { "data-table": t.name },
        el("td", {}, el("code", { text: t.schema === "public" ? t.name : `${t.schema}.${t.name}` })),
        el("td", { class: "num", text: fmtInt(t.rows) }),
        el("td", { class: "bar-col" }, el("div", { class: "bar" }, bar)));
      return row;
    }));

    const cdc = h.cdc || {};
    $("cdc-wal").replaceChildren(cdc.wal_level
      ? tag(cdc.wal_level, cdc.wal_level === "logical" ? "ok" : "warn") : document.createTextNode("–"));
    const pub = cdc.publication;
    $("cdc-pub").replaceChildren(pub
      ? (pub.exists
        ? el("span", {}, el("code", { text: pub.name }), " ", tag(`${pub.tables ?? "?"} tables`, "neutral"))
        : el("span", {}, el("code", { text: pub.name }), " ", tag("missing", "bad")))
      : document.createTextNode("–"));
    const slots = cdc.replication_slots || [];
    $("slots-empty").hidden = slots.length > 0;
    $("slots").hidden = slots.length === 0;
    fill($("slots").tBodies[0], slots.map((s) => {
      const ws = s.wal_status;
      return el("tr", {},
        el("td", {}, el("code", { text: s.name })),
        el("td", { text: s.plugin || "–" }),
        el("td", {}, s.active ? tag("active", "ok") : tag("inactive", "warn")),
        el("td", { class: "num", text: fmtBytes(s.lag_bytes) }),
        el("td", {}, ws ? tag(ws, ws === "lost" ? "bad" : ws === "reserved" ? "ok" : "warn")
                        : document.createTextNode("–")));
    }));
  }

  // Waiting for the token (auth = all): polling would only collect 401s.
  const locked = () => !$("signin").hidden;

  async function refreshHealth() {
    if (locked()) return;
    try {
      // 503 is an answer too: the body says why the database is not ready.
      const r = await api("/health", { accept: [503] });
      renderHealth(r.body || {});
      if (r.body && r.body.status === "ready" && !state.schema) loadSchema();
      $("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      const why = e.status === 401 ? "needs the API token" : "unreachable";
      $("state").textContent = why;
      $("state").dataset.state = "unreachable";
      if (e.status !== 401) showError(e);
    }
  }

  // ---- clones (when the server has them) ----------------------------------

  async function refreshClones() {
    if (locked()) return;
    if (!Object.keys(state.endpoints).some((k) => k.startsWith("GET /clones"))) return;
    try {
      const r = await api("/clones", { accept: [404] });
      if (r.status === 404 || !r.body) return;
      const list = Array.isArray(r.body) ? r.body : r.body.clones || [];
      $("clones-panel").hidden = false;
      const cols = list.length ? Object.keys(list[0]).filter((k) => typeof list[0][k] !== "object") : ["name"];
      $("clones").tHead.replaceChildren(el("tr", {}, ...cols.map((c) => el("th", { text: c }))));
      fill($("clones").tBodies[0], list.map((c) => el("tr", {}, ...cols.map((k) => el("td", { text: String(c[k] ?? "") })))));
      if (r.body.pool) {
        const p = r.body.pool;
        $("h-clones").textContent = `Clones · ${list.length} leased · pool ${p.ready ?? "?"} ready of ${p.target ?? "?"}`;
      }
    } catch (e) {
      showError(e);
    }
  }

  // ---- schema -------------------------------------------------------------

  function allTables() {
    const out = [];
    for (const s of (state.schema && state.schema.schemas) || []) for (const t of s.tables) out.push(t);
    return out;
  }

  function qualified(t) {
    return t.schema === "public" ? t.name : `${t.schema}.${t.name}`;
  }

  async function loadSchema() {
    try {
      const r = await api("/schema");
      state.schema = r.body;
      const names = allTables().map(qualified);
      for (const id of ["schema-table", "sample-table"]) {
        const sel = $(id);
        const keep = sel.value;
        sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
        if (names.includes(keep)) sel.value = keep;
      }
      renderSchema();
      if (!state.sample.table && names.length) {
        state.sample.table = $("sample-table").value;
        loadSample();
      }
    } catch (e) {
      showError(e);
    }
  }

  function miniTable(head, rows) {
    return el("div", { class: "scroll" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: c }))))))));
  }

  function renderSchema() {
    const t = allTables().find((x) => qualified(x) === $("schema-table").value);
    const box = $("schema");
    if (!t) { box.replaceChildren(); return; }
    const pk = new Set((t.primary_key && t.primary_key.columns) || []);
    const parts = [
      el("h3", { text: `Columns · ${fmtInt(t.rows)} rows` }),
      miniTable(["Column", "Type", "Null", "Default"], t.columns.map((c) => [
        el("span", {}, el("code", { text: c.name }), pk.has(c.name) ? " " : "", pk.has(c.name) ? tag("PK", "neutral") : null),
        c.type, c.nullable ? "yes" : "no", c.default === null ? "" : c.default])),
    ];
    if (t.foreign_keys.length) {
      parts.push(el("h3", { text: "Foreign keys" }), miniTable(["Name", "Columns", "References", "On delete"],
        t.foreign_keys.map((f) => [f.name, f.columns.join(", "),
          `${f.references.schema === "public" ? "" : f.references.schema + "."}${f.references.table}(${f.references.columns.join(", ")})`,
          f.on_delete || ""])));
    }
    if (t.indexes.length) {
      parts.push(el("h3", { text: "Indexes" }), miniTable(["Name", "Columns", ""],
        t.indexes.map((i) => [i.name, i.columns.join(", "),
          el("span", {}, i.primary ? tag("primary", "neutral") : i.unique ? tag("unique", "ok") : "")])));
    }
    if (t.triggers.length) {
      parts.push(el("h3", { text: "Triggers" }), miniTable(["Name", "When", "Function"],
        t.triggers.map((g) => [g.name, `${g.timing} ${g.events.join(" OR ")} · ${g.level}`, g.function])));
    }
    box.replaceChildren(...parts);
  }

  // ---- sample -------------------------------------------------------------

  async function loadSample() {
    const s = state.sample;
    if (!s.table) return;
    const q = new URLSearchParams({ table: s.table, limit: String(PAGE), offset: String(s.offset), truncate: "120" });
    if (s.order) q.set("order", s.order);
    // Only the latest request may render: an older, slower answer would show rows from before a reset.
    const seq = ++state.sampleSeq;
    try {
      const r = await api("/sample?" + q);
      if (seq !== state.sampleSeq) return;
      renderSample(r.body);
    } catch (e) {
      showError(e);
    }
  }

  function renderSample(b) {
    const s = state.sample;
    const [ocol, odir] = b.order ? [b.order.column, b.order.direction] : ["", ""];
    $("sample").tHead.replaceChildren(el("tr", {}, ...b.columns.map((c) => {
      const th = el("th", { class: "sortable", "data-column": c, title: "Sort by " + c }, c);
      if (c === ocol) th.append(el("span", { class: "arrow", text: odir === "desc" ? "▼" : "▲" }));
      th.addEventListener("click", () => {
        s.order = c === ocol && odir === "asc" ? `${c}.desc` : `${c}.asc`;
        s.offset = 0;
        loadSample();
      });
      return th;
    })));
    fill($("sample").tBodies[0], b.rows.map((row) => el("tr", {}, ...b.columns.map((c) => {
      const v = row[c];
      if (v === null || v === undefined) return el("td", {}, el("span", { class: "null", text: "NULL" }));
      const text = typeof v === "object" ? JSON.stringify(v) : String(v);
      return el("td", { text, title: text });
    }))));
    s.rows = b.rows.length;
    const t = allTables().find((x) => qualified(x) === s.table);
    const total = t ? t.rows : null;
    const last = s.offset + b.rows.length;
    $("sample-page").textContent = b.rows.length
      ? `${fmtInt(s.offset + 1)}–${fmtInt(last)}${total !== null ? " of " + fmtInt(total) : ""}`
      : "no rows";
    $("sample-prev").disabled = s.offset === 0;
    $("sample-next").disabled = b.rows.length < PAGE;
  }

  // ---- logs ---------------------------------------------------------------

  async function refreshLogs() {
    if (locked()) return;
    try {
      const r = await api("/logs?tail=60&format=json", { raw: true });
      const box = $("logs");
      const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      const lines = (r.body || "").split("\n").filter(Boolean).map((l) => {
        try { return JSON.parse(l); } catch (e) { return { line: l }; }
      });
      box.replaceChildren(...lines.map((l) => {
        const cls = /\b(ERROR|FATAL|PANIC)\b/.test(l.line) ? "lvl-error" : /\bWARNING\b/.test(l.line) ? "lvl-warn" : "";
        return el("div", { class: cls, text: l.line });
      }));
      if (!lines.length) box.textContent = "(no log lines yet)";
      if (atBottom) box.scrollTop = box.scrollHeight;
    } catch (e) {
      showError(e);
    }
  }

  // ---- reset --------------------------------------------------------------

  function openReset() {
    $("reset-error").hidden = true;
    $("token-row").hidden = !state.needToken;
    $("token").value = state.token;
    $("reset-confirm").disabled = false;
    $("reset-dialog").showModal();
  }

  async function doReset(ev) {
    if (ev.submitter && ev.submitter.value !== "confirm") return; // Cancel closes the dialog
    ev.preventDefault();
    const mode = new FormData($("reset-form")).get("mode") || "template";
    if (!$("token-row").hidden) {
      state.token = $("token").value.trim();
      sessionStorage.setItem("pgseed-token", state.token);
    }
    $("reset-confirm").disabled = true;
    $("reset-confirm").textContent = "Resetting…";
    try {
      const r = await api("/reset?mode=" + encodeURIComponent(mode), { method: "POST" });
      $("reset-dialog").close();
      clearError();
      toast(`Reset done (${r.body.mode}, ${r.body.strategy}) in ${r.body.duration_ms} ms`);
      state.sample.offset = 0;
      await Promise.all([refreshHealth(), loadSample()]);
    } catch (e) {
      if (e.status === 401 || (e.status === 403 && e.code.includes("token"))) {
        state.needToken = true;
        $("token-row").hidden = false;
        $("token").focus();
      }
      const p = $("reset-error");
      p.textContent = `${e.code}: ${e.message}${e.hint ? " " + e.hint : ""}`;
      p.hidden = false;
    } finally {
      $("reset-confirm").disabled = false;
      $("reset-confirm").textContent = "Reset";
    }
  }

  // ---- wiring -------------------------------------------------------------

  function schedule() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    if (!$("auto-refresh").checked) return;
    state.timers.push(setInterval(refreshHealth, 2000));
    state.timers.push(setInterval(refreshLogs, 5000));
    state.timers.push(setInterval(refreshClones, 5000));
  }

  async function start() {
    $("error-close").addEventListener("click", clearError);
    $("reset-btn").addEventListener("click", openReset);
    $("reset-form").addEventListener("submit", doReset);
    $("auto-refresh").addEventListener("change", schedule);
    $("schema-table").addEventListener("change", renderSchema);
    $("sample-table").addEventListener("change", () => {
      state.sample = { table: $("sample-table").value, offset: 0, order: "", rows: 0 };
      loadSample();
    });
    $("sample-prev").addEventListener("click", () => {
      state.sample.offset = Math.max(0, state.sample.offset - PAGE);
      loadSample();
    });
    $("sample-next").addEventListener("click", () => {
      state.sample.offset += PAGE;
      loadSample();
    });
    $("signin").addEventListener("submit", signIn);
    try {
      const idx = await api("/");
      state.endpoints = idx.body.endpoints || {};
      $("version").textContent = "v" + idx.body.version;
    } catch (e) {
      showError(e);
    }
    await loadAll();
    schedule();
  }

  async function loadAll() {
    await refreshHealth();
    if ($("signin").hidden) {
      refreshLogs();
      refreshClones();
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
