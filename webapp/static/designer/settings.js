/* The settings forms, drawn from each part's JSON Schema: one field per property, its input chosen by type or widget. */
import { choices } from "./api.js";
import { attachmentsEditor } from "./attachments.js";
import { rememberChoices, renderCanvas } from "./canvas.js";
import { stepComp } from "./catalog.js";
import { fieldError, problemOfField } from "./checks.js";
import { allSteps, findStep, stepTitle } from "./doc.js";
import { h, humanize, nextId, nullable, plural, typeOf } from "./dom.js";
import { commit, edited, snapshot } from "./history.js";
import { mergeInput, mergeTagButton, textArea } from "./mergefields.js";
import { fillProblems, fillTriggerProblems } from "./panel.js";
import { S, els, forgetSaveError } from "./state.js";
import { widgetFor } from "./widgets.js";

export function choiceSource(prop) {
  if (!prop) return null;
  return prop["x-choices"] || null;
}
function showIfOk(cond, obj, props) {
  if (!cond) return true;
  return Object.keys(cond).every(function (k) {
    var v = obj[k];
    if (v === undefined && props[k]) v = props[k]["default"];
    var want = cond[k];
    return Array.isArray(want) ? want.indexOf(v) >= 0 : want === v;
  });
}
/* The schema's own order when it gives one (x-order); else the required settings first. */
export function propertyOrder(schema) {
  var props = Object.keys((schema && schema.properties) || {});
  if (schema && Array.isArray(schema["x-order"])) return schema["x-order"].concat(props.filter(function (k) { return schema["x-order"].indexOf(k) < 0; }));
  var req = (schema && schema.required) || [];
  return props.filter(function (k) { return req.indexOf(k) >= 0; }).concat(props.filter(function (k) { return req.indexOf(k) < 0; }));
}
function localProblem(prop, v, required, title) {
  var t = typeOf(prop);
  var empty = v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length);
  if (empty) return required ? title + " is required" : "";
  if (t === "string" && typeof v === "string") {
    if (prop.minLength && v.length < prop.minLength) return title + " needs at least " + plural(prop.minLength, "character", "characters");
    if (prop.maxLength && v.length > prop.maxLength) return title + " can have at most " + prop.maxLength + " characters (now " + v.length + ")";
    if (prop.format === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) return title + " is not a valid email address";
    if (prop.pattern && !prop["x-merge-tags"]) {
      try { if (!new RegExp(prop.pattern).test(v)) return title + " does not have the expected form"; } catch (e) { /* a pattern JS cannot read */ }
    }
  }
  if ((t === "integer" || t === "number") && typeof v === "number") {
    if (t === "integer" && Math.floor(v) !== v) return title + " must be a whole number";
    if (prop.minimum !== undefined && v < prop.minimum) return title + " must be at least " + prop.minimum;
    if (prop.maximum !== undefined && v > prop.maximum) return title + " must be at most " + prop.maximum;
    if (prop.exclusiveMinimum !== undefined && v <= prop.exclusiveMinimum) return title + " must be more than " + prop.exclusiveMinimum;
    if (prop.exclusiveMaximum !== undefined && v >= prop.exclusiveMaximum) return title + " must be less than " + prop.exclusiveMaximum;
  }
  if (typeof v === "number" && isNaN(v)) return title + " must be a number";
  return "";
}

/* A form for a JSON Schema object. ctx: {path, stepId, kind, comp, ensure, skip, only, onEdit} */
export function buildForm(schema, obj, ctx) {
  var form = h("div", { class: "dz-form" });
  var props = (schema && schema.properties) || {};
  var required = (schema && schema.required) || [];
  var names = ctx.only || propertyOrder(schema);
  var fields = [];
  names.forEach(function (name) {
    if (!props[name] || (ctx.skip && ctx.skip.indexOf(name) >= 0)) return;
    var f = fieldFor(name, props[name], obj, ctx, required.indexOf(name) >= 0, function () { refresh(); });
    f._showIf = props[name]["x-show-if"];
    fields.push(f);
    form.appendChild(f);
  });
  function refresh() {
    fields.forEach(function (f) { f.hidden = !showIfOk(f._showIf, obj, props); });
  }
  refresh();
  if (!names.filter(function (n) { return props[n]; }).length && !ctx.quietEmpty) form.appendChild(h("p", { class: "muted small" }, "Nothing to set up here."));
  return form;
}

