// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Charts: <div class="chart" data-figure="id-of-json-script">
  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("div.chart[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      var layout = Object.assign({ margin: { t: 30, r: 10, b: 40, l: 50 }, autosize: true }, fig.layout || {});
      window.Plotly.newPlot(el, fig.data || [], layout, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud", "editInChartStudio", "lasso2d", "select2d"] });
    });
  }
  // Compare: enable the button once two runs are ticked.
  function wireCompare() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var button = form.querySelector("button[type=submit]");
    function update() {
      var n = form.querySelectorAll("input[name=ids]:checked").length;
      button.disabled = n < 2;
      button.textContent = n < 2 ? "Compare (tick 2 or more)" : "Compare " + n + " runs";
    }
    form.addEventListener("change", update);
    update();
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(); wireCompare(); });
})();
