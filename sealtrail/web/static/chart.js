// A small stacked bar chart in SVG: events per day, one colour per event type. The same data is
// offered as a table next to it (the chart is an image to assistive technology).

const NS = "http://www.w3.org/2000/svg";
// Distinguishable colours (Okabe–Ito, plus greys), each with 3:1 contrast on white or better.
const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#8a6d00", "#56b4e9", "#e69f00",
  "#5b5b5b", "#004d40", "#7b1fa2", "#9e9d24", "#37474f", "#a1887f"];

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

/** ``tl``: the /v1/console/timeline answer. Returns a <figure> with the chart and a legend. */
export function timelineChart(tl, label = (x) => x) {
  const W = 720, H = 240, left = 40, bottom = 28, top = 10, right = 8;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(1, ...tl.days.map((d) => d.total));
  const colour = new Map(tl.types.map((ty, i) => [ty, COLOURS[i % COLOURS.length]]));
  const summary = tl.types.map((ty) => `${ty}: ${tl.days.reduce((n, d) => n + (d.counts[ty] || 0), 0)}`);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `${tl.from} – ${tl.to}; ${summary.join(", ")}`, "data-testid": "timeline-chart" });
  chart.append(svg("line", { x1: left, y1: top + plotH, x2: W - right, y2: top + plotH, stroke: "#4a4d55" }));
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH - frac * plotH;
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#4a4d55" },
      String(Math.round(frac * max))));
    if (frac > 0) chart.append(svg("line", { x1: left, y1: y, x2: W - right, y2: y, stroke: "#e0e2e6" }));
  }
  const n = tl.days.length;
  const slot = plotW / n;
  const barW = Math.max(1, slot * 0.8);
  tl.days.forEach((d, i) => {
    let y = top + plotH;
    const x = left + i * slot + (slot - barW) / 2;
    for (const ty of tl.types) {
      const c = d.counts[ty] || 0;
      if (!c) continue;
      const h = (c / max) * plotH;
      y -= h;
      const rect = svg("rect", { x, y, width: barW, height: h, fill: colour.get(ty), "data-day": d.day, "data-type": ty });
      rect.append(svg("title", {}, `${d.day} ${ty}: ${c}`));
      chart.append(rect);
    }
    if (i === 0 || i === n - 1 || (n > 2 && i === Math.floor(n / 2))) {
      const anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
      chart.append(svg("text", { x: left + i * slot + slot / 2, y: H - 8, "text-anchor": anchor, "font-size": 11, fill: "#4a4d55" }, d.day));
    }
  });
  const legend = document.createElement("ul");
  legend.className = "legend";
  for (const ty of tl.types) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = colour.get(ty);
    li.append(sw, `${label(ty)} (${ty})`);
    legend.append(li);
  }
  const fig = document.createElement("figure");
  fig.append(chart, legend);
  return fig;
}
