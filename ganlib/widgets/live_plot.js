// ganlib's live plot: a grid of panels drawn on one canvas, fed frame by frame from the kernel.
// No imports: it must render in a JupyterLab that has no network access.
//
// The kernel sends `spec` (what stays fixed for a run) as a trait and each frame as a custom
// message with float32 buffers. Data live in a store per widget model (keyed by the `uid`
// trait), so every view draws the whole run. A view acknowledges what it drew, at most every ACK_MS.
// Every colour comes from the kernel: the series' in `spec.series`, the frame's (text, grid, axes,
// background) in `spec.theme`, both from ganlib's palette. This file names none.

const STORES = new Map();
const FONT = "11px sans-serif";
const TITLE_FONT = "bold 12px sans-serif";
const MONO = "11px monospace";
const LINE_H = 14;
const ACK_MS = 150;
const LABEL_MS = 1000;

function storeFor(model) {
  const uid = model.get("uid");
  let store = STORES.get(uid);
  if (!store) {
    store = { series: {}, titles: {}, texts: {}, alt: "", seq: 0, acked: 0, ackedAt: -Infinity, views: new Set() };
    STORES.set(uid, store);
  }
  return store;
}

function floats(buffer) {
  // Copy: a buffer's offset inside the websocket message need not be a multiple of 4.
  const view = buffer instanceof DataView ? buffer : new DataView(buffer.buffer || buffer);
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  return new Float32Array(bytes);
}

function splitRows(data, shape) {
  if (shape.length === 1) return [data];
  const [k, n] = shape;
  const rows = [];
  for (let i = 0; i < k; i++) rows.push(data.subarray(i * n, (i + 1) * n));
  return rows;
}

function grow(arr, need) {
  if (arr.length >= need) return arr;
  const out = new Float32Array(Math.max(need, arr.length * 2, 64));
  out.set(arr);
  return out;
}

function applyPart(store, part, buffers) {
  if (part.mode === "clear") {
    delete store.series[part.id];
    return;
  }
  const arrays = part.arrays.map((a) => ({ data: floats(buffers[a.buffer]), shape: a.shape }));
  const ys = splitRows(arrays[0].data, arrays[0].shape);
  const xs = arrays.length > 1 ? arrays[1].data : null;
  const m = ys.length ? ys[0].length : 0;
  if (part.mode === "replace") {
    store.series[part.id] = { n: m, x: xs, y: ys.map((r) => Float32Array.from(r)) };
    return;
  }
  let s = store.series[part.id];
  if (part.mode === "reset" || !s || s.y.length !== ys.length) {
    s = { n: 0, x: new Float32Array(64), y: ys.map(() => new Float32Array(64)) };
    store.series[part.id] = s;
  }
  s.x = grow(s.x, s.n + m);
  s.x.set(xs, s.n);
  for (let i = 0; i < ys.length; i++) {
    s.y[i] = grow(s.y[i], s.n + m);
    s.y[i].set(ys[i], s.n);
  }
  s.n += m;
}

