// The public verification portal: fingerprint a file in the browser, ask the ledger about the
// fingerprint, and verify the answer here (inclusion proofs, checkpoint signature) before
// saying anything is verified. Route: #/fingerprint/<sha256> (links in package reports use it).

import {
  applyI18n, formatTime, initI18n, onLangChange, setTimeZone, t, typeLabel,
} from "./i18n.js";
import {
  bytesToHex, documentKey, documentValue, fileSha256, hasWebCrypto, hexToBytes, mapValue,
  parseVerifierKey, verifyCheckpoint, verifyInclusion, verifyMapInclusion, verifyMapNonInclusion,
} from "./verify.js";
import { el, clear, dropZone, facts, problemDetail } from "./dom.js";

const KEY_STORE = "sealtrail.portal.vkey";
const FP_RE = /^[0-9a-fA-F]{64}$/;
// The most events the public answer lists (docs/FORMAT.md §5.2): a longer history is "capped".
const MAX_PUBLIC_EVENTS = 100;

const state = {
  fp: null,
  source: null, // {kind: "file", name} or {kind: "link"}
  answer: null, // the server's JSON
  outcome: null, // what this page established (see verifyAnswer)
  error: null, // {key, vars}
  pkg: null, // {name, report} or {name, error}
  pdfv: null, // {name, report} or {name, error}: a signed PDF validated by the server
};

function pastedKey() {
  try {
    return localStorage.getItem(KEY_STORE);
  } catch {
    return null;
  }
}

// -- verifying the server's answer ----------------------------------------------------------

/** Check everything the page can check itself; never throws. */
async function verifyAnswer(answer, fp) {
  const out = {
    verdict: "verified",
    reason: null,
    key: null,
    keySource: null,
    checkpoint: null,
    events: new Map(), // index -> "ok" | "none" | "bad"
    checked: [],
    failed: [],
  };
  const refuse = (what) => {
    out.verdict = "refused";
    out.reason = out.reason || what;
    out.failed.push(what);
  };
  const pasted = pastedKey();
  out.keySource = pasted ? "pasted" : "server";
  try {
    out.key = await parseVerifierKey(pasted || answer.verifier_key);
  } catch (e) {
    refuse(`verifier key: ${e.message}`);
    return out;
  }
  if (answer.sha256 !== fp.toLowerCase()) {
    refuse(`the answer is about ${answer.sha256}, not ${fp}`);
    return out;
  }
  const cpJson = answer.checkpoint;
  if (cpJson) {
    try {
      const cp = await verifyCheckpoint(cpJson.note, out.key);
      out.checked.push(["checked.signature", { size: cp.size, key: out.key.text.slice(0, 48) + "…" }]);
      if (cp.size !== cpJson.size || bytesToHex(cp.root) !== cpJson.root) {
        throw new Error(
          `the checkpoint JSON (size ${cpJson.size}, root ${cpJson.root}) differs from its signed note (size ${cp.size}, root ${bytesToHex(cp.root)})`,
        );
      }
      out.checked.push(["checked.root", {}]);
      out.checkpoint = cp;
    } catch (e) {
      refuse(`checkpoint: ${e.message}`);
    }
  }
  for (const ev of answer.events) {
    if (ev.proof === null) {
      if (out.checkpoint && ev.index < out.checkpoint.size) {
        out.events.set(ev.index, "bad");
        refuse(`event #${ev.index} is inside checkpoint ${out.checkpoint.size} but has no proof`);
      } else {
        out.events.set(ev.index, "none");
      }
      continue;
    }
    if (!out.checkpoint) {
      out.events.set(ev.index, "bad");
      if (!cpJson) refuse(`event #${ev.index} has a proof but there is no checkpoint`);
      continue;
    }
    try {
      await verifyInclusion(
        hexToBytes(ev.leaf_hash),
        ev.index,
        out.checkpoint.size,
        ev.proof.map(hexToBytes),
        out.checkpoint.root,
      );
      out.events.set(ev.index, "ok");
      out.checked.push([
        "checked.inclusion",
        { index: ev.index, leaf: ev.leaf_hash.slice(0, 16), n: ev.proof.length },
      ]);
    } catch (e) {
      out.events.set(ev.index, "bad");
      refuse(`event #${ev.index}: ${e.message}`);
    }
  }
  out.map = await checkMap(answer, fp, out);
  if (out.map.status === "failed") refuse(`map proof: ${out.map.detail}`);
  if (out.verdict === "verified" && ![...out.events.values()].includes("ok")) {
    out.verdict = out.map.status === "none" && answer.events.length === 0 ? "absent" : "pending";
  }
  return out;
}

