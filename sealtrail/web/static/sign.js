// The signer's page: /sign/{token}. Steps: who asks whom to sign what (nothing of the
// document); identity by a one-time code; the document, page by page, with this signer's fields
// highlighted; a drawn, typed or seal signature with the intent confirmed; done (download).
// Decline is offered at every step after identity. The HTTP contract is the server's
// /v1/sign/{token}/… API (docs/FORMAT.md); every error answers problem+json.
//
// The token is the path's last segment and is only ever sent back to this origin (the page's
// CSP allows no other; its Referrer-Policy is no-referrer).

import { el, clear, problemDetail } from "./dom.js";
import { t, lang, initI18n, onLangChange, setTimeZone, formatTime } from "./i18n.js";
import { SignaturePad } from "./sign-pad.js";

const $ = (id) => document.getElementById(id);

const TOKEN = (() => {
  const m = /^\/sign\/([A-Za-z0-9_-]{16,128})\/?$/.exec(location.pathname);
  return m ? m[1] : null;
})();
const API = TOKEN ? `/v1/sign/${TOKEN}` : null;
const IMAGE_WIDTHS = [320, 480, 640, 800, 1000, 1200, 1600]; // the server clamps to 320..1600

const state = {
  info: null, // GET /v1/sign/{token}
  doc: null, // GET …/document
  verified: false,
  method: null, // "drawn" | "typed" | "seal"
  typedStyle: null,
  sealId: null,
  seals: null,
  result: null, // POST …/sign answer
  resendAt: 0, // ms epoch: "Send code" is enabled again from then
  timer: null,
  locked: false,
};

// Messages that depend on the language are kept as (key, vars) on their element and re-rendered
// when the language changes.
function say(node, key, vars = {}) {
  if (!key) {
    node.textContent = "";
    delete node.dataset.msg;
    return;
  }
  node.dataset.msg = key;
  node.dataset.vars = JSON.stringify(vars);
  node.textContent = t(key, vars);
}

function resay() {
  for (const node of document.querySelectorAll("[data-msg]")) {
    const text = t(node.dataset.msg, JSON.parse(node.dataset.vars || "{}"));
    if (node.tagName === "IMG") node.alt = text;
    else node.textContent = text;
  }
}

class Invalid extends Error {}
class NoSession extends Error {}
class Problem extends Error {
  constructor(resp, detail, body) {
    super(detail);
    this.status = resp.status;
    this.body = body || {};
    const ra = Number(resp.headers.get("Retry-After"));
    this.retryAfter = Number.isFinite(ra) && ra > 0 ? ra : null;
  }
}

/** fetch a path of the signer API; JSON in and out; 404 → Invalid, 401 → NoSession. */
async function api(path, { method = "GET", body, keepalive = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, keepalive };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, init);
  if (resp.status === 404) throw new Invalid();
  if (resp.status === 401) throw new NoSession();
  if (!resp.ok) {
    let parsed = null;
    try {
      parsed = await resp.clone().json();
    } catch {
      parsed = null;
    }
    throw new Problem(resp, await problemDetail(resp), parsed);
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  return type.includes("json") ? resp.json() : null;
}

function show(id, on = true) {
  $(id).hidden = !on;
}

function showInvalid() {
  for (const id of ["loading", "intro", "steps", "identity", "document", "signing", "done", "declined",
    "decline-row", "error"]) show(id, false);
  const dlg = $("decline-dialog");
  if (dlg.open) dlg.close();
  show("invalid");
  document.body.dataset.view = "invalid";
}

function showError(err) {
  if (err instanceof Invalid) return showInvalid();
  if (err instanceof NoSession) return sessionEnded();
  const box = $("error");
  if (err instanceof Problem) say(box, "err.http", { status: err.status, detail: err.message });
  else say(box, "err.network", { reason: err.message || String(err) });
  show("error");
}

function clearError() {
  show("error", false);
  say($("error"), null);
}

