/* The goal: success criteria, how long success still counts, and what happens to who succeeds. */
import { comp, componentSelect } from "./catalog.js";
import { areaErrors, fieldError, fieldWords } from "./checks.js";
import { h, nextId } from "./dom.js";
import { commit, edited, snapshot } from "./history.js";
import { pickComponent } from "./menus.js";
import { panelHead } from "./panel.js";
import { problemBox } from "./preview.js";
import { buildForm } from "./settings.js";
import { ON_SUCCESS, S } from "./state.js";

export function goalPanel() {
  var sc = S.doc.success;
  var box = h("div", { class: "dz-panel-body", "data-panel": "goal" });
  box.appendChild(panelHead("Goal", "Success criteria"));
  box.appendChild(h("p", { class: "muted small" }, "When any of these happens to a participant, the flow has done its job for them. Reports count it as a success."));
  var errs = areaErrors("success");
  if (errs.length) box.appendChild(problemBox("To fix", errs.map(function (e) { return fieldWords(e.field) + ": " + e.message; })));
  sc.criteria.forEach(function (cr, i) {
    var here = "success.criteria[" + i + "]";
    var id = nextId("crit");
    var pick = componentSelect("success_criteria", cr.type, function (type) { if (type) commit(function () { sc.criteria[i] = { type: type, settings: {} }; }); }, { aria: "Success criterion" });
    pick.id = id;
    var row = h("div", { class: "dz-row dz-criterion", "data-criterion": String(i) },
      h("div", { class: "dz-row-head" }, h("b", null, "Criterion " + (i + 1)), S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove criterion " + (i + 1), onclick: function () { commit(function () { sc.criteria.splice(i, 1); }); } }, "Remove")),
      h("div", { class: "field" }, h("label", { "for": id }, "Success when"), pick));
    var c = comp("success_criteria", cr.type);
    if (c) {
      if (!cr.settings || typeof cr.settings !== "object") cr.settings = {};
      row.appendChild(buildForm(c.schema, cr.settings, { path: here + ".settings", stepId: null, kind: "success_criteria", comp: c, quietEmpty: true }));
    }
    box.appendChild(row);
  });
  if (!sc.criteria.length) box.appendChild(h("p", { class: "muted small" }, "No criteria yet: participants simply go through to the end."));
  if (!S.readOnly) box.appendChild(h("button", { type: "button", class: "small", "data-add-criterion": "", "aria-haspopup": "listbox", onclick: function (e) {
    pickComponent(e.currentTarget, "success_criteria", null, function (type) { commit(function () { sc.criteria.push({ type: type, settings: {} }); }); });
  } }, "+ Add criterion"));
  if (sc.criteria.length) {
    var daysId = nextId("days");
    var days = h("input", { id: daysId, type: "number", min: "0", max: "365", step: "1", value: String(sc.days_after || 0), "data-days-after": "", style: "width:6rem" });
    days.addEventListener("input", function () { snapshot("success.days_after"); sc.days_after = Math.max(0, parseInt(days.value, 10) || 0); edited(); });
    box.appendChild(h("div", { class: "field dz-field", "data-path": "success.days_after" },
      h("label", { "for": daysId }, "Success still counts for (days after the last step)"), days,
      h("div", { class: "help" }, "0: only while people are in the flow. A click on the last email comes after it: give it a few days."),
      h("div", { class: "dz-msg" }, fieldError("success.days_after"))));
  }
  var onId = nextId("on");
  var on = h("select", { id: onId, "data-on-success": "" });
  Object.keys(ON_SUCCESS).forEach(function (k) { on.appendChild(h("option", { value: k, text: ON_SUCCESS[k], selected: sc.on_success === k })); });
  on.addEventListener("change", function () { commit(function () { sc.on_success = on.value; if (on.value !== "move_to") sc.move_to_flow = null; }); });
  var sec = h("section", { class: "dz-section" }, h("h3", null, "When a participant succeeds"), h("div", { class: "field" }, h("label", { "for": onId }, "Then"), on));
  if (sc.on_success === "move_to") {
    var fId = nextId("flow");
    var fl = h("select", { id: fId, "data-move-to": "" }, h("option", { value: "", text: "Choose a flow…" }));
    ((S.catalog && S.catalog.flows) || []).forEach(function (f) {
      if (String(f.id) === String(S.boot.flow_id)) return;
      fl.appendChild(h("option", { value: String(f.id), text: f.name, selected: String(sc.move_to_flow) === String(f.id) }));
    });
    fl.addEventListener("change", function () { snapshot(null); sc.move_to_flow = fl.value || null; edited(); });
    sec.appendChild(h("div", { class: "field dz-field", "data-path": "success.move_to_flow" }, h("label", { "for": fId }, "Move them to"), fl, h("div", { class: "dz-msg" }, fieldError("success.move_to_flow"))));
  }
  box.appendChild(sec);
  return box;
}