/**
 * MAP.md §7: are the listed events *all* the events naming the document as of the checkpoint?
 * The map root comes from the signed note's sealtrail-map/v1 line (never from the JSON beside
 * the proof); the document's value is recomputed here from the listed events (MAP.md §2).
 * Returns {status: "complete" | "none" | "failed" | "not_checked", ...}; never throws.
 */
async function checkMap(answer, fp, out) {
  const cp = out.checkpoint;
  if (!cp) return { status: "not_checked", reason: ["map.reason.nocheckpoint", {}] };
  if (cp.mapRoot === null) return { status: "not_checked", reason: ["map.reason.before", { size: cp.size }] };
  const m = answer.map;
  const failed = (detail) => ({ status: "failed", detail, size: cp.size });
  try {
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      return failed(`checkpoint ${cp.size} commits to a map but the answer holds no map proof`);
    }
    if (m.size !== cp.size) return failed(`the map proof is for checkpoint ${m.size}, not ${cp.size}`);
    const key = documentKey(hexToBytes(fp));
    const n = Array.isArray(m.proof && m.proof.siblings) ? m.proof.siblings.length : 0;
    const inside = answer.events.filter((e) => e.index < cp.size);
    if (inside.some((e) => out.events.get(e.index) !== "ok")) {
      return failed("an event inside the checkpoint is not proven included");
    }
    if (m.value === null) {
      if (inside.length) return failed(`the answer lists ${inside.length} events in checkpoint ${cp.size} but the map holds none`);
      await verifyMapNonInclusion(cp.mapRoot, key, m.proof);
      out.checked.push(["checked.map.none", { n }]);
      return { status: "none", size: cp.size, n, root: cp.mapRoot };
    }
    const pairs = inside.map((e) => ({ index: e.index, leafHash: hexToBytes(e.leaf_hash) }));
    const recomputed = pairs.length ? await documentValue(pairs) : null;
    const v = m.value;
    if (answer.events.length >= MAX_PUBLIC_EVENTS && v && typeof v === "object" && v.count > pairs.length) {
      // a capped list: the stated value must be the map's; then say what is missing
      const stated = mapValue(2, v.count, v.last_index, hexToBytes(v.hash));
      await verifyMapInclusion(cp.mapRoot, key, stated, m.proof);
      return { status: "not_checked", reason: ["map.reason.capped", { count: v.count, shown: pairs.length }] };
    }
    if (recomputed === null) return failed("the map holds events naming this file but the answer lists none");
    await verifyMapInclusion(cp.mapRoot, key, recomputed, m.proof);
    out.checked.push(["checked.map.complete", { count: pairs.length, n }]);
    return { status: "complete", size: cp.size, count: pairs.length, n, root: cp.mapRoot };
  } catch (e) {
    // long hashes shortened: the reason is read by people (the full check is in the test suite)
    const message = String(e.message).replace(/([0-9a-f]{16})[0-9a-f]{48}/g, "$1…");
    return failed(`${e.code || "malformed"}: ${message}`);
  }
}

/** The map's line under a verdict (what the page proved about completeness). */
function mapLine(o) {
  const m = o.map;
  if (!m) return null;
  if (m.status === "complete") return t("map.complete", { count: m.count, size: m.size });
  if (m.status === "none") return t("map.none", { size: m.size });
  if (m.status === "not_checked") return t("map.notchecked", { reason: t(m.reason[0], m.reason[1]) });
  return t("map.failed", { reason: m.detail });
}

// -- look-ups ---------------------------------------------------------------------------------

