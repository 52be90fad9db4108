/* The designer's one store: the boot document, the catalogue, the flow being edited and what the screen shows. */

export var CHECK_MS = 600, COUNT_MS = 500, PREVIEW_MS = 700, COALESCE_MS = 1200, HISTORY = 200;
export var DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
export var REENROL = { once: "Only once, ever", after_end: "Again, after they have left the flow", restart: "Start over, even while in the flow" };
export var ON_SUCCESS = { stop: "Stop: they leave the flow", "continue": "Continue: they go on with the steps", move_to: "Move them to another flow" };

/* Modules read the store freely; the few changes many modules care about go through
   the functions below, so the places that write them are easy to find. */
export var S = {
  boot: null, catalog: null, doc: null, past: [], future: [], lastKey: null, lastTime: 0,
  sel: null, check: { errors: [], problems: [], warnings: [], unknown_merge_tags: [] },
  saveErrors: [], dirty: false, readOnly: false, person: null, choices: {}, choiceLabels: {}, flash: null, startProblems: null,
  checkSeq: 0, countSeq: 0,
};
/* The page's lasting elements (head, canvas, panel, …), made once by main.js. */
export var els = {};

export function isReadOnly() { return S.readOnly; }

/* The server's answer to a check, whole: a part of an older answer never lingers. */
export function setCheck(data) {
  S.check = {
    errors: data.errors || [], problems: data.problems || [], warnings: data.warnings || [],
    unknown_merge_tags: data.unknown_merge_tags || [],
  };
}

export function setCatalog(catalog) { S.catalog = catalog; }

/* What the panel shows: {kind: "step", id} (with `branch` for a split's branch),
   {kind: "trigger" | "filters" | "goal" | "settings"}, or null for the overview. */
export function setSelection(sel) { S.sel = sel; }

/* The document changed since the last save: what the last save refused is old news. */
export function markEdited() { S.dirty = true; S.saveErrors = []; }
export function markUnsaved() { S.dirty = true; }

/* Saved: nothing unsaved, nothing refused, and the save's own problems and warnings. */
export function markSaved(problems, warnings) {
  S.dirty = false;
  S.saveErrors = [];
  S.check.problems = problems || S.check.problems;
  S.check.warnings = warnings || S.check.warnings;
}
export function setSaveErrors(errors) { S.saveErrors = errors || []; }
/* A field the marketer has just changed no longer shows what the last save said of it. */
export function forgetSaveError(path) { S.saveErrors = S.saveErrors.filter(function (e) { return e.field !== path; }); }

/* Why the last start was refused (null: it was not); the checks show the same problems. */
export function setStartProblems(problems) {
  S.startProblems = problems;
  if (problems) S.check.problems = problems;
}
