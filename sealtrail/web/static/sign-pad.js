// A signature pad on a <canvas>: pointer events (touch, pen and mouse alike), strokes kept as
// points in CSS pixels so the pad can be redrawn at any size, undo and clear, and an export to a
// PNG trimmed to the ink and no larger than MAX_W × MAX_H pixels (what the server accepts).

export const MAX_W = 2000;
export const MAX_H = 1000;
const INK = "#10131a";
const WIDTH = 2.6; // CSS px; a pen's pressure makes it vary between 0.5× and 1.5×
const PAD = 8; // CSS px of margin kept around the ink in the export

export class SignaturePad {
  constructor(canvas) {
    this.canvas = canvas;
    this.strokes = []; // [{points: [[x, y, w], …]}]
    this.current = null;
    this.ratio = 1;
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    // no scrolling, zooming or context menu while signing on a touch screen
    canvas.addEventListener("touchstart", (e) => e.preventDefault(), { passive: false });
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    if ("ResizeObserver" in window) new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  /** Match the backing store to the canvas's CSS size (× devicePixelRatio) and redraw. */
  resize() {
    const r = this.canvas.getBoundingClientRect();
    if (!r.width || !r.height) return;
    const ratio = Math.min(window.devicePixelRatio || 1, 3);
    const w = Math.round(r.width * ratio);
    const h = Math.round(r.height * ratio);
    if (this.canvas.width === w && this.canvas.height === h && this.ratio === ratio) return;
    // strokes are kept in CSS px of the size they were drawn at: rescale them to the new size
    if (this.cssWidth && this.strokes.length) {
      const k = r.width / this.cssWidth;
      for (const s of this.strokes) s.points = s.points.map(([x, y, pw]) => [x * k, y * k, pw]);
    }
    this.cssWidth = r.width;
    this.canvas.width = w;
    this.canvas.height = h;
    this.ratio = ratio;
    this.redraw();
  }

  isEmpty() {
    return !this.strokes.some((s) => s.points.length);
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.redraw();
    this.changed();
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.changed();
  }

  changed() {
    this.canvas.dispatchEvent(new CustomEvent("padchange", { bubbles: true }));
    this.canvas.dataset.strokes = String(this.strokes.length);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    // mouse and touch report 0.5 (or 0) when they have no pressure: only pens vary the line
    const p = e.pointerType === "pen" && e.pressure > 0 ? e.pressure : 0.5;
    return [e.clientX - r.left, e.clientY - r.top, WIDTH * (0.5 + p)];
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.current = { id: e.pointerId, points: [this.point(e)] };
    this.strokes.push(this.current);
    this.redraw();
  }

  move(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const c of events.length ? events : [e]) this.current.points.push(this.point(c));
    this.redraw();
  }

  up(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    this.current = null;
    this.changed();
  }

  redraw() {
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    draw(ctx, this.strokes, 0, 0);
  }

  /** The ink's bounding box in CSS px ([x0, y0, x1, y1]) with a margin, or null. */
  bounds() {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const s of this.strokes) {
      for (const [x, y, w] of s.points) {
        x0 = Math.min(x0, x - w); y0 = Math.min(y0, y - w);
        x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + w);
      }
    }
    if (x0 === Infinity) return null;
    return [x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD];
  }

  /** The ink as a PNG (transparent background), trimmed to its bounds, at most MAX_W × MAX_H
   * pixels and MAX_BYTES bytes, base64 without a data: prefix. Requires a non-empty pad. */
  async toPngBase64() {
    const [x0, y0, x1, y1] = this.bounds();
    const w = x1 - x0, h = y1 - y0;
    let scale = Math.min(3, MAX_W / w, MAX_H / h);
    for (;;) {
      const bytes = await render(this.strokes, x0, y0, w, h, scale);
      // a dense drawing at full size may exceed the server's limit: draw it smaller
      if (bytes.length <= MAX_BYTES || scale < 0.5) return base64(bytes);
      scale *= 0.7;
    }
  }
}

export const MAX_BYTES = 256 * 1024;

async function render(strokes, x0, y0, w, h, scale) {
  const out = document.createElement("canvas");
  out.width = Math.max(1, Math.min(MAX_W, Math.round(w * scale)));
  out.height = Math.max(1, Math.min(MAX_H, Math.round(h * scale)));
  const ctx = out.getContext("2d");
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  draw(ctx, strokes, x0, y0);
  const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
  return new Uint8Array(await blob.arrayBuffer());
}

function base64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Draw the strokes translated by (-dx, -dy): a dot for a tap, else a smoothed line through the
 * midpoints of successive points (quadratic curves), each segment at its point's width. */
function draw(ctx, strokes, dx, dy) {
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    const pts = s.points;
    if (!pts.length) continue;
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0] - dx, pts[0][1] - dy, pts[0][2] / 2, 0, Math.PI * 2);
      ctx.fill();
      continue;
    }
    let [px, py] = [pts[0][0] - dx, pts[0][1] - dy];
    for (let i = 1; i < pts.length; i++) {
      const [x, y, w] = pts[i];
      const mx = (pts[i - 1][0] + x) / 2 - dx;
      const my = (pts[i - 1][1] + y) / 2 - dy;
      ctx.beginPath();
      ctx.lineWidth = w;
      ctx.moveTo(px, py);
      ctx.quadraticCurveTo(pts[i - 1][0] - dx, pts[i - 1][1] - dy, mx, my);
      ctx.stroke();
      [px, py] = [mx, my];
    }
    const last = pts[pts.length - 1];
    ctx.beginPath();
    ctx.lineWidth = last[2];
    ctx.moveTo(px, py);
    ctx.lineTo(last[0] - dx, last[1] - dy);
    ctx.stroke();
  }
}
