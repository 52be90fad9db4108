/* The catalogue of installed parts (triggers, filters, step types, success criteria) and how the designer names and groups them. */
import { h, humanize, nextId } from "./dom.js";
import { S } from "./state.js";
import { tagPattern } from "./text.js";

export function comps(kind) { return (S.catalog && S.catalog[kind]) || []; }
export function comp(kind, name) {
  var list = comps(kind);
  for (var i = 0; i < list.length; i++) if (list[i].name === name) return list[i];
  return null;
}
export function stepComp(type) { return comp("step_types", type); }
export function label(kind, type) { var c = comp(kind, type); return c ? c.label : humanize(type || "unknown"); }
var FIRST = ["messages", "flow control", "contact"];
var LAST = ["advanced", "other"];
export function grouped(list) {
  var groups = [], byName = {};
  list.forEach(function (c) {
    var g = c.category || "Other";
    if (!byName[g]) { byName[g] = { name: g, items: [] }; groups.push(byName[g]); }
    byName[g].items.push(c);
  });
  groups.forEach(function (g) { g.items.sort(function (a, b) { return String(a.label).localeCompare(String(b.label)); }); });
  function rank(g) {
    var name = g.name.toLowerCase(), i = FIRST.indexOf(name), j = LAST.indexOf(name);
    return i >= 0 ? i : j >= 0 ? FIRST.length + 1 + j : FIRST.length;
  }
  return groups.sort(function (a, b) { return rank(a) - rank(b) || a.name.localeCompare(b.name); });
}
/* Merge tags in words for the chart: "{{ person.first_name }}" → "[First name]". */
export function tagWords(text) {
  var labels = {};
  ((S.catalog && S.catalog.merge_tags) || []).forEach(function (t) { labels[t.tag] = t.label; });
  return String(text).replace(tagPattern(), function (all, a, b) { var tag = a || b; return "[" + (labels[tag] || humanize(String(tag).split(".").pop())) + "]"; });
}
export function componentSelect(kind, current, onPick, opts) {
  opts = opts || {};
  var list = comps(kind).filter(opts.filter || function () { return true; });
  var id = nextId("pick");
  var sel = h("select", { id: id, "aria-label": opts.aria || "Type" });
  sel.appendChild(h("option", { value: "", text: opts.placeholder || "Choose…" }));
  grouped(list).forEach(function (g) {
    var og = h("optgroup", { label: g.name });
    g.items.forEach(function (c) { og.appendChild(h("option", { value: c.name, text: c.label, selected: c.name === current })); });
    sel.appendChild(og);
  });
  if (current && !comp(kind, current)) sel.appendChild(h("option", { value: current, text: current + " (not installed)", selected: true }));
  sel.addEventListener("change", function () { onPick(sel.value || null); });
  return sel;
}
