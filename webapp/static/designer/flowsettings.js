/* The flow's own settings: name, description, re-enrolment and exclusion selection (then sendwindow.js). */
import { fieldError } from "./checks.js";
import { h, nextId } from "./dom.js";
import { edited, snapshot } from "./history.js";
import { panelHead } from "./panel.js";
import { choiceSelect } from "./settings.js";
import { sendWindowSection } from "./sendwindow.js";
import { REENROL, S, els } from "./state.js";

/* A labelled input of the flow's own settings, with the save's message for its path. */
export function row(labelText, control, help, path) {
  return h("div", { class: "field dz-field", "data-path": path || "" }, h("label", { "for": control.id }, labelText), control, help ? h("div", { class: "help" }, help) : null, h("div", { class: "dz-msg" }, path ? fieldError(path) : ""));
}

export function settingsPanel() {
  var d = S.doc;
  var box = h("div", { class: "dz-panel-body", "data-panel": "settings" });
  box.appendChild(panelHead("Flow settings", d.name || "Untitled flow"));
  var name = h("input", { type: "text", id: nextId("fname"), value: d.name || "", placeholder: "e.g. Welcome series", "data-flow-name": "", maxlength: "200" });
  name.addEventListener("input", function () { snapshot("name"); d.name = name.value; var t = els.panel.querySelector("#dz-panel-title"); if (t) t.textContent = d.name || "Untitled flow"; edited(); });
  box.appendChild(row("Name", name, "What the flow is called in lists and reports", "name"));
  var desc = h("textarea", { id: nextId("fdesc"), rows: "2", class: "dz-prose", placeholder: "What this flow is for, in a sentence" });
  desc.value = d.description || "";
  desc.addEventListener("input", function () { snapshot("description"); if (desc.value) d.description = desc.value; else delete d.description; edited(); });
  box.appendChild(row("Description", desc, null, "description"));
  var re = h("select", { id: nextId("re"), "data-reenrollment": "" });
  Object.keys(REENROL).forEach(function (k) { re.appendChild(h("option", { value: k, text: REENROL[k], selected: (d.reenrollment || "once") === k })); });
  re.addEventListener("change", function () { snapshot(null); d.reenrollment = re.value; edited(); });
  box.appendChild(row("A person may enter", re, "Whether the same person can go through the flow more than once", "reenrollment"));
  var exId = nextId("ex");
  var ex = choiceSelect("selections", { type: ["string", "null"] }, exId, d.exclusion_selection, function (v) { snapshot(null); d.exclusion_selection = v || null; edited(); }, false, "Nobody: no exclusion selection");
  ex.focusTarget.setAttribute("data-exclusion", "");
  box.appendChild(h("div", { class: "field dz-field", "data-path": "exclusion_selection" }, h("label", { "for": exId }, "Never enrol members of"), ex.el,
    h("div", { class: "help" }, "An exclusion selection, e.g. employees or persons who asked not to be contacted"), h("div", { class: "dz-msg" }, fieldError("exclusion_selection"))));
  box.appendChild(sendWindowSection(d));
  return box;
}
