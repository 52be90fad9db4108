/* The flow's own settings: name, description, re-enrolment, exclusion selection, send window and time zone. */
import { fieldError } from "./checks.js";
import { h, nextId } from "./dom.js";
import { commit, edited, snapshot } from "./history.js";
import { panelHead } from "./panel.js";
import { choiceSelect } from "./settings.js";
import { DAYS, REENROL, S, els } from "./state.js";

export function settingsPanel() {
  var d = S.doc;
  var box = h("div", { class: "dz-panel-body", "data-panel": "settings" });
  box.appendChild(panelHead("Flow settings", d.name || "Untitled flow"));
  function row(labelText, control, help, path) {
    return h("div", { class: "field dz-field", "data-path": path || "" }, h("label", { "for": control.id }, labelText), control, help ? h("div", { class: "help" }, help) : null, h("div", { class: "dz-msg" }, path ? fieldError(path) : ""));
  }
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
  var sec = h("section", { class: "dz-section" }, h("h3", null, "When messages may go out"));
  var on = h("input", { type: "checkbox", id: nextId("sw"), checked: !!d.send_window, "data-send-window": "" });
  on.addEventListener("change", function () { commit(function () { d.send_window = on.checked ? { days: [0, 1, 2, 3, 4], start: "08:00", end: "17:00" } : null; }); });
  sec.appendChild(h("div", { class: "field" }, h("label", { "for": on.id, class: "dz-check" }, on, " Only send emails and SMS within set hours"), h("div", { class: "help" }, "Outside them, participants wait at the message until the window opens, in the flow's time zone.")));
  if (d.send_window) {
    var w = d.send_window;
    var days = h("div", { class: "dz-days", role: "group", "aria-label": "Days" });
    DAYS.forEach(function (dn, i) {
      var cb = h("input", { type: "checkbox", id: nextId("day"), checked: (w.days || []).indexOf(i) >= 0 });
      cb.addEventListener("change", function () {
        snapshot(null);
        var set = (w.days || []).filter(function (x) { return x !== i; });
        if (cb.checked) set.push(i);
        w.days = set.sort();
        edited();
      });
      days.appendChild(h("label", { "for": cb.id, class: "dz-day" }, cb, " " + dn));
    });
    sec.appendChild(h("div", { class: "field dz-field", "data-path": "send_window.days" }, h("label", null, "Days"), days, h("div", { class: "dz-msg" }, fieldError("send_window.days"))));
    var start = h("input", { type: "time", id: nextId("st"), value: w.start || "08:00" });
    var end = h("input", { type: "time", id: nextId("en"), value: w.end || "17:00" });
    start.addEventListener("input", function () { snapshot("sw.start"); w.start = start.value; edited(); });
    end.addEventListener("input", function () { snapshot("sw.end"); w.end = end.value; edited(); });
    sec.appendChild(h("div", { class: "inline dz-times" }, row("From", start, null, "send_window.start"), row("Until", end, null, "send_window.end")));
  }
  var tzList = nextId("tzl");
  var tz = h("input", { type: "text", id: nextId("tz"), value: d.timezone || "", placeholder: "UTC", list: tzList, "data-timezone": "" });
  var dl = h("datalist", { id: tzList });
  try { (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []).forEach(function (z) { dl.appendChild(h("option", { value: z })); }); } catch (e) { /* an older browser */ }
  tz.addEventListener("input", function () { snapshot("tz"); if (tz.value) d.timezone = tz.value; else delete d.timezone; edited(); });
  sec.appendChild(row("Time zone", tz, "For the send window and for waits until a time of day, e.g. Europe/Oslo", "timezone"));
  sec.appendChild(dl);
  box.appendChild(sec);
  return box;
}
