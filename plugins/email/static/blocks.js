/* The email block editor: a design's blocks (text, image, button, columns, divider,
   spacer, social links, footer) added, edited, moved and removed, with a link dialog
   that asks the address and whether clicks are tracked, and an image library to pick
   from or upload to. Self-contained (no designer internals): the designer's email
   step and the Email library page both draw it with blockEditor(options). */

export function h(tag, attrs) {
  var el = document.createElement(tag);
  var a = attrs || {};
  Object.keys(a).forEach(function (k) {
    var v = a[k];
    if (v === null || v === undefined || v === false) return;
    if (k === "class") el.className = v;
    else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  });
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
function add(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); return; }
  el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
}
var uid = 0;
function nextId(p) { uid += 1; return "sf-" + (p || "b") + "-" + uid; }
export function clone(x) { return x === undefined || x === null ? x : JSON.parse(JSON.stringify(x)); }
function csrf() { var m = document.querySelector("meta[name=csrf-token]"); return m ? m.getAttribute("content") : ""; }
export function call(method, url, body) {
  var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = csrf();
    if (body instanceof FormData) opts.body = body;
    else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body || {}); }
  }
  return fetch(url, opts).then(function (r) {
    return r.text().then(function (t) {
      var data;
      try { data = t ? JSON.parse(t) : {}; } catch (e) { data = { errors: [{ message: "The server answered " + r.status }] }; }
      return { ok: r.ok, status: r.status, data: data || {} };
    });
  }, function () { return { ok: false, status: 0, data: { errors: [{ message: "No connection to the server: try again." }] } }; });
}
export function messages(r) { return ((r.data && r.data.errors) || [{ message: "That did not work (" + r.status + ")" }]).map(function (e) { return e.message; }); }

export var LABELS = { text: "Text", image: "Image", button: "Button", columns: "Columns", divider: "Divider", spacer: "Spacer", social: "Social links", footer: "Footer" };
var IN_COLUMN = ["text", "image", "button", "divider", "spacer", "social"];
var NETWORKS = { facebook: "Facebook", instagram: "Instagram", linkedin: "LinkedIn", x: "X", youtube: "YouTube", website: "Website" };

export function newBlock(type) {
  switch (type) {
    case "text": return { type: "text", html: "<p>Write something here.</p>", align: "left" };
    case "image": return { type: "image", src: "", alt: "", href: "", width: null };
    case "button": return { type: "button", label: "Read more", url: "", tracked: true, background: "#2563eb", color: "#ffffff", align: "center" };
    case "columns": return { type: "columns", columns: [{ blocks: [newBlock("text")] }, { blocks: [newBlock("text")] }] };
    case "divider": return { type: "divider", color: "#dddddd" };
    case "spacer": return { type: "spacer", height: 20 };
    case "social": return { type: "social", links: [{ network: "website", url: "https://example.com/" }] };
    default: return { type: "footer", address: "", text: "", unsubscribe_label: "Unsubscribe" };
  }
}
/* A new design: what the marketer adds goes above the footer every email starts with. */
export function blankDesign() { return { background: "#f4f4f4", width: 600, blocks: [newBlock("text"), newBlock("footer")] }; }

/* An address a link may have: http, https, mailto, or one merge tag ({{ person.website }}). */
export function linkProblem(text, noMail) {
  var v = String(text || "").trim();
  if (!v) return "Give the address the link goes to.";
  if (/^(\{\{[^{}]+\}\}|\[\[[^\[\]]+\]\])$/.test(v)) return "";
  if (!noMail && /^mailto:/i.test(v)) return /^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(v) ? "" : "That is not an email address: mailto:name@example.com";
  var u;
  try { u = new URL(v); } catch (e) { return "That is not a web address: start it with https://, e.g. https://example.com/offer"; }
  if (u.protocol !== "https:" && u.protocol !== "http:") return noMail ? "An address must start with https:// or http://." : "A link must start with https:// or http:// (or mailto: for an email address).";
  if (!u.hostname || u.hostname.indexOf(".") < 0) return "The address needs a domain, e.g. https://example.com/offer";
  return "";
}

