// samsa console: a single page routed by the URL fragment (#/topics/orders).
// Every read and change goes through the admin JSON API (/api/...). The DOM
// is built with h() and text nodes only, never from HTML strings, so record
// keys and values cannot inject markup.
"use strict";

// ---- helpers ---------------------------------------------------------------

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) throw new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
  return data;
}

function fmtNum(n) { return n === undefined || n === null || n < 0 ? "–" : Number(n).toLocaleString("en-US"); }
function fmtBytes(n) {
  if (n === undefined || n === null || n < 0) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 2 : 1) : n} ${u[i]}`;
}
function fmtRate(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  if (n >= 10 || n === 0) return String(Math.round(n));
  return String(Number(n.toFixed(n < 1 ? 2 : 1))); // 0.25, not 0.3; 2.5, not 2.50
}
function fmtBytesRate(n) { return fmtBytes(Math.round(n)) + "/s"; }
function fmtTime(ms) { return ms < 0 ? "–" : new Date(ms).toLocaleString(); }
function fmtDuration(s) {
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}
function ids(list) { return (list || []).join(", ") || "–"; }

function flash(msg, isError) {
  const el = document.getElementById("flash");
  el.textContent = msg;
  el.className = "flash" + (isError ? " error" : "");
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => el.classList.add("hidden"), isError ? 9000 : 4000);
}

function panel(title, body, ...actions) {
  return h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title), h("div", { class: "row" }, ...actions)),
    body);
}
function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
}
function table(headers, rows, opts) {
  opts = opts || {};
  const head = h("tr", {}, headers.map(c => h("th", { class: c.cls }, c.label || c)));
  const body = h("tbody", {}, rows);
  const t = h("table", { id: opts.id }, h("thead", {}, head), body);
  if (!rows.length) return h("div", {}, t, h("div", { class: "empty" }, opts.empty || "Nothing here yet."));
  return t;
}
function field(label, input, grow) {
  return h("div", { class: "field" + (grow ? " grow" : "") }, h("label", { for: input.id }, label), input);
}
function decodeB64(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const utf8 = new TextDecoder("utf-8", { fatal: true });
function asText(bytes) {
  if (bytes === null) return null;
  try { return utf8.decode(bytes); } catch (e) { return null; }
}
function asHex(bytes) {
  if (bytes === null) return "";
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.slice(i, i + 16));
    const hex = row.map(b => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = row.map(b => b >= 32 && b < 127 ? String.fromCharCode(b) : ".").join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}
function asJSON(text) {
  if (text === null) return null;
  const t = text.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return null;
  try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { return null; }
}
function preview(bytes) {
  if (bytes === null) return h("span", { class: "muted" }, "null");
  const text = asText(bytes);
  if (text === null) return h("span", { class: "muted mono" }, `binary, ${bytes.length} bytes`);
  return h("span", { class: "mono" }, text.length > 200 ? text.slice(0, 200) + "…" : text);
}
function parseKV(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf("=");
    if (i <= 0) throw new Error(`"${t}": want key=value`);
    out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return out;
}

// ---- routing ---------------------------------------------------------------

let timers = [];
function every(ms, fn) { timers.push(setInterval(fn, ms)); }
function clearTimers() { timers.forEach(clearInterval); timers = []; }

const view = () => document.getElementById("view");
function setCrumbs(...parts) {
  const el = document.getElementById("crumbs");
  el.textContent = "";
  parts.forEach((p, i) => {
    if (i) el.append(h("span", { class: "sep" }, "/"));
    el.append(Array.isArray(p) ? h("a", { href: p[1] }, p[0]) : h("span", {}, p));
  });
}
function setNav(which) {
  document.querySelectorAll("[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === which));
}

async function route() {
  clearTimers();
  document.getElementById("flash").classList.add("hidden");
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  view().textContent = "";
  try {
    if (parts[0] === "topics" && parts[1]) await topicPage(parts[1], params.get("tab") || "partitions");
    else if (parts[0] === "topics") await topicsPage();
    else if (parts[0] === "groups" && parts[1]) await groupPage(parts[1]);
    else if (parts[0] === "groups") await groupsPage();
    else await overviewPage();
  } catch (e) {
    view().append(h("div", { class: "panel" }, h("div", { class: "empty", id: "page-error" }, "Error: " + e.message)));
  }
}
window.addEventListener("hashchange", route);

async function refreshHeader() {
  try {
    const c = await api("GET", "/api/cluster");
    document.getElementById("cluster-id").textContent = `cluster ${c.clusterId}`;
    const b = document.getElementById("ready-badge");
    b.textContent = c.ready ? "ready" : "not ready";
    b.className = "badge " + (c.ready ? "ok" : "bad");
    b.title = c.notReady || "";
  } catch (e) {
    const b = document.getElementById("ready-badge");
    b.textContent = "unreachable";
    b.className = "badge bad";
  }
}

// ---- overview --------------------------------------------------------------

async function overviewPage() {
  setNav("overview");
  setCrumbs("Overview");
  const c = await api("GET", "/api/cluster");
  const health = c.offlinePartitions ? h("span", { class: "badge bad" }, `${c.offlinePartitions} offline`)
    : c.underReplicated ? h("span", { class: "badge warn" }, `${c.underReplicated} under-replicated`)
      : h("span", { class: "badge ok" }, "healthy");
  view().append(
    h("div", { class: "cards" },
      card("Brokers", c.brokers.length, "stat-brokers"),
      card("Controller", c.controllerId >= 0 ? `#${c.controllerId}` : "none"),
      card("Topics", fmtNum(c.topics), "stat-topics"),
      card("Partitions", fmtNum(c.partitions)),
      card("Under-replicated", fmtNum(c.underReplicated)),
      card("Offline partitions", fmtNum(c.offlinePartitions)),
      card("Connections", fmtNum(c.connections), "stat-connections"),
      card("Uptime", fmtDuration(c.uptimeSec))),
    h("div", { class: "grid2" },
      panel("Messages in per second", h("div", { class: "panel-body" }, h("div", { id: "chart-msgs" }))),
      panel("Bytes per second", h("div", { class: "panel-body" }, h("div", { id: "chart-bytes" })))),
    panel("Brokers", table(["ID", "Host", "Port", "Rack", "Role", { label: "Offline replicas", cls: "num" }],
      c.brokers.map(b => h("tr", {},
        h("td", {}, `#${b.id}`, b.self ? h("span", { class: "muted" }, " (this broker)") : ""),
        h("td", { class: "mono" }, b.host), h("td", { class: "mono" }, b.port), h("td", {}, b.rack || "–"),
        h("td", {}, b.controller ? h("span", { class: "badge accent" }, "controller") : "broker"),
        h("td", { class: "num" }, b.offlineReplicas))), { id: "brokers-table" }), health),
    panel("Cluster", h("div", { class: "panel-body kv" },
      h("span", { class: "k" }, "Cluster id"), h("span", { class: "mono" }, c.clusterId),
      h("span", { class: "k" }, "Version"), h("span", { class: "mono", id: "version" }, c.version),
      h("span", { class: "k" }, "Kafka listener"), h("span", { class: "mono" }, c.kafkaListener),
      h("span", { class: "k" }, "Metadata revision"), h("span", { class: "mono" }, c.metadataRevision),
      h("span", { class: "k" }, "Readiness"), h("span", {}, c.ready ? "ready" : c.notReady))));
  const draw = async () => {
    const t = await api("GET", "/api/throughput");
    const s = t.samples || [];
    lineChart(document.getElementById("chart-msgs"),
      [{ name: "messages in/s", color: "#4f5bd5", points: s.map(p => [p.t, p.messagesIn]) }], { format: fmtRate });
    lineChart(document.getElementById("chart-bytes"), [
      { name: "in", color: "#1f9d63", points: s.map(p => [p.t, p.bytesIn]) },
      { name: "out", color: "#e07b39", points: s.map(p => [p.t, p.bytesOut]) }], { format: v => fmtBytes(Math.round(v)), integer: true });
  };
  await draw();
  every(2000, () => draw().catch(() => {}));
}