function applyMessage(store, msg, buffers) {
  if (msg.type === "clear") {
    store.series = {};
    store.titles = {};
    store.texts = {};
    return;
  }
  if (msg.type !== "frame") return;
  for (const part of msg.parts) applyPart(store, part, buffers);
  Object.assign(store.titles, msg.titles || {});
  Object.assign(store.texts, msg.texts || {});
  if (typeof msg.alt === "string") store.alt = msg.alt;
  store.seq = Math.max(store.seq, msg.seq);
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks
// ---------------------------------------------------------------------------------------------

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

function linearTicks(lo, hi, count) {
  if (!(hi > lo)) return { ticks: [lo], step: 1 };
  const step = niceStep(hi - lo, count);
  const ticks = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { ticks, step };
}

function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo) + 1e-9);
  const b = Math.ceil(Math.log10(hi) - 1e-9);
  const ticks = [];
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) {
    for (const m of mults) {
      const v = m * Math.pow(10, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

function formatTick(v, step) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 10000) return (v / 1000).toFixed(a % 1000 === 0 ? 0 : 1) + "k";
  if (step === null) {
    // log axis
    if (a >= 1) return v.toFixed(0);
    return a >= 1e-3 ? String(Number(v.toPrecision(1))) : v.toExponential(0);
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(decimals, 6));
}

// ---------------------------------------------------------------------------------------------
// Building the points of a panel
// ---------------------------------------------------------------------------------------------

// Points of one row, averaged per pixel column when there are more points than columns: a
// history of 20,000 rounds costs a few thousand segments, and the averaging smooths the noise.
function polyline(x, y, n, x0, x1, width) {
  const px = [];
  const py = [];
  if (n <= 1.5 * width || !(x1 > x0)) {
    for (let i = 0; i < n; i++) {
      px.push(x[i]);
      py.push(y[i]);
    }
    return [px, py];
  }
  const cols = Math.max(1, Math.floor(width));
  const sum = new Float64Array(cols);
  const sumx = new Float64Array(cols);
  const cnt = new Uint32Array(cols);
  const gap = new Uint8Array(cols);
  for (let i = 0; i < n; i++) {
    const c = Math.min(cols - 1, Math.max(0, Math.floor(((x[i] - x0) / (x1 - x0)) * cols)));
    if (Number.isFinite(y[i])) {
      sum[c] += y[i];
      sumx[c] += x[i];
      cnt[c] += 1;
    } else gap[c] = 1;
  }
  for (let c = 0; c < cols; c++) {
    if (cnt[c]) {
      px.push(sumx[c] / cnt[c]);
      py.push(sum[c] / cnt[c]);
    } else if (gap[c]) {
      px.push(NaN);
      py.push(NaN);
    }
  }
  return [px, py];
}

function colorWithAlpha(color, alpha) {
  if (alpha >= 1 || !color.startsWith("#") || color.length !== 7) return color;
  const r = parseInt(color.slice(1, 3), 16);
  const g = parseInt(color.slice(3, 5), 16);
  const b = parseInt(color.slice(5, 7), 16);
  return `rgba(${r},${g},${b},${alpha})`;
}

// Every line of a panel as {x, y, color, width, dash, axis}, in data units.
function collectLines(spec, index, store, x0, x1, plotWidth) {
  const panel = spec.panels[index];
  const lines = [];
  for (const l of panel.lines || []) {
    lines.push({ x: l.x, y: l.y, color: l.color, width: l.width || 1.5, dash: l.dash || [], axis: l.axis || 1 });
  }
  for (const [id, s] of Object.entries(spec.series)) {
    if (s.panel !== index || s.kind !== "line") continue;
    const data = store.series[id];
    if (!data || !data.n) continue;
    const x = data.x || s.x;
    data.y.forEach((row, i) => {
      const [px, py] = polyline(x, row, data.n, x0, x1, plotWidth);
      const first = i === 0 && data.y.length > 1;
      lines.push({
        x: px, y: py, axis: s.axis || 1, dash: s.dash || [],
        color: colorWithAlpha(s.color, first ? (s.first_alpha ?? 1) : (s.alpha ?? 1)),
        width: first ? (s.first_width ?? s.width ?? 1.5) : (s.width ?? 1.5),
      });
    });
  }
  return lines;
}

function xRange(spec, index, store) {
  const panel = spec.panels[index];
  if (panel.x) return panel.x;
  let lo = Infinity;
  let hi = -Infinity;
  for (const [id, s] of Object.entries(spec.series)) {
    const data = store.series[id];
    if (s.panel !== index || !data || !data.n) continue;
    const x = data.x || s.x;
    lo = Math.min(lo, x[0]);
    hi = Math.max(hi, x[data.n - 1]);
  }
  if (!Number.isFinite(lo)) return [0, panel.xmin_span || 1];
  if (panel.x_from_zero) lo = 0;
  return [lo, Math.max(hi, lo + (panel.xmin_span || 1))];
}

function yRange(panel, lines, bars, axis, fixed, log) {
  if (fixed) return fixed;
  let lo = Infinity;
  let hi = -Infinity;
  const limits = panel.ylimits || [-Infinity, Infinity];
  const take = (v) => {
    if (!Number.isFinite(v) || (log && v <= 0)) return;
    const c = Math.min(limits[1], Math.max(limits[0], v));
    lo = Math.min(lo, c);
    hi = Math.max(hi, c);
  };
  for (const l of lines) if (l.axis === axis) for (let i = 0; i < l.y.length; i++) take(l.y[i]);
  for (const h of panel.hlines || []) if ((h.axis || 1) === axis) take(h.y);
  for (const b of bars) for (let i = 0; i < b.length; i++) take(b[i]);
  if (panel.y_from_zero) lo = Math.min(lo, 0);
  if (!Number.isFinite(lo)) return log ? [0.01, 1] : [0, 1];
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    const pad = Math.max(0.05 * (b - a), 0.15);
    return [Math.pow(10, a - pad), Math.pow(10, b + pad)];
  }
  if (hi - lo < 1e-9) {
    const d = Math.max(Math.abs(hi) * 0.1, 0.05);
    return [lo - d, hi + d];
  }
  const pad = 0.05 * (hi - lo);
  return [panel.y_from_zero && lo === 0 ? 0 : lo - pad, hi + pad];
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

// One arrow from (x, y) to (x + dx, y + dy) in pixels, added to the current path. One too short to
// carry a head is left out, or with `tick` drawn as a short vertical tick, so that a value's place
// on a 1-D axis still shows.
function arrowPath(ctx, x, y, dx, dy, tick) {
  const len = Math.hypot(dx, dy);
  const head = Math.min(4, len * 0.45);
  if (!(head >= 1.5)) {
    if (tick) {
      ctx.moveTo(x, y - 1.5);
      ctx.lineTo(x, y + 1.5);
    }
    return;
  }
  const ux = dx / len;
  const uy = dy / len;
  const tx = x + dx;
  const ty = y + dy;
  const bx = tx - ux * head;
  const by = ty - uy * head;
  const w = head * 0.75;
  ctx.moveTo(x, y);
  ctx.lineTo(tx, ty);
  ctx.moveTo(bx - uy * w, by + ux * w);
  ctx.lineTo(tx, ty);
  ctx.lineTo(bx + uy * w, by - ux * w);
}

// The arrows of one series in a strip [y0, y0 + h]: row 0 of the data holds where each arrow starts
// (data units of the x axis), row 1 its push. Scaled per frame: the longest spans `length` of the
// axis (the kernel says why). Arrows are horizontal, so values close on the axis would hide each
// other on one line: sorted by value, they take the strip's `rows` in turn (rank modulo rows), so
// neighbours sit on different rows and each row holds every rows-th value. A G that keeps its
// order keeps each value on its row from frame to frame. All arrows go in one path: one stroke.
function drawArrows(ctx, s, data, sx, width, y0, h) {
  const xs = data.y[0];
  const ps = data.y[1];
  const order = [];
  let largest = 0;
  for (let i = 0; i < data.n; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ps[i])) continue;
    order.push(i);
    largest = Math.max(largest, Math.abs(ps[i]));
  }
  order.sort((a, b) => xs[a] - xs[b]);
  const scale = largest > 0 ? ((s.length ?? 0.1) * width) / largest : 0;
  const pad = 5;
  // Rows at least 5 px apart (an arrow head is up to 6 px tall).
  const rows = Math.max(1, Math.min(s.rows ?? 8, Math.floor((h - 2 * pad) / 5) + 1));
  const gap = rows > 1 ? (h - 2 * pad) / (rows - 1) : 0;
  ctx.strokeStyle = colorWithAlpha(s.color, s.alpha ?? 1);
  ctx.lineWidth = s.width ?? 1.2;
  ctx.setLineDash([]);
  ctx.beginPath();
  order.forEach((i, rank) => arrowPath(ctx, sx(xs[i]), y0 + pad + (rank % rows) * gap, ps[i] * scale, 0, true));
  ctx.stroke();
  return order.length;
}

