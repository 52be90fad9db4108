/* A message step's preview for a chosen person and its test send. */
import { api, url } from "./api.js";
import { comp } from "./catalog.js";
import { add, debounce, h, nextId } from "./dom.js";
import { PREVIEW_MS, S } from "./state.js";
import { channelFor } from "./widgets.js";

function personPicker(onPick) {
  var id = nextId("person");
  var listId = id + "-list";
  var input = h("input", { type: "search", id: id, role: "combobox", "aria-expanded": "false", "aria-controls": listId, "aria-autocomplete": "list", placeholder: "Email address or person id", autocomplete: "off" });
  var list = h("ul", { id: listId, role: "listbox", class: "dz-menu-list dz-person-list", hidden: true, "aria-label": "Persons" });
  var current = h("div", { class: "small dz-person-now" });
  var found = [], active = 0, seq = 0;
  function showCurrent() {
    current.textContent = "";
    if (S.person) add(current, ["Showing it as ", h("b", null, S.person.name), S.person.email ? " <" + S.person.email + ">" : "", " would get it."]);
    else current.textContent = "Choose a person to see the message with their details.";
  }
  function draw() {
    list.textContent = "";
    found.forEach(function (p, i) {
      var li = h("li", { role: "option", id: listId + "-" + i, class: i === active ? "dz-active" : "", "aria-selected": i === active ? "true" : "false" },
        h("span", null, p.name), p.email ? h("span", { class: "muted small" }, " " + p.email) : null);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(p); });
      list.appendChild(li);
    });
    list.hidden = !found.length;
    input.setAttribute("aria-expanded", found.length ? "true" : "false");
    input.setAttribute("aria-activedescendant", found.length ? listId + "-" + active : "");
  }
  function choose(p) {
    S.person = p;
    input.value = "";
    found = [];
    draw();
    showCurrent();
    onPick(p);
  }
  var search = debounce(function () {
    var s = ++seq;
    api("GET", url("persons") + "?q=" + encodeURIComponent(input.value.trim())).then(function (r) {
      if (s !== seq || !r.ok) return;
      found = r.data.persons || [];
      active = 0;
      draw();
    });
  }, 250);
  input.addEventListener("input", search);
  input.addEventListener("focus", search);
  input.addEventListener("blur", function () { setTimeout(function () { found = []; draw(); }, 150); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); active = Math.min(found.length - 1, active + 1); draw(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); active = Math.max(0, active - 1); draw(); }
    else if (e.key === "Enter") { e.preventDefault(); if (found[active]) choose(found[active]); }
    else if (e.key === "Escape") { found = []; draw(); }
  });
  showCurrent();
  if (!S.person) {
    api("GET", url("persons")).then(function (r) {
      var first = r.ok && r.data.persons && r.data.persons[0];
      if (first && !S.person) choose(first);
    });
  }
  return h("div", { class: "field dz-person" }, h("label", { "for": id }, "Preview for"), h("div", { class: "dz-combo" }, input, list), current);
}

var previewTarget = null;
/* The panel drops the preview it showed before drawing another. */
export function forgetPreview() { previewTarget = null; }
export var schedulePreview = debounce(function () { if (previewTarget) previewTarget(); }, PREVIEW_MS);
export function previewSection(st, c) {
  var out = h("div", { class: "dz-preview", "aria-live": "polite", "data-preview": "" }, h("p", { class: "muted small" }, "Choose a person to see the preview."));
  var seq = 0;
  function load() {
    if (!S.person || !document.body.contains(out)) return;
    var s = ++seq;
    out.classList.add("dz-loading");
    api("POST", url("preview"), { step: { type: st.type, settings: st.settings || {} }, person_id: S.person.id, trigger: S.doc.trigger, flow_id: S.boot.flow_id }).then(function (r) {
      if (s !== seq) return;
      out.classList.remove("dz-loading");
      out.textContent = "";
      if (!r.ok) {
        var why = (r.data.errors || []).map(function (e) { return e.message; }).join("; ");
        if ((r.data.errors || []).some(function (e) { return e.field === "step.settings"; })) {
          out.appendChild(h("div", { class: "dz-preview-wait" }, h("b", null, "The preview appears when the message is complete."), h("span", { class: "small" }, " Still missing: " + why.replace(/ is required/g, "").replace(/;/g, ","))));
        } else out.appendChild(problemBox("No preview", [why || "The server answered " + r.status]));
        return;
      }
      (r.data.content || []).forEach(function (m) { out.appendChild(messageView(m)); });
      var probs = (r.data.problems || []);
      if (probs.length) out.appendChild(problemBox("This person would not get it as it is", probs.map(function (p) { return typeof p === "string" ? p : p.message; })));
      if (!(r.data.content || []).length && !probs.length) out.appendChild(h("p", { class: "muted" }, "Nothing to show for this person."));
    });
  }
  previewTarget = load;
  var picker = personPicker(load);
  setTimeout(load, 0);
  return h("section", { class: "dz-section", "data-keep-enabled": "" }, h("h3", null, "Preview"), picker, out);
}
/* One message as its channel shows it (registerChannel's `message`); a channel that
   registered no view gets the plain one: subject, sender, recipient and text. */
function messageView(m) {
  var how = channelFor(m.channel);
  if (how.message) return how.message(m);
  var probs = (m.problems || []).map(function (p) { return typeof p === "string" ? p : p.message; });
  return h("div", { class: "message dz-message" },
    m.subject ? h("div", { class: "message-head" }, h("b", null, m.subject)) : null,
    h("div", { class: "message-meta" },
      h("div", null, h("span", { class: "muted" }, "From: "), m.sender || "—"),
      h("div", null, h("span", { class: "muted" }, "To: "), m.to || "—")),
    m.text ? h("pre", null, m.text) : null,
    probs.length ? problemBox("Problems", probs) : null);
}
export function problemBox(title, items) {
  return h("div", { class: "problems dz-problems" }, h("b", null, title), h("ul", null, items.map(function (t) { return h("li", null, t); })));
}
export function sendTestSection(st) {
  var id = nextId("to");
  var part = comp("step_types", st.type);
  var input = (part && channelFor(part.sends).testInput) || { type: "text" };
  var to = h("input", Object.assign({}, input, { id: id }));
  var msg = h("div", { class: "dz-msg", role: "status" });
  var btn = h("button", { type: "button", "data-send-test": "" }, "Send test");
  function send() {
    msg.textContent = "";
    msg.className = "dz-msg";
    if (!S.person) { msg.textContent = "Choose a person for the preview first: the test uses their details."; return; }
    btn.disabled = true;
    api("POST", url("send_test"), { step: { type: st.type, settings: st.settings || {} }, person_id: S.person.id, to: to.value.trim(), trigger: S.doc.trigger, flow_id: S.boot.flow_id }).then(function (r) {
      btn.disabled = false;
      if (r.ok) { msg.className = "dz-msg dz-ok"; msg.textContent = r.data.message || "Sent."; }
      else msg.textContent = (r.data.errors || []).map(function (e) { return (e.field === "to" ? "Send the test to: " : "") + e.message; }).join("; ") || "The test could not be sent.";
    });
  }
  btn.addEventListener("click", send);
  to.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); send(); } });
  return h("section", { class: "dz-section", "data-keep-enabled": "" }, h("h3", null, "Send a test"),
    h("div", { class: "field" }, h("label", { "for": id }, "Send the test to"), h("div", { class: "inline" }, to, btn), h("div", { class: "help" }, "Filled in with the preview person's details, marked as a test."), msg));
}