function fieldFor(name, prop, obj, ctx, required, after) {
  var path = ctx.path + "." + name;
  var title = prop.title || humanize(name);
  var id = nextId("f");
  var msgId = id + "-msg";
  var wrap = h("div", { class: "field dz-field", "data-path": path, "data-name": name });
  var msg = h("div", { class: "dz-msg", id: msgId, "aria-live": "polite" });
  var touched = false;
  wrap._title = title;
  wrap._stepId = ctx.kind === "step_types" && ctx.path === (findStep(ctx.stepId) || {}).path + ".settings" ? ctx.stepId : null;
  wrap._local = "";
  function setValue(v, structural) {
    if (S.readOnly) return;
    if (structural) snapshot(null); else snapshot(path);
    if (ctx.ensure) ctx.ensure();
    if (v === undefined) delete obj[name]; else obj[name] = v;
    touched = true;
    forgetSaveError(path);
    wrap._local = localProblem(prop, v, required, title);
    showMsg(wrap);
    if (after) after();
    if (ctx.onEdit) ctx.onEdit(name, v);
    edited(path);
  }
  wrap._validate = function () { wrap._local = touched ? localProblem(prop, obj[name], required, title) : ""; };
  var labelEl = h("label", { "for": id }, title, required ? h("span", { class: "dz-req", title: "Required" }, " *") : null);
  var head = h("div", { class: "dz-label-row" }, labelEl);
  wrap.appendChild(head);
  var control = widget(name, prop, obj, ctx, id, setValue, required, title, wrap);
  if (control.focusTarget) control.focusTarget.setAttribute("aria-describedby", msgId + (prop.description ? " " + id + "-help" : ""));
  if (required && control.focusTarget) control.focusTarget.setAttribute("aria-required", "true");
  if (prop["x-merge-tags"] && !control.ownsTagButton && control.focusTarget && !S.readOnly) head.appendChild(mergeTagButton(control.focusTarget));
  (control.labelExtras || []).forEach(function (el) { head.appendChild(el); });
  wrap.appendChild(control.el || control);
  if (prop.description) wrap.appendChild(h("div", { class: "help", id: id + "-help" }, prop.description));
  wrap.appendChild(msg);
  showMsg(wrap);
  return wrap;
}
function showMsg(wrap) {
  var msg = wrap.querySelector(":scope > .dz-msg");
  if (!msg) return;
  var server = fieldError(wrap.getAttribute("data-path"));
  var text = wrap._local || (server ? wrap._title + ": " + server : "");
  if (!text && S.showProblems && wrap._stepId) text = problemOfField(wrap._stepId, wrap.getAttribute("data-name"), wrap._title);
  msg.textContent = text;
  wrap.classList.toggle("dz-invalid", !!text);
  var ctl = wrap.querySelector("input, select, textarea");
  if (ctl) ctl.setAttribute("aria-invalid", text ? "true" : "false");
}
export function refreshPanelMessages() {
  if (!els.panel) return;
  els.panel.querySelectorAll(".dz-field[data-path]").forEach(function (w) { showMsg(w); });
  els.panel.querySelectorAll("[data-merge-field]").forEach(function (el) { if (el._paint) el._paint(); });
  var box = els.panel.querySelector("[data-step-problems]");
  if (box && S.sel && S.sel.kind === "step") fillProblems(box, S.sel.id);
  var trig = els.panel.querySelector("[data-trigger-problems]");
  if (trig) fillTriggerProblems(trig);
}

