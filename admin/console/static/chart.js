// A small SVG line chart for the console: time on x, one or more series on
// y, grid lines, axis labels, a legend and a hover read-out. No library.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// lineChart draws series = [{name, color, points: [[tMs, value], ...]}] into
// el, replacing what was there. opts.format formats a y value; opts.integer
// says the values are whole units (bytes): the axis then spans at least 4,
// so that its five labels are distinct whole numbers.
function lineChart(el, series, opts) {
  opts = opts || {};
  const fmt = opts.format || (v => String(Math.round(v)));
  const W = 640, H = 220, L = 58, R = 14, T = 12, B = 26;
  el.textContent = "";
  el.classList.add("chart");
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  el.appendChild(svg);
  const all = series.flatMap(s => s.points);
  let t0 = Math.min(...all.map(p => p[0])), t1 = Math.max(...all.map(p => p[0]));
  if (!all.length) { const now = Date.now(); t0 = now - 60000; t1 = now; }
  if (t1 === t0) t0 = t1 - 1000;
  let ymax = niceMax(Math.max(0, ...all.map(p => p[1])));
  if (opts.integer && ymax < 4) ymax = 4;
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = v => T + (1 - v / ymax) * (H - T - B);

  for (let i = 0; i <= 4; i++) {
    const v = ymax * i / 4, yy = y(v);
    svg.appendChild(svgEl("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: "grid" }));
    const lab = svgEl("text", { x: L - 8, y: yy + 4, "text-anchor": "end" });
    lab.textContent = fmt(v);
    svg.appendChild(lab);
  }
  for (let i = 0; i <= 3; i++) {
    const t = t0 + (t1 - t0) * i / 3;
    const lab = svgEl("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" });
    lab.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    svg.appendChild(lab);
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    const first = s.points[0], last = s.points[s.points.length - 1];
    svg.appendChild(svgEl("path", { d: `${d} L${x(last[0]).toFixed(1)},${y(0)} L${x(first[0]).toFixed(1)},${y(0)} Z`, fill: s.color, "fill-opacity": 0.08, stroke: "none" }));
    svg.appendChild(svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.8, "vector-effect": "non-scaling-stroke" }));
    if (s.points.length === 1) svg.appendChild(svgEl("circle", { cx: x(first[0]), cy: y(first[1]), r: 3, fill: s.color }));
  }
  if (!all.length) {
    const msg = svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
    msg.textContent = opts.empty || "no data yet";
    svg.appendChild(msg);
  }

  // Hover: a vertical rule and the values of the nearest sample.
  const rule = svgEl("line", { y1: T, y2: H - B, stroke: "#b7bdd0", "stroke-dasharray": "3 3", visibility: "hidden" });
  const tip = svgEl("text", { class: "tip", y: T + 12, visibility: "hidden" });
  svg.appendChild(rule);
  svg.appendChild(tip);
  svg.addEventListener("mousemove", ev => {
    if (!all.length) return;
    const box = svg.getBoundingClientRect();
    const tx = t0 + ((ev.clientX - box.left) / box.width * W - L) / (W - L - R) * (t1 - t0);
    const parts = [];
    let at = null;
    for (const s of series) {
      if (!s.points.length) continue;
      let best = s.points[0];
      for (const p of s.points) if (Math.abs(p[0] - tx) < Math.abs(best[0] - tx)) best = p;
      at = best[0];
      parts.push(`${s.name} ${fmt(best[1])}`);
    }
    if (at === null) return;
    const xx = x(at);
    rule.setAttribute("x1", xx); rule.setAttribute("x2", xx); rule.setAttribute("visibility", "visible");
    tip.textContent = `${new Date(at).toLocaleTimeString()} · ${parts.join(" · ")}`;
    const right = xx > W / 2;
    tip.setAttribute("x", right ? xx - 6 : xx + 6);
    tip.setAttribute("text-anchor", right ? "end" : "start");
    tip.setAttribute("visibility", "visible");
  });
  svg.addEventListener("mouseleave", () => { rule.setAttribute("visibility", "hidden"); tip.setAttribute("visibility", "hidden"); });

  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const sw = document.createElement("i");
    sw.style.background = s.color;
    item.append(sw, s.name);
    legend.appendChild(item);
  }
  el.appendChild(legend);
}
