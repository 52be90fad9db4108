/* The settings panel beside the chart: the selected step, the trigger, or the overview of checks. */
import { comp, componentSelect, label, stepComp } from "./catalog.js";
import { areaErrors, errorsFor, fieldError, fieldWords, startProblemsFor, warningsFor } from "./checks.js";
import { findStep, stepName, stepTitle, walk } from "./doc.js";
import { h, icon, nextId, plural } from "./dom.js";
import { filtersPanel } from "./filters.js";
import { settingsPanel } from "./flowsettings.js";
import { goalPanel } from "./goal.js";
import { commit, edited, snapshot } from "./history.js";
import { closePop } from "./menus.js";
import { forgetPreview, previewSection, problemBox, sendTestSection } from "./preview.js";
import { buildForm } from "./settings.js";
import { S, els, setSelection } from "./state.js";
import { deleteStep, duplicateStep, focusNode, select } from "./steps.js";
import { renderHead } from "./toolbar.js";
import { channelFor } from "./widgets.js";

export function renderPanel() {
  if (!els.panel || !S.catalog) return;
  var scroll = window.scrollY;
  forgetPreview();
  closePop(false);
  els.panel.textContent = "";
  var sel = S.sel;
  var wide = false;
  var body;
  if (sel && sel.kind === "step") {
    var info = findStep(sel.id);
    if (!info) { setSelection(null); return renderPanel(); }
    var c = stepComp(info.step.type);
    wide = !!(c && c.sends);
    body = stepPanel(info, c);
  } else if (sel && sel.kind === "trigger") body = triggerPanel();
  else if (sel && sel.kind === "filters") body = filtersPanel();
  else if (sel && sel.kind === "goal") body = goalPanel();
  else if (sel && sel.kind === "settings") body = settingsPanel();
  else body = overviewPanel();
  els.body.classList.toggle("dz-wide", wide);
  els.panel.appendChild(body);
  if (S.readOnly) {
    els.panel.querySelectorAll("input, select, textarea, button").forEach(function (el) {
      if (!el.closest("[data-keep-enabled], .dz-panel-head")) el.disabled = true;
    });
  }
  if (sel && sel.kind === "step" && sel.branch !== undefined) {
    var b = els.panel.querySelector('[data-branch="' + sel.branch + '"]');
    if (b) { b.scrollIntoView({ block: "nearest" }); var inp = b.querySelector("input"); if (inp) inp.focus(); }
  }
  window.scrollTo(window.scrollX, scroll);
  renderHead();
}
export function panelHead(kind, title, extra) {
  return h("div", { class: "dz-panel-head" },
    h("div", null, h("div", { class: "dz-kind" }, kind), h("h2", { id: "dz-panel-title" }, title)),
    h("div", { class: "dz-panel-actions" }, extra || null,
      h("button", { type: "button", class: "dz-icon dz-close", title: "Close (back to the checks)", "aria-label": "Close the panel", onclick: function () { var k = S.sel; select(null); if (k && k.kind === "step") focusNode(k.id); } }, icon("close"))));
}
export function fillProblems(box, stepId) {
  box.textContent = "";
  var errs = errorsFor(stepId), probs = startProblemsFor(stepId), warns = warningsFor(stepId);
  if (errs.length) box.appendChild(h("div", { class: "flash flash-error dz-errors" }, h("b", null, "Fix before saving"), h("ul", null, errs.map(function (t) { return h("li", null, t); }))));
  if (probs.length) box.appendChild(problemBox("Before this flow can start", probs));
  if (warns.length) box.appendChild(h("div", { class: "dz-warnings" }, h("b", null, "Worth a look"), h("ul", null, warns.map(function (w) { return h("li", null, w); }))));
}
function stepPanel(info, c) {
  var st = info.step;
  if (!st.settings || typeof st.settings !== "object") st.settings = {};
  var box = h("div", { class: "dz-panel-body", "data-panel": "step", "data-step": st.id });
  box.appendChild(panelHead("Step " + info.number + " · " + label("step_types", st.type), stepName(st),
    S.readOnly ? null : [
      h("button", { type: "button", class: "small", onclick: function () { duplicateStep(st.id); } }, "Duplicate"),
      h("button", { type: "button", class: "small danger", onclick: function () { deleteStep(st.id); } }, "Delete")]));
  if (c && c.description) box.appendChild(h("p", { class: "muted small dz-desc" }, c.description));
  var probs = h("div", { "data-step-problems": "" });
  fillProblems(probs, st.id);
  box.appendChild(probs);
  var nameId = nextId("name");
  var name = h("input", { type: "text", id: nameId, value: st.name || "", placeholder: c ? c.label : st.type, maxlength: "120", "data-step-name": "" });
  name.addEventListener("input", function () {
    snapshot(info.path + ".name");
    st.name = name.value;
    var t = els.panel.querySelector("#dz-panel-title");
    if (t) t.textContent = stepName(st);
    edited();
  });
  box.appendChild(h("div", { class: "field" }, h("label", { "for": nameId }, "Step name"), name, h("div", { class: "help" }, "What colleagues see in the chart and reports")));
  if (!c) {
    box.appendChild(problemBox("This step type is not installed", ["The flow uses '" + st.type + "', which no installed plugin provides. Install the plugin or delete the step."]));
    return box;
  }
  var ctx = { path: info.path + ".settings", stepId: st.id, kind: "step_types", comp: c };
  var props = (c.schema && c.schema.properties) || {};
  if (c.sends) {
    /* A step that sends: its message, the preview, then (for a channel that keeps them
       apart) sender and delivery, and a test send. */
    var content = channelFor(c.sends).deliveryApart ? (c.content || []).filter(function (k) { return props[k]; }) : null;
    /* A setting with a section of its own (x-section, e.g. "When someone clicks a link") gets it after the rest. */
    var apart = Object.keys(props).filter(function (k) { return props[k]["x-section"]; });
    box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Message"), buildForm(c.schema, st.settings, content ? Object.assign({}, ctx, { only: content }) : Object.assign({}, ctx, { skip: apart }))));
    box.appendChild(previewSection(st, c));
    if (content) box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Sender and delivery"), buildForm(c.schema, st.settings, Object.assign({}, ctx, { skip: content.concat(apart) }))));
    apart.forEach(function (k) {
      box.appendChild(h("section", { class: "dz-section", "data-section": k }, h("h3", null, props[k]["x-section"]), buildForm(c.schema, st.settings, Object.assign({}, ctx, { only: [k] }))));
    });
    box.appendChild(sendTestSection(st));
  } else if (c.branching) {
    box.appendChild(buildForm(c.schema, st.settings, Object.assign({}, ctx, { quietEmpty: true })));
    box.appendChild(branchesEditor(info));
  } else {
    box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Settings"), buildForm(c.schema, st.settings, ctx)));
  }
  return box;
}
export function conditionEditor(cond, path, ctx, onType, filterOk) {
  var box = h("div", { class: "dz-cond-edit" });
  var pick = componentSelect("filters", cond ? cond.type : "", onType, { aria: "Condition", placeholder: "Choose a condition…", filter: filterOk });
  box.appendChild(h("div", { class: "field" }, h("label", null, "Condition"), pick));
  if (cond && cond.type) {
    var c = comp("filters", cond.type);
    if (!cond.settings || typeof cond.settings !== "object") cond.settings = {};
    if (c) box.appendChild(buildForm(c.schema, cond.settings, Object.assign({}, ctx, { path: path + ".settings", kind: "filters", comp: c, quietEmpty: true })));
  }
  var id = nextId("cond");
  pick.id = id;
  box.querySelector("label").setAttribute("for", id);
  return box;
}
function branchesEditor(info) {
  var st = info.step;
  var sec = h("section", { class: "dz-section" }, h("h3", null, "Branches"),
    h("p", { class: "help" }, "Each person goes down the first branch whose condition they match, left to right. Whoever matches none goes to “Everyone else”, drawn on the right."));
  st.branches.forEach(function (b, bi) {
    var nameId = nextId("bname");
    var name = h("input", { type: "text", id: nameId, value: b.name || "", placeholder: "Branch " + (bi + 1) });
    name.addEventListener("input", function () { snapshot(info.path + ".branches[" + bi + "].name"); b.name = name.value; edited(); });
    var row = h("div", { class: "dz-row dz-branch-edit", "data-branch": String(bi) },
      h("div", { class: "dz-row-head" }, h("b", null, "Branch " + (bi + 1)),
        S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove branch " + (bi + 1), onclick: function () {
          commit(function () { st.branches.splice(bi, 1); });
        } }, "Remove")),
      h("div", { class: "field" }, h("label", { "for": nameId }, "Branch name"), name),
      conditionEditor(b.condition, info.path + ".branches[" + bi + "].condition", { stepId: st.id }, function (type) {
        commit(function () { b.condition = type ? { type: type, settings: {} } : null; });
      }, function () { return true; }),
      h("div", { class: "dz-msg" }, fieldError(info.path + ".branches[" + bi + "].condition")));
    sec.appendChild(row);
  });
  if (!S.readOnly) sec.appendChild(h("button", { type: "button", class: "small", "data-add-branch": "", onclick: function () {
    commit(function () { st.branches.push({ name: "Branch " + (st.branches.length + 1), condition: null, steps: [] }); });
  } }, "+ Add branch"));
  sec.appendChild(h("div", { class: "dz-row dz-else-note" }, h("b", null, "Everyone else"), h("span", { class: "muted small" }, " — always there; add steps to it in the chart.")));
  return sec;
}

