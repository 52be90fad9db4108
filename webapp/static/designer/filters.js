/* Who may enter: the filters' groups of conditions and the live count of persons who match. */
import { api, url } from "./api.js";
import { renderCanvas } from "./canvas.js";
import { areaErrors, fieldWords } from "./checks.js";
import { add, debounce, h, number } from "./dom.js";
import { commit } from "./history.js";
import { pickComponent } from "./menus.js";
import { conditionEditor, panelHead } from "./panel.js";
import { problemBox } from "./preview.js";
import { COUNT_MS, S } from "./state.js";

var scheduleCount = debounce(runCount, COUNT_MS);
function runCount() {
  var out = document.querySelector("[data-live-count]");
  var seq = ++S.countSeq;
  if (out) out.classList.add("dz-loading");
  api("POST", url("count"), { filters: S.doc.filters }).then(function (r) {
    if (seq !== S.countSeq) return;
    out = document.querySelector("[data-live-count]");
    if (!r.ok) {
      S.lastCount = null;
      if (out) { out.classList.remove("dz-loading"); out.textContent = "The count is not available: " + ((r.data.errors || [])[0] || { message: "finish the conditions" }).message; }
      return;
    }
    S.lastCount = r.data;
    if (out) {
      out.classList.remove("dz-loading");
      out.textContent = "";
      add(out, [h("b", null, (r.data.exact === false ? "About " : "") + number(r.data.count)), " of " + number(r.data.total) + " persons in the CRM match now"]);
      var bar = h("div", { class: "dz-count-bar" }, h("span", { style: "width:" + (r.data.total ? Math.round(100 * r.data.count / r.data.total) : 0) + "%" }));
      out.appendChild(bar);
    }
    renderCanvas();
  });
}
function groupEditor(group, path, depth, onRemove) {
  var box = h("div", { class: "dz-group dz-depth-" + depth, role: "group", "aria-label": depth ? "Group of conditions" : "Conditions" });
  var ops = h("div", { class: "segmented dz-ops", role: "radiogroup", "aria-label": "How the conditions combine" });
  [["and", "All must match (AND)"], ["or", "Any may match (OR)"]].forEach(function (o) {
    var on = (group.op || "and") === o[0];
    ops.appendChild(h("button", { type: "button", role: "radio", "aria-checked": on ? "true" : "false", class: on ? "current" : "", "data-op": o[0], onclick: function () {
      if ((group.op || "and") === o[0]) return;
      commit(function () { group.op = o[0]; });
      scheduleCount();
    } }, o[1]));
  });
  box.appendChild(h("div", { class: "dz-group-head" }, ops, onRemove && !S.readOnly ? h("button", { type: "button", class: "small danger", onclick: onRemove }, "Remove group") : null));
  if (!group.conditions.length) box.appendChild(h("p", { class: "muted small" }, depth ? "An empty group matches everyone." : "No conditions: everyone the trigger suggests may enter."));
  group.conditions.forEach(function (cond, i) {
    var here = path + ".conditions[" + i + "]";
    var remove = function () { commit(function () { group.conditions.splice(i, 1); }); scheduleCount(); };
    if (i > 0) box.appendChild(h("div", { class: "op dz-joiner" }, (group.op || "and") === "or" ? "or" : "and"));
    if (cond && Array.isArray(cond.conditions)) { box.appendChild(groupEditor(cond, here, depth + 1, remove)); return; }
    var row = h("div", { class: "dz-row dz-condition", "data-condition": here },
      h("div", { class: "dz-row-head" }, h("b", null, "Condition " + (i + 1)), S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove condition " + (i + 1), onclick: remove }, "Remove")),
      conditionEditor(cond, here, { stepId: null, onEdit: function () { scheduleCount(); } }, function (type) {
        if (!type) return;
        commit(function () { group.conditions[i] = { type: type, settings: {} }; });
        scheduleCount();
      }, function (c) { return !c.needs_participant; }));
    box.appendChild(row);
  });
  if (!S.readOnly) {
    box.appendChild(h("div", { class: "inline dz-group-add" },
      h("button", { type: "button", class: "small", "data-add-condition": "", "aria-haspopup": "listbox", onclick: function (e) {
        pickComponent(e.currentTarget, "filters", function (c) { return !c.needs_participant; }, function (type) {
          commit(function () { group.conditions.push({ type: type, settings: {} }); });
          scheduleCount();
        });
      } }, "+ Add condition"),
      depth < 3 ? h("button", { type: "button", class: "small", "aria-haspopup": "listbox", onclick: function (e) {
        pickComponent(e.currentTarget, "filters", function (c) { return !c.needs_participant; }, function (type) {
          commit(function () { group.conditions.push({ op: group.op === "or" ? "and" : "or", conditions: [{ type: type, settings: {} }] }); });
          scheduleCount();
        });
      } }, "+ Add group") : null));
  }
  return box;
}
export function filtersPanel() {
  var box = h("div", { class: "dz-panel-body", "data-panel": "filters" });
  box.appendChild(panelHead("Filters", "Who may enter"));
  box.appendChild(h("p", { class: "muted small" }, "Only persons who match these conditions when the trigger suggests them enter the flow."));
  var live = h("div", { class: "dz-live-count", "aria-live": "polite", "data-live-count": "" }, "Counting…");
  box.appendChild(live);
  var errs = areaErrors("filters");
  if (errs.length) box.appendChild(problemBox("To fix", errs.map(function (e) { return fieldWords(e.field) + ": " + e.message; })));
  box.appendChild(groupEditor(S.doc.filters, "filters", 0, null));
  setTimeout(runCount, 0);
  return box;
}