function drawLegend(ctx, items, left, top, width, theme) {
  ctx.font = FONT;
  let x = left;
  let y = top;
  for (const it of items) {
    const w = 20 + ctx.measureText(it.label).width + 12;
    if (x + w > left + width && x > left) {
      x = left;
      y += LINE_H;
    }
    ctx.save();
    if (it.kind === "bar") {
      ctx.fillStyle = colorWithAlpha(it.color, 0.45);
      ctx.fillRect(x, y - 8, 16, 9);
    } else if (it.kind === "arrow") {
      ctx.strokeStyle = it.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      arrowPath(ctx, x, y - 4, 16, 0, false);
      ctx.stroke();
    } else if (it.kind === "dot") {
      ctx.fillStyle = it.color;
      ctx.beginPath();
      ctx.arc(x + 8, y - 4, 3, 0, 2 * Math.PI);
      ctx.fill();
    } else if (it.kind === "ring") {
      ctx.strokeStyle = it.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(x + 8, y - 4, 5, 0, 2 * Math.PI);
      ctx.stroke();
    } else {
      ctx.strokeStyle = it.color;
      ctx.lineWidth = it.width || 2;
      ctx.setLineDash(it.dash || []);
      ctx.beginPath();
      ctx.moveTo(x, y - 4);
      ctx.lineTo(x + 16, y - 4);
      ctx.stroke();
    }
    ctx.restore();
    ctx.fillStyle = theme.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(it.label, x + 20, y);
    x += w;
  }
  return { x, y };
}