// ---- topics ----------------------------------------------------------------

async function topicsPage() {
  setNav("topics");
  setCrumbs("Topics");
  const topics = await api("GET", "/api/topics");
  const showInternal = h("input", { type: "checkbox", id: "show-internal" });
  const rows = topics.map(t => {
    const status = t.offline ? h("span", { class: "badge bad" }, `${t.offline} offline`)
      : t.underReplicated ? h("span", { class: "badge warn" }, `${t.underReplicated} under-replicated`)
        : h("span", { class: "badge ok" }, "ok");
    const tr = h("tr", { class: "clickable" + (t.internal ? " internal hidden" : ""), "data-topic": t.name, onclick: () => { location.hash = `#/topics/${encodeURIComponent(t.name)}`; } },
      h("td", {}, h("a", { href: `#/topics/${encodeURIComponent(t.name)}` }, t.name), t.internal ? h("span", { class: "muted" }, " internal") : ""),
      h("td", { class: "num" }, t.partitions), h("td", { class: "num" }, t.replicationFactor),
      h("td", { class: "num" }, fmtNum(t.records)), h("td", { class: "num" }, fmtBytes(t.sizeBytes)), h("td", {}, status));
    return tr;
  });
  showInternal.addEventListener("change", () => document.querySelectorAll("tr.internal").forEach(tr => tr.classList.toggle("hidden", !showInternal.checked)));

  const name = h("input", { id: "create-topic-name", placeholder: "orders", required: true });
  const parts = h("input", { id: "create-topic-partitions", type: "number", min: 1, value: 3 });
  const rf = h("input", { id: "create-topic-rf", type: "number", min: 1, value: 1 });
  const cfgs = h("textarea", { id: "create-topic-configs", rows: 1, placeholder: "retention.ms=86400000" });
  const form = h("form", { class: "form panel-body hidden", id: "create-topic-form", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/topics", { name: name.value.trim(), partitions: Number(parts.value), replicationFactor: Number(rf.value), configs: parseKV(cfgs.value) });
      flash(`Topic ${r.name} created with ${r.partitions} partitions`);
      location.hash = `#/topics/${encodeURIComponent(r.name)}`;
    } catch (e) { flash(e.message, true); }
  } },
  field("Name", name, true), field("Partitions", parts), field("Replication factor", rf), field("Configs (key=value per line)", cfgs, true),
  h("button", { class: "btn primary", type: "submit", id: "create-topic-submit" }, "Create"));
  const toggle = h("button", { class: "btn primary", id: "create-topic-open", onclick: () => { form.classList.toggle("hidden"); name.focus(); } }, "+ Create topic");
  view().append(
    panel("Create a topic", form, toggle),
    panel(`Topics (${topics.filter(t => !t.internal).length})`,
      table(["Name", { label: "Partitions", cls: "num" }, { label: "RF", cls: "num" }, { label: "Records", cls: "num" }, { label: "Size", cls: "num" }, "Status"], rows,
        { id: "topics-table", empty: "No topics yet: create one above, or produce to a new name." }),
      h("label", { class: "row muted" }, showInternal, "show internal topics")));
}

