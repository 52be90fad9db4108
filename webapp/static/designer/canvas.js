/* The flow chart: trigger, filters, the steps in their lanes and branches, the end and the goal. */
import { choices } from "./api.js";
import { comp, comps, label, stepComp, tagWords } from "./catalog.js";
import { areaErrors, problemsFor, warningsFor } from "./checks.js";
import { findStep, stepName, stepTitle, walk } from "./doc.js";
import { accent, h, humanize, icon, number, plural, truncate } from "./dom.js";
import { openSlotMenu } from "./menus.js";
import { choiceSource, propertyOrder } from "./settings.js";
import { S, els } from "./state.js";
import { deleteStep, duplicateStep, focusKey, insertStep, moveStep, select, shiftStep } from "./steps.js";
import { summaryFor } from "./widgets.js";

/* A message step reads as its first text that takes merge tags (an email's subject, an SMS's text). */
function firstText(schema) {
  var props = (schema && schema.properties) || {};
  return propertyOrder(schema).filter(function (k) { return props[k] && props[k]["x-merge-tags"]; })[0] || null;
}
function titleOf(schema, name) { return schema.properties[name].title || humanize(name); }
function describeSettings(kind, type, settings) {
  var c = comp(kind, type);
  settings = settings || {};
  if (!c) return type ? "Not installed: " + type : "";
  var headline = c.sends ? firstText(c.schema) : null;
  if (headline) return settings[headline] ? "“" + truncate(tagWords(settings[headline]), 60) + "”" : "No " + titleOf(c.schema, headline).toLowerCase() + " yet";
  var own = summaryFor(kind, type);
  var words = own ? own(settings) : "";
  if (words) return words;
  var props = (c.schema && c.schema.properties) || {};
  var parts = [];
  Object.keys(props).forEach(function (k) {
    var v = settings[k];
    var p = props[k];
    if ((v === undefined || v === null) && choiceSource(p) && p["default"] !== undefined && p["default"] !== null) v = p["default"];
    if (v === undefined || v === null || v === "" || typeof v === "object" || parts.length >= 2) return;
    var shown = p["x-enum-labels"] && p["x-enum-labels"][v] ? p["x-enum-labels"][v] : v === true ? "yes" : v === false ? "no" : String(v);
    if (p["x-widget"] === "flow_step" && kind !== "triggers") {
      var target = findStep(String(v));
      if (target) shown = stepTitle(target);
    }
    var src = choiceSource(p);
    if (src && S.choiceLabels[src] && S.choiceLabels[src][String(v)]) shown = S.choiceLabels[src][String(v)];
    parts.push((p.title || humanize(k)) + ": " + truncate(tagWords(shown), 40));
  });
  return parts.join(" · ");
}
/* The CRM names of the things the flow's settings point at ("Newsletter", not "2"),
   fetched once when the designer opens so the nodes read well from the start. */
export function preloadChoiceLabels() {
  var types = {}, sources = {};
  (function walk(v) {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (!v || typeof v !== "object") return;
    if (typeof v.type === "string") types[v.type] = true;
    Object.keys(v).forEach(function (k) { walk(v[k]); });
  })(S.doc);
  ["triggers", "filters", "step_types", "success_criteria"].forEach(function (kind) {
    comps(kind).forEach(function (c) {
      if (!types[c.name]) return;
      var props = (c.schema && c.schema.properties) || {};
      Object.keys(props).forEach(function (k) { var src = choiceSource(props[k]); if (src) sources[src] = true; });
    });
  });
  Promise.all(Object.keys(sources).map(function (src) {
    return choices(src).then(function (list) { if (list) rememberChoices(src, list); });
  })).then(function () { renderCanvas(); });
}
export function rememberChoices(source, list) {
  var m = S.choiceLabels[source] || (S.choiceLabels[source] = {});
  (list || []).forEach(function (c) { m[String(c.value)] = c.label; });
}

