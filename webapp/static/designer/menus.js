/* Keyboard-friendly pop-up menus: type to filter, arrows, Enter (step types at a +, conditions, criteria, merge tags). */
import { comps, grouped } from "./catalog.js";
import { h, nextId } from "./dom.js";
import { S } from "./state.js";
import { insertStep } from "./steps.js";

var openPop = null;
export function closePop(restore) {
  if (!openPop) return;
  var p = openPop;
  openPop = null;
  p.el.remove();
  document.removeEventListener("mousedown", p.outside, true);
  if (p.anchor) p.anchor.setAttribute("aria-expanded", "false");
  if (restore && p.anchor && document.body.contains(p.anchor)) p.anchor.focus();
}
function popover(anchor, el) {
  closePop(false);
  var r = anchor.getBoundingClientRect();
  el.classList.add("dz-pop");
  el.style.top = (window.scrollY + r.bottom + 6) + "px";
  el.style.left = Math.max(8, Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - 330)) + "px";
  document.body.appendChild(el);
  var outside = function (e) { if (!el.contains(e.target) && e.target !== anchor) closePop(false); };
  document.addEventListener("mousedown", outside, true);
  anchor.setAttribute("aria-expanded", "true");
  openPop = { el: el, anchor: anchor, outside: outside };
}
export function listMenu(anchor, opts) {
  var listId = nextId("menu");
  var input = h("input", { type: "text", placeholder: opts.placeholder || "Type to filter", "aria-label": opts.aria, role: "combobox", "aria-expanded": "true", "aria-controls": listId, "aria-autocomplete": "list" });
  var list = h("ul", { id: listId, role: "listbox", class: "dz-menu-list", "aria-label": opts.aria });
  var box = h("div", { class: "dz-menu", role: "dialog", "aria-label": opts.aria }, input, list);
  var shown = [], active = 0;
  function draw() {
    var q = input.value.trim().toLowerCase();
    list.textContent = "";
    shown = opts.items.filter(function (it) { return !q || (it.label + " " + (it.group || "") + " " + (it.hint || "")).toLowerCase().indexOf(q) >= 0; });
    if (active >= shown.length) active = Math.max(0, shown.length - 1);
    var group = null;
    shown.forEach(function (it, i) {
      if (it.group && it.group !== group) { group = it.group; list.appendChild(h("li", { class: "dz-menu-group", role: "presentation" }, group)); }
      var li = h("li", { role: "option", id: listId + "-" + i, class: i === active ? "dz-active" : "", "aria-selected": i === active ? "true" : "false" },
        h("span", null, it.label), it.hint ? h("span", { class: "muted small" }, " " + it.hint) : null);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); closePop(false); opts.pick(it); });
      list.appendChild(li);
    });
    if (!shown.length) list.appendChild(h("li", { class: "muted small dz-menu-empty", role: "presentation" }, "Nothing matches"));
    input.setAttribute("aria-activedescendant", shown.length ? listId + "-" + active : "");
    var act = list.querySelector(".dz-active");
    if (act && act.scrollIntoView) act.scrollIntoView({ block: "nearest" });
  }
  input.addEventListener("input", function () { active = 0; draw(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); active = Math.min(shown.length - 1, active + 1); draw(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); active = Math.max(0, active - 1); draw(); }
    else if (e.key === "Home") { e.preventDefault(); active = 0; draw(); }
    else if (e.key === "End") { e.preventDefault(); active = shown.length - 1; draw(); }
    else if (e.key === "Enter") { e.preventDefault(); var it = shown[active]; if (it) { closePop(false); opts.pick(it); } }
    else if (e.key === "Escape") { e.preventDefault(); closePop(true); }
    else if (e.key === "Tab") { closePop(false); }
  });
  draw();
  popover(anchor, box);
  input.focus();
}
/* Menu entries by category, in the palette's order (categories as grouped(), each
   once; entries alphabetical within one). */
function menuItems(list) {
  var out = [];
  grouped(list).forEach(function (g) {
    g.items.forEach(function (c) { out.push({ label: c.label, group: g.name, value: c.name }); });
  });
  return out;
}
export function pickComponent(anchor, kind, filterOk, cb) {
  listMenu(anchor, {
    aria: "Choose " + { filters: "a condition", success_criteria: "a success criterion", triggers: "a trigger" }[kind], placeholder: "Type to filter",
    items: menuItems(comps(kind).filter(filterOk || function () { return true; })),
    pick: function (it) { cb(it.value); },
  });
}
export function openSlotMenu(anchor, laneKey, index) {
  if (S.readOnly) return;
  listMenu(anchor, {
    aria: "Choose a step to add", placeholder: "Type to find a step",
    items: menuItems(comps("step_types")),
    pick: function (it) { insertStep(it.value, laneKey, index); },
  });
}
