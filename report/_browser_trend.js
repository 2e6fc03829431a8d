/**
 * The code the trend page runs in the browser, inlined as the text of
 * {@linkcode trendClient} (so it must not reach anything outside its own
 * body). It reads the page's JSON data block and draws one chart.js line
 * chart per spec: runs along x (oldest first), the baseline window shaded,
 * the latest run's point larger, red where it is a regression. Untrusted
 * text only reaches the page through chart.js' canvas text.
 * @module
 */

/** Runs in the page: `(trendClient)()`. */
export function trendClient() {
  "use strict";
  const dataEl = document.getElementById("ioscope-data");
  const data = JSON.parse(dataEl ? dataEl.textContent || "null" : "null") || {};
  const charts = [];

  const { formatValue } = globalThis.ioscopeFormat;
  const fmt = (unit, v) => formatValue(unit, v);

  // Shades the baseline window: from its first run to the run before the latest.
  const baselinePlugin = {
    id: "ioscopeBaseline",
    beforeDatasetsDraw(chart) {
      const b = chart.options.plugins.ioscopeBaseline;
      if (!b || !(b.to >= b.from) || b.from < 0) return;
      const x = chart.scales.x;
      const area = chart.chartArea;
      const step = chart.data.labels.length > 1
        ? Math.abs(x.getPixelForValue(1) - x.getPixelForValue(0))
        : area.right - area.left;
      const left = Math.max(area.left, x.getPixelForValue(b.from) - step / 2);
      const right = Math.min(area.right, x.getPixelForValue(b.to) + step / 2);
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(100,116,139,0.10)";
      ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
      ctx.fillStyle = "#64748b";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText("baseline", left + 4, area.top + 12);
      ctx.restore();
    },
  };

  function build(spec) {
    const last = spec.labels.length - 1;
    const datasets = spec.datasets.map((d) => ({
      label: d.label,
      data: d.data,
      borderColor: d.color,
      backgroundColor: d.color,
      borderWidth: 1.75,
      borderDash: d.dashed ? [5, 4] : undefined,
      spanGaps: false,
      tension: 0,
      pointRadius: (c) => (c.dataIndex === last ? 5 : 2.5),
      pointHoverRadius: 6,
      pointBackgroundColor: (c) => (c.dataIndex === last && d.regression ? "#b91c1c" : d.color),
      pointBorderColor: (c) => (c.dataIndex === last && d.regression ? "#b91c1c" : d.color),
    }));
    const y = {
      type: spec.log ? "logarithmic" : "linear",
      grid: { color: "rgba(0,0,0,0.07)" },
      ticks: { callback: (v) => fmt(spec.unit, Number(v)), maxTicksLimit: 7 },
      title: { display: !!spec.yTitle, text: spec.yTitle || "" },
    };
    if (!spec.log) y.beginAtZero = true;
    if (spec.unit === "percent") {
      y.min = 0;
      y.max = 1;
    }
    return {
      type: "line",
      data: { labels: spec.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: {
            type: "category",
            grid: { color: "rgba(0,0,0,0.05)" },
            ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 },
          },
          y,
        },
        plugins: {
          legend: { display: spec.datasets.length > 1, labels: { boxWidth: 12 } },
          ioscopeBaseline: spec.baseline || null,
          tooltip: {
            callbacks: {
              title(items) {
                const i = items.length ? items[0].dataIndex : -1;
                const run = (spec.runs || [])[i];
                return run ? run : spec.labels[i] || "";
              },
              label(item) {
                return item.dataset.label + ": " + fmt(spec.unit, item.raw);
              },
            },
          },
        },
      },
      plugins: [baselinePlugin],
    };
  }

  if (typeof Chart === "function") {
    for (const spec of data.charts || []) {
      const canvas = document.getElementById("chart-" + spec.id);
      if (!canvas) continue;
      // deno-lint-ignore no-undef
      charts.push(new Chart(canvas, build(spec)));
    }
  }
  globalThis.addEventListener("beforeprint", () => {
    for (const c of charts) c.resize();
  });
  document.body.dataset.ready = String(charts.length);
}