function widget(name, prop, obj, ctx, id, setValue, required, title, wrap) {
  var t = typeOf(prop);
  var xw = prop["x-widget"];
  var v = obj[name];
  var shown = v === undefined ? prop["default"] : v;
  var own = xw ? widgetFor(xw) : null;
  if (own) {
    try {
      return own({ name: name, prop: prop, value: v, settings: obj, id: id, set: function (nv) { setValue(nv); }, ctx: ctx, required: required, title: title, wrap: wrap });
    } catch (e) { return { el: h("div", { class: "dz-custom", id: id }, "This field's widget failed: " + e.message), focusTarget: null }; }
  }
  var legacy = xw && window.superflowWidgets && window.superflowWidgets[xw];
  if (legacy) {
    var box = h("div", { class: "dz-custom", id: id });
    try { legacy(box, v, function (nv) { setValue(nv); }, prop); } catch (e) { box.textContent = "This field's widget failed: " + e.message; }
    return { el: box, focusTarget: box.querySelector("input, select, textarea") };
  }
  if (prop["enum"] && t !== "array") return enumSelect(prop, id, shown, setValue, required);
  var source = choiceSource(prop);
  if (source) return choiceSelect(source, prop, id, v, setValue, required, prop["x-empty-label"]);
  if (xw === "flow_step" && ctx.kind !== "triggers" && t === "string") return stepSelect(prop, id, v, setValue);
  if (xw === "textarea") return textArea(prop, id, v, setValue, ctx, name, false);
  if (t === "boolean") {
    var cb = h("input", { type: "checkbox", id: id, checked: !!shown });
    cb.addEventListener("change", function () { setValue(cb.checked); });
    var lab = h("label", { "for": id, class: "dz-check" }, cb, " ", prop.description || "Yes");
    wrap.classList.add("dz-bool");
    return { el: lab, focusTarget: cb };
  }
  if (t === "integer" || t === "number") {
    var num = h("input", { type: "number", id: id, value: shown === undefined || shown === null ? "" : String(shown), step: t === "integer" ? "1" : "any", min: prop.minimum, max: prop.maximum, class: "dz-num" });
    num.addEventListener("input", function () {
      var raw = num.value.trim();
      if (raw === "") { setValue(nullable(prop) ? null : undefined); return; }
      var n = Number(raw);
      setValue(isNaN(n) ? raw : n);
    });
    return { el: num, focusTarget: num };
  }
  if (t === "array") {
    if (prop.items && (typeOf(prop.items) === "object" || prop.items.properties)) {
      if (prop["x-upload"]) return attachmentsEditor(prop, id, obj, name, ctx, setValue);
      return repeatGroup(prop, id, obj, name, ctx, title);
    }
    return listInput(prop, id, v, setValue);
  }
  if (t === "object") {
    if (prop.properties && Object.keys(prop.properties).length) {
      var sub = v && typeof v === "object" ? v : {};
      var subCtx = Object.assign({}, ctx, {
        path: ctx.path + "." + name, skip: null, only: null, quietEmpty: true,
        ensure: function () { if (ctx.ensure) ctx.ensure(); if (obj[name] !== sub) { obj[name] = sub; } },
      });
      var fs = h("div", { class: "dz-sub", id: id, role: "group", "aria-label": title }, buildForm(prop, sub, subCtx));
      return { el: fs, focusTarget: fs.querySelector("input, select, textarea") };
    }
    return jsonArea(prop, id, v, setValue, title);
  }
  if (prop["x-merge-tags"]) return mergeInput(prop, id, v, setValue, ctx, name);
  if (prop.format === "date" || prop.format === "time" || prop.format === "email") {
    var inp = h("input", { type: prop.format, id: id, value: v || "" });
    inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
    return { el: inp, focusTarget: inp };
  }
  if (prop.format === "date-time") {
    var dtl = h("input", { type: "datetime-local", id: id, value: v ? toLocalInput(v) : "" });
    dtl.addEventListener("input", function () { setValue(dtl.value ? new Date(dtl.value).toISOString().replace(/\.\d{3}Z$/, "Z") : (nullable(prop) ? null : undefined)); });
    return { el: dtl, focusTarget: dtl };
  }
  if (xw === "crm_field") return fieldPicker(prop, id, v, setValue);
  var text = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), placeholder: shown !== undefined && shown !== null && v === undefined ? String(shown) : "", maxlength: prop.maxLength });
  text.addEventListener("input", function () { setValue(text.value === "" ? (nullable(prop) ? null : undefined) : text.value); });
  return { el: text, focusTarget: text };
}
function toLocalInput(iso) {
  var d = new Date(iso);
  if (isNaN(d)) return "";
  var p = function (n) { return String(n).padStart(2, "0"); };
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
}
function enumSelect(prop, id, shown, setValue, required) {
  var labels = prop["x-enum-labels"] || {};
  var sel = h("select", { id: id });
  var hasDefault = prop["default"] !== undefined && prop["default"] !== null;
  if (!hasDefault || nullable(prop)) sel.appendChild(h("option", { value: "", text: required ? "Choose…" : "—" }));
  prop["enum"].forEach(function (val, i) {
    if (val === null) return;
    sel.appendChild(h("option", { value: String(i), text: labels[val] || humanize(val), selected: shown === val }));
  });
  sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : prop["enum"][Number(sel.value)]); });
  return { el: sel, focusTarget: sel };
}
export function choiceSelect(source, prop, id, v, setValue, required, emptyLabel) {
  var sel = h("select", { id: id, "data-choices": source });
  var holder = h("div", { class: "dz-choice" }, sel);
  /* A setting with a default shows that default chosen (the date trigger's "Birth
     date"), never a bare "—"; one without asks for a choice in words. */
  var fallback = prop && prop["default"] !== undefined && prop["default"] !== null ? String(prop["default"]) : null;
  if ((v === undefined || v === null || v === "") && fallback !== null) v = fallback;
  function fill(list) {
    sel.textContent = "";
    if (fallback === null || emptyLabel) sel.appendChild(h("option", { value: "", text: emptyLabel || (required ? "Choose…" : "Choose " + (prop && prop.title ? prop.title.toLowerCase() : "one") + "…") }));
    var found = false;
    list.forEach(function (c) {
      var val = String(c.value);
      if (val === String(v)) found = true;
      sel.appendChild(h("option", { value: val, text: c.label, selected: val === String(v) }));
    });
    if (v !== undefined && v !== null && v !== "" && !found) sel.appendChild(h("option", { value: String(v), text: String(v) + " (not found in the CRM)", selected: true }));
  }
  sel.appendChild(h("option", { value: v === undefined || v === null ? "" : String(v), text: "Loading…" }));
  choices(source).then(function (list) {
    if (list === null) {
      var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), placeholder: "The id in the CRM" });
      inp.addEventListener("input", function () { setValue(inp.value || (nullable(prop) ? null : undefined)); });
      holder.replaceChild(inp, sel);
      return;
    }
    rememberChoices(source, list);
    fill(list);
    renderCanvas();
  });
  sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : sel.value); });
  return { el: holder, focusTarget: sel };
}
/* A step of this flow (x-widget "flow_step"), only those that send by the channel
   "x-step-sends" names when it names one. A trigger's step is another flow's: typed. */