/* What the trigger still needs, kept in step with the trigger as it is now: a
   chosen trigger never shows the "choose what starts the flow" of an older check. */
export function fillTriggerProblems(box) {
  var t = S.doc.trigger;
  var probs = areaErrors("trigger").map(function (e) { return fieldWords(e.field) + ": " + e.message; })
    .concat(S.check.problems.filter(function (p) {
      if (p.step_id || !/^trigger/i.test(p.message)) return false;
      if (t && t.type) return p.message.indexOf("Trigger '" + label("triggers", t.type) + "'") === 0;
      return true;
    }).map(function (p) { return p.message; }));
  box.textContent = "";
  if (probs.length) box.appendChild(problemBox("Before this flow can start", probs));
}
function triggerPanel() {
  var t = S.doc.trigger;
  var box = h("div", { class: "dz-panel-body", "data-panel": "trigger" });
  box.appendChild(panelHead("Trigger", "When people enter"));
  box.appendChild(h("p", { class: "muted small" }, "The trigger suggests a person for the flow; the filters then decide whether they may enter."));
  var probBox = h("div", { "data-trigger-problems": "" });
  fillTriggerProblems(probBox);
  box.appendChild(probBox);
  var id = nextId("trig");
  var pick = componentSelect("triggers", t ? t.type : "", function (type) {
    commit(function () { S.doc.trigger = type ? { type: type, settings: {} } : null; });
  }, { aria: "Trigger", placeholder: "Choose a trigger…" });
  pick.id = id;
  pick.setAttribute("data-trigger-type", "");
  box.appendChild(h("div", { class: "field" }, h("label", { "for": id }, "Trigger"), pick));
  if (t && t.type) {
    var c = comp("triggers", t.type);
    if (c) {
      if (c.description) box.appendChild(h("p", { class: "help dz-desc" }, c.description));
      if (!t.settings || typeof t.settings !== "object") t.settings = {};
      box.appendChild(buildForm(c.schema, t.settings, { path: "trigger.settings", stepId: null, kind: "triggers", comp: c, quietEmpty: true }));
    }
  }
  return box;
}

