// The auditor console: sign in with an API key (kept in sessionStorage, sent only as a Bearer
// header), search events with the cursor, check an event's proof in this browser, export the
// query with progress, and look at events per day, anchoring and per-tenant counts.

import {
  applyI18n, formatBytes, formatSeconds, formatTime, initI18n, onLangChange, setTimeZone, t,
  typeLabel, wallTimeToIso,
} from "./i18n.js";
import {
  bytesToHex, eventLeafHash, hexToBytes, parseVerifierKey, verifyCheckpoint, verifyInclusion,
} from "./verify.js";
import { el, clear, facts, problemDetail } from "./dom.js";
import { timelineChart } from "./chart.js";

const KEY_STORE = "sealtrail.console.key";
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  query: {}, // the filters of the current search
  cursors: [null], // cursor of each page visited; the last is the current page's
  page: null, // the current page's JSON
  timeline: null,
  anchors: null,
  group: null,
  exporting: null, // AbortController
};

class HttpError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORE);
}

async function api(path, params = {}, opts = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== ""));
  const url = qs.toString() ? `${path}?${qs}` : path;
  const resp = await fetch(url, {
    ...opts,
    headers: { Authorization: `Bearer ${apiKey()}`, Accept: "application/json" },
  });
  if (!resp.ok) throw new HttpError(resp.status, await problemDetail(resp));
  return opts.raw ? resp : resp.json();
}

// -- sign in / out ----------------------------------------------------------------------------

async function signIn(key) {
  sessionStorage.setItem(KEY_STORE, key);
  try {
    state.me = await api("/v1/console/whoami");
    // times and day buckets in the tenant's zone (settings timezone / tenant_timezones)
    setTimeZone(state.me.timezone);
  } catch (e) {
    sessionStorage.removeItem(KEY_STORE);
    state.me = null;
    setTimeZone(null);
    $("login-error").textContent = t("login.bad", { detail: e.detail || e.message });
    return false;
  }
  $("login-error").textContent = "";
  $("api-key").value = "";
  showApp();
  return true;
}

function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  state.me = null;
  state.page = null;
  setTimeZone(null);
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("api-key").focus();
}

function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  const select = $("f-tenant");
  clear(select);
  select.append(el("option", { value: "" }, t("filter.tenant.all")));
  for (const v of state.me.visible) select.append(el("option", { value: v.id }, `${v.name} (${v.id})`));
  $("tenant-wrap").hidden = state.me.visible.length < 2;
  renderWho();
  selectTab("events");
  search();
}

function renderWho() {
  if (state.me) $("whoami").textContent = t("whoami", { tenant: state.me.tenant, key: state.me.key_id });
}

// -- tabs -------------------------------------------------------------------------------------

const TABS = ["events", "overview", "group"];

function selectTab(name) {
  for (const tab of TABS) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
  }
  if (name === "overview") loadOverview();
  if (name === "group") loadGroup();
}

// -- search -----------------------------------------------------------------------------------

function toIso(local) {
  // datetime-local values ("2026-11-24T10:00[:05]") are wall times in the console's zone (the
  // labels name it)
  if (!local) return null;
  return wallTimeToIso(local, state.me && state.me.timezone);
}

function readFilters() {
  return {
    stream: $("f-stream").value.trim(),
    type: $("f-type").value.trim(),
    actor: $("f-actor").value.trim(),
    document: $("f-document").value.trim().toLowerCase(),
    from: toIso($("f-from").value),
    to: toIso($("f-to").value),
    tenant: $("tenant-wrap").hidden ? "" : $("f-tenant").value,
  };
}

async function search() {
  state.query = readFilters();
  state.cursors = [null];
  await loadPage();
}

async function loadPage() {
  const cursor = state.cursors.at(-1);
  $("events-error").textContent = "";
  $("events-status").textContent = t("loading");
  try {
    state.page = await api("/v1/events", { ...state.query, limit: $("f-limit").value, cursor });
  } catch (e) {
    state.page = null;
    $("events-error").textContent = t("err.http", { status: e.status || "", detail: e.detail || e.message });
  }
  renderEvents();
}

const EVENT_COLS = ["col.index", "col.tenant", "col.stream", "col.type", "col.actor", "col.recorded", "col.details"];

