/* The designer's head: title, state, undo and redo, save, start, resume, versions and the flash messages. */
import { api, csrf, url } from "./api.js";
import { renderCanvas } from "./canvas.js";
import { fieldWords, scheduleCheck } from "./checks.js";
import { findStep, stepTitle, walk } from "./doc.js";
import { add, h, plural } from "./dom.js";
import { renderChecks } from "./panel.js";
import { refreshPanelMessages } from "./settings.js";
import { S, els, markSaved, setSaveErrors, setStartProblems } from "./state.js";
import { select } from "./steps.js";

export function flash(kind, text, items) {
  S.flash = { kind: kind, text: text, items: items || null };
  renderFlash();
}
function renderFlash() {
  var box = els.flash;
  if (!box) return;
  box.textContent = "";
  if (S.startProblems) {
    box.appendChild(h("div", { class: "problems dz-start-problems", role: "alert", "data-start-problems": "" },
      h("div", { class: "dz-flash-head" }, h("b", null, "The flow can't start yet. Fix these first:"),
        h("button", { type: "button", class: "small link", onclick: function () { setStartProblems(null); renderFlash(); } }, "Dismiss")),
      h("ul", null, S.startProblems.map(function (p) {
        var info = p.step_id ? findStep(p.step_id) : null;
        return h("li", null, info ? h("button", { type: "button", class: "link", onclick: function () { select({ kind: "step", id: p.step_id }, true); } }, p.message) : p.message);
      }))));
  }
  if (S.flash) {
    var f = S.flash;
    box.appendChild(h("div", { class: "flash flash-" + (f.kind === "error" ? "error" : "ok") + " dz-flash", role: f.kind === "error" ? "alert" : "status", "data-flash": f.kind },
      h("div", { class: "dz-flash-head" }, h("span", null, f.text), h("button", { type: "button", class: "small link", "aria-label": "Dismiss the message", onclick: function () { S.flash = null; renderFlash(); } }, "Dismiss")),
      f.items ? h("ul", null, f.items.map(function (t) { return h("li", null, t); })) : null));
  }
}
export function renderHead() {
  if (!els.head) return;
  var d = S.doc;
  els.title.textContent = d.name || "Untitled flow";
  els.status.textContent = (S.boot.status || "draft").charAt(0).toUpperCase() + (S.boot.status || "draft").slice(1);
  els.status.className = "badge badge-" + (S.boot.status || "draft");
  var bad = S.check.problems.length + S.check.errors.length;
  els.state.textContent = S.readOnly ? "Read-only" : S.saving ? "Saving…" : S.dirty ? "Unsaved changes" : S.boot.version ? "Version " + S.boot.version + " saved" : "Not saved yet";
  els.state.className = "dz-state" + (S.dirty && !S.readOnly ? " dz-dirty" : "");
  els.problemsBtn.hidden = !bad;
  els.problemsBtn.textContent = plural(bad, "problem", "problems");
  els.undo.disabled = S.readOnly || !S.past.length;
  els.redo.disabled = S.readOnly || !S.future.length;
  els.save.disabled = S.readOnly || !!S.saving;
  els.start.disabled = S.readOnly || !!S.saving || (S.boot.can_start === false && S.boot.status !== "draft" && S.boot.status !== "paused");
  els.start.hidden = S.boot.status !== "draft";
  els.resume.hidden = S.boot.status !== "paused" || !S.boot.urls.resume;
  els.resume.disabled = S.readOnly || !!S.saving;
  els.settingsBtn.setAttribute("aria-pressed", S.sel && S.sel.kind === "settings" ? "true" : "false");
}

