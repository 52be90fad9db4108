/* The flow document being edited: normalised on load, its steps walked depth first, ids made and lanes found. */
import { label } from "./catalog.js";
import { S } from "./state.js";

export function normalize(doc) {
  doc = doc || {};
  if (doc.format_version === undefined) doc.format_version = 1;
  if (typeof doc.name !== "string") doc.name = "";
  if (doc.trigger === undefined) doc.trigger = null;
  if (!doc.filters || typeof doc.filters !== "object") doc.filters = { op: "and", conditions: [] };
  if (!Array.isArray(doc.filters.conditions)) doc.filters.conditions = [];
  if (!Array.isArray(doc.steps)) doc.steps = [];
  if (!doc.success || typeof doc.success !== "object") doc.success = { criteria: [], on_success: "stop", move_to_flow: null };
  if (!Array.isArray(doc.success.criteria)) doc.success.criteria = [];
  if (!doc.success.on_success) doc.success.on_success = "stop";
  return doc;
}

/* Every step, depth first, with where it lives: {step, lane, laneKey, index, path, number, parent, branch}. */
export function walk(cb) {
  var n = 0;
  function lane(arr, key, path, parent, branch) {
    arr.forEach(function (st, i) {
      n += 1;
      var p = path + "[" + i + "]";
      var info = { step: st, lane: arr, laneKey: key, index: i, path: p, number: n, parent: parent, branch: branch };
      if (cb(info) === false) return;
      if (Array.isArray(st.branches)) {
        st.branches.forEach(function (b, bi) {
          if (!Array.isArray(b.steps)) b.steps = [];
          lane(b.steps, st.id + ":b" + bi, p + ".branches[" + bi + "].steps", st, b.name || "Branch " + (bi + 1));
        });
        if (!Array.isArray(st.everyone_else)) st.everyone_else = [];
        lane(st.everyone_else, st.id + ":else", p + ".everyone_else", st, "Everyone else");
      }
    });
  }
  lane(S.doc.steps, "root", "steps", null, null);
}
export function allSteps() { var out = []; walk(function (i) { out.push(i); }); return out; }
export function findStep(id) { var found = null; walk(function (i) { if (i.step.id === id) found = i; }); return found; }
export function laneOf(key) {
  if (key === "root") return S.doc.steps;
  var m = /^(.*):(b(\d+)|else)$/.exec(key);
  if (!m) return null;
  var info = findStep(m[1]);
  if (!info) return null;
  if (m[2] === "else") return info.step.everyone_else;
  var b = info.step.branches[Number(m[3])];
  return b ? b.steps : null;
}
export function stepName(st) { return st.name || label("step_types", st.type); }
export function stepTitle(info) { return "Step " + info.number + " '" + stepName(info.step) + "'"; }
export function newStepId(type) {
  var prefix = String(type).replace(/^(send|create|add|remove)_/, "").replace(/_/g, "-").slice(0, 30);
  var used = {};
  walk(function (i) { used[i.step.id] = true; });
  var n = allSteps().length + 1;
  while (used[prefix + "-" + n]) n += 1;
  return prefix + "-" + n;
}
export function reId(st) {
  st.id = newStepId(st.type);
  (st.branches || []).forEach(function (b) { (b.steps || []).forEach(reIdDeep); });
  (st.everyone_else || []).forEach(reIdDeep);
}
function reIdDeep(st) { reId(st); }
export function contains(st, id) {
  var found = false;
  (st.branches || []).forEach(function (b) { (b.steps || []).forEach(function (x) { if (x.id === id || contains(x, id)) found = true; }); });
  (st.everyone_else || []).forEach(function (x) { if (x.id === id || contains(x, id)) found = true; });
  return found;
}