function renderEvents() {
  const table = $("events");
  clear(table);
  const page = state.page;
  $("prev").disabled = state.cursors.length < 2;
  $("next").disabled = !page || !page.next_cursor;
  if (!page) {
    $("events-status").textContent = "";
    return;
  }
  $("events-status").textContent = page.events.length
    ? t("results.count", { n: page.events.length, page: state.cursors.length })
    : t("results.none");
  table.append(el("thead", {}, el("tr", {}, ...EVENT_COLS.map((c) => el("th", { scope: "col" }, t(c))))));
  const body = el("tbody");
  for (const ev of page.events) {
    const open = el("button", { type: "button", class: "secondary", "data-index": ev.index,
      "aria-label": t("detail.open", { index: ev.index }) }, `#${ev.index}`);
    open.addEventListener("click", () => openDetail(ev));
    const cells = [`#${ev.index}`, ev.tenant, ev.stream, ev.type, ev.actor.id, formatTime(ev.recorded_at), open];
    body.append(el("tr", { "data-index": ev.index },
      ...cells.map((c, i) => el("td", { "data-label": t(EVENT_COLS[i]) }, c))));
  }
  table.append(body);
}

// -- event detail and its proof ---------------------------------------------------------------

async function checkProof(ev) {
  const lines = [];
  const leaf = bytesToHex(await eventLeafHash(ev));
  if (leaf !== ev.leaf_hash) {
    return { ok: false, lines: [["bad", t("detail.leaf.bad", { got: leaf, want: ev.leaf_hash })]] };
  }
  lines.push(["ok", t("detail.leaf")]);
  let proof;
  try {
    proof = await api(`/v1/events/${ev.index}/proof`);
  } catch (e) {
    if (e.status === 404) return { ok: null, lines: [...lines, ["skip", t("detail.pending")]] };
    throw e;
  }
  try {
    if (proof.leaf_hash !== ev.leaf_hash || proof.index !== ev.index) {
      throw new Error(`the proof is for event #${proof.index} with leaf ${proof.leaf_hash}`);
    }
    const key = await parseVerifierKey(state.me.verifier_key);
    const cp = await verifyCheckpoint(proof.checkpoint.note, key);
    if (cp.size !== proof.size || bytesToHex(cp.root) !== proof.root) {
      throw new Error(`the proof's size ${proof.size} and root ${proof.root} are not the signed note's`);
    }
    lines.push(["ok", t("checked.signature", { size: cp.size, key: key.text.slice(0, 40) + "…" })]);
    await verifyInclusion(hexToBytes(ev.leaf_hash), ev.index, cp.size, proof.proof.map(hexToBytes), cp.root);
    lines.push(["ok", t("checked.inclusion", { index: ev.index, leaf: ev.leaf_hash.slice(0, 16), n: proof.proof.length })]);
    return { ok: true, lines };
  } catch (e) {
    lines.push(["bad", e.message]);
    return { ok: false, lines };
  }
}

async function openDetail(ev) {
  const dialog = $("detail");
  $("detail-h").textContent = t("detail.heading", { index: ev.index });
  const body = $("detail-body");
  clear(body);
  body.append(facts([
    [t("col.tenant"), ev.tenant],
    [t("col.stream"), ev.stream],
    [t("col.type"), `${typeLabel(ev.type)} (${ev.type})`],
    [t("col.actor"), [ev.actor.id, ev.actor.name, ev.actor.org].filter(Boolean).join(" · ")],
    [t("col.recorded"), formatTime(ev.recorded_at)],
  ]));
  const status = el("div", { role: "status", "aria-live": "polite", "data-testid": "proof-status" }, t("loading"));
  body.append(el("h3", {}, t("detail.checks")), status, el("pre", {}, JSON.stringify(ev, null, 2)));
  if (!dialog.open) dialog.showModal();
  let result;
  try {
    result = await checkProof(ev);
  } catch (e) {
    result = { ok: false, lines: [["bad", e.message]] };
  }
  clear(status);
  const cls = result.ok === true ? "ok" : result.ok === null ? "warn" : "bad";
  const label = result.ok === true ? t("detail.verified") : result.ok === null ? t("proof.none") : t("detail.refused");
  status.append(el("p", {}, el("span", { class: `badge ${cls}`, "data-proof": cls }, label)));
  const ul = el("ul", { class: "checks" });
  for (const [c, text] of result.lines) ul.append(el("li", { class: c }, text));
  status.append(ul);
}