function dialog(title, body, onOk, okText, extra) {
  var msg = h("div", { class: "dz-msg", role: "alert", "data-dialog-error": "" });
  var ok = h("button", { type: "submit", class: "primary", "data-dialog-ok": "" }, okText || "OK");
  var cancel = h("button", { type: "button" }, "Cancel");
  var titleId = nextId("dlg");
  var form = h("form", { method: "dialog", novalidate: "" }, h("h2", { id: titleId }, title), body, msg, h("div", { class: "inline dz-dlg-actions" }, ok, extra || null, cancel));
  var dlg = h("dialog", { class: "dz-dialog sf-dialog", "aria-labelledby": titleId }, form);
  document.body.appendChild(dlg);
  function close() { dlg.close(); dlg.remove(); }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var problem = onOk();
    msg.textContent = problem || "";
    if (!problem) close();
  });
  cancel.addEventListener("click", close);
  dlg.addEventListener("cancel", function (e) { e.preventDefault(); close(); });
  dlg.showModal();
  return { dlg: dlg, close: close, msg: msg };
}

/* The link dialog: asks the address (checked) and whether clicks are tracked. */
export function askLink(current, done) {
  var urlId = nextId("url"), trackId = nextId("track");
  var address = h("input", { type: "url", id: urlId, value: current.url || "", placeholder: "https://example.com/offer", "data-link-url": "", autocomplete: "url" });
  var track = h("input", { type: "checkbox", id: trackId, checked: current.tracked !== false, "data-link-tracked": "" });
  var state = h("p", { class: "small muted", "data-link-state": "" });
  function paint() { state.textContent = track.checked ? "Clicks on this link are tracked: the link goes through this site first, then on to the address." : "Clicks on this link are not tracked: it goes straight to the address."; }
  track.addEventListener("change", paint);
  paint();
  var remove = current.url && current.onRemove ? h("button", { type: "button", class: "danger", "data-link-remove": "" }, "Remove link") : null;
  var d = dialog(current.url ? "Edit the link" : "Insert a link", [
    h("div", { class: "field" }, h("label", { "for": urlId }, "Web address"), address, h("div", { class: "help" }, "https://…, mailto: and an email address, or a merge tag such as {{ person.website }}")),
    h("div", { class: "field" }, h("label", { class: "inline", "for": trackId }, track, " Track clicks on this link"), state),
  ], function () {
    var problem = linkProblem(address.value);
    address.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem) { address.focus(); return problem; }
    done({ url: address.value.trim(), tracked: track.checked });
    return "";
  }, current.url ? "Save link" : "Insert link", remove);
  if (remove) remove.addEventListener("click", function () { d.close(); current.onRemove(); });
  address.addEventListener("input", function () { d.msg.textContent = ""; address.setAttribute("aria-invalid", "false"); });
  address.focus();
}