async function topicPage(name, tab) {
  setNav("topics");
  setCrumbs(["Topics", "#/topics"], name);
  const t = await api("GET", `/api/topics/${encodeURIComponent(name)}`);
  const base = `#/topics/${encodeURIComponent(name)}`;
  const tabs = h("div", { class: "tabs" },
    ["partitions", "messages", "configs"].map(k => h("a", { href: `${base}?tab=${k}`, class: k === tab ? "active" : "", id: `tab-${k}` }, k[0].toUpperCase() + k.slice(1))));
  const del = h("button", { class: "btn danger", id: "delete-topic", onclick: async () => {
    if (!confirm(`Delete topic ${name} and all its records?`)) return;
    try { await api("DELETE", `/api/topics/${encodeURIComponent(name)}`); flash(`Topic ${name} deleted`); location.hash = "#/topics"; } catch (e) { flash(e.message, true); }
  } }, "Delete topic");
  view().append(
    h("div", { class: "cards" },
      card("Partitions", t.partitions.length), card("Replication factor", t.replicationFactor),
      card("Records", fmtNum(t.records), "topic-records"), card("Size on this broker", fmtBytes(t.sizeBytes), "topic-size"),
      card("Topic id", h("span", { class: "mono" }, t.id))),
    h("div", { class: "row" }, tabs, h("div", { class: "spacer" }), del));
  if (tab === "messages") return messagesTab(t);
  if (tab === "configs") return configsTab(t);
  const addCount = h("input", { id: "add-partitions-count", type: "number", min: 1, value: 1 });
  view().append(panel("Partitions",
    table(["Partition", "Leader", "Replicas", "ISR", "Offline replicas", { label: "Start offset", cls: "num" }, { label: "End offset", cls: "num" }, { label: "Records", cls: "num" }, { label: "Size", cls: "num" }],
      t.partitions.map(p => h("tr", {},
        h("td", {}, p.partition, p.offline ? h("span", { class: "badge bad", title: p.offline }, " offline") : ""),
        h("td", {}, p.leader >= 0 ? `#${p.leader}` : h("span", { class: "badge bad" }, "none"), h("span", { class: "muted" }, ` epoch ${p.leaderEpoch}`)),
        h("td", {}, ids(p.replicas)),
        h("td", {}, ids(p.isr), p.isr.length < p.replicas.length ? h("span", { class: "badge warn" }, " under-replicated") : ""),
        h("td", {}, ids(p.offlineReplicas)),
        h("td", { class: "num" }, fmtNum(p.startOffset)), h("td", { class: "num" }, fmtNum(p.endOffset)),
        h("td", { class: "num" }, fmtNum(p.records)), h("td", { class: "num" }, fmtBytes(p.sizeBytes)))), { id: "partitions-table" }),
    h("form", { class: "form", onsubmit: async ev => {
      ev.preventDefault();
      try { await api("POST", `/api/topics/${encodeURIComponent(name)}/partitions`, { count: Number(addCount.value) }); flash("Partitions added"); route(); } catch (e) { flash(e.message, true); }
    } }, addCount, h("button", { class: "btn", type: "submit" }, "Add partitions"))));
}

