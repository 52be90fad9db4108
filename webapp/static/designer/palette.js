/* The palette of step types beside the chart: search, drag onto a +, or Enter to add. */
import { comps, grouped } from "./catalog.js";
import { findStep } from "./doc.js";
import { accent, h } from "./dom.js";
import { S, els } from "./state.js";
import { insertStep } from "./steps.js";

export function renderPalette() {
  var pal = els.palette;
  pal.textContent = "";
  pal.appendChild(h("h2", { class: "dz-side-title" }, "Steps"));
  var search = h("input", { type: "search", placeholder: "Find a step", "aria-label": "Find a step type", class: "dz-pal-search" });
  pal.appendChild(search);
  var list = h("div", { class: "dz-pal-groups" });
  pal.appendChild(list);
  function draw() {
    var q = search.value.trim().toLowerCase();
    list.textContent = "";
    grouped(comps("step_types")).forEach(function (g) {
      var items = g.items.filter(function (c) { return !q || (c.label + " " + c.description + " " + c.category).toLowerCase().indexOf(q) >= 0; });
      if (!items.length) return;
      var ul = h("ul", { class: "dz-pal-list", "aria-label": g.name });
      items.forEach(function (c) { ul.appendChild(h("li", null, paletteItem(c))); });
      list.appendChild(h("section", { class: "dz-pal-group" }, h("h3", null, g.name), ul));
    });
    if (!list.childNodes.length) list.appendChild(h("p", { class: "muted small" }, "No step type matches “" + search.value + "”."));
  }
  search.addEventListener("input", draw);
  draw();
  pal.appendChild(h("p", { class: "help dz-pal-help" }, "Drag a step onto a + in the flow, or focus it and press Enter to add it after the selected step."));
}
function paletteItem(c) {
  var item = h("div", {
    class: "dz-pal-item dz-accent-" + accent(c.category), tabindex: "0", role: "button", draggable: !S.readOnly, "data-type": c.name,
    title: c.description || c.label, "aria-label": "Add step: " + c.label + (c.description ? ". " + c.description : ""), "aria-disabled": S.readOnly ? "true" : null,
  }, h("span", { class: "dz-dot", "aria-hidden": "true" }), h("span", { class: "dz-pal-label" }, c.label), c.plugin && !/^superflow\./.test(c.plugin) ? h("span", { class: "badge dz-plugin", title: "From the plugin " + c.plugin }, "plugin") : null);
  item.addEventListener("dragstart", function (e) {
    S.dragging = "new:" + c.name;
    e.dataTransfer.setData("text/plain", S.dragging);
    e.dataTransfer.effectAllowed = "copy";
    document.body.classList.add("dz-dragging");
  });
  item.addEventListener("dragend", function () { S.dragging = null; document.body.classList.remove("dz-dragging"); });
  function addHere() {
    if (S.readOnly) return;
    var info = S.sel && S.sel.kind === "step" ? findStep(S.sel.id) : null;
    if (info) insertStep(c.name, info.laneKey, info.index + 1);
    else insertStep(c.name, "root", S.doc.steps.length);
  }
  item.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); addHere(); } });
  item.addEventListener("dblclick", addHere);
  return item;
}
