/* superflow admin: live figures and small SVG charts. No framework, no build step. */
(function () {
  "use strict";
  var POLL_MS = 2500;

  function number(n) {
    return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  }
  function percent(rate) {
    return rate === null || rate === undefined ? "–" : Math.round(rate * 100) + "%";
  }
  function dig(data, path) {
    return path.split(".").reduce(function (v, k) { return v === null || v === undefined ? undefined : v[k]; }, data);
  }
  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  var SVG = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* A line chart of one or more day-by-day series. */
  function lineChart(box, report) {
    var W = 560, H = 220, L = 40, R = 12, T = 12, B = 28;
    var daily = report.daily || [];
    var isPercent = box.dataset.percent === "1";
    var colors = (box.dataset.colors || "#2f5bea").split(",");
    var series;
    if (box.dataset.line === "success_series") {
      series = [report.success_series || []];
    } else {
      series = (box.dataset.series || "").split(",").map(function (name) {
        return daily.map(function (d) { return d.counters[name] || 0; });
      });
    }
    var max = 0;
    series.forEach(function (s) { s.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    if (isPercent) max = max > 0.6 ? 1 : Math.max(0.2, Math.ceil(max * 5) / 5);
    else max = Math.max(4, Math.ceil(max * 1.15));
    box.textContent = "";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "xMidYMid meet" }, box);
    var n = Math.max(daily.length - 1, 1);
    function x(i) { return L + (W - L - R) * i / n; }
    function y(v) { return T + (H - T - B) * (1 - v / max); }
    for (var g = 0; g <= 4; g++) {
      var v = max * g / 4;
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e3e7ee", "stroke-width": 1 }, svg);
      var label = el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#7a8596" }, svg);
      label.textContent = isPercent ? Math.round(v * 100) + "%" : number(v);
    }
    [0, Math.floor(n / 2), n].forEach(function (i) {
      if (!daily[i]) return;
      var t = el("text", { x: x(i), y: H - 8, "text-anchor": i === 0 ? "start" : i === n ? "end" : "middle", "font-size": 11, fill: "#7a8596" }, svg);
      t.textContent = daily[i].day.slice(5);
    });
    series.forEach(function (s, si) {
      var d = "", pen = false;
      s.forEach(function (v, i) {
        if (v === null || v === undefined) { pen = false; return; }
        d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
        pen = true;
      });
      if (d) el("path", { d: d, fill: "none", stroke: colors[si % colors.length], "stroke-width": 2.2, "stroke-linejoin": "round" }, svg);
      var last = s.length - 1;
      if (last >= 0 && s[last] !== null) el("circle", { cx: x(last), cy: y(s[last]), r: 3.2, fill: colors[si % colors.length] }, svg);
    });
  }

  function drawCharts(report) {
    document.querySelectorAll("[data-line]").forEach(function (box) { lineChart(box, report); });
    document.querySelectorAll(".bars[data-max-path]").forEach(function (group) {
      var max = dig(report, group.dataset.maxPath) || 0;
      group.querySelectorAll("[data-value-path]").forEach(function (row) {
        var value = dig(report, row.dataset.valuePath) || 0;
        var top = Math.max(max, value);
        row.querySelector(".fill").style.width = (top ? 100 * value / top : 0) + "%";
        row.querySelector(".num").textContent = number(value);
      });
    });
  }

  function applyLive(report) {
    var stats = report.stats || {};
    document.querySelectorAll("[data-stat]").forEach(function (node) {
      var key = node.dataset.stat;
      var text = key === "success_rate" ? percent(report.success_rate) : number(stats[key]);
      if (node.textContent !== text) node.textContent = text;
    });
    document.querySelectorAll("[data-step]").forEach(function (node) {
      node.classList.toggle("here", (stats["at:" + node.dataset.step] || 0) > 0);
    });
    var badge = document.querySelector("[data-live=status]");
    if (badge && report.status) {
      badge.textContent = capitalize(report.status);
      badge.className = "badge badge-" + report.status;
    }
    drawCharts(report);
  }

  function poll(url) {
    if (document.hidden) { setTimeout(function () { poll(url); }, POLL_MS); return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (report) { if (report) applyLive(report); })
      .catch(function () { /* the next round tries again */ })
      .then(function () { setTimeout(function () { poll(url); }, POLL_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("report-data");
    if (data) drawCharts(JSON.parse(data.textContent));
    document.querySelectorAll("[data-step]").forEach(function (node) {
      var count = node.querySelector("[data-stat^='at:']");
      if (count && count.textContent.trim() !== "0") node.classList.add("here");
    });
    var live = document.querySelector("[data-live-url]");
    if (live && live.dataset.liveUrl) setTimeout(function () { poll(live.dataset.liveUrl); }, POLL_MS);
  });
})();