// -- export with progress ---------------------------------------------------------------------

async function exportQuery(format) {
  const status = $("export-status");
  const progress = $("export-progress");
  const ctl = new AbortController();
  state.exporting = ctl;
  $("export-cancel").hidden = false;
  $("export-jsonl").disabled = $("export-csv").disabled = $("export-zip").disabled = true;
  progress.hidden = false;
  progress.removeAttribute("value");
  let bytes = 0;
  let rows = 0;
  const chunks = [];
  try {
    const pkg = format === "zip";
    const resp = pkg
      ? await api("/v1/package", state.query, { raw: true, signal: ctl.signal })
      : await api("/v1/export", { ...state.query, format }, { raw: true, signal: ctl.signal });
    const reader = resp.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.length;
      if (!pkg) for (const b of value) if (b === 10) rows++;
      status.textContent = pkg
        ? t("export.progress.bytes", { bytes: formatBytes(bytes) })
        : t("export.progress", { rows, bytes: formatBytes(bytes) });
    }
    const header = 1; // JSONL: the checkpoint line; CSV: the column names
    const file = pkg ? "sealtrail-package.zip" : `sealtrail-export.${format}`;
    const type = { csv: "text/csv", jsonl: "application/x-ndjson", zip: "application/zip" }[format];
    const blob = new Blob(chunks, { type });
    const a = el("a", { href: URL.createObjectURL(blob), download: file });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    if (pkg) {
      status.textContent = t("export.done.bytes", { bytes: formatBytes(bytes), file });
    } else {
      status.textContent = t("export.done", { rows: rows - header, bytes: formatBytes(bytes), file });
      status.dataset.rows = String(rows - header);
    }
  } catch (e) {
    status.textContent = t("export.failed", { reason: e.detail || e.message });
  } finally {
    state.exporting = null;
    progress.hidden = true;
    $("export-cancel").hidden = true;
    $("export-jsonl").disabled = $("export-csv").disabled = $("export-zip").disabled = false;
  }
}

// -- overview: timeline and anchoring ---------------------------------------------------------

async function loadOverview() {
  const days = $("days").value;
  const tenant = $("tenant-wrap").hidden ? "" : $("f-tenant").value;
  try {
    [state.timeline, state.anchors] = await Promise.all([
      api("/v1/console/timeline", { days, tenant }),
      api("/v1/console/checkpoints", { limit: 20 }),
    ]);
  } catch (e) {
    $("timeline").textContent = t("err.http", { status: e.status || "", detail: e.detail || e.message });
    return;
  }
  renderOverview();
}

function renderOverview() {
  const tl = state.timeline;
  if (tl) {
    $("timeline-h").textContent = t("timeline.heading", { days: tl.days.length, zone: tl.timezone });
    const root = $("timeline");
    clear(root);
    root.append(el("p", {}, t("timeline.total", { n: tl.total })));
    root.append(timelineChart(tl, typeLabel));
    const table = el("table", {});
    table.append(el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("timeline.day")),
      ...tl.types.map((ty) => el("th", { scope: "col" }, ty)), el("th", { scope: "col" }, t("timeline.sum")))));
    const body = el("tbody");
    for (const d of tl.days.filter((x) => x.total > 0)) {
      body.append(el("tr", {}, el("th", { scope: "row" }, d.day),
        ...tl.types.map((ty) => el("td", {}, String(d.counts[ty] || 0))), el("td", {}, String(d.total))));
    }
    table.append(body);
    root.append(el("details", {}, el("summary", {}, t("timeline.table")), el("div", { class: "table-wrap" }, table)));
  }
  const an = state.anchors;
  if (an) {
    const root = $("anchors");
    clear(root);
    const s = an.summary;
    root.append(el("p", { "data-testid": "anchors-summary" }, an.anchoring
      ? t("anchors.summary", { final: s.final, waiting: s.not_final, shown: s.shown, lag: formatSeconds(s.oldest_not_final_seconds ?? 0) })
      : t("anchors.off")));
    const cols = ["anchors.col.size", "anchors.col.created", "anchors.col.ts", "anchors.col.status",
      "anchors.col.block", "anchors.col.conf", "anchors.col.lag"];
    const table = el("table", { class: "stack", "data-testid": "anchors" });
    table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))));
    const body = el("tbody");
    for (const c of an.checkpoints) {
      const a = c.anchor;
      const cls = a.status === "final" ? "ok" : ["failed", "retry"].includes(a.status) ? "bad" : a.status === "off" ? "info" : "warn";
      const cells = [
        String(c.size), formatTime(c.created_at),
        el("span", { class: `badge ${c.timestamp.status === "stamped" ? "ok" : "warn"}` }, c.timestamp.status),
        el("span", { class: `badge ${cls}`, "data-anchor": a.status }, a.status),
        a.block_number ?? "—",
        a.required_confirmations ? `${a.confirmations} / ${a.required_confirmations}` : "—",
        formatSeconds(c.lag_seconds),
      ];
      body.append(el("tr", {}, ...cells.map((v, i) => el("td", { "data-label": t(cols[i]) }, v))));
    }
    table.append(body);
    root.append(el("div", { class: "table-wrap" }, table));
  }
}

