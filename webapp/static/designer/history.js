/* Undo and redo: snapshots of the document, coalesced while one field is typed in, and the redraw after a change. */
import { renderCanvas } from "./canvas.js";
import { scheduleCheck } from "./checks.js";
import { findStep, normalize } from "./doc.js";
import { renderPanel } from "./panel.js";
import { schedulePreview } from "./preview.js";
import { COALESCE_MS, HISTORY, S, els, markEdited, markUnsaved, setSelection } from "./state.js";
import { renderHead } from "./toolbar.js";

export function snapshot(key) {
  var now = Date.now();
  if (key && key === S.lastKey && now - S.lastTime < COALESCE_MS) { S.lastTime = now; return; }
  S.past.push(JSON.stringify(S.doc));
  if (S.past.length > HISTORY) S.past.shift();
  S.future = [];
  S.lastKey = key || null;
  S.lastTime = now;
}
/* A structural change: snapshot, change, draw everything again. */
export function commit(fn, opts) {
  if (S.readOnly) return;
  snapshot(null);
  fn();
  changed(opts || {});
}
function changed(opts) {
  markEdited();
  renderCanvas();
  if (opts.panel !== false) renderPanel();
  renderHead();
  scheduleCheck();
}
/* A field edit: the panel stays, the canvas and checks follow. */
export function edited(key) {
  markUnsaved();
  renderCanvas();
  renderHead();
  scheduleCheck();
  schedulePreview();
}
export function undo() {
  if (!S.past.length || S.readOnly) return;
  S.future.push(JSON.stringify(S.doc));
  S.doc = normalize(JSON.parse(S.past.pop()));
  S.lastKey = null;
  restored("Undone");
}
export function redo() {
  if (!S.future.length || S.readOnly) return;
  S.past.push(JSON.stringify(S.doc));
  S.doc = normalize(JSON.parse(S.future.pop()));
  S.lastKey = null;
  restored("Redone");
}
function restored(what) {
  if (S.sel && S.sel.kind === "step" && !findStep(S.sel.id)) setSelection(null);
  markUnsaved();
  renderCanvas();
  renderPanel();
  renderHead();
  announce(what);
  scheduleCheck();
}
export function announce(text) { if (els.live) { els.live.textContent = ""; setTimeout(function () { els.live.textContent = text; }, 30); } }
