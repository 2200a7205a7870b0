// The CFO console's charts. Each canvas carries its data as JSON in data-console-chart: {type, unit, labels,
// datasets: [{label, data, links}], stacked, horizontal}. A point with a link opens the rows behind it. The figures are in a table under each chart.
(function () {
  "use strict";

  function formatter(unit) {
    if (unit === "days" || unit === "promises") return function (v) { return v == null ? "—" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 1 }); };
    const money = new Intl.NumberFormat(undefined, { style: "currency", currency: unit, maximumFractionDigits: 0 });
    return function (v) { return v == null ? "—" : money.format(v); };
  }

  function draw(canvas) {
    if (!window.Chart || canvas.dataset.drawn) return;
    const spec = JSON.parse(canvas.getAttribute("data-console-chart"));
    const format = formatter(spec.unit);
    const round = spec.type === "doughnut";
    const options = {
      animation: false, maintainAspectRatio: false, indexAxis: spec.horizontal ? "y" : "x",
      plugins: { legend: { display: spec.datasets.length > 1 || round },
                 tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + format(c.raw); } } } },
      onClick: function (_event, elements) {
        if (!elements.length) return;
        const hit = elements[0];
        const links = spec.datasets[hit.datasetIndex].links || [];
        if (links[hit.index]) window.location.assign(links[hit.index]);
      },
    };
    if (!round) {
      const valueAxis = { beginAtZero: true, stacked: !!spec.stacked, ticks: { callback: function (v) { return format(v); } } };
      const labelAxis = { stacked: !!spec.stacked };
      options.scales = spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis };
    }
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets.map(function (d) { return { label: d.label, data: d.data, spanGaps: true, borderWidth: 2 }; }) },
      options: options,
    });
    canvas.dataset.drawn = "1";
  }

  function drawAll() { document.querySelectorAll("canvas[data-console-chart]").forEach(draw); }
  window.addEventListener("load", drawAll);
  // Filters swap the figures in place (outerHTML: htmx announces the new content with htmx:load).
  document.addEventListener("htmx:load", drawAll);
})();