function stepSelect(prop, id, v, setValue) {
  var sends = prop["x-step-sends"];
  var sel = h("select", { id: id });
  sel.appendChild(h("option", { value: "", text: prop["x-empty-label"] || "—" }));
  var found = false;
  allSteps().forEach(function (i) {
    var c = stepComp(i.step.type);
    if (sends && !(c && c.sends === sends)) return;
    if (i.step.id === v) found = true;
    sel.appendChild(h("option", { value: i.step.id, text: stepTitle(i), selected: i.step.id === v }));
  });
  if (v && !found) sel.appendChild(h("option", { value: v, text: v + " (no such step)", selected: true }));
  sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : sel.value); });
  return { el: sel, focusTarget: sel };
}
function fieldPicker(prop, id, v, setValue) {
  var listId = id + "-list";
  var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), list: listId, placeholder: prop["default"] ? String(prop["default"]) : "A field, e.g. email" });
  var dl = h("datalist", { id: listId });
  choices("person_fields").then(function (list) { (list || []).forEach(function (c) { dl.appendChild(h("option", { value: String(c.value), label: c.label })); }); });
  inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
  return { el: h("div", null, inp, dl), focusTarget: inp };
}
function listInput(prop, id, v, setValue) {
  var itemType = typeOf(prop.items || {});
  var inp = h("input", { type: "text", id: id, value: Array.isArray(v) ? v.join(", ") : "", placeholder: "Separate values with commas" });
  inp.addEventListener("input", function () {
    var parts = inp.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    if (itemType === "integer" || itemType === "number") parts = parts.map(function (s) { var n = Number(s); return isNaN(n) ? s : n; });
    setValue(parts.length ? parts : undefined);
  });
  return { el: inp, focusTarget: inp };
}
function jsonArea(prop, id, v, setValue, title) {
  var ta = h("textarea", { id: id, rows: "3", class: "dz-code", placeholder: "{\"key\": \"value\"}" });
  ta.value = v === undefined ? "" : JSON.stringify(v, null, 2);
  var err = h("div", { class: "dz-msg" });
  ta.addEventListener("input", function () {
    if (!ta.value.trim()) { err.textContent = ""; setValue(undefined); return; }
    try { var parsed = JSON.parse(ta.value); err.textContent = ""; setValue(parsed); } catch (e) { err.textContent = title + ": not valid JSON yet (" + e.message + ")"; }
  });
  return { el: h("div", null, ta, err), focusTarget: ta };
}
function repeatGroup(prop, id, obj, name, ctx, title) {
  var rows = Array.isArray(obj[name]) ? obj[name] : [];
  var box = h("div", { class: "dz-repeat", id: id, role: "group", "aria-label": title });
  var single = title.replace(/s$/, "");
  rows.forEach(function (row, i) {
    var rowCtx = Object.assign({}, ctx, { path: ctx.path + "." + name + "[" + i + "]", skip: null, only: null, quietEmpty: true, ensure: ctx.ensure });
    box.appendChild(h("div", { class: "dz-row", "data-row": String(i) },
      h("div", { class: "dz-row-head" }, h("b", null, single + " " + (i + 1)),
        S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove " + single + " " + (i + 1), onclick: function () {
          commit(function () { obj[name].splice(i, 1); if (!obj[name].length) delete obj[name]; });
        } }, "Remove")),
      buildForm(prop.items, row, rowCtx)));
  });
  if (!rows.length) box.appendChild(h("p", { class: "muted small dz-none" }, "None yet."));
  if (!S.readOnly) {
    box.appendChild(h("button", { type: "button", class: "small", onclick: function () {
      commit(function () { if (ctx.ensure) ctx.ensure(); if (!Array.isArray(obj[name])) obj[name] = []; obj[name].push({}); });
      var last = els.panel.querySelectorAll('[data-path="' + ctx.path + "." + name + '"] .dz-row');
      var row = last[last.length - 1];
      var first = row && row.querySelector("input, select, textarea");
      if (first) first.focus();
    } }, "+ Add " + single.toLowerCase()));
  }
  return { el: box, focusTarget: box.querySelector("input, select, textarea") };
}
