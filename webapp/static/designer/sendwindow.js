/* When a flow's messages may go out: the send window's days and hours, and the flow's time zone. */
import { fieldError } from "./checks.js";
import { h, nextId } from "./dom.js";
import { row } from "./flowsettings.js";
import { commit, edited, snapshot } from "./history.js";
import { DAYS } from "./state.js";

/* The flow settings' section for `d` (the flow document); off, there is no window. */
export function sendWindowSection(d) {
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
  return sec;
}