async function lookup(fp, source) {
  state.fp = fp.toLowerCase();
  state.source = source;
  state.answer = null;
  state.outcome = null;
  state.error = null;
  render();
  setStatus(t("portal.asking", { fp: state.fp }));
  if (!hasWebCrypto()) {
    state.error = { key: "err.nocrypto", vars: {} };
    render();
    return;
  }
  let resp;
  try {
    resp = await fetch(`/v1/public/fingerprints/${state.fp}`, { headers: { Accept: "application/json" } });
  } catch (e) {
    state.error = { key: "err.network", vars: { reason: e.message } };
    render();
    return;
  }
  if (resp.status === 404) {
    state.outcome = { verdict: "notfound" };
  } else if (!resp.ok) {
    state.error = { key: "err.http", vars: { status: resp.status, detail: await problemDetail(resp) } };
  } else {
    let answer;
    try {
      answer = await resp.json();
    } catch (e) {
      answer = null;
      state.outcome = { verdict: "refused", reason: `the answer is not JSON: ${e.message}`, failed: [], checked: [], events: new Map() };
    }
    if (answer) {
      state.answer = answer;
      showTimesIn(answer.display_timezone);
      state.outcome = await verifyAnswer(answer, state.fp);
    }
  }
  render();
}

/** Times from now on in the service's zone (its ``timezone`` setting, as in the report), each
 * with its UTC offset; UTC when the answer names none or one this browser does not know. */
function showTimesIn(name) {
  let zone = null;
  if (typeof name === "string" && name.length <= 64) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: name });
      zone = name;
    } catch {
      zone = null;
    }
  }
  setTimeZone(zone);
}

async function onFile(file) {
  if (!hasWebCrypto()) {
    state.error = { key: "err.nocrypto", vars: {} };
    render();
    return;
  }
  setStatus(t("portal.hashing", { name: file.name }));
  const fp = await fileSha256(file);
  pendingSource = { kind: "file", name: file.name };
  if (location.hash === `#/fingerprint/${fp}`) {
    route();
  } else {
    location.hash = `#/fingerprint/${fp}`; // route() runs on hashchange
  }
}

let pendingSource = null;

function route() {
  const m = /^#\/fingerprint\/([0-9a-fA-F]{64})$/.exec(location.hash);
  if (!m) return;
  const source = pendingSource || { kind: "link" };
  pendingSource = null;
  document.getElementById("fp").value = m[1].toLowerCase();
  lookup(m[1], source);
}

// -- rendering --------------------------------------------------------------------------------

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

function sentence(answer, outcome) {
  const proven = answer.events.filter((e) => outcome.events.get(e.index) === "ok");
  const parts = proven.map((e) =>
    t("portal.sentence.action", { type: typeLabel(e.type), time: formatTime(e.recorded_at) }),
  );
  let actions = parts.join(t("portal.sentence.list"));
  if (parts.length > 1) {
    actions = parts.slice(0, -1).join(t("portal.sentence.list")) + t("portal.sentence.and") + parts.at(-1);
  }
  const lines = [t("portal.sentence.events", { actions })];
  const ts = answer.timestamp;
  lines.push(
    ts.status === "stamped"
      ? t("portal.sentence.stamped", { tsa: ts.tsa, time: formatTime(ts.gen_time) })
      : t("portal.sentence.notstamped", { status: ts.status }),
  );
  const a = answer.anchor;
  lines.push(
    a.block_number !== undefined && a.block_number !== null
      ? t("portal.sentence.anchored", {
          size: answer.checkpoint.size,
          chain: a.chain_id,
          block: a.block_number,
          confirmations: a.confirmations,
          status: a.status,
        })
      : t("portal.sentence.notanchored", { status: a.status }),
  );
  return lines;
}

function verdictBox(kind, cls, lines) {
  const box = el("div", { class: `verdict ${cls}`, "data-testid": "verdict", "data-verdict": kind });
  box.append(el("h3", {}, t(`verdict.${kind}`)));
  for (const line of lines) box.append(el("p", {}, line));
  return box;
}

