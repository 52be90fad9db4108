/* Text rules the server sends (merge-tag syntax, SMS segment counting) and the plain-text part of an HTML body. */
import { S } from "./state.js";

function rules() { return (S.catalog && S.catalog.text_rules) || {}; }
function pattern(rule, global) { return new RegExp(rule.source, (rule.flags || "") + (global ? "g" : "")); }

/* The merge tags of a text, as the server finds them (webapp/describe.py): each match's
   group 1 is a {{ name }}'s name, group 2 a [[name]]'s. A new expression every time,
   so one caller's lastIndex never leaks into another's. */
export function tagPattern() { return pattern(rules().merge_tag, true); }
export function tagName(match) { return match[1] || match[2]; }

/* What an SMS counts without: the merge tags and template blocks, as the server strips them. */
export function withoutTemplateTags(text) { return String(text).replace(pattern(rules().sms.merge_tag, true), ""); }

/* SMS: characters and parts counted as the phone network does, by the server's
   alphabets and segment sizes (superflow/sms_text.py). */
export function smsCount(text) {
  var sms = rules().sms;
  var chars = Array.from(text);
  var gsm = chars.every(function (c) { return sms.gsm7.indexOf(c) >= 0 || sms.gsm7_extension.indexOf(c) >= 0; });
  var sizes = chars.map(function (c) { return gsm ? (sms.gsm7_extension.indexOf(c) >= 0 ? 2 : 1) : (c.codePointAt(0) > 0xFFFF ? 2 : 1); });
  var encoding = gsm ? "GSM-7" : "UCS-2";
  var single = sms.limits[encoding][0], per = sms.limits[encoding][1];
  var units = sizes.reduce(function (a, b) { return a + b; }, 0);
  var parts = 1;
  if (units > single) {
    var used = 0;
    sizes.forEach(function (s) { if (used + s > per) { parts += 1; used = 0; } used += s; });
  }
  return { encoding: encoding, units: units, parts: parts };
}

export function htmlToText(html) {
  var doc = new DOMParser().parseFromString("<body>" + (html || "") + "</body>", "text/html");
  var out = "";
  function walkNode(n) {
    if (n.nodeType === 3) { out += n.nodeValue.replace(/\s+/g, " "); return; }
    if (n.nodeType !== 1) return;
    var tag = n.tagName.toLowerCase();
    if (tag === "script" || tag === "style" || tag === "head") return;
    if (tag === "br") { out += "\n"; return; }
    var block = /^(p|div|h[1-6]|ul|ol|table|tr|blockquote|section|header|footer)$/.test(tag);
    if (block) out += "\n\n";
    if (tag === "li") out += "\n- ";
    Array.prototype.forEach.call(n.childNodes, walkNode);
    if (tag === "a" && n.getAttribute("href") && n.getAttribute("href") !== n.textContent.trim()) out += " (" + n.getAttribute("href") + ")";
    if (block) out += "\n\n";
  }
  walkNode(doc.body);
  return out.replace(/[ \t]+\n/g, "\n").replace(/\n[ \t]+/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
}