function legendRows(ctx, items, width) {
  ctx.font = FONT;
  let x = 0;
  let rows = items.length ? 1 : 0;
  for (const it of items) {
    const w = 20 + ctx.measureText(it.label).width + 12;
    if (x + w > width && x > 0) {
      rows += 1;
      x = 0;
    }
    x += w;
  }
  return rows;
}

function drawPanel(ctx, spec, index, store, box, tally) {
  const panel = spec.panels[index];
  if (panel.kind === "plane") {
    drawPlane(ctx, spec, index, store, box, tally);
    return;
  }
  const theme = spec.theme || {};
  ctx.save();
  ctx.font = FONT;
  const title = store.titles[index] ?? panel.title ?? "";
  const legend = panel.legend || [];
  const nLegend = legendRows(ctx, legend, box.w - 50);
  const top = box.y + 16 + nLegend * LINE_H + 6;
  const bottom = box.y + box.h - 30;
  // Title
  ctx.fillStyle = theme.text;
  ctx.font = TITLE_FONT;
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(title, box.x + box.w / 2, box.y + 13, box.w - 8);
  if (panel.message) {
    ctx.font = FONT;
    ctx.fillStyle = theme["muted text"];
    ctx.fillText(panel.message, box.x + box.w / 2, box.y + box.h / 2, box.w - 8);
    ctx.restore();
    return;
  }
  const log = !!panel.ylog;
  // Arrow series of this panel that hold data: they get a strip under the plot, on its x axis.
  const arrows = Object.entries(spec.series).filter(
    ([id, s]) => s.panel === index && s.kind === "arrows" && store.series[id] && store.series[id].n > 0);
  const strip = arrows.length ? Math.round((bottom - top) * (panel.strip ?? 0.3)) : 0;
  const dataBottom = bottom - strip;
  const [x0, x1] = xRange(spec, index, store);
  // A first guess of the plot width is enough to bin long histories.
  const lines = collectLines(spec, index, store, x0, x1, box.w - 70);
  const bars = [];
  for (const [id, s] of Object.entries(spec.series)) {
    if (s.panel === index && s.kind === "bars" && store.series[id]) bars.push(store.series[id].y[0]);
  }
  const [y0, y1] = yRange(panel, lines, bars, 1, panel.y, log);
  const yt = log ? { ticks: logTicks(y0, y1), step: null } : linearTicks(y0, y1, Math.max(2, Math.floor((dataBottom - top) / 32)));
  ctx.font = FONT;
  const tickW = Math.max(...yt.ticks.map((t) => ctx.measureText(formatTick(t, yt.step)).width), 10);
  const hasY2 = !!panel.y2;
  const y2t = hasY2 ? linearTicks(panel.y2[0], panel.y2[1], 4) : null;
  const tick2W = hasY2 ? Math.max(...y2t.ticks.map((t) => ctx.measureText(formatTick(t, y2t.step)).width)) : 0;
  const left = box.x + 16 + tickW + 6;
  const right = box.x + box.w - (hasY2 ? 16 + tick2W + 6 : 10);
  const W = right - left;
  const H = dataBottom - top;
  const sx = (v) => left + ((v - x0) / (x1 - x0)) * W;
  const ly0 = log ? Math.log10(y0) : y0;
  const ly1 = log ? Math.log10(y1) : y1;
  const sy = (v) => dataBottom - (((log ? Math.log10(v) : v) - ly0) / (ly1 - ly0)) * H;
  const sy2 = hasY2 ? (v) => dataBottom - ((v - panel.y2[0]) / (panel.y2[1] - panel.y2[0])) * H : sy;
  // Legend rows under the title, then a note of the kernel's on the last row where it fits (what
  // the arrows add up to): beside the legend it covers no data.
  const end = drawLegend(ctx, legend, box.x + 25, box.y + 16 + LINE_H - 2, box.w - 50, theme);
  const note = strip ? store.texts[`${index}:strip`] : "";
  if (note && end.x + ctx.measureText(note).width <= box.x + box.w - 25) {
    ctx.fillStyle = theme.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(note, end.x, end.y);
  }
  // Axes, grid and ticks
  ctx.strokeStyle = theme.grid;
  ctx.lineWidth = 1;
  ctx.fillStyle = theme.text;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yt.ticks) {
    const y = Math.round(sy(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(right, y);
    ctx.stroke();
    ctx.fillText(formatTick(t, yt.step), left - 4, y);
  }
  const xt = linearTicks(x0, x1, Math.max(2, Math.floor(W / 60)));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of xt.ticks) {
    const x = Math.round(sx(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    ctx.fillText(formatTick(t, xt.step), x, bottom + 3);
  }
  if (hasY2) {
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const t of y2t.ticks) ctx.fillText(formatTick(t, y2t.step), right + 4, sy2(t));
  }
  ctx.strokeStyle = theme.axes;
  ctx.strokeRect(left + 0.5, top + 0.5, W, H);
  if (strip) ctx.strokeRect(left + 0.5, dataBottom + 0.5, W, strip);
  // Axis labels
  ctx.fillStyle = theme.text;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText(panel.xlabel || "", left + W / 2, box.y + box.h - 1);
  ctx.save();
  ctx.translate(box.x + 11, top + H / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(panel.ylabel || "", 0, 0);
  ctx.restore();
  if (hasY2) {
    ctx.save();
    ctx.translate(box.x + box.w - 8, top + H / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(panel.y2label || "", 0, 0);
    ctx.restore();
  }
  // Data, clipped to the plot area
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, W, H);
  ctx.clip();
  for (const [id, s] of Object.entries(spec.series)) {
    const data = store.series[id];
    if (s.panel !== index || s.kind !== "bars" || !data) continue;
    const counts = data.y[0];
    const bw = (s.x1 - s.x0) / counts.length;
    ctx.fillStyle = colorWithAlpha(s.color, s.alpha ?? 0.45);
    for (let i = 0; i < counts.length; i++) {
      if (!(counts[i] > 0)) continue;
      const xa = sx(s.x0 + i * bw);
      const xb = sx(s.x0 + (i + 1) * bw);
      const ya = sy(Math.min(counts[i], y1 * 2));
      ctx.fillRect(xa, ya, Math.max(1, xb - xa - 0.5), dataBottom - ya);
    }
  }
  for (const h of panel.hlines || []) {
    const scale = (h.axis || 1) === 2 ? sy2 : sy;
    ctx.strokeStyle = h.color;
    ctx.lineWidth = h.width || 1.2;
    ctx.setLineDash(h.dash || []);
    ctx.beginPath();
    ctx.moveTo(left, scale(h.y));
    ctx.lineTo(right, scale(h.y));
    ctx.stroke();
  }
  for (const l of lines) {
    const scale = l.axis === 2 ? sy2 : sy;
    ctx.strokeStyle = l.color;
    ctx.lineWidth = l.width;
    ctx.setLineDash(l.dash);
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < l.x.length; i++) {
      const v = l.y[i];
      if (!Number.isFinite(v) || !Number.isFinite(l.x[i]) || (log && l.axis === 1 && v <= 0)) {
        pen = false;
        continue;
      }
      // Keep far-off values on the canvas's coordinate range; the clip hides them.
      const py = Math.max(top - 1e4, Math.min(dataBottom + 1e4, scale(v)));
      const px = sx(l.x[i]);
      if (pen) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke();
  }
  ctx.restore();
  if (strip) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, dataBottom, W, strip);
    ctx.clip();
    for (const [id, s] of arrows) tally.arrows += drawArrows(ctx, s, store.series[id], sx, W, dataBottom, strip);
    ctx.restore();
  }
  // A text box in the plot's top-left corner (the histogram's statistics)
  const text = store.texts[index];
  if (text) {
    ctx.font = MONO;
    const rows = String(text).split("\n");
    const tw = Math.max(...rows.map((r) => ctx.measureText(r).width));
    ctx.fillStyle = colorWithAlpha(theme.background, 0.8);
    ctx.fillRect(left + 3, top + 3, tw + 8, rows.length * LINE_H + 4);
    ctx.fillStyle = theme.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    rows.forEach((r, i) => ctx.fillText(r, left + 7, top + 5 + i * LINE_H));
  }
  ctx.restore();
}