export function renderCanvas() {
  if (!els.canvas || !S.catalog) return;
  var active = document.activeElement;
  var key = active && els.canvas.contains(active) ? active.getAttribute("data-focus-key") : null;
  var scrollTop = els.canvas.scrollTop, scrollLeft = els.canvas.scrollLeft;
  var chart = h("div", { class: "dz-chart" });
  chart.appendChild(triggerNode());
  chart.appendChild(h("div", { class: "edge" }));
  chart.appendChild(filtersNode());
  renderLane(chart, S.doc.steps, "root", null);
  if (!S.doc.steps.length && !S.readOnly) {
    chart.appendChild(h("div", { class: "dz-hint" },
      h("b", { text: "Add the first step" }),
      h("span", { text: "Drag a step from the palette onto the + above, or focus the + and press Enter." })));
  }
  chart.appendChild(h("div", { class: "edge" }));
  chart.appendChild(h("div", { class: "node end" }, "End"));
  chart.appendChild(goalNode());
  els.canvas.textContent = "";
  els.canvas.appendChild(chart);
  els.canvas.scrollTop = scrollTop;
  els.canvas.scrollLeft = scrollLeft;
  if (key) focusKey(key);
}


function problemBadge(n, what) {
  if (!n) return null;
  return h("span", { class: "dz-count", title: plural(n, "problem", "problems") + " to fix before the flow can start", "aria-hidden": "true" }, String(n));
}
function clickable(el, onOpen) {
  el.addEventListener("click", function (e) { if (e.target.closest("button, a")) return; onOpen(false); });
  el.addEventListener("keydown", function (e) {
    if (e.target !== el) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onOpen(true); }
  });
  return el;
}
function triggerNode() {
  var t = S.doc.trigger;
  var errs = areaErrors("trigger").length + S.check.problems.filter(function (p) {
    if (p.step_id || !/^trigger/i.test(p.message)) return false;
    return !(t && t.type) || p.message.indexOf("Trigger '" + label("triggers", t.type) + "'") === 0;
  }).length;
  var selected = S.sel && S.sel.kind === "trigger";
  var title = t && t.type ? label("triggers", t.type) : "Choose a trigger";
  var words = t && t.type ? describeSettings("triggers", t.type, t.settings) : "When should a person be suggested for this flow?";
  var node = h("div", {
    class: "node trigger dz-node" + (selected ? " dz-selected" : "") + (t && t.type ? "" : " dz-missing"), tabindex: "0", role: "button",
    "data-focus-key": "trigger", "data-node": "trigger", "aria-label": "Trigger: " + title + (errs ? ", " + plural(errs, "problem", "problems") : "") + ". Press Enter to edit.",
  }, h("div", { class: "kind" }, "Trigger"), h("div", { class: "title" }, title), words ? h("div", { class: "words" }, words) : null, problemBadge(errs));
  return clickable(node, function (kb) { select({ kind: "trigger" }, kb); });
}
function countConditions(group) {
  var n = 0;
  (group.conditions || []).forEach(function (c) { n += c && c.conditions ? countConditions(c) : 1; });
  return n;
}
function filtersNode() {
  var n = countConditions(S.doc.filters);
  var errs = areaErrors("filters").length;
  var selected = S.sel && S.sel.kind === "filters";
  var words = n ? plural(n, "condition", "conditions") + " · " + (S.doc.filters.op === "or" ? "any may match" : "all must match") : "Everyone the trigger suggests";
  if (S.lastCount && n) words += " · " + number(S.lastCount.count) + " match now";
  var node = h("div", {
    class: "node dz-node dz-filters" + (selected ? " dz-selected" : ""), tabindex: "0", role: "button", "data-focus-key": "filters", "data-node": "filters",
    "aria-label": "Who may enter: " + words + ". Press Enter to edit.",
  }, h("div", { class: "kind" }, "Who may enter"), h("div", { class: "title" }, n ? "Filtered" : "No filters"), h("div", { class: "words" }, words), problemBadge(errs));
  return clickable(node, function (kb) { select({ kind: "filters" }, kb); });
}
function goalNode() {
  var crit = S.doc.success.criteria;
  var selected = S.sel && S.sel.kind === "goal";
  var errs = areaErrors("success").length;
  var words = crit.length ? crit.map(function (c) { return label("success_criteria", c.type); }).join(" or ") : "No goal: the flow runs to its end";
  var then = crit.length ? { stop: "then they leave", "continue": "then they go on", move_to: "then they move to another flow" }[S.doc.success.on_success] || "" : "";
  var node = h("div", {
    class: "node dz-node dz-goal" + (selected ? " dz-selected" : ""), tabindex: "0", role: "button", "data-focus-key": "goal", "data-node": "goal",
    "aria-label": "Goal: " + words + ". Press Enter to edit.",
  }, h("div", { class: "kind" }, "Goal · success criteria"), h("div", { class: "title" }, words), then ? h("div", { class: "words" }, then) : null, problemBadge(errs));
  return clickable(node, function (kb) { select({ kind: "goal" }, kb); });
}