export function save() {
  if (S.readOnly || S.saving) return Promise.resolve(false);
  S.saving = true;
  renderHead();
  return api("POST", url("save"), { flow_id: S.boot.flow_id, doc: S.doc }).then(function (r) {
    S.saving = false;
    if (r.ok) {
      var isNew = !S.boot.flow_id;
      S.boot.flow_id = String(r.data.flow_id);
      S.boot.version = r.data.version;
      if (S.boot.versions && S.boot.versions.indexOf(r.data.version) < 0) S.boot.versions.push(r.data.version);
      markSaved(r.data.problems, r.data.warnings);
      if (r.data.url && (isNew || location.pathname !== r.data.url)) history.replaceState(null, "", r.data.url);
      if (isNew && els.crumb) {
        var link = h("a", { href: "/flows/" + encodeURIComponent(S.boot.flow_id), "data-crumb-flow": "" }, S.doc.name || "Flow");
        els.crumb.replaceWith(link);
        els.crumb = null;
      }
      var probs = (r.data.problems || []).length;
      var warns = (r.data.warnings || []).map(function (w) { return w.message; });
      flash("ok", "Saved as version " + r.data.version + "." + (probs ? " " + plural(probs, "problem", "problems") + " to fix before it can start." : ""), warns.length ? warns : null);
      renderVersions();
      renderCanvas();
      refreshPanelMessages();
      renderChecks();
      renderHead();
      scheduleCheck();
      return true;
    }
    setSaveErrors(r.data.errors);
    var msgs = S.saveErrors.map(function (e) { return (e.field ? fieldPlace(e.field) + ": " : "") + e.message; });
    flash("error", r.status === 409 ? "Not saved: " + (msgs[0] || "the flow changed meanwhile.") : "Not saved: fix " + (msgs.length === 1 ? "this" : "these " + msgs.length) + " first.", r.status === 409 ? null : msgs);
    renderCanvas();
    refreshPanelMessages();
    renderHead();
    return false;
  });
}
function fieldPlace(field) {
  var m = /^(steps(?:\[\d+\](?:\.branches\[\d+\]\.steps|\.everyone_else)?)*\[\d+\])/.exec(field);
  if (m) {
    var where = null;
    walk(function (i) { if (i.path === m[1]) where = i; });
    if (where) return stepTitle(where) + (field.length > m[1].length ? ", " + fieldWords(field) : "");
  }
  return fieldWords(field);
}
function confirmDialog(title, text, okText, cancelText) {
  return new Promise(function (resolve) {
    var dlg = h("dialog", { class: "dz-dialog", "aria-labelledby": "dz-dlg-title" });
    var ok = h("button", { type: "button", class: "primary", "data-confirm": "" }, okText);
    var cancel = h("button", { type: "button" }, cancelText || "Cancel");
    add(dlg, [h("h2", { id: "dz-dlg-title" }, title), h("p", null, text), h("div", { class: "inline dz-dlg-actions" }, ok, cancel)]);
    document.body.appendChild(dlg);
    function done(v) { dlg.close(); dlg.remove(); resolve(v); }
    ok.addEventListener("click", function () { done(true); });
    cancel.addEventListener("click", function () { done(false); });
    dlg.addEventListener("cancel", function (e) { e.preventDefault(); done(false); });
    dlg.showModal();
    ok.focus();
  });
}
export function start() {
  if (S.readOnly) return;
  var name = S.doc.name || "this flow";
  confirmDialog("Start “" + name + "”?", "From now on, everyone the trigger suggests and the filters let in enters the flow and gets its messages. You can pause it at any time.", "Start flow").then(function (yes) {
    if (!yes) { els.start.focus(); return; }
    var saved = S.dirty || !S.boot.flow_id ? save() : Promise.resolve(true);
    saved.then(function (ok) {
      if (!ok) return;
      setStartProblems(null);
      send({ flow_id: S.boot.flow_id });
    });
  });
  /* A trigger that looks for persons due at a time of day asks, when that time has
     passed today, whether those due earlier today are enrolled too. */
  function send(body) {
      api("POST", url("start"), body).then(function (r) {
        if (r.data && r.data.question) {
          confirmDialog("Enrol those due earlier today?", r.data.question.text, "Enrol them too", "Start from now").then(function (also) {
            body[r.data.question.field] = also;
            send(body);
          });
          return;
        }
        if (r.ok) {
          S.boot.status = r.data.status || "running";
          flash("ok", "The flow is running.");
          renderHead();
          if (r.data.url) location.href = r.data.url;
          return;
        }
        if (r.data.problems && r.data.problems.length) {
          setStartProblems(r.data.problems.map(function (p) { return typeof p === "string" ? { step_id: null, message: p } : p; }));
          S.showProblems = true;
          S.flash = null;
          renderFlash();
          renderCanvas();
          renderChecks();
          refreshPanelMessages();
          var box = document.querySelector("[data-start-problems]");
          if (box) box.scrollIntoView({ block: "nearest" });
        } else {
          flash("error", "The flow did not start: " + ((r.data.errors || [])[0] || { message: "the server said " + r.status }).message);
        }
      });
  }
}

/* A paused flow goes on where it stopped: saved first when edited, then resumed
   through the flow's resume action (a form post, as on the flow's page). */
export function resume() {
  if (S.readOnly || !S.boot.urls.resume) return;
  var name = S.doc.name || "this flow";
  confirmDialog("Resume “" + name + "”?", "Participants waiting at a step go on from where they stopped, and the people who matched while the flow was paused are enrolled.", "Resume flow").then(function (yes) {
    if (!yes) { els.resume.focus(); return; }
    (S.dirty ? save() : Promise.resolve(true)).then(function (ok) {
      if (!ok) return;
      var form = h("form", { method: "post", action: S.boot.urls.resume, hidden: "" }, h("input", { type: "hidden", name: "csrf_token", value: csrf() }));
      document.body.appendChild(form);
      form.submit();
    });
  });
}

export function renderVersions() {
  var box = els.versions;
  box.textContent = "";
  var vs = (S.boot.versions || []).slice().sort(function (a, b) { return b - a; });
  if (!S.boot.flow_id || vs.length < 1) return;
  var sel = h("select", { "aria-label": "Version", class: "dz-version" });
  var latest = vs[0];
  vs.forEach(function (v) { sel.appendChild(h("option", { value: String(v), text: "Version " + v + (v === latest ? " (latest)" : ""), selected: v === S.boot.version })); });
  sel.addEventListener("change", function () {
    var base = (S.boot.urls.design || "/flows/{id}/design").replace("{id}", encodeURIComponent(S.boot.flow_id));
    location.href = Number(sel.value) === latest ? base : base + "?version=" + sel.value;
  });
  box.appendChild(sel);
}