/* The image library: pick a picture, or upload one (checked on the server). */
export function pickImage(urls, done) {
  var grid = h("div", { class: "sf-image-grid", "data-image-library": "" }, h("p", { class: "muted" }, "Loading the image library…"));
  var fileId = nextId("file");
  var file = h("input", { type: "file", id: fileId, accept: "image/png,image/jpeg,image/gif,image/webp", "data-image-upload": "" });
  var status = h("div", { class: "dz-msg", role: "alert", "data-image-error": "" });
  var d = dialog("Choose an image", [
    h("div", { class: "field" }, h("label", { "for": fileId }, "Upload an image (PNG, JPEG, GIF or WebP)"), file, status),
    h("h3", null, "Image library"), grid,
  ], function () { return "Choose an image, or Cancel."; }, "Use the chosen image");
  d.dlg.classList.add("sf-image-dialog");
  d.dlg.querySelector("[data-dialog-ok]").remove();
  function use(img) { d.close(); done(img); }
  function load() {
    call("GET", urls.images).then(function (r) {
      grid.textContent = "";
      var list = (r.data && r.data.images) || [];
      if (!r.ok) { grid.appendChild(h("p", { class: "dz-msg" }, messages(r).join("; "))); return; }
      if (!list.length) grid.appendChild(h("p", { class: "muted" }, "No images yet: upload the first."));
      list.forEach(function (img) {
        var remove = h("button", { type: "button", class: "small danger", "aria-label": "Delete " + img.name + " from the library", onclick: function () {
          call("POST", urls.upload + "/" + encodeURIComponent(img.file) + "/delete").then(function (r) {
            if (!r.ok) { status.textContent = messages(r).join("; "); return; }
            load();
          });
        } }, "Delete");
        grid.appendChild(h("div", { class: "sf-image-item" },
          h("button", { type: "button", class: "sf-image-pick", "data-image-file": img.file, "aria-label": "Use " + img.name, onclick: function () { use(img); } },
            h("img", { src: "/images/" + img.file, alt: "" }), h("span", { class: "small" }, img.name), h("span", { class: "muted small" }, img.width + "×" + img.height)),
          remove));
      });
    });
  }
  file.addEventListener("change", function () {
    if (!file.files.length) return;
    var fd = new FormData();
    fd.append("file", file.files[0]);
    status.textContent = "Uploading " + file.files[0].name + "…";
    call("POST", urls.upload, fd).then(function (r) {
      file.value = "";
      if (!r.ok) { status.textContent = messages(r).join("; "); return; }
      status.textContent = "";
      use(r.data);
    });
  });
  load();
}

function field(label, control, help) {
  var id = control.id || nextId("f");
  control.id = id;
  return h("div", { class: "field sf-field" }, h("label", { "for": id }, label), control, help ? h("div", { class: "help" }, help) : null);
}
function text(value, set, attrs) {
  var el = h("input", Object.assign({ type: "text", value: value || "" }, attrs || {}));
  el.addEventListener("input", function () { set(el.value); });
  return el;
}
function colour(value, set) {
  var el = h("input", { type: "color", value: value });
  el.addEventListener("input", function () { set(el.value); });
  return el;
}
function select(value, options, set) {
  var el = h("select", null, Object.keys(options).map(function (k) { return h("option", { value: k, selected: k === value }, options[k]); }));
  el.addEventListener("change", function () { set(el.value); });
  return el;
}
function linkInput(value, set, noMail) {
  var el = text(value, function () {}, { type: "url", placeholder: "https://example.com/offer" });
  var msg = h("div", { class: "dz-msg", role: "alert" });
  el.addEventListener("input", function () {
    var problem = el.value.trim() ? linkProblem(el.value, noMail) : "";
    msg.textContent = problem;
    el.setAttribute("aria-invalid", problem ? "true" : "false");
    set(el.value.trim());
  });
  return { el: el, msg: msg };
}