function configsTab(t) {
  const name = t.name;
  const rows = t.configs.map(c => {
    const input = h("input", { class: "edit-input mono", value: c.value, "data-config": c.name });
    const save = h("button", { class: "btn small", onclick: async () => {
      try { await api("POST", `/api/topics/${encodeURIComponent(name)}/configs`, { set: { [c.name]: input.value } }); flash(`${c.name} set`); route(); } catch (e) { flash(e.message, true); }
    } }, "Save");
    const reset = c.default ? "" : h("button", { class: "btn small", onclick: async () => {
      try { await api("POST", `/api/topics/${encodeURIComponent(name)}/configs`, { delete: [c.name] }); flash(`${c.name} reset to the default`); route(); } catch (e) { flash(e.message, true); }
    } }, "Reset");
    return h("tr", {}, h("td", { class: "mono" }, c.name), h("td", {}, c.sensitive ? "(sensitive)" : input),
      h("td", {}, c.default ? h("span", { class: "muted" }, c.source) : h("span", { class: "badge accent" }, "override")), h("td", {}, h("div", { class: "row" }, save, reset)));
  });
  view().append(panel("Configs", table(["Name", "Value", "Source", ""], rows, { id: "configs-table" })));
}

function messagesTab(t) {
  const name = t.name;
  const partSel = h("select", { id: "browse-partition" }, h("option", { value: "all" }, "All partitions"),
    t.partitions.map(p => h("option", { value: p.partition }, `Partition ${p.partition}`)));
  const fromSel = h("select", { id: "browse-from" },
    h("option", { value: "end" }, "Newest"), h("option", { value: "start" }, "Oldest"),
    h("option", { value: "offset" }, "From offset"), h("option", { value: "timestamp" }, "From time"));
  const offset = h("input", { id: "browse-offset", type: "number", min: 0, value: 0, class: "hidden" });
  const when = h("input", { id: "browse-time", type: "datetime-local", class: "hidden" });
  const limit = h("select", { id: "browse-limit" }, [20, 50, 100, 500].map(n => h("option", { value: n, selected: n === 50 }, n)));
  const search = h("input", { id: "browse-search", placeholder: "key or value contains…" });
  fromSel.addEventListener("change", () => {
    offset.classList.toggle("hidden", fromSel.value !== "offset");
    when.classList.toggle("hidden", fromSel.value !== "timestamp");
  });
  const results = h("div", { id: "messages" });
  const status = h("span", { class: "muted", id: "browse-status" });
  const load = async () => {
    const q = new URLSearchParams({ partition: partSel.value, from: fromSel.value, limit: limit.value });
    if (fromSel.value === "offset") q.set("offset", offset.value);
    if (fromSel.value === "timestamp") q.set("timestamp", String(when.value ? new Date(when.value).getTime() : Date.now()));
    if (search.value) q.set("search", search.value);
    status.textContent = "loading…";
    try {
      const r = await api("GET", `/api/topics/${encodeURIComponent(name)}/messages?${q}`);
      renderMessages(results, r.records);
      status.textContent = `${r.records.length} records` + (search.value ? ` matching, of ${fmtNum(r.scanned)} scanned` : "");
    } catch (e) { status.textContent = ""; flash(e.message, true); }
  };

  const pPart = h("select", { id: "produce-partition" }, h("option", { value: "-1" }, "By key"),
    t.partitions.map(p => h("option", { value: p.partition }, `Partition ${p.partition}`)));
  const pKey = h("input", { id: "produce-key", placeholder: "key (optional)" });
  const pValue = h("textarea", { id: "produce-value", rows: 3, placeholder: '{"hello": "samsa"}' });
  const pHeaders = h("textarea", { id: "produce-headers", rows: 3, placeholder: "header=value per line" });
  const pResult = h("span", { class: "muted", id: "produce-result" });
  const produceForm = h("form", { class: "form panel-body", id: "produce-form", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const body = { partition: Number(pPart.value), value: pValue.value, headers: parseKV(pHeaders.value) };
      if (pKey.value !== "") body.key = pKey.value;
      const r = await api("POST", `/api/topics/${encodeURIComponent(name)}/messages`, body);
      pResult.textContent = `Produced to partition ${r.partition} at offset ${r.offset}`;
      flash(pResult.textContent);
      await load();
      const cur = await api("GET", `/api/topics/${encodeURIComponent(name)}`);
      document.getElementById("topic-records").textContent = fmtNum(cur.records);
      document.getElementById("topic-size").textContent = fmtBytes(cur.sizeBytes);
    } catch (e) { pResult.textContent = ""; flash(e.message, true); }
  } },
  field("Partition", pPart), field("Key", pKey), field("Value", pValue, true), field("Headers", pHeaders),
  h("button", { class: "btn primary", type: "submit", id: "produce-submit" }, "Produce"), pResult);

  view().append(
    panel("Browse", h("div", {},
      h("form", { class: "form panel-body", onsubmit: ev => { ev.preventDefault(); load(); } },
        field("Partition", partSel), field("Start", fromSel), offset, when, field("Limit", limit), field("Search", search, true),
        h("button", { class: "btn primary", type: "submit", id: "browse-load" }, "Load"), status),
      results)),
    panel("Produce a test record", produceForm));
  load();
}

