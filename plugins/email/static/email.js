/* The email plugin's part of the flow designer: the HTML body's editor with its
   toolbar, the plain-text part made from the body, and how an email preview looks. */
import { commit, h, htmlToText, insertAt, isReadOnly, mergeInput, mergeTagButton, nextId, problemBox, registerChannel, registerLinkSource, registerWidget, textArea } from "/static/designer/widgets.js";
import { blankDesign, blockEditor, call, clone, linkProblem, messages } from "./blocks.js";

var URLS = { images: "/email/images.json", upload: "/email/images", library: "/email/library.json", starters: "/email/starters.json", one: "/email/library/", create: "/email/library.json" };
(function styles() {
  if (document.querySelector("link[data-email-css]")) return;
  document.head.appendChild(h("link", { rel: "stylesheet", href: "/plugins/email/static/email.css", "data-email-css": "" }));
})();

/* The toolbar's Link: asks for the address (http, https or mailto) and the link's
   text (the selected text, if any), refuses an address that is not one, and only
   then writes the <a> into the body. */
function validLink(text) { return linkProblem(text); }
function escapeAttr(v) { return String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); }
function escapeText(v) { return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
function askLink(control, settings) {
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
    h("p", { class: "small muted", "data-link-state": "" }, settings && settings.tracking === false
      ? "Clicks are not tracked: this email's \u201cTrack opens and clicks\u201d is off."
      : "Clicks on this link are tracked: it goes through this site first, then on to the address (this email's \u201cTrack opens and clicks\u201d is on)."),
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
function htmlEditor(prop, id, v, setValue, ctx, name, settings) {
  var made = textArea(prop, id, v, setValue, ctx, name, true, 12);
  var ta = made.focusTarget;
  function tool(text, aria, fn) { return h("button", { type: "button", class: "small", "aria-label": aria, title: aria, onclick: fn }, text); }
  var bar = h("div", { class: "dz-toolbar", role: "toolbar", "aria-label": "Formatting" },
    tool("B", "Bold", function () { insertAt(ta, "<strong>", "</strong>", "bold text"); }),
    tool("I", "Italic", function () { insertAt(ta, "<em>", "</em>", "italic text"); }),
    tool("Link", "Link", function () { askLink(ta, settings); }),
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
  var made = htmlEditor(f.prop, f.id, f.value, f.set, f.ctx, f.name, f.settings);
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

/* The tracked links of a design (every block's, columns' too), for the link actions:
   the addresses a click token carries. A library email's design is fetched once per email. */
function designLinks(design) {
  var found = [];
  function add(url) {
    url = String(url || "").trim();
    if (/^https?:\/\//i.test(url) && found.indexOf(url) < 0) found.push(url);
  }
  function walk(blocks) {
    (blocks || []).forEach(function (b) {
      if (!b || typeof b !== "object") return;
      if (b.type === "text" && b.html) {
        new DOMParser().parseFromString(String(b.html), "text/html").querySelectorAll("a[href]").forEach(function (a) {
          if (a.getAttribute("data-tracked") !== "no") add(a.getAttribute("href"));
        });
      }
      if (b.type === "image" && b.tracked !== false) add(b.href);
      if (b.type === "button" && b.tracked !== false) add(b.url);
      if (b.type === "social") (b.links || []).forEach(function (l) { add(l && l.url); });
      if (b.type === "columns") (b.columns || []).forEach(function (c) { walk(c && c.blocks); });
    });
  }
  walk(design && design.blocks);
  return found;
}
var libraryDesigns = {};
registerLinkSource(function (settings) {
  if (settings.body === "design") return designLinks(settings.design);
  if (settings.body !== "library" || !settings.library_email) return null;
  var id = String(settings.library_email);
  if (!(id in libraryDesigns)) {
    libraryDesigns[id] = null;
    call("GET", URLS.one + encodeURIComponent(id) + ".json").then(function (r) {
      libraryDesigns[id] = r.ok ? r.data.email.design : null;
    });
  }
  return designLinks(libraryDesigns[id]);
});

registerChannel("email", {
  deliveryApart: true,
  testInput: { type: "email", placeholder: "you@company.com", autocomplete: "email" },
  message: emailView,
});

/* Where the body comes from: raw HTML, a design of blocks, or a library email. A step
   that has no body yet offers the starter templates first (SuperOffice's "create a new
   email" opening at its Template step). */
function startFrom(f, design, extra) {
  commit(function () {
    if (f.ctx.ensure) f.ctx.ensure();
    f.settings.body = "design";
    f.settings.design = clone(design);
    Object.assign(f.settings, extra || {});
  });
}
function templatePicker(f) {
  var list = h("div", { class: "sf-starter-list", role: "group", "aria-label": "Templates", "data-template-picker": "" }, h("p", { class: "muted small" }, "Loading the templates…"));
  call("GET", URLS.starters).then(function (r) {
    list.textContent = "";
    ((r.data && r.data.starters) || []).forEach(function (s) {
      list.appendChild(h("button", { type: "button", class: "sf-starter", "data-starter": s.key, onclick: function () { startFrom(f, s.design); } },
        h("b", null, s.name), h("span", { class: "muted small" }, s.description)));
    });
    list.appendChild(h("button", { type: "button", class: "sf-starter", "data-starter": "blank", onclick: function () { startFrom(f, blankDesign()); } },
      h("b", null, "Blank"), h("span", { class: "muted small" }, "A text block and the footer.")));
  });
  return h("div", { class: "sf-new-email" }, h("h3", null, "New email: choose a template"), list);
}
registerWidget("email_body", function (f) {
  var labels = f.prop["x-enum-labels"] || {};
  var current = f.value || "html";
  var group = h("div", { class: "sf-body-kinds", role: "radiogroup", "aria-label": "How this email is made", id: f.id });
  Object.keys(labels).forEach(function (k) {
    var id = nextId("body");
    var radio = h("input", { type: "radio", name: f.id, id: id, value: k, checked: k === current, disabled: isReadOnly(), "data-body-kind": k });
    radio.addEventListener("change", function () {
      if (k === "html" && f.settings.body === "design" && !window.confirm("Switch to raw HTML? The HTML field is separate: the blocks are kept, but this step will send the raw HTML.")) { radio.checked = false; return; }
      commit(function () { if (f.ctx.ensure) f.ctx.ensure(); f.settings.body = k; });
    });
    group.appendChild(h("label", { "for": id, class: "sf-body-kind" }, radio, " " + labels[k]));
  });
  var box = h("div", null, group);
  var empty = !f.settings.html && !f.settings.design && !f.settings.library_email;
  if (!isReadOnly() && (current === "design" ? !f.settings.design : current === "html" && empty)) box.appendChild(templatePicker(f));
  return { el: box, focusTarget: group.querySelector("input") };
});

function saveToLibrary(f, design) {
  var name = window.prompt("Name of the email in the library:", (f.settings.subject || "").slice(0, 120));
  if (name === null) return;
  call("POST", URLS.create, { name: name, design: design }).then(function (r) {
    if (!r.ok) { window.alert("Not saved to the library: " + messages(r).join("; ")); return; }
    commit(function () { f.settings.body = "library"; f.settings.library_email = r.data.email.id; delete f.settings.design; });
  });
}
registerWidget("email_design", function (f) {
  if (!f.value) return { el: h("p", { class: "muted small" }, "Choose a template above to start."), focusTarget: null };
  var editor = blockEditor({ design: f.value, readOnly: isReadOnly(), urls: URLS, onChange: function (d) { f.set(d); } });
  var box = h("div", { class: "sf-design", "data-email-design": "" }, editor);
  if (!isReadOnly()) box.appendChild(h("div", { class: "inline" },
    h("button", { type: "button", "data-save-to-library": "", onclick: function () { saveToLibrary(f, f.settings.design); } }, "Save to the library and use it here"),
    h("span", { class: "muted small" }, "The preview below shows the email as the chosen person gets it.")));
  return { el: box, focusTarget: box.querySelector("[contenteditable], input, button") };
});

/* A library email: linked (the step sends it as the library has it at each send), or
   copied into the step as its own design. */
registerWidget("email_library", function (f) {
  var pick = h("select", { id: f.id, disabled: isReadOnly(), "data-library-select": "" }, h("option", { value: "" }, "Loading the library…"));
  var info = h("div", { class: "small muted" });
  var actions = h("div", { class: "inline" });
  call("GET", URLS.library).then(function (r) {
    pick.textContent = "";
    pick.appendChild(h("option", { value: "" }, "Choose an email…"));
    ((r.data && r.data.emails) || []).forEach(function (e) { pick.appendChild(h("option", { value: e.id, selected: String(e.id) === String(f.value || "") }, e.name)); });
    if (f.value && pick.value !== String(f.value)) pick.appendChild(h("option", { value: f.value, selected: true }, "(deleted from the library)"));
    paint();
  });
  function paint() {
    actions.textContent = "";
    info.textContent = pick.value ? "Linked: this step sends the library email as it is at each send, so changes made in the library reach this step from its next email on." : "";
    if (!pick.value) return;
    actions.appendChild(h("a", { class: "button small", href: "/email/library/" + encodeURIComponent(pick.value), target: "_blank", rel: "noopener" }, "Edit in the library"));
    if (!isReadOnly()) actions.appendChild(h("button", { type: "button", class: "small", "data-copy-library": "", onclick: function () {
      call("GET", URLS.one + encodeURIComponent(pick.value) + ".json").then(function (r) {
        if (!r.ok) { window.alert(messages(r).join("; ")); return; }
        startFrom(f, r.data.email.design, { library_email: "" });
      });
    } }, "Copy into this step instead"));
  }
  pick.addEventListener("change", function () { f.set(pick.value); paint(); });
  return { el: h("div", null, pick, info, actions), focusTarget: pick };
});