/* The text block: contenteditable with Bold, Italic, Underline, Link and a list. */
function textBlock(block, changed, ro, where) {
  var area = h("div", { class: "sf-text", role: "textbox", "aria-multiline": "true", "aria-label": "Text of " + where, contenteditable: ro ? "false" : "true", "data-block-text": "" });
  area.innerHTML = block.html || "";
  function store() { block.html = area.innerHTML; changed(); }
  area.addEventListener("input", store);
  var saved = null;
  function keep() { var s = window.getSelection(); if (s.rangeCount && area.contains(s.anchorNode)) saved = s.getRangeAt(0).cloneRange(); }
  area.addEventListener("keyup", keep);
  area.addEventListener("mouseup", keep);
  area.addEventListener("blur", keep);
  function cmd(name) { area.focus(); document.execCommand(name, false, null); store(); }
  function editLink(a) {
    askLink({ url: a.getAttribute("href"), tracked: a.getAttribute("data-tracked") !== "no", onRemove: function () { a.replaceWith.apply(a, Array.prototype.slice.call(a.childNodes)); store(); } }, function (got) {
      a.setAttribute("href", got.url);
      if (got.tracked) a.removeAttribute("data-tracked"); else a.setAttribute("data-tracked", "no");
      store();
    });
  }
  function link() {
    var range = saved;
    var inside = range && (range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentNode).closest("a");
    if (inside && area.contains(inside)) { editLink(inside); return; }
    askLink({ url: "", tracked: true }, function (got) {
      var a = document.createElement("a");
      a.setAttribute("href", got.url);
      if (!got.tracked) a.setAttribute("data-tracked", "no");
      if (range && !range.collapsed && area.contains(range.commonAncestorContainer)) a.appendChild(range.extractContents());
      else a.textContent = got.url.replace(/^mailto:/i, "");
      if (range && area.contains(range.startContainer)) range.insertNode(a); else (area.lastElementChild || area).appendChild(a);
      store();
    });
  }
  area.addEventListener("click", function (e) {
    var a = e.target.closest("a");
    if (a && !ro) { e.preventDefault(); editLink(a); }
  });
  function tool(label, aria, fn) { return h("button", { type: "button", class: "small", "aria-label": aria, title: aria, onmousedown: function (e) { e.preventDefault(); keep(); }, onclick: fn }, label); }
  var bar = ro ? null : h("div", { class: "dz-toolbar", role: "toolbar", "aria-label": "Formatting of " + where },
    tool("B", "Bold", function () { cmd("bold"); }), tool("I", "Italic", function () { cmd("italic"); }),
    tool("U", "Underline", function () { cmd("underline"); }), tool("Link", "Link", link),
    tool("• List", "Bulleted list", function () { cmd("insertUnorderedList"); }));
  var align = ro ? null : field("Alignment", select(block.align || "left", { left: "Left", center: "Centre", right: "Right" }, function (v) { block.align = v; changed(); }));
  return [bar, area, h("div", { class: "help" }, "Merge tags such as {{ person.first_name }} are filled in for each person. Links show whether clicks are tracked."), align];
}

function imageBlock(block, changed, ro, where, urls, redraw) {
  var shown = block.src ? h("img", { src: block.src, alt: block.alt || "", class: "sf-image-shown" }) : h("div", { class: "sf-image-empty" }, "No image chosen yet.");
  var choose = ro ? null : h("button", { type: "button", "data-choose-image": "", onclick: function () {
    pickImage(urls, function (img) {
      block.src = img.url;
      /* A small picture keeps its own size; a large one fills the column. */
      block.width = img.width >= 20 && img.width < 560 ? img.width : null;
      if (!block.alt) block.alt = (img.name || "").replace(/\.[a-z]+$/i, "");
      changed(); redraw();
    });
  } }, block.src ? "Choose another image…" : "Choose an image…");
  var href = linkInput(block.href, function (v) { block.href = v; changed(); });
  return [shown, h("div", { class: "inline" }, choose),
    field("Description (for screen readers and blocked images)", text(block.alt, function (v) { block.alt = v; changed(); }, { "data-image-alt": "" })),
    field("Link (optional)", href.el), href.msg];
}

function buttonBlock(block, changed, ro) {
  var url = linkInput(block.url, function (v) { block.url = v; changed(); });
  url.el.setAttribute("data-button-url", "");
  var track = h("input", { type: "checkbox", checked: block.tracked !== false, "data-button-tracked": "" });
  var state = h("span", { class: "small muted" });
  function paint() { state.textContent = track.checked ? "tracked" : "not tracked"; }
  track.addEventListener("change", function () { block.tracked = track.checked; paint(); changed(); });
  paint();
  var trackId = nextId("trk");
  track.id = trackId;
  return [field("Label", text(block.label, function (v) { block.label = v; changed(); }, { "data-button-label": "" })),
    field("Link", url.el, "https://…, mailto:…, or a merge tag"), url.msg,
    h("div", { class: "inline" }, h("label", { "for": trackId, class: "inline" }, track, " Track clicks"), state),
    h("div", { class: "inline" },
      field("Button colour", colour(block.background, function (v) { block.background = v; changed(); })),
      field("Text colour", colour(block.color, function (v) { block.color = v; changed(); })),
      field("Alignment", select(block.align, { left: "Left", center: "Centre", right: "Right" }, function (v) { block.align = v; changed(); })))];
}

