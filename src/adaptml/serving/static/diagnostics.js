// The /diagnostics page: draws the version's stored diagnostics.json with the locally served Plotly bundle.
(function () {
  "use strict";
  var source = document.getElementById("diagnostics-data");
  if (!source || !window.Plotly) { return; }
  var D = JSON.parse(source.textContent);
  var PALETTE = ["#3557d6", "#e07b39", "#2e9d6a", "#c23b6e", "#7b5cc4", "#1f9fb4", "#b8a22b", "#6b7280", "#d1495b", "#00798c"];
  var VISIBLE = 4;  // curves drawn at first; the others are one legend click away
  var narrow = window.matchMedia("(max-width: 640px)").matches;
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"] };
  var select = document.getElementById("model-select");

  function color(name) { return PALETTE[Math.max(0, D.models.indexOf(name)) % PALETTE.length]; }
  function baseLayout(extra) {
    var layout = {
      height: narrow ? 400 : 380,
      margin: { l: 56, r: 12, t: 8, b: 50 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1c2434" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff",
      legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0, font: { size: 11 } },  // above: clear of the axis title
      xaxis: { gridcolor: "#e8ecf3", zeroline: false }, yaxis: { gridcolor: "#e8ecf3", zeroline: false },
    };
    Object.keys(extra || {}).forEach(function (key) {
      layout[key] = (typeof extra[key] === "object" && layout[key]) ? Object.assign({}, layout[key], extra[key]) : extra[key];
    });
    return layout;
  }
  function draw(id, traces, layout) {
    var el = document.getElementById(id);
    if (el) { window.Plotly.react(el, traces, baseLayout(layout), CONFIG); }
  }
  function diagonal(from, to) {
    return { x: [from, to], y: [from, to], mode: "lines", name: "ideal", hoverinfo: "skip",
      line: { color: "#9aa3b5", dash: "dash", width: 1 }, showlegend: false };
  }
  function fmt(value, digits) { return value === null || value === undefined ? "–" : Number(value).toPrecision(digits || 4); }
  function current() { return select ? select.value : D.models[0]; }
  function perModel(name) { return D.per_model[name] || {}; }

  function comparison() {
    var rows = D.comparison.rows.slice().reverse();  // best at the top of a horizontal bar chart
    var names = rows.map(function (r) { return r.model; });
    var bars = {
      type: "bar", orientation: "h", y: names, x: rows.map(function (r) { return r.test; }), name: D.metric + " (test)",
      marker: { color: rows.map(function (r) { return r.model === D.comparison.best ? "#127a4a" : (r.tied_with_best ? "#7fc8a3" : "#c5cde0"); }) },
      text: rows.map(function (r) { return fmt(r.test) + (r.tied_with_best && r.model !== D.comparison.best ? " (tied)" : ""); }),
      textposition: "auto", hovertemplate: "%{y}: %{x}<extra>test</extra>",
    };
    var cv = {
      type: "scatter", mode: "markers", y: names, x: rows.map(function (r) { return r.cv_mean; }), name: "CV mean ± std",
      marker: { symbol: "diamond", size: 9, color: "#1c2434" },
      error_x: { type: "data", array: rows.map(function (r) { return r.cv_std || 0; }), visible: true, color: "#1c2434", thickness: 1.5 },
      hovertemplate: "%{y}: %{x} ± %{error_x.array}<extra>CV</extra>",
    };
    draw("plot-comparison", [bars, cv], {
      height: 100 + 34 * rows.length, margin: { l: 10, r: 12, t: 30, b: 50 },
      xaxis: { title: { text: D.metric }, gridcolor: "#e8ecf3" }, yaxis: { automargin: true },
      legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    });
  }

  function curves(id, key, xKey, yKey, xTitle, yTitle, extra) {
    var traces = [];
    D.models.forEach(function (name, i) {
      var curve = perModel(name)[key];
      if (!curve) { return; }
      var label = key === "roc" ? " (AUC " + fmt(curve.auc, 3) + ")" : " (AP " + fmt(curve.average_precision, 3) + ")";
      traces.push({ x: curve[xKey], y: curve[yKey], mode: "lines", name: name + label, visible: i < VISIBLE ? true : "legendonly",
        line: { color: color(name), width: 2, shape: key === "pr" ? "hv" : "linear", dash: name === "dummy" ? "dot" : "solid" } });
    });
    draw(id, traces.concat(extra), { xaxis: { title: { text: xTitle }, range: [0, 1] }, yaxis: { title: { text: yTitle }, range: [0, 1.02] } });
  }

  function calibration() {
    var traces = [diagonal(0, 1)];
    D.models.forEach(function (name, i) {
      var c = perModel(name).calibration;
      if (!c) { return; }
      traces.push({ x: c.predicted, y: c.observed, mode: "lines+markers", name: name, visible: i < VISIBLE ? true : "legendonly",
        line: { color: color(name) }, customdata: c.count, hovertemplate: "predicted %{x}<br>observed %{y}<br>%{customdata} rows<extra>" + name + "</extra>" });
    });
    draw("plot-calibration", traces, { xaxis: { title: { text: "mean predicted probability" }, range: [0, 1] }, yaxis: { title: { text: "observed frequency" }, range: [0, 1.02] } });
  }

  function cell(tag, text, cls) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (cls) { el.className = cls; }
    return el;
  }
  function renderMatrix(labels, matrix) {
    var table = document.getElementById("confusion-table");
    table.textContent = "";
    var head = table.createTHead().insertRow();
    head.appendChild(cell("th", "actual ↓ / predicted →"));
    labels.forEach(function (label) { head.appendChild(cell("th", String(label))); });
    var body = table.createTBody();
    var total = matrix.reduce(function (sum, row) { return sum + row.reduce(function (a, b) { return a + b; }, 0); }, 0);
    matrix.forEach(function (row, i) {
      var tr = body.insertRow();
      tr.appendChild(cell("th", String(labels[i])));
      row.forEach(function (count, j) {
        var td = cell("td", count.toLocaleString(), "num " + (i === j ? "cm-hit" : "cm-miss"));
        td.title = (100 * count / Math.max(1, total)).toFixed(1) + "% of the test rows";
        tr.appendChild(td);
      });
    });
  }
  function renderFacts(facts) {
    var list = document.getElementById("threshold-metrics");
    list.textContent = "";
    facts.forEach(function (fact) {
      var li = document.createElement("li");
      li.appendChild(cell("span", fact[0] + " ", "muted"));
      li.appendChild(cell("strong", fact[1]));
      list.appendChild(li);
    });
  }
  function confusion() {
    var figures = perModel(current());
    var slider = document.getElementById("threshold");
    if (!slider || !figures.thresholds) {
      renderMatrix(D.classes, figures.confusion || []);
      var hits = (figures.confusion || []).reduce(function (s, row, i) { return s + row[i]; }, 0);
      renderFacts([["accuracy", fmt(hits / Math.max(1, D.test_rows), 3)]]);
      return;
    }
    var t = figures.thresholds, i = Number(slider.value);
    document.getElementById("threshold-value").textContent = t.grid[i].toFixed(2);
    var tp = t.tp[i], fp = t.fp[i], fn = t.fn[i], tn = t.tn[i];
    renderMatrix(D.classes, [[tn, fp], [fn, tp]]);
    var precision = tp + fp ? tp / (tp + fp) : null, recall = tp + fn ? tp / (tp + fn) : null;
    var f1 = precision && recall ? 2 * precision * recall / (precision + recall) : 0;
    var best = figures.best_f1;
    renderFacts([["precision", fmt(precision, 3)], ["recall", fmt(recall, 3)], ["F1", fmt(f1, 3)],
      ["accuracy", fmt((tp + tn) / Math.max(1, tp + fp + fn + tn), 3)],
      ["F1-best threshold", best ? fmt(best.threshold, 3) + " (F1 " + fmt(best.f1, 3) + ")" : "–"]]);
  }

  function regression() {
    var name = current(), figures = perModel(name), actual = D.actual, predicted = figures.predicted;
    var low = Math.min.apply(null, actual.concat(predicted)), high = Math.max.apply(null, actual.concat(predicted));
    var dots = { size: 5, opacity: 0.55, color: color(name) };
    draw("plot-scatter", [diagonal(low, high), { x: actual, y: predicted, mode: "markers", type: "scatter", name: name, marker: dots,
      hovertemplate: "actual %{x}<br>predicted %{y}<extra></extra>" }],
      { xaxis: { title: { text: "actual" } }, yaxis: { title: { text: "predicted" } }, showlegend: false });
    var residuals = actual.map(function (a, i) { return a - predicted[i]; });
    draw("plot-residuals", [{ x: predicted, y: residuals, mode: "markers", type: "scatter", name: name, marker: dots,
      hovertemplate: "predicted %{x}<br>residual %{y}<extra></extra>" }],
      { xaxis: { title: { text: "predicted" } }, yaxis: { title: { text: "actual − predicted" }, zeroline: true, zerolinecolor: "#9aa3b5" }, showlegend: false });
    var ranges = figures.by_range || [];
    var labels = ranges.map(function (r) { return fmt(r.low, 3) + "–" + fmt(r.high, 3); });
    draw("plot-ranges", [
      { type: "bar", x: labels, y: ranges.map(function (r) { return r.mae; }), name: "MAE", marker: { color: color(name) },
        customdata: ranges.map(function (r) { return r.count; }), hovertemplate: "%{x}<br>MAE %{y}<br>%{customdata} rows<extra></extra>" },
      { type: "bar", x: labels, y: ranges.map(function (r) { return r.bias; }), name: "bias", marker: { color: "#e07b39" } },
    ], { barmode: "group", xaxis: { title: { text: "actual target range (deciles)" }, type: "category", automargin: true }, yaxis: { title: { text: "error" } } });
  }

  function importance() {
    var imp = D.importance;
    if (!imp) { return; }
    var count = Math.min(imp.features.length, 20), names = imp.features.slice(0, count).reverse();
    var dropped = {};
    (imp.dropped || []).forEach(function (name) { dropped[name] = true; });
    var pick = function (values) { return (values || []).slice(0, count).reverse(); };
    var gains = pick(imp.gain_share);
    var hasGain = gains.some(function (v) { return v !== null && v !== undefined; });
    var title = imp.metric ? (narrow ? imp.metric + " loss" : "worse " + imp.metric + " when shuffled") : "permutation";
    var traces = [{ type: "bar", orientation: "h", y: names, x: pick(imp.permutation), name: "permutation",
      error_x: { type: "data", array: pick(imp.permutation_std).map(function (v) { return v || 0; }), visible: true, color: "#1c2434", thickness: 1 },
      marker: { color: names.map(function (n) { return dropped[n] ? "#c5cde0" : "#3557d6"; }) },
      hovertemplate: "%{y}: %{x:.4g}<extra>permutation</extra>" }];
    var layout = { height: 110 + 24 * count, margin: { l: 10, r: 12, t: 12, b: 60 }, showlegend: false,
      xaxis: { title: { text: title }, zeroline: true, zerolinecolor: "#9aa3b5", nticks: narrow ? 4 : 8 }, yaxis: { automargin: true } };
    if (hasGain) {
      traces.push({ type: "bar", orientation: "h", y: names, x: gains, name: "gain share", xaxis: "x2", yaxis: "y2",
        marker: { color: "#2e9d6a" }, hovertemplate: "%{y}: %{x:.1%}<extra>gain share</extra>" });
      layout.grid = { rows: 1, columns: 2, pattern: "independent" };
      layout.xaxis.domain = narrow ? [0, 0.55] : [0, 0.6];
      layout.xaxis2 = { title: { text: narrow ? "gain" : "gain share" }, domain: narrow ? [0.6, 1] : [0.64, 1], tickformat: ".0%",
        gridcolor: "#e8ecf3", nticks: narrow ? 3 : 6 };
      layout.yaxis2 = { showticklabels: false, anchor: "x2", matches: "y" };
    }
    draw("plot-importance", traces, layout);
  }

  function weights() {
    var w = D.ensemble_weights;
    if (!w) { return; }
    var names = Object.keys(w).sort(function (a, b) { return w[a] - w[b]; });
    draw("plot-weights", [{ type: "bar", orientation: "h", y: names, x: names.map(function (n) { return w[n]; }),
      marker: { color: names.map(color) }, text: names.map(function (n) { return (100 * w[n]).toFixed(0) + "%"; }), textposition: "auto",
      hovertemplate: "%{y}: %{x:.1%}<extra></extra>" }],
      { height: 90 + 34 * names.length, xaxis: { title: { text: "weight" }, tickformat: ".0%", range: [0, 1] }, yaxis: { automargin: true }, showlegend: false });
  }

  function singleModel() {
    if (D.task === "regression") { regression(); } else { confusion(); }
  }

  comparison();
  if (D.task === "classification") {
    var binary = D.classes.length === 2;
    var prevalence = null;
    D.models.some(function (name) { var pr = perModel(name).pr; prevalence = pr ? pr.prevalence : null; return pr; });
    curves("plot-roc", "roc", "fpr", "tpr", "false positive rate", "true positive rate", [diagonal(0, 1)]);
    curves("plot-pr", "pr", "recall", "precision", "recall", "precision",
      prevalence === null ? [] : [{ x: [0, 1], y: [prevalence, prevalence], mode: "lines", name: "no skill", showlegend: false,
        hoverinfo: "skip", line: { color: "#9aa3b5", dash: "dot", width: 1 } }]);
    calibration();
    var slider = document.getElementById("threshold");
    if (binary && slider) {
      slider.addEventListener("input", confusion);
      document.getElementById("best-f1").addEventListener("click", function () {
        var best = perModel(current()).best_f1;
        if (best) { slider.value = String(Math.round(best.threshold * 100)); confusion(); }
      });
    }
  }
  importance();
  weights();
  singleModel();
  if (select) { select.addEventListener("change", singleModel); }
})();