function render() {
  applyI18n();
  renderKey();
  const root = document.getElementById("result");
  clear(root);
  if (state.error) {
    setStatus("");
    root.append(verdictBox("error", "bad", [t(state.error.key, state.error.vars)]));
    return;
  }
  if (!state.outcome) return;
  setStatus("");
  const fpLine =
    state.source && state.source.kind === "file"
      ? t("portal.fp.file", { name: state.source.name, fp: state.fp })
      : t("portal.fp.link", { fp: state.fp });
  root.append(el("p", { class: "mono", "data-testid": "fingerprint" }, fpLine));
  const o = state.outcome;
  if (o.verdict === "notfound") {
    root.append(verdictBox("notfound", "warn", [t("portal.notfound")]));
    return;
  }
  const ml = mapLine(o);
  const withMap = (lines) => (ml ? [...lines, ml] : lines);
  if (o.verdict === "refused") {
    const lines = [t("portal.refused", { reason: o.reason })];
    if (o.map && o.map.status !== "failed" && ml) lines.push(ml);
    root.append(verdictBox("refused", "bad", lines));
  } else if (o.verdict === "pending") {
    root.append(verdictBox("pending", "warn", withMap([t("portal.pending")])));
  } else if (o.verdict === "absent") {
    root.append(verdictBox("absent", "warn", [t("portal.absent", { size: o.map.size })]));
  } else {
    root.append(verdictBox("verified", "ok", withMap(sentence(state.answer, o))));
  }
  const a = state.answer;
  if (!a) return;

  const grid = el("div", { class: "grid2" });
  const checked = el("ul", { class: "checks", "data-testid": "checked" });
  if (state.source && state.source.kind === "file") {
    checked.append(el("li", { class: "ok" }, t("checked.fingerprint", { fp: state.fp.slice(0, 16) + "…" })));
  }
  for (const [key, vars] of o.checked) checked.append(el("li", { class: "ok" }, t(key, vars)));
  for (const what of o.failed) checked.append(el("li", { class: "bad" }, t("failed.check", { what })));
  grid.append(el("div", { class: "card" }, el("h3", {}, t("checked.heading")), checked));
  const taken = el("ul", { class: "checks", "data-testid": "taken" });
  for (const key of ["taken.names", "taken.types", "taken.timestamp", "taken.anchor"]) {
    taken.append(el("li", { class: "info" }, t(key)));
  }
  if (o.keySource === "server") taken.append(el("li", { class: "info" }, t("taken.key")));
  grid.append(el("div", { class: "card" }, el("h3", {}, t("taken.heading")), taken));
  root.append(grid);

  if (o.map) {
    const m = o.map;
    const cls = { complete: "ok", none: "ok", failed: "bad" }[m.status] || "warn";
    root.append(
      el("div", { class: "card", "data-testid": "map", "data-map": m.status }, el("h3", {}, t("map.heading")),
        facts([
          [t("map.status"), el("span", { class: `badge ${cls}` }, t(`map.status.${m.status}`))],
          [t("cp.size"), String(o.checkpoint ? o.checkpoint.size : "—")],
          [t("map.root"), o.checkpoint && o.checkpoint.mapRoot ? el("code", {}, bytesToHex(o.checkpoint.mapRoot)) : "—"],
          [t("map.siblings"), m.n !== undefined ? String(m.n) : "—"],
        ])),
    );
  }
  root.append(el("h3", {}, t("events.heading")));
  const table = el("table", { class: "stack", "data-testid": "events" });
  const cols = ["col.index", "col.type", "col.recorded", "col.proof"];
  table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))));
  const body = el("tbody");
  for (const ev of a.events) {
    const st = o.events.get(ev.index) || "bad";
    const badge = {
      ok: el("span", { class: "badge ok" }, t("proof.ok")),
      none: el("span", { class: "badge warn" }, t("proof.none")),
      bad: el("span", { class: "badge bad" }, t("proof.bad")),
    }[st];
    const cells = [`#${ev.index}`, `${typeLabel(ev.type)} (${ev.type})`, formatTime(ev.recorded_at), badge];
    body.append(el("tr", {}, ...cells.map((c, i) => el("td", { "data-label": t(cols[i]) }, c))));
  }
  table.append(body);
  root.append(el("div", { class: "table-wrap" }, table));

  const details = el("div", { class: "grid2" });
  if (a.checkpoint) {
    details.append(
      el("div", { class: "card" }, el("h3", {}, t("cp.heading")),
        facts([
          [t("cp.size"), String(a.checkpoint.size)],
          [t("cp.root"), el("code", {}, a.checkpoint.root)],
          [t("cp.created"), formatTime(a.checkpoint.created_at)],
        ]),
        el("pre", { "data-testid": "note" }, a.checkpoint.note)),
    );
  }
  const ts = a.timestamp;
  details.append(
    el("div", { class: "card", "data-testid": "timestamp" }, el("h3", {}, t("ts.heading")),
      facts([
        [t("ts.status"), ts.status],
        [t("ts.tsa"), ts.tsa || "—"],
        [t("ts.gentime"), ts.gen_time ? formatTime(ts.gen_time) : "—"],
        [t("ts.serial"), ts.serial || "—"],
      ])),
  );
  const an = a.anchor;
  details.append(
    el("div", { class: "card", "data-testid": "anchor" }, el("h3", {}, t("anchor.heading")),
      facts([
        [t("anchor.status"), an.status],
        [t("anchor.chain"), an.chain_id ?? "—"],
        [t("anchor.contract"), an.contract ? el("code", {}, an.contract) : "—"],
        [t("anchor.tx"), an.tx_hash ? el("code", {}, an.tx_hash) : "—"],
        [t("anchor.block"), an.block_number ?? "—"],
        [t("anchor.confirmations"), an.required_confirmations
          ? `${an.confirmations} / ${an.required_confirmations}` : String(an.confirmations ?? "—")],
      ])),
  );
  root.append(details);
}

