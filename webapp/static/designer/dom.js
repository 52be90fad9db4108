/* The designer's small DOM and text helpers: h() builds elements, the rest format and name things. */

export function h(tag, attrs) {
  var el = document.createElement(tag);
  var a = attrs || {};
  Object.keys(a).forEach(function (k) {
    var v = a[k];
    if (v === null || v === undefined || v === false) return;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden" || k === "selected" || k === "draggable" || k === "tabIndex") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  });
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
export function add(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); return; }
  el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
}
export function clone(x) { return x === undefined ? undefined : JSON.parse(JSON.stringify(x)); }
export function debounce(fn, ms) {
  var t = null;
  var f = function () { var args = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, args); }, ms); };
  f.now = function () { clearTimeout(t); fn(); };
  return f;
}
export function number(n) { return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f"); }
export function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
var uid = 0;
export function nextId(prefix) { uid += 1; return (prefix || "dz") + "-" + uid; }
export function typeOf(prop) {
  var t = prop && prop.type;
  if (Array.isArray(t)) return t.filter(function (x) { return x !== "null"; })[0] || "string";
  return t || "";
}
export function nullable(prop) { return !!prop && Array.isArray(prop.type) && prop.type.indexOf("null") >= 0; }
export function humanize(name) { var s = String(name).replace(/[_.]/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
export function truncate(s, n) { s = String(s || "").replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
export function isTextInput(el) {
  if (!el) return false;
  if (el.tagName === "TEXTAREA" || el.isContentEditable) return true;
  return el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|file|range|color)$/.test(el.type);
}
export function accent(category) {
  var known = { messages: 0, "flow control": 1, contact: 2, selections: 3, company: 2, sales: 4, "follow-ups": 4, notifications: 5 };
  var key = String(category || "").toLowerCase();
  if (key in known) return known[key];
  var n = 0;
  for (var i = 0; i < key.length; i++) n = (n * 31 + key.charCodeAt(i)) % 997;
  return n % 6;
}

var ICONS = {
  copy: "M8 8h11v11H8z M5 16V5h11",
  trash: "M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3",
  close: "M6 6l12 12 M18 6L6 18",
};
export function icon(name) {
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}