function slot(laneKey, index, after) {
  var text = after ? "Add a step after " + after : laneKey === "root" ? "Add a step at the start of the flow" : "Add a step at the start of " + laneLabel(laneKey);
  var wrap = h("div", { class: "dz-slot", "data-lane": laneKey, "data-index": String(index) });
  if (S.readOnly) { wrap.appendChild(h("div", { class: "edge" })); return wrap; }
  var btn = h("button", { type: "button", class: "dz-plus", "aria-label": text, title: text, "data-focus-key": "slot:" + laneKey + ":" + index, "aria-haspopup": "listbox" }, "+");
  btn.addEventListener("click", function () { openSlotMenu(btn, laneKey, index); });
  wrap.appendChild(btn);
  wrap.addEventListener("dragover", function (e) { e.preventDefault(); e.dataTransfer.dropEffect = S.dragging && S.dragging.indexOf("step:") === 0 ? "move" : "copy"; wrap.classList.add("dz-over"); });
  wrap.addEventListener("dragleave", function () { wrap.classList.remove("dz-over"); });
  wrap.addEventListener("drop", function (e) {
    e.preventDefault();
    wrap.classList.remove("dz-over");
    var data = e.dataTransfer.getData("text/plain") || S.dragging || "";
    S.dragging = null;
    document.body.classList.remove("dz-dragging");
    if (data.indexOf("new:") === 0) insertStep(data.slice(4), laneKey, index);
    else if (data.indexOf("step:") === 0) moveStep(data.slice(5), laneKey, index);
  });
  return wrap;
}
function laneLabel(laneKey) {
  var m = /^(.*):(b(\d+)|else)$/.exec(laneKey);
  if (!m) return "the flow";
  if (m[2] === "else") return "branch 'Everyone else'";
  var info = findStep(m[1]);
  var b = info && info.step.branches[Number(m[3])];
  return "branch '" + ((b && b.name) || "Branch " + (Number(m[3]) + 1)) + "'";
}