function renderKey() {
  const pasted = pastedKey();
  const text = document.getElementById("key-text");
  const source = document.getElementById("key-source");
  if (pasted) {
    text.textContent = pasted;
    source.textContent = t("portal.key.pasted");
    source.dataset.source = "pasted";
  } else if (state.answer) {
    text.textContent = state.answer.verifier_key;
    source.textContent = t("portal.key.server");
    source.dataset.source = "server";
  } else {
    text.textContent = "—";
    source.textContent = t("portal.key.none");
    source.dataset.source = "none";
  }
}

// -- certification packages -------------------------------------------------------------------

async function onPackage(file) {
  const status = document.getElementById("pkg-status");
  status.textContent = t("pkg.checking", { name: file.name });
  state.pkg = null;
  renderPackage();
  try {
    const resp = await fetch("/v1/public/packages/verify", {
      method: "POST",
      headers: { "Content-Type": "application/zip", Accept: "application/json" },
      body: file,
    });
    if (resp.status === 404 || resp.status === 405) {
      state.pkg = { name: file.name, error: t("pkg.unavailable") };
    } else if (!resp.ok) {
      state.pkg = { name: file.name, error: t("err.http", { status: resp.status, detail: await problemDetail(resp) }) };
    } else {
      state.pkg = { name: file.name, report: await resp.json() };
    }
  } catch (e) {
    state.pkg = { name: file.name, error: t("err.network", { reason: e.message }) };
  }
  status.textContent = "";
  renderPackage();
}

function renderPackage() {
  const root = document.getElementById("pkg-result");
  clear(root);
  const p = state.pkg;
  if (!p) return;
  if (p.error) {
    root.append(verdictBox("error", "bad", [p.error]));
    return;
  }
  const r = p.report;
  const cls = { passed: "ok", incomplete: "warn", failed: "bad" }[r.status] || "bad";
  const box = el("div", { class: `verdict ${cls}`, "data-testid": "pkg-verdict", "data-status": r.status });
  box.append(el("h3", {}, t(`pkg.status.${r.status}`)));
  box.append(el("p", { class: "mono" }, `${p.name} — SHA-256 ${r.package_sha256}`));
  root.append(box);
  const cols = ["pkg.col.check", "pkg.col.status", "pkg.col.reason", "pkg.col.detail"];
  const table = el("table", { class: "stack", "data-testid": "pkg-checks" });
  table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))));
  const body = el("tbody");
  for (const c of r.checks) {
    const badge = el("span", { class: `badge ${{ passed: "ok", failed: "bad" }[c.status] || "warn"}` },
      t(`status.${c.status}`));
    const cells = [el("code", {}, c.id), badge, c.reason, c.detail];
    body.append(el("tr", { "data-check": c.id, "data-status": c.status },
      ...cells.map((v, i) => el("td", { "data-label": t(cols[i]) }, v))));
  }
  table.append(body);
  root.append(el("div", { class: "table-wrap" }, table));
}

// -- signed PDFs (validated by the server against the seals registered there) -----------------

async function onSignedPdf(file) {
  const status = document.getElementById("pdfv-status");
  status.textContent = t("pdfv.checking", { name: file.name });
  state.pdfv = null;
  renderPdfValidation();
  try {
    const resp = await fetch("/v1/public/pdf/validate", {
      method: "POST",
      headers: { "Content-Type": "application/pdf", Accept: "application/json" },
      body: file,
    });
    if (resp.status === 404 || resp.status === 405) {
      state.pdfv = { name: file.name, error: t("pdfv.unavailable") };
    } else if (!resp.ok) {
      state.pdfv = { name: file.name, error: t("err.http", { status: resp.status, detail: await problemDetail(resp) }) };
    } else {
      state.pdfv = { name: file.name, report: await resp.json() };
    }
  } catch (e) {
    state.pdfv = { name: file.name, error: t("err.network", { reason: e.message }) };
  }
  status.textContent = "";
  renderPdfValidation();
}