// ---------------------------------------------------------------------------------------------
// The plane: a heat map of D over a square box, the target's modes, G's points and their push
// ---------------------------------------------------------------------------------------------

function rgbOf(hex) {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

// The colour bar's steps as numbers, parsed once per spec (the spec object lives until it changes).
function lutOf(bar) {
  if (!bar._rgb) bar._rgb = bar.lut.map(rgbOf);
  return bar._rgb;
}

// The heat map's value range: the bar's fixed one (D's probabilities), else the data's own.
function heatRange(bar, values) {
  if (bar.range) return bar.range;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

// The grid's values as an nx x ny image (row 0 of the data is the lowest y, drawn at the bottom),
// in an off-screen canvas kept with the store: the browser smooths it up to the box's size.
function heatImage(store, s, values, bar, range) {
  const { nx, ny } = s;
  let heat = store.heat;
  if (!heat || heat.nx !== nx || heat.ny !== ny) {
    const canvas = document.createElement("canvas");
    canvas.width = nx;
    canvas.height = ny;
    const ctx = canvas.getContext("2d");
    heat = { canvas, ctx, nx, ny, image: ctx.createImageData(nx, ny) };
    store.heat = heat;
  }
  const lut = lutOf(bar);
  const px = heat.image.data;
  const [lo, hi] = range;
  const top = lut.length - 1;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const v = values[j * nx + i];
      const o = ((ny - 1 - j) * nx + i) * 4;
      if (!Number.isFinite(v)) {
        px[o + 3] = 0;
        continue;
      }
      const c = lut[Math.max(0, Math.min(top, Math.round(((v - lo) / (hi - lo)) * top)))];
      px[o] = c[0];
      px[o + 1] = c[1];
      px[o + 2] = c[2];
      px[o + 3] = 255;
    }
  }
  heat.ctx.putImageData(heat.image, 0, 0);
  return heat.canvas;
}