// -- group view -------------------------------------------------------------------------------

async function loadGroup() {
  try {
    state.group = await api("/v1/console/group");
  } catch (e) {
    $("group").textContent = t("err.http", { status: e.status || "", detail: e.detail || e.message });
    return;
  }
  renderGroup();
}

function renderGroup() {
  const g = state.group;
  if (!g) return;
  const root = $("group");
  clear(root);
  const cols = ["group.col.tenant", "group.col.events", "group.col.last", "group.col.seals"];
  const table = el("table", { class: "stack", "data-testid": "group" });
  table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))));
  const body = el("tbody");
  const max = Math.max(1, ...g.tenants.map((x) => x.events));
  for (const row of g.tenants) {
    const bar = el("meter", { min: 0, max, value: row.events, "aria-hidden": "true" });
    const cells = [
      `${row.name} (${row.id})`,
      el("span", {}, `${row.events} `, bar),
      formatTime(row.last_recorded_at),
      row.seal_uses === null ? t("group.noseals") : String(row.seal_uses),
    ];
    body.append(el("tr", { "data-tenant": row.id }, ...cells.map((v, i) => el("td", { "data-label": t(cols[i]) }, v))));
  }
  table.append(body);
  root.append(el("div", { class: "table-wrap" }, table));
}

// -- wiring -----------------------------------------------------------------------------------

function init() {
  initI18n();
  onLangChange(() => {
    renderWho();
    renderEvents();
    renderOverview();
    renderGroup();
    if (state.me) {
      const first = $("f-tenant").options[0];
      if (first) first.textContent = t("filter.tenant.all");
    }
  });
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("api-key").value.trim();
    if (key) signIn(key);
  });
  $("logout").addEventListener("click", signOut);
  $("filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search();
  });
  $("f-clear").addEventListener("click", () => {
    $("filter").reset();
    search();
  });
  $("next").addEventListener("click", () => {
    if (state.page && state.page.next_cursor) {
      state.cursors.push(state.page.next_cursor);
      loadPage();
    }
  });
  $("prev").addEventListener("click", () => {
    if (state.cursors.length > 1) {
      state.cursors.pop();
      loadPage();
    }
  });
  $("export-jsonl").addEventListener("click", () => exportQuery("jsonl"));
  $("export-csv").addEventListener("click", () => exportQuery("csv"));
  $("export-zip").addEventListener("click", () => exportQuery("zip"));
  $("export-cancel").addEventListener("click", () => state.exporting && state.exporting.abort());
  $("detail-close").addEventListener("click", () => $("detail").close());
  $("days").addEventListener("change", loadOverview);
  for (const [i, tab] of TABS.entries()) {
    const button = $(`tab-${tab}`);
    button.addEventListener("click", () => selectTab(tab));
    button.addEventListener("keydown", (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!step) return;
      const next = TABS[(i + step + TABS.length) % TABS.length];
      selectTab(next);
      $(`tab-${next}`).focus();
    });
  }
  if (apiKey()) signIn(apiKey());
}

init();