function renderPdfValidation() {
  const root = document.getElementById("pdfv-result");
  clear(root);
  const p = state.pdfv;
  if (!p) return;
  if (p.error) {
    root.append(verdictBox("error", "bad", [p.error]));
    return;
  }
  const r = p.report;
  const none = r.signatures.length === 0;
  const key = none ? "none" : r.status;
  const cls = { passed: "ok", failed: "bad" }[key] || "warn";
  const box = el("div", { class: `verdict ${cls}`, "data-testid": "pdfv-verdict", "data-status": key });
  box.append(el("h3", {}, t(`pdfv.status.${key}`)));
  box.append(el("p", {}, t("pdfv.scope")));
  root.append(box);
  if (none) return;
  const cols = ["pdfv.col.field", "pdfv.col.status", "pdfv.col.subject", "pdfv.col.issuer",
    "pdfv.col.root", "pdfv.col.seal"];
  const table = el("table", { class: "stack", "data-testid": "pdfv-signatures" });
  table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))));
  const body = el("tbody");
  for (const sig of r.signatures) {
    const badge = el("span", { class: `badge ${{ passed: "ok", failed: "bad" }[sig.status] || "warn"}` },
      t(`pdfv.sig.${sig.status}`));
    const result = el("span", {}, badge, sig.reasons.length ? ` ${sig.reasons.join(", ")}` : "");
    const rootText = sig.trust_root
      ? `${sig.trust_root.subject} (${sig.trust_root.kind})`
      : t("pdfv.root.none");
    const sealText = sig.seal
      ? t("pdfv.seal.of", { seal: sig.seal.id, tenant: sig.seal.tenant })
      : t("pdfv.seal.none");
    const cells = [el("code", {}, sig.field), result, sig.subject || sig.signer || "—",
      sig.issuer || "—", rootText, sealText];
    body.append(el("tr", { "data-field": sig.field, "data-status": sig.status,
      "data-trusted": String(sig.trust_root !== null), "data-seal": sig.seal ? sig.seal.id : "" },
    ...cells.map((v, i) => el("td", { "data-label": t(cols[i]) }, v))));
  }
  table.append(body);
  root.append(el("div", { class: "table-wrap" }, table));
}

// -- wiring -----------------------------------------------------------------------------------

function init() {
  initI18n();
  onLangChange(() => {
    render();
    renderPackage();
    renderPdfValidation();
  });
  dropZone(document.getElementById("drop"), document.getElementById("file"), onFile);
  dropZone(document.getElementById("pkg-drop"), document.getElementById("pkg-file"), onPackage);
  dropZone(document.getElementById("pdfv-drop"), document.getElementById("pdfv-file"), onSignedPdf);
  document.getElementById("fp-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = document.getElementById("fp").value.trim();
    const err = document.getElementById("fp-error");
    if (!FP_RE.test(v)) {
      err.textContent = t("portal.fp.invalid");
      return;
    }
    err.textContent = "";
    if (location.hash === `#/fingerprint/${v.toLowerCase()}`) route();
    else location.hash = `#/fingerprint/${v.toLowerCase()}`;
  });
  document.getElementById("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = document.getElementById("key-input").value.trim();
    const err = document.getElementById("key-error");
    try {
      await parseVerifierKey(v);
    } catch (e) {
      err.textContent = t("portal.key.bad", { reason: e.message });
      return;
    }
    err.textContent = "";
    localStorage.setItem(KEY_STORE, v);
    if (state.answer) state.outcome = await verifyAnswer(state.answer, state.fp);
    render();
  });
  document.getElementById("key-reset").addEventListener("click", async () => {
    localStorage.removeItem(KEY_STORE);
    document.getElementById("key-input").value = "";
    if (state.answer) state.outcome = await verifyAnswer(state.answer, state.fp);
    render();
  });
  window.addEventListener("hashchange", route);
  render();
  route();
}

init();