function renderMessages(el, records) {
  el.textContent = "";
  const rows = [];
  for (const r of records) {
    const key = decodeB64(r.key), value = decodeB64(r.value);
    const detail = h("tr", { class: "msg-detail hidden" }, h("td", { colspan: 5 }, messageDetail(r, key, value)));
    rows.push(h("tr", { class: "clickable msg-row", onclick: () => detail.classList.toggle("hidden") },
      h("td", { class: "num" }, r.partition), h("td", { class: "num mono" }, r.offset),
      h("td", { class: "mono" }, fmtTime(r.timestamp)), h("td", { class: "msg-preview" }, preview(key)),
      h("td", { class: "msg-preview" }, preview(value), r.headers.length ? h("span", { class: "badge" }, ` ${r.headers.length} headers`) : "")));
    rows.push(detail);
  }
  el.append(table([{ label: "Partition", cls: "num" }, { label: "Offset", cls: "num" }, "Timestamp", "Key", "Value"], rows,
    { id: "messages-table", empty: "No records in this range." }));
}

function messageDetail(r, key, value) {
  const text = asText(value), json = asJSON(text);
  const modes = [];
  if (json !== null) modes.push(["JSON", json]);
  if (text !== null) modes.push(["Text", text]);
  modes.push(["Hex", asHex(value)]);
  const pre = h("pre", { class: "msg-value" }, modes[0][1]);
  const seg = h("div", { class: "seg" });
  modes.forEach(([label, content], i) => {
    const b = h("button", { type: "button", class: i === 0 ? "on" : "", onclick: ev => {
      ev.stopPropagation();
      seg.querySelectorAll("button").forEach(x => x.classList.remove("on"));
      b.classList.add("on");
      pre.textContent = content;
    } }, label);
    seg.append(b);
  });
  const keyText = key === null ? "null" : (asText(key) ?? asHex(key));
  return h("div", { class: "grid2", onclick: ev => ev.stopPropagation() },
    h("div", {}, seg, pre, r.truncated ? h("div", { class: "muted" }, `showing the first 256 KiB of ${fmtBytes(r.valueSize)}`) : ""),
    h("div", { class: "kv" },
      h("span", { class: "k" }, "Key"), h("span", { class: "mono" }, keyText),
      h("span", { class: "k" }, "Partition / offset"), h("span", { class: "mono" }, `${r.partition} / ${r.offset}`),
      h("span", { class: "k" }, "Timestamp"), h("span", { class: "mono" }, `${fmtTime(r.timestamp)} (${r.timestamp})`),
      h("span", { class: "k" }, "Value size"), h("span", {}, fmtBytes(r.valueSize)),
      h("span", { class: "k" }, "Headers"), h("span", { class: "headers" }, r.headers.length ? r.headers.map(hd => h("div", { class: "mono" }, `${hd.key} = ${asText(decodeB64(hd.value)) ?? "(binary)"}`)) : "none")));
}

