/* Text inputs that take merge tags: unknown tags underlined, and the picker that inserts one. */
import { api, url } from "./api.js";
import { unknownTags } from "./checks.js";
import { h, nullable } from "./dom.js";
import { listMenu } from "./menus.js";
import { S } from "./state.js";
import { tagName, tagPattern } from "./text.js";

function paintLayer(layer, text, bad) {
  layer.textContent = "";
  var last = 0, m, re = tagPattern();
  while ((m = re.exec(text))) {
    var tag = tagName(m);
    if (bad.indexOf(tag) < 0) continue;
    layer.appendChild(document.createTextNode(text.slice(last, m.index)));
    layer.appendChild(h("mark", { class: "dz-bad-tag" }, m[0]));
    last = m.index + m[0].length;
  }
  layer.appendChild(document.createTextNode(text.slice(last) + "\n"));
}
/* A text input or textarea over a layer that underlines unknown merge tags. */
export function highlighted(control, ctx, name) {
  var layer = h("div", { class: "dz-hl", "aria-hidden": "true" });
  var wrap = h("div", { class: "dz-hl-wrap" + (control.tagName === "INPUT" ? " dz-hl-line" : ""), "data-merge-field": name }, layer, control);
  var note = h("div", { class: "dz-tag-note", role: "status" });
  var synced = false;
  function sync() {
    if (synced || !control.isConnected) return;
    var cs = getComputedStyle(control);
    ["fontFamily", "fontSize", "fontWeight", "lineHeight", "letterSpacing", "wordSpacing", "tabSize", "textIndent",
      "paddingTop", "paddingRight", "paddingBottom", "paddingLeft", "borderTopWidth", "borderRightWidth", "borderBottomWidth", "borderLeftWidth"]
      .forEach(function (k) { layer.style[k] = cs[k]; });
    synced = true;
  }
  function grow() {
    if (control.tagName !== "TEXTAREA" || !control.isConnected) return;
    control.style.height = "auto";
    control.style.height = (control.scrollHeight + 2) + "px";
  }
  function paint() {
    sync();
    grow();
    var bad = unknownTags(ctx.stepId, name);
    paintLayer(layer, control.value, bad);
    layer.scrollTop = control.scrollTop;
    layer.scrollLeft = control.scrollLeft;
    var present = bad.filter(function (t) { return control.value.indexOf(t) >= 0; });
    note.textContent = present.length ? "Unknown merge tag" + (present.length > 1 ? "s" : "") + ": " + present.map(function (t) { return "{{ " + t + " }}"; }).join(", ") + " — no person, company or flow has it" : "";
    wrap.classList.toggle("dz-has-bad", present.length > 0);
  }
  wrap._paint = paint;
  control.addEventListener("input", paint);
  control.addEventListener("scroll", function () { layer.scrollTop = control.scrollTop; layer.scrollLeft = control.scrollLeft; });
  paint();
  requestAnimationFrame(paint);
  return h("div", null, wrap, note);
}
export function mergeInput(prop, id, v, setValue, ctx, name) {
  var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), maxlength: prop.maxLength, autocomplete: "off" });
  inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
  return { el: highlighted(inp, ctx, name), focusTarget: inp };
}
export function textArea(prop, id, v, setValue, ctx, name, code, rows) {
  var ta = h("textarea", { id: id, rows: String(rows || 4), class: code ? "dz-code" : "dz-prose", spellcheck: code ? "false" : "true" });
  ta.value = v === undefined || v === null ? "" : String(v);
  ta.addEventListener("input", function () { setValue(ta.value === "" ? (nullable(prop) ? null : undefined) : ta.value); });
  return { el: prop["x-merge-tags"] ? highlighted(ta, ctx, name) : ta, focusTarget: ta };
}
export function insertAt(control, before, after, placeholder) {
  var start = control.selectionStart === null || control.selectionStart === undefined ? control.value.length : control.selectionStart;
  var end = control.selectionEnd === null || control.selectionEnd === undefined ? start : control.selectionEnd;
  var inner = control.value.slice(start, end) || placeholder || "";
  control.value = control.value.slice(0, start) + before + inner + (after || "") + control.value.slice(end);
  control.focus();
  if (placeholder && start === end) control.setSelectionRange(start + before.length, start + before.length + inner.length);
  else { var pos = start + before.length + inner.length + (after || "").length; control.setSelectionRange(pos, pos); }
  control.dispatchEvent(new Event("input", { bubbles: true }));
}

export function mergeTagButton(control) {
  var btn = h("button", { type: "button", class: "small link dz-tag-btn", "aria-haspopup": "listbox", "aria-label": "Insert a merge tag into " + (control.id ? (document.querySelector('label[for="' + control.id + '"]') || {}).textContent || "the field" : "the field") }, "{ } Insert merge tag");
  btn.addEventListener("click", function () { openTagMenu(btn, control); });
  return btn;
}
/* The picker asks for this flow's tags: the catalogue's and its trigger's event data. */
function openTagMenu(anchor, control) {
  var start = control.selectionStart, end = control.selectionEnd;
  function show(tags) {
    listMenu(anchor, {
      aria: "Insert a merge tag", placeholder: "Type to find a merge tag",
      items: tags.map(function (t) { return { label: t.label, group: t.group, hint: t.insert ? "for each in " + t.tag : t.tag, value: t.insert || "{{ " + t.tag + " }}" }; }),
      pick: function (it) {
        if (start !== null && start !== undefined) control.setSelectionRange(start, end);
        insertAt(control, it.value, "");
      },
    });
  }
  api("POST", url("merge_tags"), { trigger: S.doc.trigger, flow_id: S.boot.flow_id }).then(function (r) {
    show(r.ok && r.data.merge_tags ? r.data.merge_tags : ((S.catalog && S.catalog.merge_tags) || []));
  });
}
