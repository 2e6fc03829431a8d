/**
 * The code a report runs in the browser, inlined into the page as the text of
 * {@linkcode clientMain} (so it must not reach anything outside its own body).
 * It reads the page's JSON data block, draws the charts with chart.js, makes
 * tables sortable, and draws the interactive flame graph. Untrusted text only
 * ever reaches the page through `textContent` and chart.js' canvas text.
 * @module
 */

/** Runs in the page: `(clientMain)()`. */
export function clientMain() {
  "use strict";
  const dataEl = document.getElementById("ioscope-data");
  const data = JSON.parse(dataEl ? dataEl.textContent || "null" : "null") || {};
  const charts = [];

  const { formatCount, formatNs, formatPercent, formatValue } = globalThis.ioscopeFormat;
  function fmt(unit, v) {
    return typeof v === "number" && isFinite(v) ? formatValue(unit, v) : "";
  }

  const markerPlugin = {
    id: "ioscopeMarkers",
    afterDatasetsDraw(chart) {
      const markers = chart.options.plugins.ioscopeMarkers;
      if (!markers || !markers.list || markers.list.length === 0) return;
      const x = chart.scales.x;
      const area = chart.chartArea;
      const ctx = chart.ctx;
      const colors = ["#2563eb", "#0891b2", "#d97706", "#dc2626", "#111827"];
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      // Each label goes on the first row where it does not overlap a label
      // already placed; a label that would leave the chart area flips left.
      const rows = [];
      markers.list.forEach((m, i) => {
        const px = x.getPixelForValue(m.value);
        if (!isFinite(px) || px < area.left - 1 || px > area.right + 1) return;
        const color = colors[i % colors.length];
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.setLineDash([4, 3]);
        ctx.lineWidth = 1.25;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        const text = m.label + " " + formatNs(m.value);
        const w = ctx.measureText(text).width;
        const tx = px + 3 + w > area.right ? px - 3 - w : px + 3;
        let row = rows.findIndex((spans) => spans.every(([a, b]) => tx + w + 4 < a || tx > b + 4));
        if (row === -1) {
          rows.push([]);
          row = rows.length - 1;
        }
        rows[row].push([tx, tx + w]);
        const ty = area.top + 11 + row * 12;
        ctx.fillStyle = "rgba(255,255,255,0.8)";
        ctx.fillRect(tx - 1, ty - 10, w + 2, 12);
        ctx.fillStyle = color;
        ctx.fillText(text, tx, ty);
      });
      ctx.restore();
    },
  };

  function decades(min, max) {
    const out = [];
    for (
      let e = Math.floor(Math.log10(Math.max(min, 1e-12)));
      e <= Math.ceil(Math.log10(max));
      e++
    ) {
      const v = Math.pow(10, e);
      if (v >= min * 0.999 && v <= max * 1.001) out.push({ value: v });
    }
    return out;
  }

  function axis(spec, fallbackUnit) {
    const a = spec || {};
    const unit = a.unit || fallbackUnit;
    const out = {
      type: a.log ? "logarithmic" : a.category ? "category" : "linear",
      title: { display: !!a.title, text: a.title || "" },
      ticks: {},
      grid: { color: "rgba(0,0,0,0.07)" },
    };
    if (!a.category) {
      out.ticks.callback = (v) => fmt(unit, Number(v));
    }
    if (a.log) {
      out.afterBuildTicks = (scale) => {
        const t = decades(scale.min, scale.max);
        if (t.length >= 2) scale.ticks = t;
      };
    }
    if (a.stacked) out.stacked = true;
    if (typeof a.min === "number") out.min = a.min;
    if (typeof a.max === "number") out.max = a.max;
    if (typeof a.suggestedMax === "number") out.suggestedMax = a.suggestedMax;
    if (a.beginAtZero) out.beginAtZero = true;
    if (a.position) out.position = a.position;
    if (a.position === "right") out.grid = { drawOnChartArea: false };
    return out;
  }

  function build(spec) {
    const horizontal = !!spec.horizontal;
    const datasets = spec.datasets.map((d) => {
      const ds = {
        label: d.label,
        data: d.data,
        borderColor: d.color,
        backgroundColor: d.fill || spec.type !== "line" ? d.background || d.color : d.color,
        borderWidth: spec.type === "line" ? 1.5 : 0,
        pointRadius: spec.type === "line" && !spec.markers && d.data.length <= 60 ? 2.5 : 0,
        pointHitRadius: 6,
        spanGaps: false,
        tension: 0,
      };
      if (d.fill) ds.fill = d.fill;
      if (d.yAxisID) ds.yAxisID = d.yAxisID;
      if (d.stack) ds.stack = d.stack;
      if (d.dashed) ds.borderDash = [5, 4];
      if (d.colors) ds.backgroundColor = d.colors;
      if (spec.type === "doughnut") {
        ds.backgroundColor = d.colors;
        ds.borderWidth = 1;
        ds.borderColor = "#fff";
      }
      return ds;
    });
    const valueUnit = (horizontal ? (spec.x || {}).unit : (spec.y || {}).unit) || "count";
    const cfg = {
      type: spec.type,
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: spec.type === "line" ? false : undefined,
        normalized: true,
        interaction: { mode: spec.type === "line" ? "nearest" : "index", intersect: false },
        plugins: {
          legend: { display: spec.legend !== false, labels: { boxWidth: 12 } },
          ioscopeMarkers: { list: spec.markers || [] },
          tooltip: {
            callbacks: {
              label(item) {
                const d = spec.datasets[item.datasetIndex] || {};
                const unit = d.unit || (d.yAxisID === "y1" ? (spec.y1 || {}).unit : valueUnit);
                const raw = item.raw;
                const v = typeof raw === "number"
                  ? raw
                  : raw && typeof raw === "object"
                  ? (horizontal ? raw.x : raw.y)
                  : NaN;
                return (item.dataset.label || item.label || "") + ": " + fmt(unit, v);
              },
            },
          },
        },
      },
      plugins: [markerPlugin],
    };
    if (spec.labels) cfg.data.labels = spec.labels;
    if (spec.type === "line") {
      cfg.options.plugins.tooltip.callbacks.title = (items) =>
        items.length ? fmt((spec.x || {}).unit, items[0].parsed.x) : "";
    }
    if (spec.type !== "doughnut") {
      if (horizontal) cfg.options.indexAxis = "y";
      const scales = {
        x: axis(spec.x, horizontal ? "count" : undefined),
        y: axis(spec.y, "count"),
      };
      if (spec.y1) scales.y1 = axis(Object.assign({ position: "right" }, spec.y1), "count");
      cfg.options.scales = scales;
    } else {
      cfg.options.plugins.tooltip.callbacks.label = (item) =>
        item.label + ": " + fmt((spec.datasets[0] || {}).unit, item.raw);
    }
    return cfg;
  }

  if (typeof Chart === "function") {
    for (const spec of data.charts || []) {
      const canvas = document.getElementById("chart-" + spec.id);
      if (!canvas) continue;
      // deno-lint-ignore no-undef
      charts.push(new Chart(canvas, build(spec)));
    }
  }

  // Sortable tables: a button in each header cell; cells sort by data-v when given.
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.querySelectorAll("thead th");
    heads.forEach((th, col) => {
      const button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", () => {
        const was = th.getAttribute("aria-sort");
        const numeric = th.dataset.type === "number";
        const dir = was === "descending"
          ? "ascending"
          : was === "ascending"
          ? "descending"
          : numeric
          ? "descending"
          : "ascending";
        heads.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", dir);
        const body = table.tBodies[0];
        if (!body) return;
        const rows = Array.from(body.rows);
        const key = (row) => {
          const cell = row.cells[col];
          if (!cell) return numeric ? -Infinity : "";
          const v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent || "";
          return numeric ? Number(v) : v.toLowerCase();
        };
        rows.sort((a, b) => {
          const ka = key(a);
          const kb = key(b);
          const c = ka < kb ? -1 : ka > kb ? 1 : 0;
          return dir === "ascending" ? c : -c;
        });
        for (const r of rows) body.appendChild(r);
      });
    });
  }

  // The flame graph: root at the bottom, click a frame to zoom into it,
  // hover for its name and samples.
  function flameGraph(flameBox, flame) {
    const SVG = "http://www.w3.org/2000/svg";
    const ROW = 17;
    const root = flame.root;
    const total = root.v || 1;
    let maxDepth = 0;
    (function link(node, parent, depth) {
      node.p = parent;
      node.d = depth;
      if (depth > maxDepth) maxDepth = depth;
      for (const c of node.c || []) link(c, node, depth + 1);
    })(root, null, 0);
    const detail = document.getElementById("flame-detail");
    const reset = document.getElementById("flame-reset");
    let zoomed = root;

    function hash(s) {
      let h = 0;
      for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
      return h;
    }
    function color(node) {
      if (node === root) return "#cbd5e1";
      if (node.n === "[unknown]") return "#d1d5db";
      const h = hash(node.n);
      if (node.k) return "hsl(" + (22 + h % 18) + ",85%," + (58 + (h >> 8) % 12) + "%)";
      return "hsl(" + (h % 14) + ",72%," + (60 + (h >> 8) % 14) + "%)";
    }
    function describe(node) {
      return node.n + (node.k ? " [kernel]" : "") + ": " + formatCount(node.v) + " samples, " +
        formatPercent(node.v / total) + " of all";
    }
    function draw() {
      const width = Math.max(flameBox.clientWidth || 0, 300);
      let depth = zoomed.d;
      (function deepest(n) {
        if (n.d > depth) depth = n.d;
        for (const c of n.c || []) deepest(c);
      })(zoomed);
      const height = (depth + 1) * ROW;
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", String(width));
      svg.setAttribute("height", String(height));
      svg.setAttribute("viewBox", "0 0 " + width + " " + height);
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", "flame graph");
      function frame(node, x, w, faded) {
        if (w < 0.5) return;
        const g = document.createElementNS(SVG, "g");
        g.setAttribute("class", "frame" + (faded ? " faded" : ""));
        g.setAttribute("tabindex", "0");
        const y = height - (node.d + 1) * ROW;
        const rect = document.createElementNS(SVG, "rect");
        rect.setAttribute("x", String(x));
        rect.setAttribute("y", String(y));
        rect.setAttribute("width", String(Math.max(w - 0.5, 0.5)));
        rect.setAttribute("height", String(ROW - 1));
        rect.setAttribute("rx", "2");
        rect.setAttribute("fill", color(node));
        const title = document.createElementNS(SVG, "title");
        title.textContent = describe(node);
        g.appendChild(title);
        g.appendChild(rect);
        const chars = Math.floor((w - 6) / 6.6);
        if (chars >= 3) {
          const text = document.createElementNS(SVG, "text");
          text.setAttribute("x", String(x + 3));
          text.setAttribute("y", String(y + ROW - 5));
          text.textContent = node.n.length > chars ? node.n.slice(0, chars - 2) + ".." : node.n;
          g.appendChild(text);
        }
        g.addEventListener("mouseenter", () => {
          if (detail) detail.textContent = describe(node);
        });
        const zoom = () => {
          zoomed = node === zoomed ? (node.p || root) : node;
          draw();
        };
        g.addEventListener("click", zoom);
        g.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            zoom();
          }
        });
        svg.appendChild(g);
      }
      for (let a = zoomed.p; a; a = a.p) frame(a, 0, width, true);
      (function layout(node, x, w) {
        frame(node, x, w, false);
        let cx = x;
        for (const c of node.c || []) {
          const cw = w * c.v / node.v;
          layout(c, cx, cw);
          cx += cw;
        }
      })(zoomed, 0, width);
      flameBox.replaceChildren(svg);
      if (reset) reset.disabled = zoomed === root;
      if (detail && zoomed !== root) detail.textContent = "Zoomed into " + describe(zoomed);
    }
    if (reset) {
      reset.addEventListener("click", () => {
        zoomed = root;
        draw();
      });
    }
    draw();
    let lastWidth = flameBox.clientWidth;
    globalThis.addEventListener("resize", () => {
      if (flameBox.clientWidth !== lastWidth) {
        lastWidth = flameBox.clientWidth;
        draw();
      }
    });
    flameBox.dataset.maxDepth = String(maxDepth);
  }

  const flameBox = document.getElementById("flame");
  if (flameBox && data.flame && data.flame.root) flameGraph(flameBox, data.flame);

  globalThis.addEventListener("beforeprint", () => {
    for (const c of charts) c.resize();
  });
  globalThis.addEventListener("afterprint", () => {
    for (const c of charts) c.resize();
  });
  document.body.dataset.ready = String(charts.length);
}
