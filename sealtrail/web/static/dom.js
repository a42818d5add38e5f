// Small DOM helpers shared by the portal and the console (text is always set as text, never
// parsed as HTML, so nothing the server or a file says can inject markup).

/** An element with attributes and children (strings become text nodes; null is skipped). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

/** A <dl> of [term, value] pairs. */
export function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of pairs) dl.append(el("dt", {}, k), el("dd", {}, v));
  return dl;
}

/** A <label class="drop"> wrapping a file input: drag-and-drop, click and keyboard all work. */
export function dropZone(zone, input, onFile) {
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) onFile(input.files[0]);
    input.value = "";
  });
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) onFile(f);
  });
}

/** The detail of an RFC 9457 problem response, or its status text. */
export async function problemDetail(resp) {
  try {
    const body = await resp.json();
    return body.detail || body.title || resp.statusText;
  } catch {
    return resp.statusText;
  }
}
