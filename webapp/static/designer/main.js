/* The designer's entry point: reads the boot document, loads the catalogue and draws the page. */
import { api, url } from "./api.js";
import { preloadChoiceLabels, renderCanvas } from "./canvas.js";
import { runCheck } from "./checks.js";
import { normalize } from "./doc.js";
import { add, clone, h, isTextInput } from "./dom.js";
import { redo, undo } from "./history.js";
import { renderPalette } from "./palette.js";
import { renderPanel } from "./panel.js";
import { S, els, setCatalog, setSelection } from "./state.js";
import { select } from "./steps.js";
import { htmlToText, smsCount } from "./text.js";
import { renderHead, renderVersions, resume, save, start } from "./toolbar.js";
import "./linkactions.js";

function build(root) {
  var b = S.boot;
  root.textContent = "";
  els.title = h("span", { class: "dz-title-text" });
  els.status = h("span", { class: "badge" });
  els.state = h("span", { class: "dz-state", "aria-live": "polite" });
  els.versions = h("span", { class: "dz-versions" });
  els.undo = h("button", { type: "button", class: "small", title: "Undo (Ctrl+Z)", "aria-keyshortcuts": "Control+Z", onclick: undo }, "↶ Undo");
  els.redo = h("button", { type: "button", class: "small", title: "Redo (Ctrl+Shift+Z)", "aria-keyshortcuts": "Control+Shift+Z", onclick: redo }, "↷ Redo");
  els.problemsBtn = h("button", { type: "button", class: "small dz-problems-btn", title: "Show what blocks the start", onclick: function () { select(null); var l = els.panel.querySelector("[data-checks]"); if (l) l.scrollIntoView({ block: "nearest" }); } });
  els.settingsBtn = h("button", { type: "button", "data-flow-settings": "", onclick: function () { select({ kind: "settings" }, true); } }, "Flow settings");
  els.save = h("button", { type: "button", "data-save": "", title: "Save (Ctrl+S)", onclick: function () { save(); } }, "Save");
  els.start = h("button", { type: "button", class: "primary", "data-start": "", onclick: start }, "Start flow");
  els.resume = h("button", { type: "button", class: "primary", "data-resume": "", onclick: resume }, "Resume flow");
  var crumbs = h("div", { class: "crumbs" }, h("a", { href: "/" }, "Flows"), " › ",
    b.urls.flow_page ? h("a", { href: b.urls.flow_page, "data-crumb-flow": "" }, b.doc.name || "Flow") : (els.crumb = h("span", null, "New flow")), " › Designer");
  els.head = h("div", { class: "page-head dz-head" },
    h("div", { class: "dz-titles" }, h("h1", null, els.title, " ", els.status), els.state),
    h("div", { class: "actions" }, els.versions, els.problemsBtn, S.readOnly ? null : [els.undo, els.redo], els.settingsBtn, S.readOnly ? null : [els.save, els.start, els.resume]));
  els.flash = h("div", { class: "dz-flashes" });
  els.palette = h("aside", { class: "dz-palette", "aria-label": "Step palette" });
  els.canvas = h("div", { class: "dz-canvas", role: "region", "aria-label": "The flow", "data-canvas": "" });
  els.panel = h("aside", { class: "dz-panel", role: "region", "aria-label": "Settings panel", "data-panel-root": "" });
  els.body = h("div", { class: "dz-body" + (S.readOnly ? " dz-readonly" : "") }, S.readOnly ? null : els.palette, els.canvas, els.panel);
  els.live = h("div", { class: "dz-sr", "aria-live": "polite", role: "status" });
  add(root, [crumbs, els.head]);
  if (S.readOnly) {
    root.appendChild(h("div", { class: "flash dz-readonly-banner", role: "note", "data-read-only": "" },
      h("b", null, "Read-only. "), b.read_only_reason || "This version cannot be edited.",
      b.urls.flow_page ? [" ", h("a", { href: b.urls.flow_page }, "Go to the flow")] : null));
  }
  add(root, [els.flash, els.body, els.live]);
  if (!S.readOnly) renderPalette();
  renderVersions();
  renderHead();
  renderCanvas();
  renderPanel();
}

function init() {
  var root = document.getElementById("designer");
  var bootEl = document.getElementById("designer-boot");
  if (!root || !bootEl) return;
  try { S.boot = JSON.parse(bootEl.textContent); } catch (e) { root.textContent = "The designer could not read its data: " + e.message; return; }
  S.boot.urls = S.boot.urls || {};
  S.readOnly = !!S.boot.read_only;
  S.doc = normalize(clone(S.boot.doc) || {});
  api("GET", url("catalog")).then(function (r) {
    if (!r.ok) {
      root.textContent = "";
      root.appendChild(h("div", { class: "empty" }, h("h2", null, "The designer could not load the flow parts"), h("p", null, ((r.data.errors || [])[0] || { message: "The server answered " + r.status + "." }).message)));
      return;
    }
    setCatalog(r.data);
    if (!S.boot.flow_id && !S.doc.steps.length) setSelection({ kind: "settings" });
    build(root);
    runCheck();
    preloadChoiceLabels();
    if (S.sel && S.sel.kind === "settings") { var n = els.panel.querySelector("[data-flow-name]"); if (n) n.focus(); }
  });
  document.addEventListener("keydown", function (e) {
    var ctrl = e.ctrlKey || e.metaKey;
    if (!ctrl || e.altKey) return;
    var k = e.key.toLowerCase();
    if (k === "s") { e.preventDefault(); save(); return; }
    if (isTextInput(document.activeElement)) return;
    if (k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    else if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); redo(); }
  });
  window.addEventListener("beforeunload", function (e) {
    if (S.dirty && !S.readOnly) { e.preventDefault(); e.returnValue = ""; }
  });
  window.superflowDesigner = { state: S, save: save, undo: undo, redo: redo, smsCount: smsCount, htmlToText: htmlToText };
}
/* Module scripts run once the page is parsed, after the plugins' scripts before this one. */
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
