/* What a marketer does to steps in the chart: add, move, delete, duplicate, shift, select. */
import { renderCanvas } from "./canvas.js";
import { label, stepComp } from "./catalog.js";
import { contains, findStep, laneOf, newStepId, reId, stepTitle } from "./doc.js";
import { clone } from "./dom.js";
import { announce, commit } from "./history.js";
import { renderPanel } from "./panel.js";
import { S, els, setSelection } from "./state.js";
import { flash } from "./toolbar.js";

function makeStep(type) {
  var st = { id: newStepId(type), type: type, name: "", settings: {} };
  var c = stepComp(type);
  if (c && c.branching) {
    st.branches = [{ name: "Branch 1", condition: null, steps: [] }];
    st.everyone_else = [];
  }
  return st;
}
export function insertStep(type, laneKey, index) {
  var st = null;
  commit(function () {
    var lane = laneOf(laneKey);
    if (!lane) return;
    st = makeStep(type);
    lane.splice(Math.min(index, lane.length), 0, st);
    setSelection({ kind: "step", id: st.id });
  });
  if (st) { announce("Added " + label("step_types", type)); focusNode(st.id); }
  return st;
}
export function moveStep(id, laneKey, index) {
  var info = findStep(id);
  var target = laneOf(laneKey);
  if (!info || !target) return;
  if (laneKey !== "root" && (laneKey.split(":")[0] === id || contains(info.step, laneKey.replace(/:(b\d+|else)$/, "")))) {
    flash("error", "A split cannot be moved into its own branches.");
    return;
  }
  if (info.lane === target && (index === info.index || index === info.index + 1)) return;
  commit(function () {
    var lane = laneOf(info.laneKey);
    var from = lane.indexOf(info.step);
    lane.splice(from, 1);
    var dest = laneOf(laneKey);
    if (dest === lane && from < index) index -= 1;
    dest.splice(Math.min(index, dest.length), 0, info.step);
    setSelection({ kind: "step", id: id });
  });
  focusNode(id);
}
export function deleteStep(id) {
  var info = findStep(id);
  if (!info) return;
  var name = stepTitle(info);
  var next = info.lane[info.index + 1] || info.lane[info.index - 1];
  commit(function () {
    laneOf(info.laneKey).splice(info.index, 1);
    if (S.sel && S.sel.kind === "step" && (S.sel.id === id || !findStep(S.sel.id))) setSelection(null);
  });
  flash("ok", "Deleted " + name + ". Ctrl+Z brings it back.");
  if (next) focusNode(next.id);
  else focusKey("slot:" + info.laneKey + ":0");
}
export function duplicateStep(id) {
  var info = findStep(id);
  if (!info) return;
  var copy = clone(info.step);
  commit(function () {
    reId(copy);
    laneOf(info.laneKey).splice(info.index + 1, 0, copy);
    setSelection({ kind: "step", id: copy.id });
  });
  announce("Duplicated " + stepTitle(info));
  focusNode(copy.id);
}
export function shiftStep(id, delta) {
  var info = findStep(id);
  if (!info) return;
  var to = info.index + delta;
  if (to < 0 || to >= info.lane.length) return;
  commit(function () {
    var lane = laneOf(info.laneKey);
    lane.splice(info.index, 1);
    lane.splice(to, 0, info.step);
  });
  announce("Moved " + (delta < 0 ? "up" : "down"));
  focusNode(id);
}
export function focusKey(key) {
  var el = document.querySelector('[data-focus-key="' + key.replace(/"/g, '\\"') + '"]');
  if (el) el.focus();
}
export function focusNode(id) { focusKey("step:" + id); }
export function select(sel, focusPanel) {
  setSelection(sel);
  renderCanvas();
  renderPanel();
  if (focusPanel) {
    var first = els.panel.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])");
    if (first) first.focus();
  }
}