function overviewPanel() {
  var box = h("div", { class: "dz-panel-body", "data-panel": "overview" });
  box.appendChild(h("div", { class: "dz-panel-head" }, h("div", null, h("div", { class: "dz-kind" }, "Overview"), h("h2", { id: "dz-panel-title" }, "Checks"))));
  var list = h("div", { "data-checks": "" });
  fillChecks(list);
  box.appendChild(list);
  box.appendChild(h("section", { class: "dz-section dz-keys" }, h("h3", null, "Keyboard"),
    h("dl", { class: "facts small" },
      h("dt", null, "+ then Enter"), h("dd", null, "Add a step there: type to filter, arrows, Enter"),
      h("dt", null, "Enter"), h("dd", null, "Open the focused step's settings"),
      h("dt", null, "Delete"), h("dd", null, "Remove the focused step"),
      h("dt", null, "Ctrl+D"), h("dd", null, "Duplicate the focused step"),
      h("dt", null, "Alt+↑ / Alt+↓"), h("dd", null, "Move the step up or down"),
      h("dt", null, "Ctrl+Z / Ctrl+Shift+Z"), h("dd", null, "Undo / redo"),
      h("dt", null, "Ctrl+S"), h("dd", null, "Save"))));
  return box;
}
export function renderChecks() {
  var list = els.panel && els.panel.querySelector("[data-checks]");
  if (list) fillChecks(list);
}
function fillChecks(list) {
  list.textContent = "";
  var items = [];
  var steps = {};
  walk(function (i) { steps[i.step.id] = i; });
  S.check.problems.forEach(function (p) { items.push({ level: "bad", text: p.message, step: p.step_id }); });
  S.check.errors.forEach(function (e) {
    var m = /^(steps(?:\[\d+\](?:\.branches\[\d+\]\.steps|\.everyone_else)?)*\[\d+\])/.exec(e.field || "");
    var id = null;
    if (m) walk(function (i) { if (i.path === m[1]) id = i.step.id; });
    items.push({ level: "bad", text: (id ? stepTitle(steps[id]) + ": " : "") + fieldWords(e.field) + ": " + e.message, step: id, field: e.field });
  });
  S.check.warnings.forEach(function (w) { items.push({ level: "warn", text: w.message, step: w.step_id }); });
  S.check.unknown_merge_tags.forEach(function (u) { items.push({ level: "warn", text: (u.step_id && steps[u.step_id] ? stepTitle(steps[u.step_id]) + ", " : "") + fieldWords(u.field || "") + ": unknown merge tag {{ " + u.tag + " }}", step: u.step_id }); });
  if (!items.length) {
    list.appendChild(h("div", { class: "flash flash-ok dz-ready" }, S.doc.steps.length ? "No problems found: the flow can start." : "Start by choosing a trigger, then add steps from the palette."));
    return;
  }
  var bad = items.filter(function (i) { return i.level === "bad"; }).length;
  list.appendChild(h("p", { class: "small muted" }, bad ? plural(bad, "thing", "things") + " to fix before the flow can start. Saving works anytime." : "Nothing blocks the start; a few things are worth a look."));
  var ul = h("ul", { class: "dz-checklist" });
  items.forEach(function (it) {
    var li = h("li", { class: "dz-" + it.level }, h("span", { class: "dz-sign", "aria-hidden": "true" }, it.level === "bad" ? "!" : "i"));
    if (it.step && steps[it.step]) li.appendChild(h("button", { type: "button", class: "link", onclick: function () { select({ kind: "step", id: it.step }, true); } }, it.text));
    else li.appendChild(h("span", null, it.text));
    ul.appendChild(li);
  });
  list.appendChild(ul);
}
