/* The email plugin's part of the flow designer: the HTML body's editor with its
   toolbar, the plain-text part made from the body, and how an email preview looks. */
import { h, htmlToText, insertAt, isReadOnly, mergeInput, mergeTagButton, nextId, problemBox, registerChannel, registerWidget, textArea } from "/static/designer/widgets.js";

/* The toolbar's Link: asks for the address (http, https or mailto) and the link's
   text (the selected text, if any), refuses an address that is not one, and only
   then writes the <a> into the body. */
function validLink(text) {
  var v = String(text || "").trim();
  if (!v) return "Give the address the link goes to.";
  if (/^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(v)) return "";
  if (/^\{\{.+\}\}$/.test(v)) return "";
  var u;
  try { u = new URL(v); } catch (e) { return "That is not a web address: start it with https://, e.g. https://example.com/offer"; }
  if (u.protocol !== "https:" && u.protocol !== "http:") return "A link must start with https:// or http:// (or mailto: for an email address).";
  if (!u.hostname || u.hostname.indexOf(".") < 0) return "The address needs a domain, e.g. https://example.com/offer";
  return "";
}
function escapeAttr(v) { return String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); }
function escapeText(v) { return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
function askLink(control) {
  var start = control.selectionStart || 0, end = control.selectionEnd || start;
  var chosen = control.value.slice(start, end);
  var urlId = nextId("link-url"), textId = nextId("link-text");
  var address = h("input", { type: "url", id: urlId, placeholder: "https://example.com/offer", "data-link-url": "", autocomplete: "url" });
  var words = h("input", { type: "text", id: textId, value: chosen, placeholder: "Read the offer", "data-link-text": "" });
  var msg = h("div", { class: "dz-msg", role: "alert", "data-link-error": "" });
  var ok = h("button", { type: "submit", class: "primary", "data-link-insert": "" }, "Insert link");
  var cancel = h("button", { type: "button" }, "Cancel");
  var form = h("form", { method: "dialog", class: "dz-link-form", novalidate: "" },
    h("h2", { id: "dz-link-title" }, "Insert a link"),
    h("div", { class: "field" }, h("label", { "for": urlId }, "Web address"), address,
      h("div", { class: "help" }, "Where the link goes: https://…, or mailto: and an email address")),
    h("div", { class: "field" }, h("label", { "for": textId }, "Link text"), words,
      h("div", { class: "help" }, "What the reader clicks; empty: the address itself")),
    msg, h("div", { class: "inline dz-dlg-actions" }, ok, cancel));
  var dlg = h("dialog", { class: "dz-dialog dz-link-dialog", "aria-labelledby": "dz-link-title" }, form);
  document.body.appendChild(dlg);
  function done() { dlg.close(); dlg.remove(); control.focus(); }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var problem = validLink(address.value);
    msg.textContent = problem;
    address.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem) { address.focus(); return; }
    var href = address.value.trim();
    var text = words.value.trim() || href.replace(/^mailto:/i, "");
    var link = '<a href="' + escapeAttr(href) + '">' + (chosen && words.value.trim() === chosen.trim() ? chosen : escapeText(text)) + "</a>";
    done();
    control.value = control.value.slice(0, start) + link + control.value.slice(end);
    control.setSelectionRange(start + link.length, start + link.length);
    control.dispatchEvent(new Event("input", { bubbles: true }));
  });
  cancel.addEventListener("click", done);
  dlg.addEventListener("cancel", function (e) { e.preventDefault(); done(); });
  dlg.showModal();
  address.focus();
}
function htmlEditor(prop, id, v, setValue, ctx, name) {
  var made = textArea(prop, id, v, setValue, ctx, name, true, 12);
  var ta = made.focusTarget;
  function tool(text, aria, fn) { return h("button", { type: "button", class: "small", "aria-label": aria, title: aria, onclick: fn }, text); }
  var bar = h("div", { class: "dz-toolbar", role: "toolbar", "aria-label": "Formatting" },
    tool("B", "Bold", function () { insertAt(ta, "<strong>", "</strong>", "bold text"); }),
    tool("I", "Italic", function () { insertAt(ta, "<em>", "</em>", "italic text"); }),
    tool("Link", "Link", function () { askLink(ta); }),
    tool("¶", "Paragraph", function () { insertAt(ta, "<p>", "</p>\n", "New paragraph"); }),
    isReadOnly() ? null : mergeTagButton(ta));
  bar.addEventListener("keydown", function (e) {
    var btns = Array.prototype.slice.call(bar.querySelectorAll("button"));
    var i = btns.indexOf(document.activeElement);
    if (e.key === "ArrowRight" && i >= 0) { e.preventDefault(); btns[(i + 1) % btns.length].focus(); }
    if (e.key === "ArrowLeft" && i >= 0) { e.preventDefault(); btns[(i - 1 + btns.length) % btns.length].focus(); }
  });
  return { el: h("div", { class: "dz-html" }, isReadOnly() ? null : bar, made.el), focusTarget: ta };
}


registerWidget("html", function (f) {
  var made = htmlEditor(f.prop, f.id, f.value, f.set, f.ctx, f.name);
  made.ownsTagButton = true;
  return made;
});

/* The plain-text part: a merge-tag input with "Generate from HTML" beside its label. */
registerWidget("email_text", function (f) {
  var made = mergeInput(f.prop, f.id, f.value, f.set, f.ctx, f.name);
  if (isReadOnly()) return made;
  var gen = h("button", { type: "button", class: "small", "data-generate-text": "" }, "Generate from HTML");
  gen.addEventListener("click", function () {
    var ta = made.focusTarget;
    ta.value = htmlToText(f.settings.html || "");
    ta.dispatchEvent(new Event("input", { bubbles: true }));
    ta.focus();
  });
  made.labelExtras = [gen];
  return made;
});

function emailView(m) {
  var probs = (m.problems || []).map(function (p) { return typeof p === "string" ? p : p.message; });
  var frame = h("iframe", { sandbox: "", title: "Email preview", "data-preview-html": "" });
  frame.srcdoc = m.html || "<p style='font-family:sans-serif;color:#888'>No body yet.</p>";
  var view = h("div", { class: "message dz-message" },
    h("div", { class: "message-head" }, h("b", { "data-preview-subject": "" }, m.subject || "(no subject)")),
    h("div", { class: "message-meta" },
      h("div", null, h("span", { class: "muted" }, "From: "), m.sender || "—"),
      h("div", null, h("span", { class: "muted" }, "To: "), m.to || "no email address")),
    frame);
  if (m.text) view.appendChild(h("details", { class: "dz-text-part" }, h("summary", null, "Plain-text part"), h("pre", null, m.text)));
  if (probs.length) view.appendChild(problemBox("Problems", probs));
  return view;
}

registerChannel("email", {
  deliveryApart: true,
  testInput: { type: "email", placeholder: "you@company.com", autocomplete: "email" },
  message: emailView,
});