function socialBlock(block, changed, ro, where, urls, redraw) {
  var rows = (block.links || []).map(function (link, i) {
    var url = linkInput(link.url, function (v) { link.url = v; changed(); }, true);
    return h("div", { class: "inline sf-social-row" },
      select(link.network, NETWORKS, function (v) { link.network = v; changed(); }), url.el,
      ro ? null : h("button", { type: "button", class: "small", "aria-label": "Remove link " + (i + 1), onclick: function () { block.links.splice(i, 1); changed(); redraw(); } }, "Remove"), url.msg);
  });
  var more = ro || (block.links || []).length >= 8 ? null : h("button", { type: "button", class: "small", onclick: function () { block.links.push({ network: "website", url: "" }); changed(); redraw(); } }, "Add a link");
  return [rows, more];
}

function footerBlock(block, changed) {
  var address = h("textarea", { rows: 2, placeholder: "Empty: the sender's postal address your administrator set", "data-footer-address": "" });
  address.value = block.address || "";
  address.addEventListener("input", function () { block.address = address.value; changed(); });
  return [h("p", { class: "small muted" }, "Marketing emails must say who sends them and let people unsubscribe: the unsubscribe link is added here for you."),
    field("Postal address", address),
    field("Note above the address (optional)", text(block.text, function (v) { block.text = v; changed(); })),
    field("Unsubscribe link text", text(block.unsubscribe_label, function (v) { block.unsubscribe_label = v; changed(); }))];
}