function drawPlane(ctx, spec, index, store, box, tally) {
  const panel = spec.panels[index];
  const theme = spec.theme || {};
  ctx.save();
  ctx.font = FONT;
  const title = store.titles[index] ?? panel.title ?? "";
  const legend = panel.legend || [];
  const top = box.y + 16 + legendRows(ctx, legend, box.w - 50) * LINE_H + 6;
  const bottom = box.y + box.h - 30;
  ctx.fillStyle = theme.text;
  ctx.font = TITLE_FONT;
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(title, box.x + box.w / 2, box.y + 13, box.w - 8);
  drawLegend(ctx, legend, box.x + 25, box.y + 16 + LINE_H - 2, box.w - 50, theme);
  ctx.font = FONT;
  const [x0, x1] = panel.x;
  const [y0, y1] = panel.y;
  const bar = panel.colorbar;
  let surface = null;
  let points = null;
  let pointSeries = null;
  for (const [id, s] of Object.entries(spec.series)) {
    if (s.panel !== index || !store.series[id]) continue;
    if (s.kind === "heatmap") surface = [s, store.series[id].y[0]];
    if (s.kind === "points") [pointSeries, points] = [s, store.series[id]];
  }
  const range = bar && surface ? heatRange(bar, surface[1]) : bar && bar.range ? bar.range : [0, 1];
  const bt = linearTicks(range[0], range[1], 4);
  const barLabelsW = bar ? Math.max(...bt.ticks.map((t) => ctx.measureText(formatTick(t, bt.step)).width)) : 0;
  // Room on the right for the colour bar: a gap, the bar, its tick labels and its rotated label.
  const barSpace = bar ? 10 + 12 + 4 + barLabelsW + 18 : 0;
  const yt = linearTicks(y0, y1, Math.max(2, Math.floor((bottom - top) / 40)));
  const tickW = Math.max(...yt.ticks.map((t) => ctx.measureText(formatTick(t, yt.step)).width), 10);
  const leftMin = box.x + 16 + tickW + 6;
  const room = box.x + box.w - 8 - barSpace - leftMin;
  const side = Math.max(40, Math.min(bottom - top, room));
  const left = leftMin + Math.max(0, (room - side) / 2);
  const sx = (v) => left + ((v - x0) / (x1 - x0)) * side;
  const sy = (v) => top + side - ((v - y0) / (y1 - y0)) * side;
  const plotBottom = top + side;
  // The heat map, then the box, ticks and labels.
  if (surface && bar) {
    ctx.save();
    ctx.imageSmoothingEnabled = true;
    ctx.globalAlpha = bar.alpha ?? 1;
    ctx.drawImage(heatImage(store, surface[0], surface[1], bar, range), left, top, side, side);
    ctx.restore();
  }
  ctx.strokeStyle = theme.axes;
  ctx.lineWidth = 1;
  ctx.strokeRect(left + 0.5, top + 0.5, side, side);
  ctx.fillStyle = theme.text;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yt.ticks) ctx.fillText(formatTick(t, yt.step), left - 4, sy(t));
  const xt = linearTicks(x0, x1, Math.max(2, Math.floor(side / 60)));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of xt.ticks) ctx.fillText(formatTick(t, xt.step), sx(t), plotBottom + 3);
  // The x label under the tick labels, wherever the square's bottom lies.
  ctx.fillText(panel.xlabel || "", left + side / 2, plotBottom + 3 + LINE_H);
  ctx.save();
  ctx.translate(left - tickW - 15, top + side / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(panel.ylabel || "", 0, 0);
  ctx.restore();
  // Everything on the heat map gets a halo in the background colour: it reads on both ends of the map.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, side, side);
  ctx.clip();
  const r = (panel.radius / (x1 - x0)) * side;
  ctx.beginPath();
  for (const [cx, cy] of panel.centres || []) {
    const px = sx(cx);
    const py = sy(cy);
    ctx.moveTo(px + r, py);
    ctx.arc(px, py, r, 0, 2 * Math.PI);
    ctx.moveTo(px - 3, py);
    ctx.lineTo(px + 3, py);
    ctx.moveTo(px, py - 3);
    ctx.lineTo(px, py + 3);
  }
  ctx.strokeStyle = theme.background;
  ctx.lineWidth = 3.5;
  ctx.stroke();
  ctx.strokeStyle = panel.mode_color;
  ctx.lineWidth = 1.5;
  ctx.stroke();
  if (points && points.n) {
    const [xs, ys] = points.y;
    const push = points.y.length >= 4 ? [points.y[2], points.y[3]] : null;
    const finite = (i) => Number.isFinite(xs[i]) && Number.isFinite(ys[i]);
    if (push) {
      // Scaled per frame: the longest arrow is `length` of the box's side (the kernel says why).
      let largest = 0;
      for (let i = 0; i < points.n; i++) {
        if (finite(i) && Number.isFinite(push[0][i]) && Number.isFinite(push[1][i])) {
          largest = Math.max(largest, Math.hypot(push[0][i], push[1][i]));
        }
      }
      const scale = largest > 0 ? ((pointSeries.length ?? 0.08) * side) / largest : 0;
      ctx.beginPath();
      for (let i = 0; i < points.n; i++) {
        if (!finite(i) || !Number.isFinite(push[0][i]) || !Number.isFinite(push[1][i])) continue;
        // The canvas's y grows downwards.
        arrowPath(ctx, sx(xs[i]), sy(ys[i]), push[0][i] * scale, -push[1][i] * scale, false);
        tally.arrows += 1;
      }
      ctx.strokeStyle = theme.background;
      ctx.lineWidth = 3;
      ctx.stroke();
      ctx.strokeStyle = pointSeries.color;
      ctx.lineWidth = 1.3;
      ctx.stroke();
    }
    ctx.beginPath();
    for (let i = 0; i < points.n; i++) {
      if (!finite(i)) continue;
      ctx.moveTo(sx(xs[i]) + 2.5, sy(ys[i]));
      ctx.arc(sx(xs[i]), sy(ys[i]), 2.5, 0, 2 * Math.PI);
      tally.points += 1;
    }
    // The halo first, the dots over it: a crowd of points stays one colour inside one outline.
    ctx.strokeStyle = theme.background;
    ctx.lineWidth = 1.6;
    ctx.stroke();
    ctx.fillStyle = pointSeries.color;
    ctx.fill();
  }
  ctx.restore();
  // The colour bar, its ticks and its label.
  if (bar) {
    const bx = left + side + 10;
    const h = side / bar.lut.length;
    ctx.save();
    ctx.globalAlpha = bar.alpha ?? 1;
    bar.lut.forEach((color, i) => {
      ctx.fillStyle = color;
      ctx.fillRect(bx, plotBottom - (i + 1) * h, 12, h + 0.5);
    });
    ctx.restore();
    ctx.strokeStyle = theme.axes;
    ctx.strokeRect(bx + 0.5, top + 0.5, 12, side);
    ctx.fillStyle = theme.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const by = (v) => plotBottom - ((v - range[0]) / (range[1] - range[0])) * side;
    for (const t of bt.ticks) ctx.fillText(formatTick(t, bt.step), bx + 16, by(t));
    ctx.save();
    ctx.translate(bx + 16 + barLabelsW + 10, top + side / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(bar.label || "", 0, 0);
    ctx.restore();
  }
  ctx.restore();
}

function drawAll(canvas, el, model, store) {
  const tally = { arrows: 0, points: 0 };
  const spec = model.get("spec");
  const height = model.get("height");
  const width = Math.max(300, el.clientWidth || 900);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.style.height !== `${height}px`) canvas.style.height = `${height}px`;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  if (!spec || !spec.panels) return tally;
  ctx.fillStyle = (spec.theme || {}).background;
  ctx.fillRect(0, 0, width, height);
  const rows = spec.rows || 1;
  const cols = spec.cols || 1;
  const cw = width / cols;
  const ch = height / rows;
  spec.panels.forEach((_, i) => {
    const box = { x: (i % cols) * cw, y: Math.floor(i / cols) * ch, w: cw, h: ch };
    drawPanel(ctx, spec, i, store, box, tally);
  });
  return tally;
}

