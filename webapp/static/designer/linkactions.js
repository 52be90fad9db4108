/* "When someone clicks a link": the link_actions setting of an email step. It lists the
   links found in the email's body (whatever made it) and, for each, the actions a click
   does in the CRM — step types that may be link actions, each with its own settings form. */
import { comps, stepComp } from "./catalog.js";
import { h } from "./dom.js";
import { buildForm } from "./settings.js";
import { S } from "./state.js";
import { linkSourcesFor, registerWidget } from "./widgets.js";

export function linksOf(html) {
  var found = [];
  if (!html) return found;
  var doc = new DOMParser().parseFromString(String(html), "text/html");
  doc.querySelectorAll("a[href]").forEach(function (a) {
    var href = a.getAttribute("href").trim();
    if (/^https?:\/\//i.test(href) && found.indexOf(href) < 0) found.push(href);
  });
  return found;
}

/* The links of the step's content: a plugin's link source if one knows the content,
   else the raw HTML body's. */
export function contentLinks(settings) {
  var sources = linkSourcesFor();
  for (var i = 0; i < sources.length; i++) {
    var found = sources[i](settings);
    if (Array.isArray(found)) return found;
  }
  return linksOf(settings.html);
}

function actionTypes() {
  return comps("step_types").filter(function (c) { return c.link_action; });
}

registerWidget("link_actions", function (f) {
  var value = Array.isArray(f.value) ? f.value : [];
  var box = h("div", { class: "dz-link-actions", id: f.id });
  function changed() {
    var kept = value.filter(function (entry) { return entry.actions && entry.actions.length; });
    value.length = 0;
    kept.forEach(function (entry) { value.push(entry); });
    f.set(value.length ? value : undefined);
  }
  function entryFor(url, make) {
    var entry = value.filter(function (e) { return e.url === url; })[0];
    if (!entry && make) { entry = { url: url, actions: [] }; value.push(entry); }
    return entry;
  }
  function draw() {
    box.textContent = "";
    var links = contentLinks(f.settings);
    value.forEach(function (e) { if (links.indexOf(e.url) < 0) links.push(e.url); });
    if (!links.length) {
      box.appendChild(h("p", { class: "muted small" }, "The email has no links yet. Add a link to its body, then choose here what a click on it does."));
      return;
    }
    var inContent = contentLinks(f.settings);
    links.forEach(function (url, li) {
      var entry = entryFor(url, false);
      var item = h("div", { class: "dz-link", "data-link": url });
      item.appendChild(h("div", { class: "dz-link-url" }, h("code", null, url),
        inContent.indexOf(url) < 0 ? h("span", { class: "badge" }, " no longer in the email") : null));
      (entry ? entry.actions : []).forEach(function (action, ai) {
        var comp = stepComp(action.type);
        var row = h("div", { class: "dz-link-action", "data-action": action.type });
        var remove = h("button", { type: "button", class: "small", "aria-label": "Remove “" + (comp ? comp.label : action.type) + "” from " + url, disabled: S.readOnly,
          onclick: function () { entry.actions.splice(ai, 1); changed(); draw(); } }, "Remove");
        row.appendChild(h("div", { class: "dz-link-action-head" }, h("b", null, comp ? comp.label : action.type), remove));
        if (comp) {
          action.settings = action.settings || {};
          row.appendChild(buildForm(comp.schema, action.settings, {
            kind: "step_types", stepId: null, quietEmpty: true,
            path: f.ctx.path + "." + f.name + "[" + value.indexOf(entry) + "].actions[" + ai + "].settings",
            onEdit: function () { changed(); },
          }));
        }
        item.appendChild(row);
      });
      if (!S.readOnly) {
        var pick = h("select", { "aria-label": "Add an action to " + url, id: f.id + "-add-" + li });
        pick.appendChild(h("option", { value: "", text: "Add an action…" }));
        actionTypes().forEach(function (c) { pick.appendChild(h("option", { value: c.name, text: c.label })); });
        pick.addEventListener("change", function () {
          if (!pick.value) return;
          entryFor(url, true).actions.push({ type: pick.value, settings: {} });
          changed();
          draw();
        });
        item.appendChild(pick);
      }
      box.appendChild(item);
    });
  }
  draw();
  /* The body may change in any editor while this panel is open: follow its links. */
  var shown = contentLinks(f.settings).join("\n");
  var watch = setInterval(function () {
    if (!document.body.contains(box) && box.dataset.attached) { clearInterval(watch); return; }
    if (document.body.contains(box)) box.dataset.attached = "1";
    var now = contentLinks(f.settings).join("\n");
    if (now !== shown && !box.contains(document.activeElement)) { shown = now; draw(); }
  }, 600);
  return { el: box, focusTarget: box.querySelector("select") };
});