/* One list of blocks (the design's, or a column's). */
function blockList(list, opts, where, inColumn) {
  var box = h("div", { class: "sf-blocks", "data-blocks": where || "email" });
  function redraw() { box.replaceWith(blockList(list, opts, where, inColumn)); }
  list.forEach(function (block, i) {
    var name = (where ? where + ", block " : "Block ") + (i + 1);
    var label = LABELS[block.type] || block.type;
    function move(by) { var j = i + by; if (j < 0 || j >= list.length) return; list.splice(j, 0, list.splice(i, 1)[0]); opts.changed(); redraw(); }
    var head = h("div", { class: "sf-block-head" }, h("b", null, label), h("span", { class: "muted small" }, inColumn ? String(i + 1) : name),
      opts.readOnly ? null : h("span", { class: "sf-block-tools" },
        h("button", { type: "button", class: "small", "aria-label": "Move " + name + " (" + label + ") up", disabled: i === 0, onclick: function () { move(-1); } }, "↑"),
        h("button", { type: "button", class: "small", "aria-label": "Move " + name + " (" + label + ") down", disabled: i === list.length - 1, onclick: function () { move(1); } }, "↓"),
        h("button", { type: "button", class: "small danger", "aria-label": "Remove " + name + " (" + label + ")", onclick: function () { list.splice(i, 1); opts.changed(); redraw(); } }, "Remove")));
    var body;
    var ro = opts.readOnly;
    if (block.type === "text") body = textBlock(block, opts.changed, ro, name);
    else if (block.type === "image") body = imageBlock(block, opts.changed, ro, name, opts.urls, redraw);
    else if (block.type === "button") body = buttonBlock(block, opts.changed, ro);
    else if (block.type === "divider") body = [field("Colour", colour(block.color, function (v) { block.color = v; opts.changed(); }))];
    else if (block.type === "spacer") body = [field("Height in pixels", text(String(block.height), function (v) { block.height = Math.max(4, Math.min(200, parseInt(v, 10) || 20)); opts.changed(); }, { type: "number", min: 4, max: 200 }))];
    else if (block.type === "social") body = socialBlock(block, opts.changed, ro, name, opts.urls, redraw);
    else if (block.type === "footer") body = footerBlock(block, opts.changed);
    else if (block.type === "columns") {
      var count = select(String(block.columns.length), { 2: "2 columns", 3: "3 columns" }, function (v) {
        var n = parseInt(v, 10);
        while (block.columns.length < n) block.columns.push({ blocks: [newBlock("text")] });
        if (block.columns.length > n) block.columns.length = n;
        opts.changed(); redraw();
      });
      body = [ro ? null : field("Columns", count), h("div", { class: "sf-columns" }, block.columns.map(function (c, ci) {
        return h("div", { class: "sf-column" }, h("div", { class: "small muted" }, "Column " + (ci + 1)), blockList(c.blocks, opts, name + ", column " + (ci + 1), true));
      }))];
    }
    box.appendChild(h("section", { class: "sf-block sf-block-" + block.type, "data-block": block.type, "aria-label": name + " (" + label + ")" }, head, h("div", { class: "sf-block-body" }, body)));
  });
  if (!list.length) box.appendChild(h("p", { class: "muted small" }, "No blocks yet."));
  if (!opts.readOnly) {
    var kinds = inColumn ? IN_COLUMN : Object.keys(LABELS);
    box.appendChild(h("div", { class: "sf-add", role: "group", "aria-label": "Add a block" + (where ? " to " + where : "") },
      h("span", { class: "small muted" }, "Add:"),
      kinds.map(function (k) {
        return h("button", { type: "button", class: "small", "data-add-block": k, onclick: function () {
          var at = list.length;
          if (!inColumn && list.length && list[list.length - 1].type === "footer" && k !== "footer") at = list.length - 1;
          list.splice(at, 0, newBlock(k)); opts.changed(); redraw();
        } }, LABELS[k]);
      })));
  }
  return box;
}

/* The editor: options {design, readOnly, urls: {images, upload, render?}, onChange(design)};
   with urls.render it shows its own live preview beside the blocks. */
export function blockEditor(options) {
  var design = clone(options.design) || blankDesign();
  var frame = null, problems = null, timer = null;
  function preview() {
    if (!options.urls.render) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      call("POST", options.urls.render, { design: design }).then(function (r) {
        problems.textContent = "";
        if (!r.ok) { problems.appendChild(h("ul", null, messages(r).map(function (m) { return h("li", null, m); }))); return; }
        frame.srcdoc = r.data.html;
        (r.data.problems || []).forEach(function (p) { problems.appendChild(h("p", { class: "sf-problem" }, p)); });
      });
    }, 350);
  }
  var opts = { readOnly: !!options.readOnly, urls: options.urls, changed: function () { if (options.onChange) options.onChange(clone(design)); preview(); } };
  var bg = options.readOnly ? null : h("div", { class: "inline sf-design-settings" }, field("Background", colour(design.background || "#f4f4f4", function (v) { design.background = v; opts.changed(); })));
  var editor = h("div", { class: "sf-editor" }, bg, blockList(design.blocks, opts, "", false));
  if (options.readOnly) editor.querySelectorAll("input, select, textarea, button").forEach(function (el) { el.disabled = true; });
  if (!options.urls.render) return editor;
  frame = h("iframe", { sandbox: "", title: "Email preview", class: "sf-preview-frame", "data-email-preview": "" });
  problems = h("div", { class: "sf-problems", role: "status", "data-email-problems": "" });
  preview();
  return h("div", { class: "sf-editor-split" }, editor, h("div", { class: "sf-preview" }, h("h2", null, "Preview"),
    h("p", { class: "small muted" }, "Merge tags show as written here; a flow's preview fills them in for a person."), problems, frame));
}