function setStep(step) {
  document.body.dataset.step = step;
  for (const li of $("steps").children) {
    if (li.dataset.step === step) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

// ---------------------------------------------------------------- (1) the invitation

function renderIntro() {
  const { envelope, signer } = state.info;
  $("intro-h").textContent = envelope.title;
  const from = envelope.from || {};
  $("intro-ask").textContent = t("sign.ask", { sender: from.name || from.tenant || "", signer: signer.name });
  if (envelope.expires_at) say($("intro-deadline"), "sign.deadline", { time: formatTime(envelope.expires_at) });
  else say($("intro-deadline"), "sign.deadline.none");
  const note = $("intro-note");
  const open = envelope.state === "sent" || envelope.state === "partly_signed";
  if (signer.state === "signed") say(note, "sign.note.signed");
  else if (signer.state === "declined") say(note, "sign.note.declined");
  else if (!open) say(note, "sign.note.closed", { state: t(`sign.state.${envelope.state}`) });
  else if (!signer.turn) say(note, "sign.note.turn");
  else say(note, null);
  note.hidden = !note.dataset.msg;
}

function signable() {
  const { envelope, signer } = state.info;
  return signer.state === "pending" && (envelope.state === "sent" || envelope.state === "partly_signed");
}

async function load() {
  try {
    state.info = await api("");
  } catch (err) {
    show("loading", false);
    return showError(err);
  }
  show("loading", false);
  if (!validInfo(state.info)) return showInvalid();
  document.body.dataset.view = "ready";
  renderIntro();
  show("intro");
  show("steps");
  const { signer } = state.info;
  if (signer.state === "declined") return showDeclined();
  if (signer.state === "signed") return showDone(null);
  if (!signable()) return setStep("identity");
  if (signer.verified) return afterVerified();
  startIdentity();
}

function validInfo(info) {
  return info && typeof info === "object" && info.envelope && info.signer &&
    typeof info.envelope.title === "string" && typeof info.signer.name === "string";
}

// ---------------------------------------------------------------- (2) identity

function startIdentity() {
  setStep("identity");
  say($("identity-where"), "sign.identity.where", { address: state.info.signer.address_masked || "" });
  show("identity");
  $("send-code").focus();
}

// "Send code" is disabled until state.resendAt; #resend-status counts down ("sign.resend" after
// a code was sent, "sign.ratelimited" after a 429), apart from the "sent" sentence.
function tick() {
  const left = Math.ceil((state.resendAt - Date.now()) / 1000);
  const status = $("resend-status");
  if (left > 0 && status.dataset.key) {
    $("send-code").disabled = true;
    say(status, status.dataset.key, { seconds: left });
    return;
  }
  clearInterval(state.timer);
  state.timer = null;
  say(status, null);
  delete status.dataset.key;
  if (!state.locked) $("send-code").disabled = false;
}

function waitToResend(seconds, key) {
  state.resendAt = Date.now() + seconds * 1000;
  $("resend-status").dataset.key = key;
  if (!state.timer) state.timer = setInterval(tick, 1000);
  tick();
}

async function sendCode() {
  clearError();
  const btn = $("send-code");
  btn.disabled = true;
  say($("send-status"), "sign.sending");
  try {
    const r = await api("/code", { method: "POST", body: {} });
    const minutes = Math.max(1, Math.round(((r && r.expires_in) || 600) / 60));
    say($("send-status"), "sign.sent", { address: state.info.signer.address_masked || "", minutes });
    waitToResend(Math.max(0, Math.round((r && r.resend_after) || 0)), "sign.resend");
    $("code").focus();
  } catch (err) {
    say($("send-status"), null);
    if (err instanceof Problem && err.status === 429) waitToResend(err.retryAfter || 60, "sign.ratelimited");
    else if (err instanceof Problem && err.status === 423) lockedOut(err.retryAfter);
    else if (err instanceof Problem && err.status === 409) {
      // no address to send a code to (an enterprise signer named without one)
      btn.disabled = false;
      say($("send-status"), "sign.code.noaddress");
    } else {
      btn.disabled = false;
      showError(err);
    }
  }
}

function lockedOut(seconds) {
  const wait = seconds || 900;
  state.locked = true;
  // no "new code in N s" while locked: no code can be asked for
  clearInterval(state.timer);
  state.timer = null;
  say($("resend-status"), null);
  delete $("resend-status").dataset.key;
  document.body.dataset.locked = "true";
  say($("verify-status"), "sign.locked", { minutes: Math.max(1, Math.ceil(wait / 60)) });
  $("verify-status").className = "bad-text";
  $("verify").disabled = true;
  $("send-code").disabled = true;
  setTimeout(() => {
    state.locked = false;
    delete document.body.dataset.locked;
    $("verify").disabled = false;
    $("send-code").disabled = false;
    say($("verify-status"), null);
  }, wait * 1000);
}

async function verify(ev) {
  ev.preventDefault();
  clearError();
  const code = $("code").value.replace(/[\s-]+/g, ""); // "123 456" and "123-456" as typed
  const status = $("verify-status");
  status.className = "bad-text";
  if (!code) return say(status, "sign.code.empty");
  $("verify").disabled = true;
  try {
    await api("/verify", { method: "POST", body: { code } });
    status.className = "ok-text";
    say(status, "sign.verified");
    $("code").value = "";
    await afterVerified();
  } catch (err) {
    if (err instanceof Problem && err.status === 423) return lockedOut(err.retryAfter);
    $("verify").disabled = false;
    if (err instanceof Problem && err.status === 400 && Number.isInteger(err.body.attempts_left)) {
      const n = err.body.attempts_left;
      say(status, n === 1 ? "sign.code.wrong.one" : "sign.code.wrong", { n });
      $("code").select();
      return;
    }
    showError(err);
  }
}

function sessionEnded() {
  state.verified = false;
  for (const id of ["document", "signing", "decline-row"]) show(id, false);
  $("verify").disabled = false;
  startIdentity();
  $("verify-status").className = "bad-text";
  say($("verify-status"), "sign.session");
}

// ---------------------------------------------------------------- (3) the document

async function afterVerified() {
  state.verified = true;
  if (state.downloadOnly) {
    show("identity", false);
    return showDone(null);
  }
  show("identity", false);
  show("decline-row");
  setStep("document");
  try {
    state.doc = await api("/document");
  } catch (err) {
    return showError(err);
  }
  renderDocument();
  show("document");
  setZoom(zoomAt);
  if (state.info.signer.kind === "enterprise") loadSeals();
  setupSigning();
  show("signing");
  if ("IntersectionObserver" in window && !state.stepObserver) {
    // the progress shows "Sign" while the signing section is on screen, else "Read"
    state.stepObserver = new IntersectionObserver((entries) => {
      if (document.body.dataset.step === "done") return;
      for (const e of entries) setStep(e.intersectionRatio >= 0.35 ? "sign" : "document");
    }, { threshold: [0.35] });
    state.stepObserver.observe($("signing"));
  }
  $("document-h").focus({ preventScroll: true });
}

function imageWidth(cssWidth) {
  const want = cssWidth * Math.min(window.devicePixelRatio || 1, 2);
  return IMAGE_WIDTHS.find((w) => w >= want) || IMAGE_WIDTHS[IMAGE_WIDTHS.length - 1];
}

// zoom: the pages' width as a multiple of the column's; wider than the column, the pages
// scroll sideways inside their own box (never the page itself), images fetched sharper
const ZOOMS = [1, 1.5, 2, 3];
let zoomAt = 0;

function setZoom(i) {
  zoomAt = Math.max(0, Math.min(ZOOMS.length - 1, i));
  const z = ZOOMS[zoomAt];
  const box = $("pages");
  box.classList.toggle("zoomed", z > 1);
  $("zoom-level").textContent = `${Math.round(z * 100)}%`;
  $("zoom-out").disabled = zoomAt === 0;
  $("zoom-in").disabled = zoomAt === ZOOMS.length - 1;
  const width = imageWidth((box.clientWidth || 360) * z);
  for (const fig of box.querySelectorAll("figure.page")) {
    fig.style.width = `${z * 100}%`;
    const img = fig.querySelector("img");
    const want = `${API}/pages/${fig.dataset.page}.png?width=${width}`;
    if (Number(img.dataset.width) < width) {
      img.src = want;
      img.dataset.width = String(width);
    }
  }
}

const seen = new Set();
const unsent = new Set();
let flushTimer = null;

function renderDocument() {
  const { pages, fields, sha256 } = state.doc;
  const box = $("pages");
  clear(box);
  const total = pages.length;
  if (total === 1) say($("document-pages"), "sign.document.pages.one");
  else say($("document-pages"), "sign.document.pages", { n: total });
  say($("document-sha"), "sign.document.sha", { sha: sha256 });
  const width = imageWidth(box.clientWidth || 360);
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver(onSeen, { threshold: [0, 0.25, 0.5, 0.75, 1] })
    : null;
  for (const p of pages) {
    if (!Number.isInteger(p.number) || !(p.width > 0) || !(p.height > 0)) continue;
    const img = el("img", {
      src: `${API}/pages/${p.number}.png?width=${width}`,
      "data-width": width,
      width: Math.round(p.width),
      height: Math.round(p.height),
      loading: "lazy",
      decoding: "async",
    });
    img.dataset.msg = "sign.page.alt";
    img.dataset.vars = JSON.stringify({ n: p.number, total });
    img.alt = t("sign.page.alt", { n: p.number, total });
    const fig = el("figure", { class: "page", "data-page": p.number }, img);
    for (const f of fields.filter((x) => x.page === p.number)) fig.append(fieldBox(f, p));
    fig.append(el("figcaption", { class: "muted" }, String(p.number)));
    box.append(fig);
    if (observer) observer.observe(fig);
    else markSeen(p.number);
  }
}

/** An overlay over a field: PDF user space (origin bottom-left, points) → percentages of the
 * page box from its top-left, so it follows the image at any rendered width. */
function fieldBox(field, page) {
  const [x1, y1, x2, y2] = field.box.map(Number);
  const left = Math.min(x1, x2), right = Math.max(x1, x2);
  const bottom = Math.min(y1, y2), top = Math.max(y1, y2);
  const span = el("span", { class: "field", "data-msg": "sign.field" }, t("sign.field"));
  span.style.left = `${(left / page.width) * 100}%`;
  span.style.top = `${((page.height - top) / page.height) * 100}%`;
  span.style.width = `${((right - left) / page.width) * 100}%`;
  span.style.height = `${((top - bottom) / page.height) * 100}%`;
  return span;
}

/** A page is seen when half of it is on screen — or, for a page taller than the screen (a
 * landscape phone), when it fills half of the screen. */
function onSeen(entries) {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    const half = Math.min(e.boundingClientRect.height, window.innerHeight) / 2;
    if (e.intersectionRect.height >= half) markSeen(Number(e.target.dataset.page));
  }
}

function markSeen(n) {
  if (seen.has(n)) return;
  seen.add(n);
  unsent.add(n);
  if (!flushTimer) flushTimer = setTimeout(() => flushSeen(), 1500);
}

/** POST the pages seen since the last report (batched; keepalive when the page is leaving). */
async function flushSeen(keepalive = false) {
  clearTimeout(flushTimer);
  flushTimer = null;
  if (!unsent.size || !state.verified) return;
  const pages = [...unsent].sort((a, b) => a - b);
  unsent.clear();
  try {
    await api("/viewed", { method: "POST", body: { pages }, keepalive });
  } catch (err) {
    if (err instanceof NoSession || err instanceof Invalid) return;
    for (const p of pages) unsent.add(p); // retried with the next batch
  }
}

// ---------------------------------------------------------------- (4) signing

let pad = null;

function methods() {
  if (state.info.signer.kind === "enterprise") return ["seal"];
  const m = ["drawn"];
  if (Array.isArray(state.info.typed_styles) && state.info.typed_styles.length) m.push("typed");
  return m;
}

function setupSigning() {
  const allowed = methods();
  for (const tab of $("methods").querySelectorAll("[role=tab]")) tab.hidden = !allowed.includes(tab.dataset.method);
  $("methods").hidden = allowed.length < 2;
  if (!pad) pad = new SignaturePad($("pad"));
  if (allowed.includes("typed")) renderStyles();
  if (!$("typed-text").value) $("typed-text").value = state.info.signer.name || "";
  chooseMethod(allowed.includes(state.method) ? state.method : allowed[0]);
}

function chooseMethod(method) {
  state.method = method;
  for (const tab of $("methods").querySelectorAll("[role=tab]")) {
    const on = tab.dataset.method === method;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${tab.dataset.method}`).hidden = !on;
  }
  if (method === "drawn" && pad) pad.resize();
}

function renderStyles() {
  const box = $("typed-styles");
  for (const n of [...box.querySelectorAll(".choice")]) n.remove();
  const styles = state.info.typed_styles;
  if (!state.typedStyle) state.typedStyle = styles[0].id;
  styles.forEach((s, i) => {
    const id = `style-${i}`;
    const input = el("input", { type: "radio", name: "typed-style", id, value: s.id });
    input.checked = s.id === state.typedStyle;
    input.addEventListener("change", () => { state.typedStyle = s.id; });
    // the server's styles are inks and a slant (sealtrail/signing/handwriting.py): a sample
    // shows the known ones, any other in plain ink
    const known = ["ink", "blue", "italic"].includes(s.id) ? s.id : "ink";
    const sample = el("span", { class: `sample sample-${known}`, "data-sample": "" }, $("typed-text").value || state.info.signer.name);
    box.append(el("label", { class: "choice", for: id }, input, el("span", {}, lang() === "zh-CN" ? s.label_zh : s.label_en), sample));
  });
}

function updateSamples() {
  for (const s of document.querySelectorAll("[data-sample]")) s.textContent = $("typed-text").value || " ";
}

async function loadSeals() {
  say($("seals-status"), "loading");
  try {
    const r = await api("/seals");
    state.seals = Array.isArray(r && r.seals) ? r.seals : [];
  } catch (err) {
    say($("seals-status"), null);
    return showError(err);
  }
  renderSeals();
}

function renderSeals() {
  const box = $("seals");
  for (const n of [...box.querySelectorAll(".choice")]) n.remove();
  if (!state.seals || !state.seals.length) {
    say($("seals-status"), state.seals ? "sign.seal.none" : null);
    return;
  }
  say($("seals-status"), null);
  if (state.seals.length === 1) state.sealId = state.seals[0].id;
  state.seals.forEach((s, i) => {
    const id = `seal-${i}`;
    const input = el("input", { type: "radio", name: "seal", id, value: s.id });
    input.checked = s.id === state.sealId;
    input.addEventListener("change", () => { state.sealId = s.id; });
    box.append(el("label", { class: "choice", for: id }, input, el("span", {}, s.name),
      s.kind ? el("span", { class: "badge info" }, s.kind) : null));
  });
}

async function signatureBody() {
  if (state.method === "drawn") {
    if (!pad || pad.isEmpty()) return { error: "sign.pad.empty" };
    return { signature: { kind: "drawn", png_base64: await pad.toPngBase64() } };
  }
  if (state.method === "typed") {
    const text = $("typed-text").value.trim();
    if (!text) return { error: "sign.typed.empty" };
    return { signature: { kind: "typed", text, style: state.typedStyle } };
  }
  if (!state.sealId) return { error: "sign.seal.empty" };
  return { signature: { kind: "seal", seal_id: state.sealId } };
}

async function sign() {
  clearError();
  const status = $("sign-status");
  status.className = "bad-text";
  const s = await signatureBody();
  if (s.error) return say(status, s.error);
  if (!$("intent").checked) {
    $("intent").focus();
    return say(status, "sign.intent.missing");
  }
  say(status, null);
  const btn = $("sign");
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  setStep("sign");
  try {
    await flushSeen();
    state.result = await api("/sign", {
      method: "POST",
      body: { intent: true, language: lang(), signature: s.signature },
    });
    showDone(state.result);
  } catch (err) {
    btn.disabled = false;
    if (err instanceof Problem) {
      status.className = "bad-text";
      // 409: not this signer's turn, or the envelope changed meanwhile (the server says which)
      say(status, err.status === 409 ? "sign.conflict" : "sign.refused", { detail: err.message });
    } else showError(err);
  } finally {
    btn.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------- (5) done, (6) declined

function showDone(result) {
  for (const id of ["identity", "document", "signing", "decline-row"]) show(id, false);
  setStep("done");
  const href = result && typeof result.download === "string" && result.download.startsWith(`${API}/`)
    ? result.download
    : `${API}/download`;
  $("download").href = href;
  if (!result) say($("done-text"), "sign.done.signed");
  else if (result.envelope_state === "completed") say($("done-text"), "sign.done.completed");
  else say($("done-text"), "sign.done.partly");
  say($("intro-note"), null);
  $("intro-note").hidden = true;
  // the download needs a live session: a signer who reopens the link elsewhere confirms their
  // identity again (the code step, shown under the message) to download
  const session = Boolean(result || state.verified || state.info.signer.verified);
  $("download").parentElement.hidden = !session;
  show("done");
  if (!session) {
    state.downloadOnly = true;
    say($("identity-where"), "sign.identity.download", { address: state.info.signer.address_masked || "" });
    show("identity");
  }
  document.body.dataset.view = "done";
  $("done-h").tabIndex = -1;
  $("done-h").focus();
}

function showDeclined() {
  for (const id of ["identity", "document", "signing", "decline-row"]) show(id, false);
  say($("declined-text"), "sign.declined.text");
  $("intro-note").hidden = true;
  show("declined");
  setStep("done");
  document.body.dataset.view = "declined";
}

function openDecline() {
  say($("decline-status"), null);
  $("decline-dialog").showModal();
  $("decline-reason").focus();
}

async function decline(ev) {
  ev.preventDefault();
  const reason = $("decline-reason").value.trim();
  const status = $("decline-status");
  status.className = "bad-text";
  if (!reason || reason.length > 500) return say(status, "sign.decline.empty");
  $("decline-confirm").disabled = true;
  try {
    await api("/decline", { method: "POST", body: { reason } });
    $("decline-dialog").close();
    showDeclined();
  } catch (err) {
    if (err instanceof Problem) {
      status.textContent = err.message;
      delete status.dataset.msg;
    } else {
      $("decline-dialog").close();
      showError(err);
    }
  } finally {
    $("decline-confirm").disabled = false;
  }
}

// ---------------------------------------------------------------- wiring

function onLanguage() {
  resay();
  if (state.info && !$("intro").hidden) renderIntro();
  if (state.info && !$("signing").hidden && methods().includes("typed")) renderStyles();
  if (state.seals) renderSeals();
}

function tabKeys(ev) {
  const tabs = [...$("methods").querySelectorAll("[role=tab]")].filter((x) => !x.hidden);
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  let j = null;
  if (ev.key === "ArrowRight") j = (i + 1) % tabs.length;
  else if (ev.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
  if (j === null) return;
  ev.preventDefault();
  tabs[j].focus();
  chooseMethod(tabs[j].dataset.method);
}

function main() {
  initI18n();
  try {
    setTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone || null);
  } catch {
    setTimeZone(null);
  }
  onLangChange(onLanguage);
  $("send-code").addEventListener("click", sendCode);
  $("verify-form").addEventListener("submit", verify);
  $("sign").addEventListener("click", sign);
  $("decline").addEventListener("click", openDecline);
  $("decline-form").addEventListener("submit", decline);
  $("decline-cancel").addEventListener("click", () => $("decline-dialog").close());
  $("methods").addEventListener("click", (ev) => {
    const tab = ev.target.closest("[role=tab]");
    if (tab) chooseMethod(tab.dataset.method);
  });
  $("methods").addEventListener("keydown", tabKeys);
  $("pad-clear").addEventListener("click", () => pad && pad.clear());
  $("zoom-in").addEventListener("click", () => setZoom(zoomAt + 1));
  $("zoom-out").addEventListener("click", () => setZoom(zoomAt - 1));
  $("pad-undo").addEventListener("click", () => pad && pad.undo());
  $("typed-text").addEventListener("input", updateSamples);
  $("decline-reason").addEventListener("input", () => say($("decline-status"), null));
  $("code").addEventListener("input", () => {
    if (!state.locked) say($("verify-status"), null);
  });
  $("intent").addEventListener("change", () => {
    if ($("intent").checked && $("sign-status").dataset.msg === "sign.intent.missing") say($("sign-status"), null);
  });
  window.addEventListener("pagehide", () => flushSeen(true));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flushSeen(true);
  });
  if (!TOKEN) {
    show("loading", false);
    return showInvalid();
  }
  // the page itself was answered 404 (an invalid link): nothing to ask the API
  const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  if (nav && nav.responseStatus === 404) {
    show("loading", false);
    return showInvalid();
  }
  load();
}

main();