export default {
  initialize({ model }) {
    const store = storeFor(model);
    model.on("msg:custom", (msg, buffers) => {
      applyMessage(store, msg, buffers || []);
      for (const schedule of store.views) schedule();
    });
    // A page that loads an existing widget has no data yet: ask the kernel for the whole run.
    model.send({ type: "hello" });
  },
  render({ model, el }) {
    const store = storeFor(model);
    el.classList.add("ganlib-live");
    const canvas = document.createElement("canvas");
    el.appendChild(canvas);
    let pending = false;
    // A picture to assistive technology: its name is the kernel's one-line description of the frame.
    canvas.setAttribute("role", "img");
    const counters = { frames: 0, drawMs: 0, arrows: 0, points: 0 };
    el.ganlibCounters = counters;
    const draw = () => {
      pending = false;
      const t0 = performance.now();
      const drawn = drawAll(canvas, el, model, store);
      // Counters a browser test can read (a property, not an attribute: no DOM mutation per frame).
      counters.frames += 1;
      counters.drawMs += performance.now() - t0;
      counters.arrows = drawn.arrows;
      counters.points = drawn.points;
      ack();
      label();
    };
    // The description changes every frame (it names the round): an attribute set at most every
    // LABEL_MS, with a trailing timer for the last, keeps the page's DOM quiet while playing.
    let labelTimer = null;
    let labelledAt = -Infinity;
    const label = () => {
      if (labelTimer !== null || canvas.getAttribute("aria-label") === store.alt) return;
      const wait = labelledAt + LABEL_MS - performance.now();
      if (wait > 0) {
        labelTimer = setTimeout(() => { labelTimer = null; label(); }, wait);
        return;
      }
      labelledAt = performance.now();
      canvas.setAttribute("aria-label", store.alt);
    };
    // Acknowledge what was drawn at most every ACK_MS: each message makes the kernel report
    // busy and idle, and JupyterLab repaints its kernel indicators for both, which cost as much
    // as the frames on a two-core machine. A trailing timer sends the last one.
    let ackTimer = null;
    const ack = () => {
      if (store.seq <= store.acked || ackTimer !== null) return;
      const wait = store.ackedAt + ACK_MS - performance.now();
      if (wait > 0) {
        ackTimer = setTimeout(() => { ackTimer = null; ack(); }, wait);
        return;
      }
      store.acked = store.seq;
      store.ackedAt = performance.now();
      model.send({ type: "drawn", seq: store.seq });
    };
    const schedule = () => {
      if (!pending) {
        pending = true;
        requestAnimationFrame(draw);
      }
    };
    store.views.add(schedule);
    model.on("change:spec", schedule);
    model.on("change:height", schedule);
    const observer = new ResizeObserver(schedule);
    observer.observe(el);
    schedule();
    return () => {
      if (ackTimer !== null) clearTimeout(ackTimer);
      if (labelTimer !== null) clearTimeout(labelTimer);
      store.views.delete(schedule);
      observer.disconnect();
    };
  },
};
