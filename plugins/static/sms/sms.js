/* The SMS plugin's part of the flow designer: the SMS text with a live count of
   characters and parts, and how an SMS preview looks. */
import { h, plural, problemBox, registerChannel, registerWidget, smsCount, textArea, withoutTemplateTags } from "/static/designer/widgets.js";

/* "65 characters · 1 SMS (GSM-7)", counted by the server's rules without the merge tags. */
function smsWords(text) {
  var bare = withoutTemplateTags(text);
  var c = smsCount(bare);
  var s = plural(c.units, "character", "characters") + " · " + c.parts + " SMS (" + c.encoding + ")";
  if (bare !== text) s += " · merge tags not counted";
  return s;
}

registerWidget("sms", function (f) {
  var made = textArea(f.prop, f.id, f.value, f.set, f.ctx, f.name, false, 4);
  var ta = made.focusTarget;
  var counter = h("div", { class: "dz-sms-count", "aria-live": "polite", "data-sms-count": "" });
  function count() { counter.textContent = smsWords(ta.value); }
  ta.addEventListener("input", count);
  count();
  return { el: h("div", { class: "dz-sms" }, made.el, counter), focusTarget: ta };
});

function smsView(m) {
  var probs = (m.problems || []).map(function (p) { return typeof p === "string" ? p : p.message; });
  return h("div", { class: "message dz-message" },
    h("div", { class: "message-meta" }, h("div", null, h("span", { class: "muted" }, "From "), m.sender || "—", h("span", { class: "muted" }, " to "), m.to || "no mobile number")),
    h("div", { class: "sms-bubble", "data-preview-sms": "" }, m.text || ""),
    h("div", { class: "message-foot small muted" }, smsWords(m.text || "").replace(" · merge tags not counted", "") + " as sent"),
    probs.length ? problemBox("Problems", probs) : null);
}

registerChannel("sms", {
  testInput: { type: "tel", placeholder: "+47 912 34 567", autocomplete: "tel" },
  message: smsView,
});