function renderLane(container, steps, laneKey) {
  container.appendChild(slot(laneKey, 0, null));
  var infos = {};
  walk(function (i) { infos[i.step.id] = i; });
  steps.forEach(function (st, i) {
    var info = infos[st.id] || { step: st, number: "?", path: "", index: i, laneKey: laneKey, lane: steps };
    container.appendChild(stepNode(info));
    var c = stepComp(st.type);
    if ((c && c.branching) || Array.isArray(st.branches)) container.appendChild(branchesOf(info));
    container.appendChild(slot(laneKey, i + 1, stepTitle(info)));
  });
}
function stepNode(info) {
  var st = info.step;
  var c = stepComp(st.type);
  var probs = problemsFor(st.id);
  var warns = warningsFor(st.id);
  var selected = S.sel && S.sel.kind === "step" && S.sel.id === st.id;
  var title = stepTitle(info);
  var words = describeSettings("step_types", st.type, st.settings);
  var node = h("div", {
    class: "node dz-node dz-step dz-accent-" + accent(c ? c.category : "") + (selected ? " dz-selected" : "") + (probs.length ? " dz-bad" : "") + (c ? "" : " dz-unknown"),
    tabindex: "0", "data-step-id": st.id, "data-focus-key": "step:" + st.id, draggable: !S.readOnly, role: "group", "aria-roledescription": "step",
    "aria-label": title + ", " + label("step_types", st.type) + (words ? ": " + words : "") + (probs.length ? ". " + plural(probs.length, "problem", "problems") : "") + (S.readOnly ? "" : ". Enter: settings, Delete: remove, Ctrl+D: duplicate, Alt+Arrow: move"),
  },
    h("div", { class: "kind" }, "Step " + info.number + " · " + label("step_types", st.type)),
    h("div", { class: "title" }, stepName(st)),
    words && words !== stepName(st) ? h("div", { class: "words" }, words) : null,
    warns.length && !probs.length ? h("span", { class: "dz-warn-dot", title: warns.join("\n"), "aria-hidden": "true" }, "!") : null,
    probs.length ? h("span", { class: "dz-count", title: probs.join("\n"), "aria-hidden": "true", "data-problems": String(probs.length) }, String(probs.length)) : null);
  if (!S.readOnly) {
    node.appendChild(h("div", { class: "dz-node-actions" },
      h("button", { type: "button", class: "dz-icon", title: "Duplicate (Ctrl+D)", "aria-label": "Duplicate " + title, "data-duplicate": "", onclick: function () { duplicateStep(st.id); } }, icon("copy")),
      h("button", { type: "button", class: "dz-icon dz-icon-bad", title: "Delete (Delete key)", "aria-label": "Delete " + title, "data-delete": "", onclick: function () { deleteStep(st.id); } }, icon("trash"))));
    node.addEventListener("dragstart", function (e) {
      if (e.target !== node) return;
      S.dragging = "step:" + st.id;
      e.dataTransfer.setData("text/plain", S.dragging);
      e.dataTransfer.effectAllowed = "move";
      document.body.classList.add("dz-dragging");
    });
    node.addEventListener("dragend", function () { S.dragging = null; document.body.classList.remove("dz-dragging"); });
  }
  node.addEventListener("click", function (e) { if (e.target.closest("button")) return; select({ kind: "step", id: st.id }); });
  node.addEventListener("keydown", function (e) {
    if (e.target !== node) return;
    var ctrl = e.ctrlKey || e.metaKey;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select({ kind: "step", id: st.id }, true); }
    else if (S.readOnly) return;
    else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deleteStep(st.id); }
    else if (ctrl && (e.key === "d" || e.key === "D")) { e.preventDefault(); duplicateStep(st.id); }
    else if (e.altKey && e.key === "ArrowUp") { e.preventDefault(); shiftStep(st.id, -1); }
    else if (e.altKey && e.key === "ArrowDown") { e.preventDefault(); shiftStep(st.id, 1); }
  });
  return node;
}
function branchesOf(info) {
  var st = info.step;
  var box = h("div", { class: "dz-branches" });
  (st.branches || []).forEach(function (b, bi) {
    var cond = b.condition && b.condition.type ? label("filters", b.condition.type) + (describeSettings("filters", b.condition.type, b.condition.settings) ? ": " + describeSettings("filters", b.condition.type, b.condition.settings) : "") : "No condition yet";
    var lane = h("div", { class: "dz-branch" },
      h("button", { type: "button", class: "branch-label dz-branch-label" + (b.condition ? "" : " dz-missing"), "data-focus-key": "branch:" + st.id + ":" + bi, title: "Edit this branch's condition",
        onclick: function () { select({ kind: "step", id: st.id, branch: bi }); } },
        b.name || "Branch " + (bi + 1)),
      h("div", { class: "dz-cond small muted" }, cond));
    renderLane(lane, b.steps, st.id + ":b" + bi);
    box.appendChild(lane);
  });
  var rest = h("div", { class: "dz-branch dz-else" },
    h("span", { class: "branch-label" }, "Everyone else"),
    h("div", { class: "dz-cond small muted" }, "Whoever matches no branch"));
  renderLane(rest, st.everyone_else || [], st.id + ":else");
  box.appendChild(rest);
  return box;
}
