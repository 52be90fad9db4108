/* The server's live checks (errors, problems, warnings, unknown merge tags) and which step or field each belongs to. */
import { api, url } from "./api.js";
import { renderCanvas } from "./canvas.js";
import { comp } from "./catalog.js";
import { findStep } from "./doc.js";
import { debounce, humanize } from "./dom.js";
import { renderChecks } from "./panel.js";
import { refreshPanelMessages } from "./settings.js";
import { CHECK_MS, S, setCheck } from "./state.js";
import { renderHead } from "./toolbar.js";

function uniq(list) { return list.filter(function (x, i) { return list.indexOf(x) === i; }); }
/* What blocks saving (errors) and what blocks the start (problems), for one step. */
export function errorsFor(id) {
  var out = [];
  var info = id ? findStep(id) : null;
  if (info) {
    var prefix = info.path + ".";
    S.saveErrors.concat(S.check.errors).forEach(function (e) {
      var f = e.field || "";
      var rest = f.slice(prefix.length);
      if (f.indexOf(prefix) === 0 && rest.indexOf("branches[") !== 0 && rest.indexOf("everyone_else[") !== 0) out.push(fieldWords(f) + ": " + e.message);
      else if (f === info.path) out.push(e.message);
    });
  }
  return uniq(out);
}
export function startProblemsFor(id) {
  return uniq(S.check.problems.filter(function (p) { return p.step_id === id; }).map(function (p) { return p.message; }));
}
export function problemsFor(id) { return uniq(errorsFor(id).concat(startProblemsFor(id))); }
/* "Step 1 'Send email': From address is required" → the message of the setting
   it names (the server names settings by their labels). */
export function problemOfField(stepId, name, title) {
  var found = "";
  startProblemsFor(stepId).forEach(function (m) {
    var rest = m.replace(/^Step \d+ '.*?'(?: branch \d+)?: /, "");
    var key = rest.split(/[\s:]/)[0];
    var named = title && rest.indexOf(title) === 0 && /^($|[\s:,])/.test(rest.slice(title.length));
    if (!found && (named || key === name)) found = named ? rest : title + rest.slice(key.length);
  });
  return found;
}
export function warningsFor(id) { return S.check.warnings.filter(function (w) { return w.step_id === id; }).map(function (w) { return w.message; }); }
export function areaErrors(prefix) {
  return S.check.errors.concat(S.saveErrors).filter(function (e) { return (e.field || "").indexOf(prefix) === 0; });
}
export function fieldError(path) {
  var all = S.saveErrors.concat(S.check.errors);
  for (var i = 0; i < all.length; i++) if (all[i].field === path) return all[i].message;
  return "";
}
/* A document path ("steps[0].settings.html") as the marketer's name of the
   setting: the label the part's schema declares ("Body"), else the name in words. */
export function fieldWords(path) {
  path = String(path);
  var last = path.split(".").pop().replace(/\[\d+\]$/, "");
  var cut = path.lastIndexOf(".settings.");
  if (cut >= 0) {
    var owner = S.doc, ok = true;
    path.slice(0, cut).replace(/([A-Za-z_]+)|\[(\d+)\]/g, function (all, key, index) {
      if (!ok || !owner) { ok = false; return all; }
      owner = key !== undefined ? owner[key] : owner[Number(index)];
      return all;
    });
    var name = path.slice(cut + ".settings.".length).split(/[.[]/)[0];
    var kind = /^trigger$/.test(path.slice(0, cut)) ? "triggers" : /^success\.criteria/.test(path) ? "success_criteria"
      : /(^filters|\.condition$)/.test(path.slice(0, cut)) ? "filters" : "step_types";
    var c = ok && owner && owner.type ? comp(kind, owner.type) : null;
    var prop = c && c.schema && c.schema.properties ? c.schema.properties[name] : null;
    if (prop && prop.title) return prop.title;
    if (name) return humanize(name);
  }
  return humanize(last);
}
export function unknownTags(stepId, field) {
  return S.check.unknown_merge_tags.filter(function (u) {
    if ((u.step_id || null) !== (stepId || null)) return false;
    var f = u.field || "";
    return !f || f === field || f.slice(-field.length - 1) === "." + field;
  }).map(function (u) { return u.tag; });
}
export var scheduleCheck = debounce(runCheck, CHECK_MS);
export function runCheck() {
  var seq = ++S.checkSeq;
  api("POST", url("check"), { flow_id: S.boot.flow_id, doc: S.doc }).then(function (r) {
    if (seq !== S.checkSeq || !r.ok) return;
    setCheck(r.data);
    renderCanvas();
    renderChecks();
    refreshPanelMessages();
    renderHead();
  });
}