// ---- groups ----------------------------------------------------------------

function stateBadge(state) {
  const cls = state === "Stable" ? "ok" : state === "Empty" ? "" : /Rebalanc|Assigning|Reconciling/.test(state) ? "warn" : "bad";
  return h("span", { class: "badge " + cls }, state || "unknown");
}

async function groupsPage() {
  setNav("groups");
  setCrumbs("Consumer groups");
  const groups = await api("GET", "/api/groups");
  view().append(panel(`Consumer groups (${groups.length})`,
    table(["Group", "State", "Type", { label: "Members", cls: "num" }, { label: "Topics", cls: "num" }, { label: "Lag", cls: "num" }, "Coordinator"],
      groups.map(g => h("tr", { class: "clickable", "data-group": g.group, onclick: () => { location.hash = `#/groups/${encodeURIComponent(g.group)}`; } },
        h("td", {}, h("a", { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group)), h("td", {}, stateBadge(g.state)),
        h("td", {}, g.type || g.protocolType || "–"), h("td", { class: "num" }, g.members), h("td", { class: "num" }, g.topics),
        h("td", { class: "num" }, fmtNum(g.lag)), h("td", {}, `#${g.coordinator}`))),
      { id: "groups-table", empty: "No consumer groups yet." })));
}

async function groupPage(name) {
  setNav("groups");
  setCrumbs(["Consumer groups", "#/groups"], name);
  const path = `/api/groups/${encodeURIComponent(name)}`;
  const g = await api("GET", path);
  const topics = [...new Set(g.offsets.map(o => o.topic))];
  const rTopic = h("select", { id: "reset-topic" }, topics.map(t => h("option", { value: t }, t)));
  const rTo = h("select", { id: "reset-to" }, h("option", { value: "start" }, "Earliest"), h("option", { value: "end" }, "Latest"),
    h("option", { value: "offset" }, "Offset"), h("option", { value: "timestamp" }, "Time"));
  const rOffset = h("input", { id: "reset-offset", type: "number", min: 0, value: 0 });
  const rTime = h("input", { id: "reset-time", type: "datetime-local" });
  const del = h("button", { class: "btn danger", id: "delete-group", onclick: async () => {
    if (!confirm(`Delete group ${name} and its committed offsets?`)) return;
    try { await api("DELETE", path); flash(`Group ${name} deleted`); location.hash = "#/groups"; } catch (e) { flash(e.message, true); }
  } }, "Delete group");
  const cards = h("div", { class: "cards" });
  const offsets = h("div", {});
  const members = h("div", {});
  view().append(cards,
    panel("Lag over time", h("div", { class: "panel-body" }, h("div", { id: "chart-lag" })), del),
    panel("Offsets", offsets),
    panel("Members", members),
    panel("Reset offsets", h("form", { class: "form panel-body", onsubmit: async ev => {
      ev.preventDefault();
      try {
        const r = await api("POST", `${path}/reset`, { topic: rTopic.value, to: rTo.value,
          offset: Number(rOffset.value), timestamp: rTime.value ? new Date(rTime.value).getTime() : Date.now() });
        flash(`Committed ${r.committed.map(c => `${c.topic}-${c.partition} at ${c.committed}`).join(", ")}`);
        update(await api("GET", path));
      } catch (e) { flash(e.message, true); }
    } }, field("Topic", rTopic), field("To", rTo), field("Offset", rOffset), field("Time", rTime),
    h("button", { class: "btn", type: "submit", id: "reset-submit" }, "Reset"),
    h("span", { class: "muted" }, "only for a group without active members"))));
  const update = cur => {
    cards.replaceChildren(
      card("State", stateBadge(cur.state), "group-state"), card("Members", cur.members.length, "group-members"),
      card("Total lag", fmtNum(cur.lag), "group-lag"), card("Protocol", cur.protocol || "–"), card("Coordinator", `#${cur.coordinator}`));
    offsets.replaceChildren(table(["Topic", { label: "Partition", cls: "num" }, { label: "Committed", cls: "num" }, { label: "End", cls: "num" }, { label: "Lag", cls: "num" }, "Member"],
      cur.offsets.map(o => h("tr", {}, h("td", {}, h("a", { href: `#/topics/${encodeURIComponent(o.topic)}` }, o.topic)), h("td", { class: "num" }, o.partition),
        h("td", { class: "num" }, fmtNum(o.committed)), h("td", { class: "num" }, fmtNum(o.end)), h("td", { class: "num lag" }, fmtNum(o.lag)),
        h("td", { class: "mono" }, o.clientId || (o.error ? o.error : h("span", { class: "muted" }, "unassigned"))))), { id: "offsets-table", empty: "No committed offsets." }));
    members.replaceChildren(table(["Member", "Client", "Host", "Assigned"],
      cur.members.map(m => h("tr", {}, h("td", { class: "mono" }, m.memberId), h("td", {}, m.clientId), h("td", { class: "mono" }, m.clientHost),
        h("td", {}, Object.entries(m.assigned).map(([t, ps]) => h("div", {}, `${t}: ${ps.sort((a, b) => a - b).join(", ")}`))))),
      { id: "members-table", empty: "No active members (the group is empty)." }));
    lineChart(document.getElementById("chart-lag"), [{ name: "total lag", color: "#d23f3f", points: cur.lagHistory.map(p => [p.t, p.lag]) }],
      { format: fmtRate, empty: "lag is sampled every few seconds" });
  };
  update(g);
  every(2000, () => api("GET", path).then(update).catch(() => {}));
}

// ---- start -----------------------------------------------------------------

refreshHeader();
setInterval(refreshHeader, 5000);
route();
