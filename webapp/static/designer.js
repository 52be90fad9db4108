/* superflow flow designer: build a flow in the browser without seeing JSON.
   Plain ES2017, no framework, no build step. The page gives a boot document in
   <script type="application/json" id="designer-boot">; everything else comes from
   the designer's JSON endpoints. Plugins may add form widgets:
   window.superflowWidgets[name] = function (container, value, onChange, property) {}. */
(function () {
  "use strict";

  var CHECK_MS = 600, COUNT_MS = 500, PREVIEW_MS = 700, COALESCE_MS = 1200, HISTORY = 200;
  var DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var REENROL = { once: "Only once, ever", after_end: "Again, after they have left the flow", restart: "Start over, even while in the flow" };
  var ON_SUCCESS = { stop: "Stop: they leave the flow", "continue": "Continue: they go on with the steps", move_to: "Move them to another flow" };
  var TAG_RE = /\{\{\s*([^}|\s]+)\s*(\|[^}]*)?\}\}|\[\[\s*([^\]\s]+)\s*\]\]/g;
  var GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXT = "^{}\\[~]|€\f";

  /* ---------------------------------------------------------------- helpers */
  function h(tag, attrs) {
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
  function add(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); return; }
    el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  function clone(x) { return x === undefined ? undefined : JSON.parse(JSON.stringify(x)); }
  function debounce(fn, ms) {
    var t = null;
    var f = function () { var args = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, args); }, ms); };
    f.now = function () { clearTimeout(t); fn(); };
    return f;
  }
  function number(n) { return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f"); }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  var uid = 0;
  function nextId(prefix) { uid += 1; return (prefix || "dz") + "-" + uid; }
  function typeOf(prop) {
    var t = prop && prop.type;
    if (Array.isArray(t)) return t.filter(function (x) { return x !== "null"; })[0] || "string";
    return t || "";
  }
  function nullable(prop) { return !!prop && Array.isArray(prop.type) && prop.type.indexOf("null") >= 0; }
  function humanize(name) { var s = String(name).replace(/[_.]/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
  function truncate(s, n) { s = String(s || "").replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  function isTextInput(el) {
    if (!el) return false;
    if (el.tagName === "TEXTAREA" || el.isContentEditable) return true;
    return el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|file|range|color)$/.test(el.type);
  }
  function accent(category) {
    var known = { messages: 0, "flow control": 1, contact: 2, selections: 3, company: 2, sales: 4, "follow-ups": 4, notifications: 5 };
    var key = String(category || "").toLowerCase();
    if (key in known) return known[key];
    var n = 0;
    for (var i = 0; i < key.length; i++) n = (n * 31 + key.charCodeAt(i)) % 997;
    return n % 6;
  }

  /* ------------------------------------------------------------------ state */
  var S = {
    boot: null, catalog: null, doc: null, past: [], future: [], lastKey: null, lastTime: 0,
    sel: null, check: { errors: [], problems: [], warnings: [], unknown_merge_tags: [] },
    saveErrors: [], dirty: false, readOnly: false, person: null, choices: {}, flash: null, startProblems: null,
    checkSeq: 0, countSeq: 0,
  };
  var els = {};

  function csrf() {
    var m = document.querySelector("meta[name=csrf-token]");
    return m ? m.getAttribute("content") : "";
  }
  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = csrf();
      if (body instanceof FormData) opts.body = body;
      else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body || {}); }
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : {}; } catch (e) { data = { errors: [{ field: "", message: "The server answered " + r.status + " " + r.statusText }] }; }
        return { status: r.status, ok: r.ok, data: data || {} };
      });
    }, function () {
      return { status: 0, ok: false, data: { errors: [{ field: "", message: "No connection to the server: check your network and try again." }] } };
    });
  }
  function url(name) { return S.boot.urls[name]; }

  function choices(source) {
    if (!S.choices[source]) {
      S.choices[source] = api("GET", url("choices").replace("{source}", encodeURIComponent(source))).then(function (r) {
        if (!r.ok) { delete S.choices[source]; return null; }
        return r.data.choices || [];
      });
    }
    return S.choices[source];
  }

  /* ------------------------------------------------------------ the catalog */
  function comps(kind) { return (S.catalog && S.catalog[kind]) || []; }
  function comp(kind, name) {
    var list = comps(kind);
    for (var i = 0; i < list.length; i++) if (list[i].name === name) return list[i];
    return null;
  }
  function stepComp(type) { return comp("step_types", type); }
  function label(kind, type) { var c = comp(kind, type); return c ? c.label : humanize(type || "unknown"); }
  var FIRST = ["messages", "flow control", "contact"];
  var LAST = ["advanced", "other"];
  function grouped(list) {
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
  function tagWords(text) {
    var labels = {};
    ((S.catalog && S.catalog.merge_tags) || []).forEach(function (t) { labels[t.tag] = t.label; });
    return String(text).replace(TAG_RE, function (all, a, filters, b) { var tag = a || b; return "[" + (labels[tag] || humanize(String(tag).split(".").pop())) + "]"; });
  }
  function componentSelect(kind, current, onPick, opts) {
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

  /* ----------------------------------------------------------- the document */
  function normalize(doc) {
    doc = doc || {};
    if (doc.format_version === undefined) doc.format_version = 1;
    if (typeof doc.name !== "string") doc.name = "";
    if (doc.trigger === undefined) doc.trigger = null;
    if (!doc.filters || typeof doc.filters !== "object") doc.filters = { op: "and", conditions: [] };
    if (!Array.isArray(doc.filters.conditions)) doc.filters.conditions = [];
    if (!Array.isArray(doc.steps)) doc.steps = [];
    if (!doc.success || typeof doc.success !== "object") doc.success = { criteria: [], on_success: "stop", move_to_flow: null };
    if (!Array.isArray(doc.success.criteria)) doc.success.criteria = [];
    if (!doc.success.on_success) doc.success.on_success = "stop";
    return doc;
  }

  /* Every step, depth first, with where it lives: {step, lane, laneKey, index, path, number, parent, branch}. */
  function walk(cb) {
    var n = 0;
    function lane(arr, key, path, parent, branch) {
      arr.forEach(function (st, i) {
        n += 1;
        var p = path + "[" + i + "]";
        var info = { step: st, lane: arr, laneKey: key, index: i, path: p, number: n, parent: parent, branch: branch };
        if (cb(info) === false) return;
        if (Array.isArray(st.branches)) {
          st.branches.forEach(function (b, bi) {
            if (!Array.isArray(b.steps)) b.steps = [];
            lane(b.steps, st.id + ":b" + bi, p + ".branches[" + bi + "].steps", st, b.name || "Branch " + (bi + 1));
          });
          if (!Array.isArray(st.everyone_else)) st.everyone_else = [];
          lane(st.everyone_else, st.id + ":else", p + ".everyone_else", st, "Everyone else");
        }
      });
    }
    lane(S.doc.steps, "root", "steps", null, null);
  }
  function allSteps() { var out = []; walk(function (i) { out.push(i); }); return out; }
  function findStep(id) { var found = null; walk(function (i) { if (i.step.id === id) found = i; }); return found; }
  function laneOf(key) {
    if (key === "root") return S.doc.steps;
    var m = /^(.*):(b(\d+)|else)$/.exec(key);
    if (!m) return null;
    var info = findStep(m[1]);
    if (!info) return null;
    if (m[2] === "else") return info.step.everyone_else;
    var b = info.step.branches[Number(m[3])];
    return b ? b.steps : null;
  }
  function stepName(st) { return st.name || label("step_types", st.type); }
  function stepTitle(info) { return "Step " + info.number + " '" + stepName(info.step) + "'"; }
  function newStepId(type) {
    var prefix = { send_email: "email", send_sms: "sms", wait: "wait", split: "split" }[type] || String(type).replace(/^(send|create|add|remove)_/, "").replace(/_/g, "-").slice(0, 30);
    var used = {};
    walk(function (i) { used[i.step.id] = true; });
    var n = allSteps().length + 1;
    while (used[prefix + "-" + n]) n += 1;
    return prefix + "-" + n;
  }
  function reId(st) {
    st.id = newStepId(st.type);
    (st.branches || []).forEach(function (b) { (b.steps || []).forEach(reIdDeep); });
    (st.everyone_else || []).forEach(reIdDeep);
  }
  function reIdDeep(st) { reId(st); }
  function contains(st, id) {
    var found = false;
    (st.branches || []).forEach(function (b) { (b.steps || []).forEach(function (x) { if (x.id === id || contains(x, id)) found = true; }); });
    (st.everyone_else || []).forEach(function (x) { if (x.id === id || contains(x, id)) found = true; });
    return found;
  }

  /* ----------------------------------------------------------------- history */
  function snapshot(key) {
    var now = Date.now();
    if (key && key === S.lastKey && now - S.lastTime < COALESCE_MS) { S.lastTime = now; return; }
    S.past.push(JSON.stringify(S.doc));
    if (S.past.length > HISTORY) S.past.shift();
    S.future = [];
    S.lastKey = key || null;
    S.lastTime = now;
  }
  /* A structural change: snapshot, change, draw everything again. */
  function commit(fn, opts) {
    if (S.readOnly) return;
    snapshot(null);
    fn();
    changed(opts || {});
  }
  function changed(opts) {
    S.dirty = true;
    S.saveErrors = [];
    renderCanvas();
    if (opts.panel !== false) renderPanel();
    renderHead();
    scheduleCheck();
  }
  /* A field edit: the panel stays, the canvas and checks follow. */
  function edited(key) {
    S.dirty = true;
    renderCanvas();
    renderHead();
    scheduleCheck();
    schedulePreview();
  }
  function undo() {
    if (!S.past.length || S.readOnly) return;
    S.future.push(JSON.stringify(S.doc));
    S.doc = normalize(JSON.parse(S.past.pop()));
    S.lastKey = null;
    restored("Undone");
  }
  function redo() {
    if (!S.future.length || S.readOnly) return;
    S.past.push(JSON.stringify(S.doc));
    S.doc = normalize(JSON.parse(S.future.pop()));
    S.lastKey = null;
    restored("Redone");
  }
  function restored(what) {
    if (S.sel && S.sel.kind === "step" && !findStep(S.sel.id)) S.sel = null;
    S.dirty = true;
    renderCanvas();
    renderPanel();
    renderHead();
    announce(what);
    scheduleCheck();
  }
  function announce(text) { if (els.live) { els.live.textContent = ""; setTimeout(function () { els.live.textContent = text; }, 30); } }

  /* ---------------------------------------------------------- step actions */
  function makeStep(type) {
    var st = { id: newStepId(type), type: type, name: "", settings: {} };
    var c = stepComp(type);
    if (c && c.branching) {
      st.branches = [{ name: "Branch 1", condition: null, steps: [] }];
      st.everyone_else = [];
    }
    return st;
  }
  function insertStep(type, laneKey, index) {
    var st = null;
    commit(function () {
      var lane = laneOf(laneKey);
      if (!lane) return;
      st = makeStep(type);
      lane.splice(Math.min(index, lane.length), 0, st);
      S.sel = { kind: "step", id: st.id };
    });
    if (st) { announce("Added " + label("step_types", type)); focusNode(st.id); }
    return st;
  }
  function moveStep(id, laneKey, index) {
    var info = findStep(id);
    var target = laneOf(laneKey);
    if (!info || !target) return;
    if (laneKey !== "root" && (laneKey.split(":")[0] === id || contains(info.step, laneKey.replace(/:(b\d+|else)$/, "")))) {
      flash("error", "A split cannot be moved into its own branches.");
      return;
    }
    if (info.lane === target && (index === info.index || index === info.index + 1)) return;
    commit(function () {
      var lane = laneOf(info.laneKey);
      var from = lane.indexOf(info.step);
      lane.splice(from, 1);
      var dest = laneOf(laneKey);
      if (dest === lane && from < index) index -= 1;
      dest.splice(Math.min(index, dest.length), 0, info.step);
      S.sel = { kind: "step", id: id };
    });
    focusNode(id);
  }
  function deleteStep(id) {
    var info = findStep(id);
    if (!info) return;
    var name = stepTitle(info);
    var next = info.lane[info.index + 1] || info.lane[info.index - 1];
    commit(function () {
      laneOf(info.laneKey).splice(info.index, 1);
      if (S.sel && S.sel.kind === "step" && (S.sel.id === id || !findStep(S.sel.id))) S.sel = null;
    });
    flash("ok", "Deleted " + name + ". Ctrl+Z brings it back.");
    if (next) focusNode(next.id);
    else focusKey("slot:" + info.laneKey + ":0");
  }
  function duplicateStep(id) {
    var info = findStep(id);
    if (!info) return;
    var copy = clone(info.step);
    commit(function () {
      reId(copy);
      laneOf(info.laneKey).splice(info.index + 1, 0, copy);
      S.sel = { kind: "step", id: copy.id };
    });
    announce("Duplicated " + stepTitle(info));
    focusNode(copy.id);
  }
  function shiftStep(id, delta) {
    var info = findStep(id);
    if (!info) return;
    var to = info.index + delta;
    if (to < 0 || to >= info.lane.length) return;
    commit(function () {
      var lane = laneOf(info.laneKey);
      lane.splice(info.index, 1);
      lane.splice(to, 0, info.step);
    });
    announce("Moved " + (delta < 0 ? "up" : "down"));
    focusNode(id);
  }
  function focusKey(key) {
    var el = document.querySelector('[data-focus-key="' + key.replace(/"/g, '\\"') + '"]');
    if (el) el.focus();
  }
  function focusNode(id) { focusKey("step:" + id); }
  function select(sel, focusPanel) {
    S.sel = sel;
    renderCanvas();
    renderPanel();
    if (focusPanel) {
      var first = els.panel.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])");
      if (first) first.focus();
    }
  }

  /* ----------------------------------------------------------------- checks */
  function uniq(list) { return list.filter(function (x, i) { return list.indexOf(x) === i; }); }
  /* What blocks saving (errors) and what blocks the start (problems), for one step. */
  function errorsFor(id) {
    var out = [];
    var info = id ? findStep(id) : null;
    if (info) {
      var prefix = info.path + ".";
      S.saveErrors.concat(S.check.errors).forEach(function (e) {
        var f = e.field || "";
        var rest = f.slice(prefix.length);
        if (f.indexOf(prefix) === 0 && rest.indexOf("branches[") !== 0 && rest.indexOf("everyone_else[") !== 0) out.push(fieldWords(f) + ": " + e.message);
        else if (f === info.path) out.push(e.message);
      });
    }
    return uniq(out);
  }
  function startProblemsFor(id) {
    return uniq(S.check.problems.filter(function (p) { return p.step_id === id; }).map(function (p) { return p.message; }));
  }
  function problemsFor(id) { return uniq(errorsFor(id).concat(startProblemsFor(id))); }
  /* "Step 1 'Send email': From address is required" → the message of the setting
     it names (the server names settings by their labels). */
  function problemOfField(stepId, name, title) {
    var found = "";
    startProblemsFor(stepId).forEach(function (m) {
      var rest = m.replace(/^Step \d+ '.*?'(?: branch \d+)?: /, "");
      var key = rest.split(/[\s:]/)[0];
      var named = title && rest.indexOf(title) === 0 && /^($|[\s:,])/.test(rest.slice(title.length));
      if (!found && (named || key === name)) found = named ? rest : title + rest.slice(key.length);
    });
    return found;
  }
  function warningsFor(id) { return S.check.warnings.filter(function (w) { return w.step_id === id; }).map(function (w) { return w.message; }); }
  function areaErrors(prefix) {
    return S.check.errors.concat(S.saveErrors).filter(function (e) { return (e.field || "").indexOf(prefix) === 0; });
  }
  function fieldError(path) {
    var all = S.saveErrors.concat(S.check.errors);
    for (var i = 0; i < all.length; i++) if (all[i].field === path) return all[i].message;
    return "";
  }
  /* A document path ("steps[0].settings.html") as the marketer's name of the
     setting: the label the part's schema declares ("Body"), else the name in words. */
  function fieldWords(path) {
    path = String(path);
    var last = path.split(".").pop().replace(/\[\d+\]$/, "");
    var cut = path.lastIndexOf(".settings.");
    if (cut >= 0) {
      var owner = S.doc, ok = true;
      path.slice(0, cut).replace(/([A-Za-z_]+)|\[(\d+)\]/g, function (all, key, index) {
        if (!ok || !owner) { ok = false; return all; }
        owner = key !== undefined ? owner[key] : owner[Number(index)];
        return all;
      });
      var name = path.slice(cut + ".settings.".length).split(/[.[]/)[0];
      var kind = /^trigger$/.test(path.slice(0, cut)) ? "triggers" : /^success\.criteria/.test(path) ? "success_criteria"
        : /(^filters|\.condition$)/.test(path.slice(0, cut)) ? "filters" : "step_types";
      var c = ok && owner && owner.type ? comp(kind, owner.type) : null;
      var prop = c && c.schema && c.schema.properties ? c.schema.properties[name] : null;
      if (prop && prop.title) return prop.title;
      if (name) return humanize(name);
    }
    return humanize(last);
  }
  function unknownTags(stepId, field) {
    return S.check.unknown_merge_tags.filter(function (u) {
      if ((u.step_id || null) !== (stepId || null)) return false;
      var f = u.field || "";
      return !f || f === field || f.slice(-field.length - 1) === "." + field;
    }).map(function (u) { return u.tag; });
  }
  var scheduleCheck = debounce(runCheck, CHECK_MS);
  function runCheck() {
    var seq = ++S.checkSeq;
    api("POST", url("check"), { flow_id: S.boot.flow_id, doc: S.doc }).then(function (r) {
      if (seq !== S.checkSeq || !r.ok) return;
      S.check = {
        errors: r.data.errors || [], problems: r.data.problems || [], warnings: r.data.warnings || [],
        unknown_merge_tags: r.data.unknown_merge_tags || [],
      };
      renderCanvas();
      renderChecks();
      refreshPanelMessages();
      renderHead();
    });
  }

  /* ----------------------------------------------------------------- canvas */
  function describeSettings(kind, type, settings) {
    var c = comp(kind, type);
    settings = settings || {};
    if (!c) return type ? "Not installed: " + type : "";
    if (c.sends === "email") return settings.subject ? "“" + truncate(tagWords(settings.subject), 60) + "”" : "No subject yet";
    if (c.sends === "sms") return settings.text ? "“" + truncate(tagWords(settings.text), 60) + "”" : "No text yet";
    if (type === "wait") {
      if (settings.until) return "Until " + String(settings.until).replace("T", " ").slice(0, 16);
      if (settings.amount) return plural(Number(settings.amount), (settings.unit || "days").replace(/s$/, ""), settings.unit || "days");
    }
    var props = (c.schema && c.schema.properties) || {};
    var parts = [];
    Object.keys(props).forEach(function (k) {
      var v = settings[k];
      var p = props[k];
      if ((v === undefined || v === null) && choiceSource(p) && p["default"] !== undefined && p["default"] !== null) v = p["default"];
      if (v === undefined || v === null || v === "" || typeof v === "object" || parts.length >= 2) return;
      var shown = p["x-enum-labels"] && p["x-enum-labels"][v] ? p["x-enum-labels"][v] : v === true ? "yes" : v === false ? "no" : String(v);
      if ((k === "step" || k === "timeout_step") && kind !== "triggers") {
        var target = findStep(String(v));
        if (target) shown = stepTitle(target);
      }
      var src = choiceSource(p);
      if (src && S.choiceLabels[src] && S.choiceLabels[src][String(v)]) shown = S.choiceLabels[src][String(v)];
      parts.push((p.title || humanize(k)) + ": " + truncate(tagWords(shown), 40));
    });
    return parts.join(" · ");
  }
  S.choiceLabels = {};
  /* The CRM names of the things the flow's settings point at ("Newsletter", not "2"),
     fetched once when the designer opens so the nodes read well from the start. */
  function preloadChoiceLabels() {
    var types = {}, sources = {};
    (function walk(v) {
      if (Array.isArray(v)) { v.forEach(walk); return; }
      if (!v || typeof v !== "object") return;
      if (typeof v.type === "string") types[v.type] = true;
      Object.keys(v).forEach(function (k) { walk(v[k]); });
    })(S.doc);
    ["triggers", "filters", "step_types", "success_criteria"].forEach(function (kind) {
      comps(kind).forEach(function (c) {
        if (!types[c.name]) return;
        var props = (c.schema && c.schema.properties) || {};
        Object.keys(props).forEach(function (k) { var src = choiceSource(props[k]); if (src) sources[src] = true; });
      });
    });
    Promise.all(Object.keys(sources).map(function (src) {
      return choices(src).then(function (list) { if (list) rememberChoices(src, list); });
    })).then(function () { renderCanvas(); });
  }
  function rememberChoices(source, list) {
    var m = S.choiceLabels[source] || (S.choiceLabels[source] = {});
    (list || []).forEach(function (c) { m[String(c.value)] = c.label; });
  }

  function renderCanvas() {
    if (!els.canvas || !S.catalog) return;
    var active = document.activeElement;
    var key = active && els.canvas.contains(active) ? active.getAttribute("data-focus-key") : null;
    var scrollTop = els.canvas.scrollTop, scrollLeft = els.canvas.scrollLeft;
    var chart = h("div", { class: "dz-chart" });
    chart.appendChild(triggerNode());
    chart.appendChild(h("div", { class: "edge" }));
    chart.appendChild(filtersNode());
    renderLane(chart, S.doc.steps, "root", null);
    if (!S.doc.steps.length && !S.readOnly) {
      chart.appendChild(h("div", { class: "dz-hint" },
        h("b", { text: "Add the first step" }),
        h("span", { text: "Drag a step from the palette onto the + above, or focus the + and press Enter." })));
    }
    chart.appendChild(h("div", { class: "edge" }));
    chart.appendChild(h("div", { class: "node end" }, "End"));
    chart.appendChild(goalNode());
    els.canvas.textContent = "";
    els.canvas.appendChild(chart);
    els.canvas.scrollTop = scrollTop;
    els.canvas.scrollLeft = scrollLeft;
    if (key) focusKey(key);
  }

  var ICONS = {
    copy: "M8 8h11v11H8z M5 16V5h11",
    trash: "M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3",
    close: "M6 6l12 12 M18 6L6 18",
  };
  function icon(name) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }
  function problemBadge(n, what) {
    if (!n) return null;
    return h("span", { class: "dz-count", title: plural(n, "problem", "problems") + " to fix before the flow can start", "aria-hidden": "true" }, String(n));
  }
  function clickable(el, onOpen) {
    el.addEventListener("click", function (e) { if (e.target.closest("button, a")) return; onOpen(false); });
    el.addEventListener("keydown", function (e) {
      if (e.target !== el) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onOpen(true); }
    });
    return el;
  }
  function triggerNode() {
    var t = S.doc.trigger;
    var errs = areaErrors("trigger").length + S.check.problems.filter(function (p) {
      if (p.step_id || !/^trigger/i.test(p.message)) return false;
      return !(t && t.type) || p.message.indexOf("Trigger '" + label("triggers", t.type) + "'") === 0;
    }).length;
    var selected = S.sel && S.sel.kind === "trigger";
    var title = t && t.type ? label("triggers", t.type) : "Choose a trigger";
    var words = t && t.type ? describeSettings("triggers", t.type, t.settings) : "When should a person be suggested for this flow?";
    var node = h("div", {
      class: "node trigger dz-node" + (selected ? " dz-selected" : "") + (t && t.type ? "" : " dz-missing"), tabindex: "0", role: "button",
      "data-focus-key": "trigger", "data-node": "trigger", "aria-label": "Trigger: " + title + (errs ? ", " + plural(errs, "problem", "problems") : "") + ". Press Enter to edit.",
    }, h("div", { class: "kind" }, "Trigger"), h("div", { class: "title" }, title), words ? h("div", { class: "words" }, words) : null, problemBadge(errs));
    return clickable(node, function (kb) { select({ kind: "trigger" }, kb); });
  }
  function countConditions(group) {
    var n = 0;
    (group.conditions || []).forEach(function (c) { n += c && c.conditions ? countConditions(c) : 1; });
    return n;
  }
  function filtersNode() {
    var n = countConditions(S.doc.filters);
    var errs = areaErrors("filters").length;
    var selected = S.sel && S.sel.kind === "filters";
    var words = n ? plural(n, "condition", "conditions") + " · " + (S.doc.filters.op === "or" ? "any may match" : "all must match") : "Everyone the trigger suggests";
    if (S.lastCount && n) words += " · " + number(S.lastCount.count) + " match now";
    var node = h("div", {
      class: "node dz-node dz-filters" + (selected ? " dz-selected" : ""), tabindex: "0", role: "button", "data-focus-key": "filters", "data-node": "filters",
      "aria-label": "Who may enter: " + words + ". Press Enter to edit.",
    }, h("div", { class: "kind" }, "Who may enter"), h("div", { class: "title" }, n ? "Filtered" : "No filters"), h("div", { class: "words" }, words), problemBadge(errs));
    return clickable(node, function (kb) { select({ kind: "filters" }, kb); });
  }
  function goalNode() {
    var crit = S.doc.success.criteria;
    var selected = S.sel && S.sel.kind === "goal";
    var errs = areaErrors("success").length;
    var words = crit.length ? crit.map(function (c) { return label("success_criteria", c.type); }).join(" or ") : "No goal: the flow runs to its end";
    var then = crit.length ? { stop: "then they leave", "continue": "then they go on", move_to: "then they move to another flow" }[S.doc.success.on_success] || "" : "";
    var node = h("div", {
      class: "node dz-node dz-goal" + (selected ? " dz-selected" : ""), tabindex: "0", role: "button", "data-focus-key": "goal", "data-node": "goal",
      "aria-label": "Goal: " + words + ". Press Enter to edit.",
    }, h("div", { class: "kind" }, "Goal · success criteria"), h("div", { class: "title" }, words), then ? h("div", { class: "words" }, then) : null, problemBadge(errs));
    return clickable(node, function (kb) { select({ kind: "goal" }, kb); });
  }

  function slot(laneKey, index, after) {
    var text = after ? "Add a step after " + after : laneKey === "root" ? "Add a step at the start of the flow" : "Add a step at the start of " + laneLabel(laneKey);
    var wrap = h("div", { class: "dz-slot", "data-lane": laneKey, "data-index": String(index) });
    if (S.readOnly) { wrap.appendChild(h("div", { class: "edge" })); return wrap; }
    var btn = h("button", { type: "button", class: "dz-plus", "aria-label": text, title: text, "data-focus-key": "slot:" + laneKey + ":" + index, "aria-haspopup": "listbox" }, "+");
    btn.addEventListener("click", function () { openSlotMenu(btn, laneKey, index); });
    wrap.appendChild(btn);
    wrap.addEventListener("dragover", function (e) { e.preventDefault(); e.dataTransfer.dropEffect = S.dragging && S.dragging.indexOf("step:") === 0 ? "move" : "copy"; wrap.classList.add("dz-over"); });
    wrap.addEventListener("dragleave", function () { wrap.classList.remove("dz-over"); });
    wrap.addEventListener("drop", function (e) {
      e.preventDefault();
      wrap.classList.remove("dz-over");
      var data = e.dataTransfer.getData("text/plain") || S.dragging || "";
      S.dragging = null;
      document.body.classList.remove("dz-dragging");
      if (data.indexOf("new:") === 0) insertStep(data.slice(4), laneKey, index);
      else if (data.indexOf("step:") === 0) moveStep(data.slice(5), laneKey, index);
    });
    return wrap;
  }
  function laneLabel(laneKey) {
    var m = /^(.*):(b(\d+)|else)$/.exec(laneKey);
    if (!m) return "the flow";
    if (m[2] === "else") return "branch 'Everyone else'";
    var info = findStep(m[1]);
    var b = info && info.step.branches[Number(m[3])];
    return "branch '" + ((b && b.name) || "Branch " + (Number(m[3]) + 1)) + "'";
  }

  function renderLane(container, steps, laneKey) {
    container.appendChild(slot(laneKey, 0, null));
    var infos = {};
    walk(function (i) { infos[i.step.id] = i; });
    steps.forEach(function (st, i) {
      var info = infos[st.id] || { step: st, number: "?", path: "", index: i, laneKey: laneKey, lane: steps };
      container.appendChild(stepNode(info));
      var c = stepComp(st.type);
      if ((c && c.branching) || Array.isArray(st.branches)) container.appendChild(branchesOf(info));
      container.appendChild(slot(laneKey, i + 1, stepTitle(info)));
    });
  }
  function stepNode(info) {
    var st = info.step;
    var c = stepComp(st.type);
    var probs = problemsFor(st.id);
    var warns = warningsFor(st.id);
    var selected = S.sel && S.sel.kind === "step" && S.sel.id === st.id;
    var title = stepTitle(info);
    var words = describeSettings("step_types", st.type, st.settings);
    var node = h("div", {
      class: "node dz-node dz-step dz-accent-" + accent(c ? c.category : "") + (selected ? " dz-selected" : "") + (probs.length ? " dz-bad" : "") + (c ? "" : " dz-unknown"),
      tabindex: "0", "data-step-id": st.id, "data-focus-key": "step:" + st.id, draggable: !S.readOnly, role: "group", "aria-roledescription": "step",
      "aria-label": title + ", " + label("step_types", st.type) + (words ? ": " + words : "") + (probs.length ? ". " + plural(probs.length, "problem", "problems") : "") + (S.readOnly ? "" : ". Enter: settings, Delete: remove, Ctrl+D: duplicate, Alt+Arrow: move"),
    },
      h("div", { class: "kind" }, "Step " + info.number + " · " + label("step_types", st.type)),
      h("div", { class: "title" }, stepName(st)),
      words && words !== stepName(st) ? h("div", { class: "words" }, words) : null,
      warns.length && !probs.length ? h("span", { class: "dz-warn-dot", title: warns.join("\n"), "aria-hidden": "true" }, "!") : null,
      probs.length ? h("span", { class: "dz-count", title: probs.join("\n"), "aria-hidden": "true", "data-problems": String(probs.length) }, String(probs.length)) : null);
    if (!S.readOnly) {
      node.appendChild(h("div", { class: "dz-node-actions" },
        h("button", { type: "button", class: "dz-icon", title: "Duplicate (Ctrl+D)", "aria-label": "Duplicate " + title, "data-duplicate": "", onclick: function () { duplicateStep(st.id); } }, icon("copy")),
        h("button", { type: "button", class: "dz-icon dz-icon-bad", title: "Delete (Delete key)", "aria-label": "Delete " + title, "data-delete": "", onclick: function () { deleteStep(st.id); } }, icon("trash"))));
      node.addEventListener("dragstart", function (e) {
        if (e.target !== node) return;
        S.dragging = "step:" + st.id;
        e.dataTransfer.setData("text/plain", S.dragging);
        e.dataTransfer.effectAllowed = "move";
        document.body.classList.add("dz-dragging");
      });
      node.addEventListener("dragend", function () { S.dragging = null; document.body.classList.remove("dz-dragging"); });
    }
    node.addEventListener("click", function (e) { if (e.target.closest("button")) return; select({ kind: "step", id: st.id }); });
    node.addEventListener("keydown", function (e) {
      if (e.target !== node) return;
      var ctrl = e.ctrlKey || e.metaKey;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select({ kind: "step", id: st.id }, true); }
      else if (S.readOnly) return;
      else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deleteStep(st.id); }
      else if (ctrl && (e.key === "d" || e.key === "D")) { e.preventDefault(); duplicateStep(st.id); }
      else if (e.altKey && e.key === "ArrowUp") { e.preventDefault(); shiftStep(st.id, -1); }
      else if (e.altKey && e.key === "ArrowDown") { e.preventDefault(); shiftStep(st.id, 1); }
    });
    return node;
  }
  function branchesOf(info) {
    var st = info.step;
    var box = h("div", { class: "dz-branches" });
    (st.branches || []).forEach(function (b, bi) {
      var cond = b.condition && b.condition.type ? label("filters", b.condition.type) + (describeSettings("filters", b.condition.type, b.condition.settings) ? ": " + describeSettings("filters", b.condition.type, b.condition.settings) : "") : "No condition yet";
      var lane = h("div", { class: "dz-branch" },
        h("button", { type: "button", class: "branch-label dz-branch-label" + (b.condition ? "" : " dz-missing"), "data-focus-key": "branch:" + st.id + ":" + bi, title: "Edit this branch's condition",
          onclick: function () { select({ kind: "step", id: st.id, branch: bi }); } },
          b.name || "Branch " + (bi + 1)),
        h("div", { class: "dz-cond small muted" }, cond));
      renderLane(lane, b.steps, st.id + ":b" + bi);
      box.appendChild(lane);
    });
    var rest = h("div", { class: "dz-branch dz-else" },
      h("span", { class: "branch-label" }, "Everyone else"),
      h("div", { class: "dz-cond small muted" }, "Whoever matches no branch"));
    renderLane(rest, st.everyone_else || [], st.id + ":else");
    box.appendChild(rest);
    return box;
  }

  /* ---------------------------------------------------------------- palette */
  function renderPalette() {
    var pal = els.palette;
    pal.textContent = "";
    pal.appendChild(h("h2", { class: "dz-side-title" }, "Steps"));
    var search = h("input", { type: "search", placeholder: "Find a step", "aria-label": "Find a step type", class: "dz-pal-search" });
    pal.appendChild(search);
    var list = h("div", { class: "dz-pal-groups" });
    pal.appendChild(list);
    function draw() {
      var q = search.value.trim().toLowerCase();
      list.textContent = "";
      grouped(comps("step_types")).forEach(function (g) {
        var items = g.items.filter(function (c) { return !q || (c.label + " " + c.description + " " + c.category).toLowerCase().indexOf(q) >= 0; });
        if (!items.length) return;
        var ul = h("ul", { class: "dz-pal-list", "aria-label": g.name });
        items.forEach(function (c) { ul.appendChild(h("li", null, paletteItem(c))); });
        list.appendChild(h("section", { class: "dz-pal-group" }, h("h3", null, g.name), ul));
      });
      if (!list.childNodes.length) list.appendChild(h("p", { class: "muted small" }, "No step type matches “" + search.value + "”."));
    }
    search.addEventListener("input", draw);
    draw();
    pal.appendChild(h("p", { class: "help dz-pal-help" }, "Drag a step onto a + in the flow, or focus it and press Enter to add it after the selected step."));
  }
  function paletteItem(c) {
    var item = h("div", {
      class: "dz-pal-item dz-accent-" + accent(c.category), tabindex: "0", role: "button", draggable: !S.readOnly, "data-type": c.name,
      title: c.description || c.label, "aria-label": "Add step: " + c.label + (c.description ? ". " + c.description : ""), "aria-disabled": S.readOnly ? "true" : null,
    }, h("span", { class: "dz-dot", "aria-hidden": "true" }), h("span", { class: "dz-pal-label" }, c.label), c.plugin && !/^superflow\./.test(c.plugin) ? h("span", { class: "badge dz-plugin", title: "From the plugin " + c.plugin }, "plugin") : null);
    item.addEventListener("dragstart", function (e) {
      S.dragging = "new:" + c.name;
      e.dataTransfer.setData("text/plain", S.dragging);
      e.dataTransfer.effectAllowed = "copy";
      document.body.classList.add("dz-dragging");
    });
    item.addEventListener("dragend", function () { S.dragging = null; document.body.classList.remove("dz-dragging"); });
    function addHere() {
      if (S.readOnly) return;
      var info = S.sel && S.sel.kind === "step" ? findStep(S.sel.id) : null;
      if (info) insertStep(c.name, info.laneKey, info.index + 1);
      else insertStep(c.name, "root", S.doc.steps.length);
    }
    item.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); addHere(); } });
    item.addEventListener("dblclick", addHere);
    return item;
  }

  /* A keyboard-friendly menu of step types for a slot: type to filter, arrows, Enter. */
  var openPop = null;
  function closePop(restore) {
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
  function listMenu(anchor, opts) {
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
  function pickComponent(anchor, kind, filterOk, cb) {
    listMenu(anchor, {
      aria: "Choose " + { filters: "a condition", success_criteria: "a success criterion", triggers: "a trigger" }[kind], placeholder: "Type to filter",
      items: menuItems(comps(kind).filter(filterOk || function () { return true; })),
      pick: function (it) { cb(it.value); },
    });
  }
  function openSlotMenu(anchor, laneKey, index) {
    if (S.readOnly) return;
    listMenu(anchor, {
      aria: "Choose a step to add", placeholder: "Type to find a step",
      items: menuItems(comps("step_types")),
      pick: function (it) { insertStep(it.value, laneKey, index); },
    });
  }

  /* ------------------------------------------------------------------ forms */
  function choiceSource(prop) {
    if (!prop) return null;
    return prop["x-choices"] || (prop["x-widget"] === "crm_selection" ? "selections" : null);
  }
  function showIfOk(cond, obj, props) {
    if (!cond) return true;
    return Object.keys(cond).every(function (k) {
      var v = obj[k];
      if (v === undefined && props[k]) v = props[k]["default"];
      var want = cond[k];
      return Array.isArray(want) ? want.indexOf(v) >= 0 : want === v;
    });
  }
  /* The schema's own order when it gives one (x-order); else the required settings first. */
  function propertyOrder(schema) {
    var props = Object.keys((schema && schema.properties) || {});
    if (schema && Array.isArray(schema["x-order"])) return schema["x-order"].concat(props.filter(function (k) { return schema["x-order"].indexOf(k) < 0; }));
    var req = (schema && schema.required) || [];
    return props.filter(function (k) { return req.indexOf(k) >= 0; }).concat(props.filter(function (k) { return req.indexOf(k) < 0; }));
  }
  function localProblem(prop, v, required, title) {
    var t = typeOf(prop);
    var empty = v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length);
    if (empty) return required ? title + " is required" : "";
    if (t === "string" && typeof v === "string") {
      if (prop.minLength && v.length < prop.minLength) return title + " needs at least " + plural(prop.minLength, "character", "characters");
      if (prop.maxLength && v.length > prop.maxLength) return title + " can have at most " + prop.maxLength + " characters (now " + v.length + ")";
      if (prop.format === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) return title + " is not a valid email address";
      if (prop.pattern && !prop["x-merge-tags"]) {
        try { if (!new RegExp(prop.pattern).test(v)) return title + " does not have the expected form"; } catch (e) { /* a pattern JS cannot read */ }
      }
    }
    if ((t === "integer" || t === "number") && typeof v === "number") {
      if (t === "integer" && Math.floor(v) !== v) return title + " must be a whole number";
      if (prop.minimum !== undefined && v < prop.minimum) return title + " must be at least " + prop.minimum;
      if (prop.maximum !== undefined && v > prop.maximum) return title + " must be at most " + prop.maximum;
      if (prop.exclusiveMinimum !== undefined && v <= prop.exclusiveMinimum) return title + " must be more than " + prop.exclusiveMinimum;
      if (prop.exclusiveMaximum !== undefined && v >= prop.exclusiveMaximum) return title + " must be less than " + prop.exclusiveMaximum;
    }
    if (typeof v === "number" && isNaN(v)) return title + " must be a number";
    return "";
  }

  /* A form for a JSON Schema object. ctx: {path, stepId, kind, comp, ensure, skip, only, onEdit} */
  function buildForm(schema, obj, ctx) {
    var form = h("div", { class: "dz-form" });
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var names = ctx.only || propertyOrder(schema);
    var fields = [];
    names.forEach(function (name) {
      if (!props[name] || (ctx.skip && ctx.skip.indexOf(name) >= 0)) return;
      var f = fieldFor(name, props[name], obj, ctx, required.indexOf(name) >= 0, function () { refresh(); });
      f._showIf = props[name]["x-show-if"];
      fields.push(f);
      form.appendChild(f);
    });
    function refresh() {
      fields.forEach(function (f) { f.hidden = !showIfOk(f._showIf, obj, props); });
    }
    refresh();
    if (!names.filter(function (n) { return props[n]; }).length && !ctx.quietEmpty) form.appendChild(h("p", { class: "muted small" }, "Nothing to set up here."));
    return form;
  }

  function fieldFor(name, prop, obj, ctx, required, after) {
    var path = ctx.path + "." + name;
    var title = prop.title || humanize(name);
    var id = nextId("f");
    var msgId = id + "-msg";
    var wrap = h("div", { class: "field dz-field", "data-path": path, "data-name": name });
    var msg = h("div", { class: "dz-msg", id: msgId, "aria-live": "polite" });
    var touched = false;
    wrap._title = title;
    wrap._stepId = ctx.kind === "step_types" && ctx.path === (findStep(ctx.stepId) || {}).path + ".settings" ? ctx.stepId : null;
    wrap._local = "";
    function setValue(v, structural) {
      if (S.readOnly) return;
      if (structural) snapshot(null); else snapshot(path);
      if (ctx.ensure) ctx.ensure();
      if (v === undefined) delete obj[name]; else obj[name] = v;
      touched = true;
      S.saveErrors = S.saveErrors.filter(function (e) { return e.field !== path; });
      wrap._local = localProblem(prop, v, required, title);
      showMsg(wrap);
      if (after) after();
      if (ctx.onEdit) ctx.onEdit(name, v);
      edited(path);
    }
    wrap._validate = function () { wrap._local = touched ? localProblem(prop, obj[name], required, title) : ""; };
    var labelEl = h("label", { "for": id }, title, required ? h("span", { class: "dz-req", title: "Required" }, " *") : null);
    var head = h("div", { class: "dz-label-row" }, labelEl);
    wrap.appendChild(head);
    var control = widget(name, prop, obj, ctx, id, setValue, required, title, wrap);
    if (control.focusTarget) control.focusTarget.setAttribute("aria-describedby", msgId + (prop.description ? " " + id + "-help" : ""));
    if (required && control.focusTarget) control.focusTarget.setAttribute("aria-required", "true");
    if (prop["x-merge-tags"] && prop["x-widget"] !== "html" && control.focusTarget && !S.readOnly) head.appendChild(mergeTagButton(control.focusTarget));
    wrap.appendChild(control.el || control);
    if (prop.description) wrap.appendChild(h("div", { class: "help", id: id + "-help" }, prop.description));
    wrap.appendChild(msg);
    showMsg(wrap);
    return wrap;
  }
  function showMsg(wrap) {
    var msg = wrap.querySelector(":scope > .dz-msg");
    if (!msg) return;
    var server = fieldError(wrap.getAttribute("data-path"));
    var text = wrap._local || (server ? wrap._title + ": " + server : "");
    if (!text && S.showProblems && wrap._stepId) text = problemOfField(wrap._stepId, wrap.getAttribute("data-name"), wrap._title);
    msg.textContent = text;
    wrap.classList.toggle("dz-invalid", !!text);
    var ctl = wrap.querySelector("input, select, textarea");
    if (ctl) ctl.setAttribute("aria-invalid", text ? "true" : "false");
  }
  function refreshPanelMessages() {
    if (!els.panel) return;
    els.panel.querySelectorAll(".dz-field[data-path]").forEach(function (w) { showMsg(w); });
    els.panel.querySelectorAll("[data-merge-field]").forEach(function (el) { if (el._paint) el._paint(); });
    var box = els.panel.querySelector("[data-step-problems]");
    if (box && S.sel && S.sel.kind === "step") fillProblems(box, S.sel.id);
    var trig = els.panel.querySelector("[data-trigger-problems]");
    if (trig) fillTriggerProblems(trig);
  }

  function widget(name, prop, obj, ctx, id, setValue, required, title, wrap) {
    var t = typeOf(prop);
    var xw = prop["x-widget"];
    var v = obj[name];
    var shown = v === undefined ? prop["default"] : v;
    var custom = xw && window.superflowWidgets && window.superflowWidgets[xw];
    if (custom) {
      var box = h("div", { class: "dz-custom", id: id });
      try { custom(box, v, function (nv) { setValue(nv); }, prop); } catch (e) { box.textContent = "This field's widget failed: " + e.message; }
      return { el: box, focusTarget: box.querySelector("input, select, textarea") };
    }
    if (prop["enum"] && t !== "array") return enumSelect(prop, id, shown, setValue, required);
    var source = choiceSource(prop);
    if (source) return choiceSelect(source, prop, id, v, setValue, required, prop["x-empty-label"]);
    if (ctx.kind !== "triggers" && (name === "step" || name === "timeout_step") && t === "string") return stepSelect(prop, id, v, setValue, /email/i.test(title));
    if (ctx.comp && ctx.comp.sends === "sms" && name === "text" || xw === "sms") return smsEditor(prop, id, v, setValue, ctx, name);
    if (xw === "html") return htmlEditor(prop, id, v, setValue, ctx, name);
    if (xw === "textarea") return textArea(prop, id, v, setValue, ctx, name, false);
    if (t === "boolean") {
      var cb = h("input", { type: "checkbox", id: id, checked: !!shown });
      cb.addEventListener("change", function () { setValue(cb.checked); });
      var lab = h("label", { "for": id, class: "dz-check" }, cb, " ", prop.description || "Yes");
      wrap.classList.add("dz-bool");
      return { el: lab, focusTarget: cb };
    }
    if (t === "integer" || t === "number") {
      var num = h("input", { type: "number", id: id, value: shown === undefined || shown === null ? "" : String(shown), step: t === "integer" ? "1" : "any", min: prop.minimum, max: prop.maximum, class: "dz-num" });
      num.addEventListener("input", function () {
        var raw = num.value.trim();
        if (raw === "") { setValue(nullable(prop) ? null : undefined); return; }
        var n = Number(raw);
        setValue(isNaN(n) ? raw : n);
      });
      return { el: num, focusTarget: num };
    }
    if (t === "array") {
      if (prop.items && (typeOf(prop.items) === "object" || prop.items.properties)) {
        if (prop["x-upload"] || (ctx.comp && ctx.comp.sends === "email" && name === "attachments")) return attachmentsEditor(prop, id, obj, name, ctx, setValue);
        return repeatGroup(prop, id, obj, name, ctx, title);
      }
      return listInput(prop, id, v, setValue);
    }
    if (t === "object") {
      if (prop.properties && Object.keys(prop.properties).length) {
        var sub = v && typeof v === "object" ? v : {};
        var subCtx = Object.assign({}, ctx, {
          path: ctx.path + "." + name, skip: null, only: null, quietEmpty: true,
          ensure: function () { if (ctx.ensure) ctx.ensure(); if (obj[name] !== sub) { obj[name] = sub; } },
        });
        var fs = h("div", { class: "dz-sub", id: id, role: "group", "aria-label": title }, buildForm(prop, sub, subCtx));
        return { el: fs, focusTarget: fs.querySelector("input, select, textarea") };
      }
      return jsonArea(prop, id, v, setValue, title);
    }
    if (prop["x-merge-tags"]) return mergeInput(prop, id, v, setValue, ctx, name);
    if (prop.format === "date" || prop.format === "time" || prop.format === "email") {
      var inp = h("input", { type: prop.format, id: id, value: v || "" });
      inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
      return { el: inp, focusTarget: inp };
    }
    if (prop.format === "date-time") {
      var dtl = h("input", { type: "datetime-local", id: id, value: v ? toLocalInput(v) : "" });
      dtl.addEventListener("input", function () { setValue(dtl.value ? new Date(dtl.value).toISOString().replace(/\.\d{3}Z$/, "Z") : (nullable(prop) ? null : undefined)); });
      return { el: dtl, focusTarget: dtl };
    }
    if (xw === "crm_field") return fieldPicker(prop, id, v, setValue);
    var text = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), placeholder: shown !== undefined && shown !== null && v === undefined ? String(shown) : "", maxlength: prop.maxLength });
    text.addEventListener("input", function () { setValue(text.value === "" ? (nullable(prop) ? null : undefined) : text.value); });
    return { el: text, focusTarget: text };
  }
  function toLocalInput(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var p = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function enumSelect(prop, id, shown, setValue, required) {
    var labels = prop["x-enum-labels"] || {};
    var sel = h("select", { id: id });
    var hasDefault = prop["default"] !== undefined && prop["default"] !== null;
    if (!hasDefault || nullable(prop)) sel.appendChild(h("option", { value: "", text: required ? "Choose…" : "—" }));
    prop["enum"].forEach(function (val, i) {
      if (val === null) return;
      sel.appendChild(h("option", { value: String(i), text: labels[val] || humanize(val), selected: shown === val }));
    });
    sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : prop["enum"][Number(sel.value)]); });
    return { el: sel, focusTarget: sel };
  }
  function choiceSelect(source, prop, id, v, setValue, required, emptyLabel) {
    var sel = h("select", { id: id, "data-choices": source });
    var holder = h("div", { class: "dz-choice" }, sel);
    /* A setting with a default shows that default chosen (the date trigger's "Birth
       date"), never a bare "—"; one without asks for a choice in words. */
    var fallback = prop && prop["default"] !== undefined && prop["default"] !== null ? String(prop["default"]) : null;
    if ((v === undefined || v === null || v === "") && fallback !== null) v = fallback;
    function fill(list) {
      sel.textContent = "";
      if (fallback === null || emptyLabel) sel.appendChild(h("option", { value: "", text: emptyLabel || (required ? "Choose…" : "Choose " + (prop && prop.title ? prop.title.toLowerCase() : "one") + "…") }));
      var found = false;
      list.forEach(function (c) {
        var val = String(c.value);
        if (val === String(v)) found = true;
        sel.appendChild(h("option", { value: val, text: c.label, selected: val === String(v) }));
      });
      if (v !== undefined && v !== null && v !== "" && !found) sel.appendChild(h("option", { value: String(v), text: String(v) + " (not found in the CRM)", selected: true }));
    }
    sel.appendChild(h("option", { value: v === undefined || v === null ? "" : String(v), text: "Loading…" }));
    choices(source).then(function (list) {
      if (list === null) {
        var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), placeholder: "The id in the CRM" });
        inp.addEventListener("input", function () { setValue(inp.value || (nullable(prop) ? null : undefined)); });
        holder.replaceChild(inp, sel);
        return;
      }
      rememberChoices(source, list);
      fill(list);
      renderCanvas();
    });
    sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : sel.value); });
    return { el: holder, focusTarget: sel };
  }
  function stepSelect(prop, id, v, setValue, emailsOnly) {
    var sel = h("select", { id: id });
    sel.appendChild(h("option", { value: "", text: emailsOnly ? "Any email of this flow" : "—" }));
    var found = false;
    allSteps().forEach(function (i) {
      var c = stepComp(i.step.type);
      if (emailsOnly && !(c && c.sends === "email")) return;
      if (i.step.id === v) found = true;
      sel.appendChild(h("option", { value: i.step.id, text: stepTitle(i), selected: i.step.id === v }));
    });
    if (v && !found) sel.appendChild(h("option", { value: v, text: v + " (no such step)", selected: true }));
    sel.addEventListener("change", function () { setValue(sel.value === "" ? (nullable(prop) ? null : undefined) : sel.value); });
    return { el: sel, focusTarget: sel };
  }
  function fieldPicker(prop, id, v, setValue) {
    var listId = id + "-list";
    var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), list: listId, placeholder: prop["default"] ? String(prop["default"]) : "A field, e.g. email" });
    var dl = h("datalist", { id: listId });
    choices("person_fields").then(function (list) { (list || []).forEach(function (c) { dl.appendChild(h("option", { value: String(c.value), label: c.label })); }); });
    inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
    return { el: h("div", null, inp, dl), focusTarget: inp };
  }
  function listInput(prop, id, v, setValue) {
    var itemType = typeOf(prop.items || {});
    var inp = h("input", { type: "text", id: id, value: Array.isArray(v) ? v.join(", ") : "", placeholder: "Separate values with commas" });
    inp.addEventListener("input", function () {
      var parts = inp.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      if (itemType === "integer" || itemType === "number") parts = parts.map(function (s) { var n = Number(s); return isNaN(n) ? s : n; });
      setValue(parts.length ? parts : undefined);
    });
    return { el: inp, focusTarget: inp };
  }
  function jsonArea(prop, id, v, setValue, title) {
    var ta = h("textarea", { id: id, rows: "3", class: "dz-code", placeholder: "{\"key\": \"value\"}" });
    ta.value = v === undefined ? "" : JSON.stringify(v, null, 2);
    var err = h("div", { class: "dz-msg" });
    ta.addEventListener("input", function () {
      if (!ta.value.trim()) { err.textContent = ""; setValue(undefined); return; }
      try { var parsed = JSON.parse(ta.value); err.textContent = ""; setValue(parsed); } catch (e) { err.textContent = title + ": not valid JSON yet (" + e.message + ")"; }
    });
    return { el: h("div", null, ta, err), focusTarget: ta };
  }
  function repeatGroup(prop, id, obj, name, ctx, title) {
    var rows = Array.isArray(obj[name]) ? obj[name] : [];
    var box = h("div", { class: "dz-repeat", id: id, role: "group", "aria-label": title });
    var single = title.replace(/s$/, "");
    rows.forEach(function (row, i) {
      var rowCtx = Object.assign({}, ctx, { path: ctx.path + "." + name + "[" + i + "]", skip: null, only: null, quietEmpty: true, ensure: ctx.ensure });
      box.appendChild(h("div", { class: "dz-row", "data-row": String(i) },
        h("div", { class: "dz-row-head" }, h("b", null, single + " " + (i + 1)),
          S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove " + single + " " + (i + 1), onclick: function () {
            commit(function () { obj[name].splice(i, 1); if (!obj[name].length) delete obj[name]; });
          } }, "Remove")),
        buildForm(prop.items, row, rowCtx)));
    });
    if (!rows.length) box.appendChild(h("p", { class: "muted small dz-none" }, "None yet."));
    if (!S.readOnly) {
      box.appendChild(h("button", { type: "button", class: "small", onclick: function () {
        commit(function () { if (ctx.ensure) ctx.ensure(); if (!Array.isArray(obj[name])) obj[name] = []; obj[name].push({}); });
        var last = els.panel.querySelectorAll('[data-path="' + ctx.path + "." + name + '"] .dz-row');
        var row = last[last.length - 1];
        var first = row && row.querySelector("input, select, textarea");
        if (first) first.focus();
      } }, "+ Add " + single.toLowerCase()));
    }
    return { el: box, focusTarget: box.querySelector("input, select, textarea") };
  }

  /* ------------------------------------------------- text with merge tags */
  function paintLayer(layer, text, bad) {
    layer.textContent = "";
    var last = 0, m;
    TAG_RE.lastIndex = 0;
    while ((m = TAG_RE.exec(text))) {
      var tag = m[1] || m[3];
      if (bad.indexOf(tag) < 0) continue;
      layer.appendChild(document.createTextNode(text.slice(last, m.index)));
      layer.appendChild(h("mark", { class: "dz-bad-tag" }, m[0]));
      last = m.index + m[0].length;
    }
    layer.appendChild(document.createTextNode(text.slice(last) + "\n"));
  }
  /* A text input or textarea over a layer that underlines unknown merge tags. */
  function highlighted(control, ctx, name) {
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
  function mergeInput(prop, id, v, setValue, ctx, name) {
    var inp = h("input", { type: "text", id: id, value: v === undefined || v === null ? "" : String(v), maxlength: prop.maxLength, autocomplete: "off" });
    inp.addEventListener("input", function () { setValue(inp.value === "" ? (nullable(prop) ? null : undefined) : inp.value); });
    return { el: highlighted(inp, ctx, name), focusTarget: inp };
  }
  function textArea(prop, id, v, setValue, ctx, name, code, rows) {
    var ta = h("textarea", { id: id, rows: String(rows || 4), class: code ? "dz-code" : "dz-prose", spellcheck: code ? "false" : "true" });
    ta.value = v === undefined || v === null ? "" : String(v);
    ta.addEventListener("input", function () { setValue(ta.value === "" ? (nullable(prop) ? null : undefined) : ta.value); });
    return { el: prop["x-merge-tags"] ? highlighted(ta, ctx, name) : ta, focusTarget: ta };
  }
  function insertAt(control, before, after, placeholder) {
    var start = control.selectionStart === null || control.selectionStart === undefined ? control.value.length : control.selectionStart;
    var end = control.selectionEnd === null || control.selectionEnd === undefined ? start : control.selectionEnd;
    var inner = control.value.slice(start, end) || placeholder || "";
    control.value = control.value.slice(0, start) + before + inner + (after || "") + control.value.slice(end);
    control.focus();
    if (placeholder && start === end) control.setSelectionRange(start + before.length, start + before.length + inner.length);
    else { var pos = start + before.length + inner.length + (after || "").length; control.setSelectionRange(pos, pos); }
    control.dispatchEvent(new Event("input", { bubbles: true }));
  }
  /* The toolbar's Link: asks for the address (http, https or mailto) and the link's
     text (the selected text, if any), refuses an address that is not one, and only
     then writes the <a> into the body. */
  function validLink(text) {
    var v = String(text || "").trim();
    if (!v) return "Give the address the link goes to.";
    if (/^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(v)) return "";
    if (/^\{\{.+\}\}$/.test(v)) return "";
    var u;
    try { u = new URL(v); } catch (e) { return "That is not a web address: start it with https://, e.g. https://example.com/offer"; }
    if (u.protocol !== "https:" && u.protocol !== "http:") return "A link must start with https:// or http:// (or mailto: for an email address).";
    if (!u.hostname || u.hostname.indexOf(".") < 0) return "The address needs a domain, e.g. https://example.com/offer";
    return "";
  }
  function escapeAttr(v) { return String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); }
  function escapeText(v) { return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
  function askLink(control) {
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
  function mergeTagButton(control) {
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
  function htmlEditor(prop, id, v, setValue, ctx, name) {
    var made = textArea(prop, id, v, setValue, ctx, name, true, 12);
    var ta = made.focusTarget;
    function tool(text, aria, fn) { return h("button", { type: "button", class: "small", "aria-label": aria, title: aria, onclick: fn }, text); }
    var bar = h("div", { class: "dz-toolbar", role: "toolbar", "aria-label": "Formatting" },
      tool("B", "Bold", function () { insertAt(ta, "<strong>", "</strong>", "bold text"); }),
      tool("I", "Italic", function () { insertAt(ta, "<em>", "</em>", "italic text"); }),
      tool("Link", "Link", function () { askLink(ta); }),
      tool("¶", "Paragraph", function () { insertAt(ta, "<p>", "</p>\n", "New paragraph"); }),
      S.readOnly ? null : mergeTagButton(ta));
    bar.addEventListener("keydown", function (e) {
      var btns = Array.prototype.slice.call(bar.querySelectorAll("button"));
      var i = btns.indexOf(document.activeElement);
      if (e.key === "ArrowRight" && i >= 0) { e.preventDefault(); btns[(i + 1) % btns.length].focus(); }
      if (e.key === "ArrowLeft" && i >= 0) { e.preventDefault(); btns[(i - 1 + btns.length) % btns.length].focus(); }
    });
    return { el: h("div", { class: "dz-html" }, S.readOnly ? null : bar, made.el), focusTarget: ta };
  }

  /* SMS: characters and parts counted as the phone network does. */
  function smsCount(text) {
    var gsm = true, i, ch, sizes = [];
    var chars = Array.from(text);
    for (i = 0; i < chars.length; i++) { ch = chars[i]; if (GSM7.indexOf(ch) < 0 && GSM7_EXT.indexOf(ch) < 0) { gsm = false; break; } }
    chars.forEach(function (c) { sizes.push(gsm ? (GSM7_EXT.indexOf(c) >= 0 ? 2 : 1) : (c.codePointAt(0) > 0xFFFF ? 2 : 1)); });
    var single = gsm ? 160 : 70, per = gsm ? 153 : 67;
    var units = sizes.reduce(function (a, b) { return a + b; }, 0);
    var parts = 1;
    if (units > single) {
      var used = 0;
      sizes.forEach(function (s) { if (used + s > per) { parts += 1; used = 0; } used += s; });
    }
    return { encoding: gsm ? "GSM-7" : "UCS-2", units: units, parts: parts };
  }
  function smsWords(text) {
    var bare = text.replace(TAG_RE, "");
    var c = smsCount(bare);
    var s = plural(c.units, "character", "characters") + " · " + c.parts + " SMS (" + c.encoding + ")";
    if (bare !== text) s += " · merge tags not counted";
    return s;
  }
  function smsEditor(prop, id, v, setValue, ctx, name) {
    var made = textArea(prop, id, v, setValue, ctx, name, false, 4);
    var ta = made.focusTarget;
    var counter = h("div", { class: "dz-sms-count", "aria-live": "polite", "data-sms-count": "" });
    function count() { counter.textContent = smsWords(ta.value); }
    ta.addEventListener("input", count);
    count();
    return { el: h("div", { class: "dz-sms" }, made.el, counter), focusTarget: ta };
  }

  function htmlToText(html) {
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

  function attachmentsEditor(prop, id, obj, name, ctx, setValue) {
    var list = Array.isArray(obj[name]) ? obj[name] : [];
    var box = h("div", { class: "dz-attach", id: id, role: "group", "aria-label": "Attachments" });
    var ul = h("ul", { class: "dz-files" });
    list.forEach(function (a, i) {
      ul.appendChild(h("li", null, h("span", { class: "dz-file-icon", "aria-hidden": "true" }, ((a.name || a.path || "").split(".").pop() || "file").slice(0, 4).toUpperCase()), h("span", null, a.name || a.path),
        S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove attachment " + (a.name || a.path), onclick: function () {
          commit(function () { obj[name].splice(i, 1); if (!obj[name].length) delete obj[name]; });
        } }, "Remove")));
    });
    if (!list.length) ul.appendChild(h("li", { class: "muted small" }, "No attachments."));
    box.appendChild(ul);
    if (!S.readOnly) {
      var fileId = nextId("file");
      var file = h("input", { type: "file", id: fileId, class: "dz-file-input", "data-upload": "" });
      var status = h("div", { class: "dz-msg", role: "alert", "data-upload-error": "" });
      var busy = h("span", { class: "muted small" });
      file.addEventListener("change", function () {
        if (!file.files.length) return;
        var fd = new FormData();
        fd.append("file", file.files[0]);
        status.textContent = "";
        busy.textContent = "Uploading " + file.files[0].name + "…";
        var target = prop["x-upload"] || url("upload");
        api("POST", target + (target.indexOf("?") < 0 ? "?" : "&") + "name=" + encodeURIComponent(file.files[0].name), fd).then(function (r) {
          busy.textContent = "";
          file.value = "";
          if (!r.ok) {
            var errs = r.data.errors || [{ message: "The upload failed (" + r.status + ")" }];
            status.textContent = errs.map(function (e) { return e.message; }).join("; ");
            return;
          }
          commit(function () {
            if (ctx.ensure) ctx.ensure();
            if (!Array.isArray(obj[name])) obj[name] = [];
            obj[name].push({ name: r.data.name, path: r.data.path });
          });
          flash("ok", "Attached " + r.data.name + ".");
        });
      });
      box.appendChild(h("div", { class: "inline" }, h("label", { "for": fileId, class: "button small dz-upload" }, "Attach a file…"), file, busy));
      box.appendChild(status);
    }
    return { el: box, focusTarget: box.querySelector("input") };
  }

  /* ------------------------------------------------- preview and send test */
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
  var schedulePreview = debounce(function () { if (previewTarget) previewTarget(); }, PREVIEW_MS);
  function previewSection(st, c) {
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
  function messageView(m) {
    var probs = (m.problems || []).map(function (p) { return typeof p === "string" ? p : p.message; });
    if (m.channel === "sms") {
      return h("div", { class: "message dz-message" },
        h("div", { class: "message-meta" }, h("div", null, h("span", { class: "muted" }, "From "), m.sender || "—", h("span", { class: "muted" }, " to "), m.to || "no mobile number")),
        h("div", { class: "sms-bubble", "data-preview-sms": "" }, m.text || ""),
        h("div", { class: "message-foot small muted" }, smsWords(m.text || "").replace(" · merge tags not counted", "") + " as sent"),
        probs.length ? problemBox("Problems", probs) : null);
    }
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
  function problemBox(title, items) {
    return h("div", { class: "problems dz-problems" }, h("b", null, title), h("ul", null, items.map(function (t) { return h("li", null, t); })));
  }
  function sendTestSection(st) {
    var id = nextId("to");
    var part = comp("step_types", st.type);
    var sms = !!part && part.sends === "sms";
    var to = sms
      ? h("input", { type: "tel", id: id, placeholder: "+47 912 34 567", autocomplete: "tel" })
      : h("input", { type: "email", id: id, placeholder: "you@company.com", autocomplete: "email" });
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

  /* ------------------------------------------------------------------ panel */
  function renderPanel() {
    if (!els.panel || !S.catalog) return;
    var scroll = window.scrollY;
    previewTarget = null;
    closePop(false);
    els.panel.textContent = "";
    var sel = S.sel;
    var wide = false;
    var body;
    if (sel && sel.kind === "step") {
      var info = findStep(sel.id);
      if (!info) { S.sel = null; return renderPanel(); }
      var c = stepComp(info.step.type);
      wide = !!(c && c.sends);
      body = stepPanel(info, c);
    } else if (sel && sel.kind === "trigger") body = triggerPanel();
    else if (sel && sel.kind === "filters") body = filtersPanel();
    else if (sel && sel.kind === "goal") body = goalPanel();
    else if (sel && sel.kind === "settings") body = settingsPanel();
    else body = overviewPanel();
    els.body.classList.toggle("dz-wide", wide);
    els.panel.appendChild(body);
    if (S.readOnly) {
      els.panel.querySelectorAll("input, select, textarea, button").forEach(function (el) {
        if (!el.closest("[data-keep-enabled], .dz-panel-head")) el.disabled = true;
      });
    }
    if (sel && sel.kind === "step" && sel.branch !== undefined) {
      var b = els.panel.querySelector('[data-branch="' + sel.branch + '"]');
      if (b) { b.scrollIntoView({ block: "nearest" }); var inp = b.querySelector("input"); if (inp) inp.focus(); }
    }
    window.scrollTo(window.scrollX, scroll);
    renderHead();
  }
  function panelHead(kind, title, extra) {
    return h("div", { class: "dz-panel-head" },
      h("div", null, h("div", { class: "dz-kind" }, kind), h("h2", { id: "dz-panel-title" }, title)),
      h("div", { class: "dz-panel-actions" }, extra || null,
        h("button", { type: "button", class: "dz-icon dz-close", title: "Close (back to the checks)", "aria-label": "Close the panel", onclick: function () { var k = S.sel; select(null); if (k && k.kind === "step") focusNode(k.id); } }, icon("close"))));
  }
  function fillProblems(box, stepId) {
    box.textContent = "";
    var errs = errorsFor(stepId), probs = startProblemsFor(stepId), warns = warningsFor(stepId);
    if (errs.length) box.appendChild(h("div", { class: "flash flash-error dz-errors" }, h("b", null, "Fix before saving"), h("ul", null, errs.map(function (t) { return h("li", null, t); }))));
    if (probs.length) box.appendChild(problemBox("Before this flow can start", probs));
    if (warns.length) box.appendChild(h("div", { class: "dz-warnings" }, h("b", null, "Worth a look"), h("ul", null, warns.map(function (w) { return h("li", null, w); }))));
  }
  function stepPanel(info, c) {
    var st = info.step;
    if (!st.settings || typeof st.settings !== "object") st.settings = {};
    var box = h("div", { class: "dz-panel-body", "data-panel": "step", "data-step": st.id });
    box.appendChild(panelHead("Step " + info.number + " · " + label("step_types", st.type), stepName(st),
      S.readOnly ? null : [
        h("button", { type: "button", class: "small", onclick: function () { duplicateStep(st.id); } }, "Duplicate"),
        h("button", { type: "button", class: "small danger", onclick: function () { deleteStep(st.id); } }, "Delete")]));
    if (c && c.description) box.appendChild(h("p", { class: "muted small dz-desc" }, c.description));
    var probs = h("div", { "data-step-problems": "" });
    fillProblems(probs, st.id);
    box.appendChild(probs);
    var nameId = nextId("name");
    var name = h("input", { type: "text", id: nameId, value: st.name || "", placeholder: c ? c.label : st.type, maxlength: "120", "data-step-name": "" });
    name.addEventListener("input", function () {
      snapshot(info.path + ".name");
      st.name = name.value;
      var t = els.panel.querySelector("#dz-panel-title");
      if (t) t.textContent = stepName(st);
      edited();
    });
    box.appendChild(h("div", { class: "field" }, h("label", { "for": nameId }, "Step name"), name, h("div", { class: "help" }, "What colleagues see in the chart and reports")));
    if (!c) {
      box.appendChild(problemBox("This step type is not installed", ["The flow uses '" + st.type + "', which no installed plugin provides. Install the plugin or delete the step."]));
      return box;
    }
    var ctx = { path: info.path + ".settings", stepId: st.id, kind: "step_types", comp: c };
    var props = (c.schema && c.schema.properties) || {};
    if (c.sends === "email") {
      var content = ["subject", "preheader", "html", "text", "attachments"].filter(function (k) { return props[k]; });
      var msg = h("section", { class: "dz-section" }, h("h3", null, "Message"), buildForm(c.schema, st.settings, Object.assign({}, ctx, { only: content })));
      var textField = msg.querySelector('[data-name="text"]');
      if (textField && !S.readOnly) {
        var gen = h("button", { type: "button", class: "small", "data-generate-text": "" }, "Generate from HTML");
        gen.addEventListener("click", function () {
          var ta = textField.querySelector("textarea, input");
          ta.value = htmlToText(st.settings.html || "");
          ta.dispatchEvent(new Event("input", { bubbles: true }));
          ta.focus();
        });
        textField.querySelector(".dz-label-row").appendChild(gen);
      }
      box.appendChild(msg);
      box.appendChild(previewSection(st, c));
      box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Sender and delivery"), buildForm(c.schema, st.settings, Object.assign({}, ctx, { skip: content }))));
      box.appendChild(sendTestSection(st));
    } else if (c.sends === "sms") {
      box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Message"), buildForm(c.schema, st.settings, ctx)));
      box.appendChild(previewSection(st, c));
      box.appendChild(sendTestSection(st));
    } else if (c.branching) {
      box.appendChild(buildForm(c.schema, st.settings, Object.assign({}, ctx, { quietEmpty: true })));
      box.appendChild(branchesEditor(info));
    } else {
      box.appendChild(h("section", { class: "dz-section" }, h("h3", null, "Settings"), buildForm(c.schema, st.settings, ctx)));
    }
    return box;
  }
  function conditionEditor(cond, path, ctx, onType, filterOk) {
    var box = h("div", { class: "dz-cond-edit" });
    var pick = componentSelect("filters", cond ? cond.type : "", onType, { aria: "Condition", placeholder: "Choose a condition…", filter: filterOk });
    box.appendChild(h("div", { class: "field" }, h("label", null, "Condition"), pick));
    if (cond && cond.type) {
      var c = comp("filters", cond.type);
      if (!cond.settings || typeof cond.settings !== "object") cond.settings = {};
      if (c) box.appendChild(buildForm(c.schema, cond.settings, Object.assign({}, ctx, { path: path + ".settings", kind: "filters", comp: c, quietEmpty: true })));
    }
    var id = nextId("cond");
    pick.id = id;
    box.querySelector("label").setAttribute("for", id);
    return box;
  }
  function branchesEditor(info) {
    var st = info.step;
    var sec = h("section", { class: "dz-section" }, h("h3", null, "Branches"),
      h("p", { class: "help" }, "Each person goes down the first branch whose condition they match, left to right. Whoever matches none goes to “Everyone else”, drawn on the right."));
    st.branches.forEach(function (b, bi) {
      var nameId = nextId("bname");
      var name = h("input", { type: "text", id: nameId, value: b.name || "", placeholder: "Branch " + (bi + 1) });
      name.addEventListener("input", function () { snapshot(info.path + ".branches[" + bi + "].name"); b.name = name.value; edited(); });
      var row = h("div", { class: "dz-row dz-branch-edit", "data-branch": String(bi) },
        h("div", { class: "dz-row-head" }, h("b", null, "Branch " + (bi + 1)),
          S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove branch " + (bi + 1), onclick: function () {
            commit(function () { st.branches.splice(bi, 1); });
          } }, "Remove")),
        h("div", { class: "field" }, h("label", { "for": nameId }, "Branch name"), name),
        conditionEditor(b.condition, info.path + ".branches[" + bi + "].condition", { stepId: st.id }, function (type) {
          commit(function () { b.condition = type ? { type: type, settings: {} } : null; });
        }, function () { return true; }),
        h("div", { class: "dz-msg" }, fieldError(info.path + ".branches[" + bi + "].condition")));
      sec.appendChild(row);
    });
    if (!S.readOnly) sec.appendChild(h("button", { type: "button", class: "small", "data-add-branch": "", onclick: function () {
      commit(function () { st.branches.push({ name: "Branch " + (st.branches.length + 1), condition: null, steps: [] }); });
    } }, "+ Add branch"));
    sec.appendChild(h("div", { class: "dz-row dz-else-note" }, h("b", null, "Everyone else"), h("span", { class: "muted small" }, " — always there; add steps to it in the chart.")));
    return sec;
  }

  /* What the trigger still needs, kept in step with the trigger as it is now: a
     chosen trigger never shows the "choose what starts the flow" of an older check. */
  function fillTriggerProblems(box) {
    var t = S.doc.trigger;
    var probs = areaErrors("trigger").map(function (e) { return fieldWords(e.field) + ": " + e.message; })
      .concat(S.check.problems.filter(function (p) {
        if (p.step_id || !/^trigger/i.test(p.message)) return false;
        if (t && t.type) return p.message.indexOf("Trigger '" + label("triggers", t.type) + "'") === 0;
        return true;
      }).map(function (p) { return p.message; }));
    box.textContent = "";
    if (probs.length) box.appendChild(problemBox("Before this flow can start", probs));
  }
  function triggerPanel() {
    var t = S.doc.trigger;
    var box = h("div", { class: "dz-panel-body", "data-panel": "trigger" });
    box.appendChild(panelHead("Trigger", "When people enter"));
    box.appendChild(h("p", { class: "muted small" }, "The trigger suggests a person for the flow; the filters then decide whether they may enter."));
    var probBox = h("div", { "data-trigger-problems": "" });
    fillTriggerProblems(probBox);
    box.appendChild(probBox);
    var id = nextId("trig");
    var pick = componentSelect("triggers", t ? t.type : "", function (type) {
      commit(function () { S.doc.trigger = type ? { type: type, settings: {} } : null; });
    }, { aria: "Trigger", placeholder: "Choose a trigger…" });
    pick.id = id;
    pick.setAttribute("data-trigger-type", "");
    box.appendChild(h("div", { class: "field" }, h("label", { "for": id }, "Trigger"), pick));
    if (t && t.type) {
      var c = comp("triggers", t.type);
      if (c) {
        if (c.description) box.appendChild(h("p", { class: "help dz-desc" }, c.description));
        if (!t.settings || typeof t.settings !== "object") t.settings = {};
        box.appendChild(buildForm(c.schema, t.settings, { path: "trigger.settings", stepId: null, kind: "triggers", comp: c, quietEmpty: true }));
      }
    }
    return box;
  }

  var scheduleCount = debounce(runCount, COUNT_MS);
  function runCount() {
    var out = document.querySelector("[data-live-count]");
    var seq = ++S.countSeq;
    if (out) out.classList.add("dz-loading");
    api("POST", url("count"), { filters: S.doc.filters }).then(function (r) {
      if (seq !== S.countSeq) return;
      out = document.querySelector("[data-live-count]");
      if (!r.ok) {
        S.lastCount = null;
        if (out) { out.classList.remove("dz-loading"); out.textContent = "The count is not available: " + ((r.data.errors || [])[0] || { message: "finish the conditions" }).message; }
        return;
      }
      S.lastCount = r.data;
      if (out) {
        out.classList.remove("dz-loading");
        out.textContent = "";
        add(out, [h("b", null, (r.data.exact === false ? "About " : "") + number(r.data.count)), " of " + number(r.data.total) + " persons in the CRM match now"]);
        var bar = h("div", { class: "dz-count-bar" }, h("span", { style: "width:" + (r.data.total ? Math.round(100 * r.data.count / r.data.total) : 0) + "%" }));
        out.appendChild(bar);
      }
      renderCanvas();
    });
  }
  function groupEditor(group, path, depth, onRemove) {
    var box = h("div", { class: "dz-group dz-depth-" + depth, role: "group", "aria-label": depth ? "Group of conditions" : "Conditions" });
    var ops = h("div", { class: "segmented dz-ops", role: "radiogroup", "aria-label": "How the conditions combine" });
    [["and", "All must match (AND)"], ["or", "Any may match (OR)"]].forEach(function (o) {
      var on = (group.op || "and") === o[0];
      ops.appendChild(h("button", { type: "button", role: "radio", "aria-checked": on ? "true" : "false", class: on ? "current" : "", "data-op": o[0], onclick: function () {
        if ((group.op || "and") === o[0]) return;
        commit(function () { group.op = o[0]; });
        scheduleCount();
      } }, o[1]));
    });
    box.appendChild(h("div", { class: "dz-group-head" }, ops, onRemove && !S.readOnly ? h("button", { type: "button", class: "small danger", onclick: onRemove }, "Remove group") : null));
    if (!group.conditions.length) box.appendChild(h("p", { class: "muted small" }, depth ? "An empty group matches everyone." : "No conditions: everyone the trigger suggests may enter."));
    group.conditions.forEach(function (cond, i) {
      var here = path + ".conditions[" + i + "]";
      var remove = function () { commit(function () { group.conditions.splice(i, 1); }); scheduleCount(); };
      if (i > 0) box.appendChild(h("div", { class: "op dz-joiner" }, (group.op || "and") === "or" ? "or" : "and"));
      if (cond && Array.isArray(cond.conditions)) { box.appendChild(groupEditor(cond, here, depth + 1, remove)); return; }
      var row = h("div", { class: "dz-row dz-condition", "data-condition": here },
        h("div", { class: "dz-row-head" }, h("b", null, "Condition " + (i + 1)), S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove condition " + (i + 1), onclick: remove }, "Remove")),
        conditionEditor(cond, here, { stepId: null, onEdit: function () { scheduleCount(); } }, function (type) {
          if (!type) return;
          commit(function () { group.conditions[i] = { type: type, settings: {} }; });
          scheduleCount();
        }, function (c) { return !c.needs_participant; }));
      box.appendChild(row);
    });
    if (!S.readOnly) {
      box.appendChild(h("div", { class: "inline dz-group-add" },
        h("button", { type: "button", class: "small", "data-add-condition": "", "aria-haspopup": "listbox", onclick: function (e) {
          pickComponent(e.currentTarget, "filters", function (c) { return !c.needs_participant; }, function (type) {
            commit(function () { group.conditions.push({ type: type, settings: {} }); });
            scheduleCount();
          });
        } }, "+ Add condition"),
        depth < 3 ? h("button", { type: "button", class: "small", "aria-haspopup": "listbox", onclick: function (e) {
          pickComponent(e.currentTarget, "filters", function (c) { return !c.needs_participant; }, function (type) {
            commit(function () { group.conditions.push({ op: group.op === "or" ? "and" : "or", conditions: [{ type: type, settings: {} }] }); });
            scheduleCount();
          });
        } }, "+ Add group") : null));
    }
    return box;
  }
  function filtersPanel() {
    var box = h("div", { class: "dz-panel-body", "data-panel": "filters" });
    box.appendChild(panelHead("Filters", "Who may enter"));
    box.appendChild(h("p", { class: "muted small" }, "Only persons who match these conditions when the trigger suggests them enter the flow."));
    var live = h("div", { class: "dz-live-count", "aria-live": "polite", "data-live-count": "" }, "Counting…");
    box.appendChild(live);
    var errs = areaErrors("filters");
    if (errs.length) box.appendChild(problemBox("To fix", errs.map(function (e) { return fieldWords(e.field) + ": " + e.message; })));
    box.appendChild(groupEditor(S.doc.filters, "filters", 0, null));
    setTimeout(runCount, 0);
    return box;
  }
  function goalPanel() {
    var sc = S.doc.success;
    var box = h("div", { class: "dz-panel-body", "data-panel": "goal" });
    box.appendChild(panelHead("Goal", "Success criteria"));
    box.appendChild(h("p", { class: "muted small" }, "When any of these happens to a participant, the flow has done its job for them. Reports count it as a success."));
    var errs = areaErrors("success");
    if (errs.length) box.appendChild(problemBox("To fix", errs.map(function (e) { return fieldWords(e.field) + ": " + e.message; })));
    sc.criteria.forEach(function (cr, i) {
      var here = "success.criteria[" + i + "]";
      var id = nextId("crit");
      var pick = componentSelect("success_criteria", cr.type, function (type) { if (type) commit(function () { sc.criteria[i] = { type: type, settings: {} }; }); }, { aria: "Success criterion" });
      pick.id = id;
      var row = h("div", { class: "dz-row dz-criterion", "data-criterion": String(i) },
        h("div", { class: "dz-row-head" }, h("b", null, "Criterion " + (i + 1)), S.readOnly ? null : h("button", { type: "button", class: "small danger", "aria-label": "Remove criterion " + (i + 1), onclick: function () { commit(function () { sc.criteria.splice(i, 1); }); } }, "Remove")),
        h("div", { class: "field" }, h("label", { "for": id }, "Success when"), pick));
      var c = comp("success_criteria", cr.type);
      if (c) {
        if (!cr.settings || typeof cr.settings !== "object") cr.settings = {};
        row.appendChild(buildForm(c.schema, cr.settings, { path: here + ".settings", stepId: null, kind: "success_criteria", comp: c, quietEmpty: true }));
      }
      box.appendChild(row);
    });
    if (!sc.criteria.length) box.appendChild(h("p", { class: "muted small" }, "No criteria yet: participants simply go through to the end."));
    if (!S.readOnly) box.appendChild(h("button", { type: "button", class: "small", "data-add-criterion": "", "aria-haspopup": "listbox", onclick: function (e) {
      pickComponent(e.currentTarget, "success_criteria", null, function (type) { commit(function () { sc.criteria.push({ type: type, settings: {} }); }); });
    } }, "+ Add criterion"));
    if (sc.criteria.length) {
      var daysId = nextId("days");
      var days = h("input", { id: daysId, type: "number", min: "0", max: "365", step: "1", value: String(sc.days_after || 0), "data-days-after": "", style: "width:6rem" });
      days.addEventListener("input", function () { snapshot("success.days_after"); sc.days_after = Math.max(0, parseInt(days.value, 10) || 0); edited(); });
      box.appendChild(h("div", { class: "field dz-field", "data-path": "success.days_after" },
        h("label", { "for": daysId }, "Success still counts for (days after the last step)"), days,
        h("div", { class: "help" }, "0: only while people are in the flow. A click on the last email comes after it: give it a few days."),
        h("div", { class: "dz-msg" }, fieldError("success.days_after"))));
    }
    var onId = nextId("on");
    var on = h("select", { id: onId, "data-on-success": "" });
    Object.keys(ON_SUCCESS).forEach(function (k) { on.appendChild(h("option", { value: k, text: ON_SUCCESS[k], selected: sc.on_success === k })); });
    on.addEventListener("change", function () { commit(function () { sc.on_success = on.value; if (on.value !== "move_to") sc.move_to_flow = null; }); });
    var sec = h("section", { class: "dz-section" }, h("h3", null, "When a participant succeeds"), h("div", { class: "field" }, h("label", { "for": onId }, "Then"), on));
    if (sc.on_success === "move_to") {
      var fId = nextId("flow");
      var fl = h("select", { id: fId, "data-move-to": "" }, h("option", { value: "", text: "Choose a flow…" }));
      ((S.catalog && S.catalog.flows) || []).forEach(function (f) {
        if (String(f.id) === String(S.boot.flow_id)) return;
        fl.appendChild(h("option", { value: String(f.id), text: f.name, selected: String(sc.move_to_flow) === String(f.id) }));
      });
      fl.addEventListener("change", function () { snapshot(null); sc.move_to_flow = fl.value || null; edited(); });
      sec.appendChild(h("div", { class: "field dz-field", "data-path": "success.move_to_flow" }, h("label", { "for": fId }, "Move them to"), fl, h("div", { class: "dz-msg" }, fieldError("success.move_to_flow"))));
    }
    box.appendChild(sec);
    return box;
  }

  function settingsPanel() {
    var d = S.doc;
    var box = h("div", { class: "dz-panel-body", "data-panel": "settings" });
    box.appendChild(panelHead("Flow settings", d.name || "Untitled flow"));
    function row(labelText, control, help, path) {
      return h("div", { class: "field dz-field", "data-path": path || "" }, h("label", { "for": control.id }, labelText), control, help ? h("div", { class: "help" }, help) : null, h("div", { class: "dz-msg" }, path ? fieldError(path) : ""));
    }
    var name = h("input", { type: "text", id: nextId("fname"), value: d.name || "", placeholder: "e.g. Welcome series", "data-flow-name": "", maxlength: "200" });
    name.addEventListener("input", function () { snapshot("name"); d.name = name.value; var t = els.panel.querySelector("#dz-panel-title"); if (t) t.textContent = d.name || "Untitled flow"; edited(); });
    box.appendChild(row("Name", name, "What the flow is called in lists and reports", "name"));
    var desc = h("textarea", { id: nextId("fdesc"), rows: "2", class: "dz-prose", placeholder: "What this flow is for, in a sentence" });
    desc.value = d.description || "";
    desc.addEventListener("input", function () { snapshot("description"); if (desc.value) d.description = desc.value; else delete d.description; edited(); });
    box.appendChild(row("Description", desc, null, "description"));
    var re = h("select", { id: nextId("re"), "data-reenrollment": "" });
    Object.keys(REENROL).forEach(function (k) { re.appendChild(h("option", { value: k, text: REENROL[k], selected: (d.reenrollment || "once") === k })); });
    re.addEventListener("change", function () { snapshot(null); d.reenrollment = re.value; edited(); });
    box.appendChild(row("A person may enter", re, "Whether the same person can go through the flow more than once", "reenrollment"));
    var exId = nextId("ex");
    var ex = choiceSelect("selections", { type: ["string", "null"] }, exId, d.exclusion_selection, function (v) { snapshot(null); d.exclusion_selection = v || null; edited(); }, false, "Nobody: no exclusion selection");
    ex.focusTarget.setAttribute("data-exclusion", "");
    box.appendChild(h("div", { class: "field dz-field", "data-path": "exclusion_selection" }, h("label", { "for": exId }, "Never enrol members of"), ex.el,
      h("div", { class: "help" }, "An exclusion selection, e.g. employees or persons who asked not to be contacted"), h("div", { class: "dz-msg" }, fieldError("exclusion_selection"))));
    var sec = h("section", { class: "dz-section" }, h("h3", null, "When messages may go out"));
    var on = h("input", { type: "checkbox", id: nextId("sw"), checked: !!d.send_window, "data-send-window": "" });
    on.addEventListener("change", function () { commit(function () { d.send_window = on.checked ? { days: [0, 1, 2, 3, 4], start: "08:00", end: "17:00" } : null; }); });
    sec.appendChild(h("div", { class: "field" }, h("label", { "for": on.id, class: "dz-check" }, on, " Only send emails and SMS within set hours"), h("div", { class: "help" }, "Outside them, participants wait at the message until the window opens, in the flow's time zone.")));
    if (d.send_window) {
      var w = d.send_window;
      var days = h("div", { class: "dz-days", role: "group", "aria-label": "Days" });
      DAYS.forEach(function (dn, i) {
        var cb = h("input", { type: "checkbox", id: nextId("day"), checked: (w.days || []).indexOf(i) >= 0 });
        cb.addEventListener("change", function () {
          snapshot(null);
          var set = (w.days || []).filter(function (x) { return x !== i; });
          if (cb.checked) set.push(i);
          w.days = set.sort();
          edited();
        });
        days.appendChild(h("label", { "for": cb.id, class: "dz-day" }, cb, " " + dn));
      });
      sec.appendChild(h("div", { class: "field dz-field", "data-path": "send_window.days" }, h("label", null, "Days"), days, h("div", { class: "dz-msg" }, fieldError("send_window.days"))));
      var start = h("input", { type: "time", id: nextId("st"), value: w.start || "08:00" });
      var end = h("input", { type: "time", id: nextId("en"), value: w.end || "17:00" });
      start.addEventListener("input", function () { snapshot("sw.start"); w.start = start.value; edited(); });
      end.addEventListener("input", function () { snapshot("sw.end"); w.end = end.value; edited(); });
      sec.appendChild(h("div", { class: "inline dz-times" }, row("From", start, null, "send_window.start"), row("Until", end, null, "send_window.end")));
    }
    var tzList = nextId("tzl");
    var tz = h("input", { type: "text", id: nextId("tz"), value: d.timezone || "", placeholder: "UTC", list: tzList, "data-timezone": "" });
    var dl = h("datalist", { id: tzList });
    try { (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []).forEach(function (z) { dl.appendChild(h("option", { value: z })); }); } catch (e) { /* an older browser */ }
    tz.addEventListener("input", function () { snapshot("tz"); if (tz.value) d.timezone = tz.value; else delete d.timezone; edited(); });
    sec.appendChild(row("Time zone", tz, "For the send window and for waits until a time of day, e.g. Europe/Oslo", "timezone"));
    sec.appendChild(dl);
    box.appendChild(sec);
    return box;
  }

  function overviewPanel() {
    var box = h("div", { class: "dz-panel-body", "data-panel": "overview" });
    box.appendChild(h("div", { class: "dz-panel-head" }, h("div", null, h("div", { class: "dz-kind" }, "Overview"), h("h2", { id: "dz-panel-title" }, "Checks"))));
    var list = h("div", { "data-checks": "" });
    fillChecks(list);
    box.appendChild(list);
    box.appendChild(h("section", { class: "dz-section dz-keys" }, h("h3", null, "Keyboard"),
      h("dl", { class: "facts small" },
        h("dt", null, "+ then Enter"), h("dd", null, "Add a step there: type to filter, arrows, Enter"),
        h("dt", null, "Enter"), h("dd", null, "Open the focused step's settings"),
        h("dt", null, "Delete"), h("dd", null, "Remove the focused step"),
        h("dt", null, "Ctrl+D"), h("dd", null, "Duplicate the focused step"),
        h("dt", null, "Alt+↑ / Alt+↓"), h("dd", null, "Move the step up or down"),
        h("dt", null, "Ctrl+Z / Ctrl+Shift+Z"), h("dd", null, "Undo / redo"),
        h("dt", null, "Ctrl+S"), h("dd", null, "Save"))));
    return box;
  }
  function renderChecks() {
    var list = els.panel && els.panel.querySelector("[data-checks]");
    if (list) fillChecks(list);
  }
  function fillChecks(list) {
    list.textContent = "";
    var items = [];
    var steps = {};
    walk(function (i) { steps[i.step.id] = i; });
    S.check.problems.forEach(function (p) { items.push({ level: "bad", text: p.message, step: p.step_id }); });
    S.check.errors.forEach(function (e) {
      var m = /^(steps(?:\[\d+\](?:\.branches\[\d+\]\.steps|\.everyone_else)?)*\[\d+\])/.exec(e.field || "");
      var id = null;
      if (m) walk(function (i) { if (i.path === m[1]) id = i.step.id; });
      items.push({ level: "bad", text: (id ? stepTitle(steps[id]) + ": " : "") + fieldWords(e.field) + ": " + e.message, step: id, field: e.field });
    });
    S.check.warnings.forEach(function (w) { items.push({ level: "warn", text: w.message, step: w.step_id }); });
    S.check.unknown_merge_tags.forEach(function (u) { items.push({ level: "warn", text: (u.step_id && steps[u.step_id] ? stepTitle(steps[u.step_id]) + ", " : "") + fieldWords(u.field || "") + ": unknown merge tag {{ " + u.tag + " }}", step: u.step_id }); });
    if (!items.length) {
      list.appendChild(h("div", { class: "flash flash-ok dz-ready" }, S.doc.steps.length ? "No problems found: the flow can start." : "Start by choosing a trigger, then add steps from the palette."));
      return;
    }
    var bad = items.filter(function (i) { return i.level === "bad"; }).length;
    list.appendChild(h("p", { class: "small muted" }, bad ? plural(bad, "thing", "things") + " to fix before the flow can start. Saving works anytime." : "Nothing blocks the start; a few things are worth a look."));
    var ul = h("ul", { class: "dz-checklist" });
    items.forEach(function (it) {
      var li = h("li", { class: "dz-" + it.level }, h("span", { class: "dz-sign", "aria-hidden": "true" }, it.level === "bad" ? "!" : "i"));
      if (it.step && steps[it.step]) li.appendChild(h("button", { type: "button", class: "link", onclick: function () { select({ kind: "step", id: it.step }, true); } }, it.text));
      else li.appendChild(h("span", null, it.text));
      ul.appendChild(li);
    });
    list.appendChild(ul);
  }

  /* ------------------------------------------------------------- top bar */
  function flash(kind, text, items) {
    S.flash = { kind: kind, text: text, items: items || null };
    renderFlash();
  }
  function renderFlash() {
    var box = els.flash;
    if (!box) return;
    box.textContent = "";
    if (S.startProblems) {
      box.appendChild(h("div", { class: "problems dz-start-problems", role: "alert", "data-start-problems": "" },
        h("div", { class: "dz-flash-head" }, h("b", null, "The flow can't start yet. Fix these first:"),
          h("button", { type: "button", class: "small link", onclick: function () { S.startProblems = null; renderFlash(); } }, "Dismiss")),
        h("ul", null, S.startProblems.map(function (p) {
          var info = p.step_id ? findStep(p.step_id) : null;
          return h("li", null, info ? h("button", { type: "button", class: "link", onclick: function () { select({ kind: "step", id: p.step_id }, true); } }, p.message) : p.message);
        }))));
    }
    if (S.flash) {
      var f = S.flash;
      box.appendChild(h("div", { class: "flash flash-" + (f.kind === "error" ? "error" : "ok") + " dz-flash", role: f.kind === "error" ? "alert" : "status", "data-flash": f.kind },
        h("div", { class: "dz-flash-head" }, h("span", null, f.text), h("button", { type: "button", class: "small link", "aria-label": "Dismiss the message", onclick: function () { S.flash = null; renderFlash(); } }, "Dismiss")),
        f.items ? h("ul", null, f.items.map(function (t) { return h("li", null, t); })) : null));
    }
  }
  function renderHead() {
    if (!els.head) return;
    var d = S.doc;
    els.title.textContent = d.name || "Untitled flow";
    els.status.textContent = (S.boot.status || "draft").charAt(0).toUpperCase() + (S.boot.status || "draft").slice(1);
    els.status.className = "badge badge-" + (S.boot.status || "draft");
    var bad = S.check.problems.length + S.check.errors.length;
    els.state.textContent = S.readOnly ? "Read-only" : S.saving ? "Saving…" : S.dirty ? "Unsaved changes" : S.boot.version ? "Version " + S.boot.version + " saved" : "Not saved yet";
    els.state.className = "dz-state" + (S.dirty && !S.readOnly ? " dz-dirty" : "");
    els.problemsBtn.hidden = !bad;
    els.problemsBtn.textContent = plural(bad, "problem", "problems");
    els.undo.disabled = S.readOnly || !S.past.length;
    els.redo.disabled = S.readOnly || !S.future.length;
    els.save.disabled = S.readOnly || !!S.saving;
    els.start.disabled = S.readOnly || !!S.saving || (S.boot.can_start === false && S.boot.status !== "draft" && S.boot.status !== "paused");
    els.start.hidden = S.boot.status !== "draft";
    els.resume.hidden = S.boot.status !== "paused" || !S.boot.urls.resume;
    els.resume.disabled = S.readOnly || !!S.saving;
    els.settingsBtn.setAttribute("aria-pressed", S.sel && S.sel.kind === "settings" ? "true" : "false");
  }

  function save() {
    if (S.readOnly || S.saving) return Promise.resolve(false);
    S.saving = true;
    renderHead();
    return api("POST", url("save"), { flow_id: S.boot.flow_id, doc: S.doc }).then(function (r) {
      S.saving = false;
      if (r.ok) {
        var isNew = !S.boot.flow_id;
        S.boot.flow_id = String(r.data.flow_id);
        S.boot.version = r.data.version;
        if (S.boot.versions && S.boot.versions.indexOf(r.data.version) < 0) S.boot.versions.push(r.data.version);
        S.dirty = false;
        S.saveErrors = [];
        S.check.problems = r.data.problems || S.check.problems;
        S.check.warnings = r.data.warnings || S.check.warnings;
        if (r.data.url && (isNew || location.pathname !== r.data.url)) history.replaceState(null, "", r.data.url);
        if (isNew && els.crumb) {
          var link = h("a", { href: "/flows/" + encodeURIComponent(S.boot.flow_id), "data-crumb-flow": "" }, S.doc.name || "Flow");
          els.crumb.replaceWith(link);
          els.crumb = null;
        }
        var probs = (r.data.problems || []).length;
        var warns = (r.data.warnings || []).map(function (w) { return w.message; });
        flash("ok", "Saved as version " + r.data.version + "." + (probs ? " " + plural(probs, "problem", "problems") + " to fix before it can start." : ""), warns.length ? warns : null);
        renderVersions();
        renderCanvas();
        refreshPanelMessages();
        renderChecks();
        renderHead();
        scheduleCheck();
        return true;
      }
      S.saveErrors = r.data.errors || [];
      var msgs = S.saveErrors.map(function (e) { return (e.field ? fieldPlace(e.field) + ": " : "") + e.message; });
      flash("error", r.status === 409 ? "Not saved: " + (msgs[0] || "the flow changed meanwhile.") : "Not saved: fix " + (msgs.length === 1 ? "this" : "these " + msgs.length) + " first.", r.status === 409 ? null : msgs);
      renderCanvas();
      refreshPanelMessages();
      renderHead();
      return false;
    });
  }
  function fieldPlace(field) {
    var m = /^(steps(?:\[\d+\](?:\.branches\[\d+\]\.steps|\.everyone_else)?)*\[\d+\])/.exec(field);
    if (m) {
      var where = null;
      walk(function (i) { if (i.path === m[1]) where = i; });
      if (where) return stepTitle(where) + (field.length > m[1].length ? ", " + fieldWords(field) : "");
    }
    return fieldWords(field);
  }
  function confirmDialog(title, text, okText, cancelText) {
    return new Promise(function (resolve) {
      var dlg = h("dialog", { class: "dz-dialog", "aria-labelledby": "dz-dlg-title" });
      var ok = h("button", { type: "button", class: "primary", "data-confirm": "" }, okText);
      var cancel = h("button", { type: "button" }, cancelText || "Cancel");
      add(dlg, [h("h2", { id: "dz-dlg-title" }, title), h("p", null, text), h("div", { class: "inline dz-dlg-actions" }, ok, cancel)]);
      document.body.appendChild(dlg);
      function done(v) { dlg.close(); dlg.remove(); resolve(v); }
      ok.addEventListener("click", function () { done(true); });
      cancel.addEventListener("click", function () { done(false); });
      dlg.addEventListener("cancel", function (e) { e.preventDefault(); done(false); });
      dlg.showModal();
      ok.focus();
    });
  }
  function start() {
    if (S.readOnly) return;
    var name = S.doc.name || "this flow";
    confirmDialog("Start “" + name + "”?", "From now on, everyone the trigger suggests and the filters let in enters the flow and gets its messages. You can pause it at any time.", "Start flow").then(function (yes) {
      if (!yes) { els.start.focus(); return; }
      var saved = S.dirty || !S.boot.flow_id ? save() : Promise.resolve(true);
      saved.then(function (ok) {
        if (!ok) return;
        S.startProblems = null;
        send({ flow_id: S.boot.flow_id });
      });
    });
    /* A trigger that looks for persons due at a time of day asks, when that time has
       passed today, whether those due earlier today are enrolled too. */
    function send(body) {
        api("POST", url("start"), body).then(function (r) {
          if (r.data && r.data.question) {
            confirmDialog("Enrol those due earlier today?", r.data.question.text, "Enrol them too", "Start from now").then(function (also) {
              body[r.data.question.field] = also;
              send(body);
            });
            return;
          }
          if (r.ok) {
            S.boot.status = r.data.status || "running";
            flash("ok", "The flow is running.");
            renderHead();
            if (r.data.url) location.href = r.data.url;
            return;
          }
          if (r.data.problems && r.data.problems.length) {
            S.startProblems = r.data.problems.map(function (p) { return typeof p === "string" ? { step_id: null, message: p } : p; });
            S.showProblems = true;
            S.flash = null;
            S.check.problems = S.startProblems;
            renderFlash();
            renderCanvas();
            renderChecks();
            refreshPanelMessages();
            var box = document.querySelector("[data-start-problems]");
            if (box) box.scrollIntoView({ block: "nearest" });
          } else {
            flash("error", "The flow did not start: " + ((r.data.errors || [])[0] || { message: "the server said " + r.status }).message);
          }
        });
    }
  }

  /* A paused flow goes on where it stopped: saved first when edited, then resumed
     through the flow's resume action (a form post, as on the flow's page). */
  function resume() {
    if (S.readOnly || !S.boot.urls.resume) return;
    var name = S.doc.name || "this flow";
    confirmDialog("Resume “" + name + "”?", "Participants waiting at a step go on from where they stopped, and the people who matched while the flow was paused are enrolled.", "Resume flow").then(function (yes) {
      if (!yes) { els.resume.focus(); return; }
      (S.dirty ? save() : Promise.resolve(true)).then(function (ok) {
        if (!ok) return;
        var form = h("form", { method: "post", action: S.boot.urls.resume, hidden: "" }, h("input", { type: "hidden", name: "csrf_token", value: csrf() }));
        document.body.appendChild(form);
        form.submit();
      });
    });
  }

  function renderVersions() {
    var box = els.versions;
    box.textContent = "";
    var vs = (S.boot.versions || []).slice().sort(function (a, b) { return b - a; });
    if (!S.boot.flow_id || vs.length < 1) return;
    var sel = h("select", { "aria-label": "Version", class: "dz-version" });
    var latest = vs[0];
    vs.forEach(function (v) { sel.appendChild(h("option", { value: String(v), text: "Version " + v + (v === latest ? " (latest)" : ""), selected: v === S.boot.version })); });
    sel.addEventListener("change", function () {
      var base = (S.boot.urls.design || "/flows/{id}/design").replace("{id}", encodeURIComponent(S.boot.flow_id));
      location.href = Number(sel.value) === latest ? base : base + "?version=" + sel.value;
    });
    box.appendChild(sel);
  }

  /* ------------------------------------------------------------------ start */
  function build(root) {
    var b = S.boot;
    root.textContent = "";
    els.title = h("span", { class: "dz-title-text" });
    els.status = h("span", { class: "badge" });
    els.state = h("span", { class: "dz-state", "aria-live": "polite" });
    els.versions = h("span", { class: "dz-versions" });
    els.undo = h("button", { type: "button", class: "small", title: "Undo (Ctrl+Z)", "aria-keyshortcuts": "Control+Z", onclick: undo }, "↶ Undo");
    els.redo = h("button", { type: "button", class: "small", title: "Redo (Ctrl+Shift+Z)", "aria-keyshortcuts": "Control+Shift+Z", onclick: redo }, "↷ Redo");
    els.problemsBtn = h("button", { type: "button", class: "small dz-problems-btn", title: "Show what blocks the start", onclick: function () { select(null); var l = els.panel.querySelector("[data-checks]"); if (l) l.scrollIntoView({ block: "nearest" }); } });
    els.settingsBtn = h("button", { type: "button", "data-flow-settings": "", onclick: function () { select({ kind: "settings" }, true); } }, "Flow settings");
    els.save = h("button", { type: "button", "data-save": "", title: "Save (Ctrl+S)", onclick: function () { save(); } }, "Save");
    els.start = h("button", { type: "button", class: "primary", "data-start": "", onclick: start }, "Start flow");
    els.resume = h("button", { type: "button", class: "primary", "data-resume": "", onclick: resume }, "Resume flow");
    var crumbs = h("div", { class: "crumbs" }, h("a", { href: "/" }, "Flows"), " › ",
      b.urls.flow_page ? h("a", { href: b.urls.flow_page, "data-crumb-flow": "" }, b.doc.name || "Flow") : (els.crumb = h("span", null, "New flow")), " › Designer");
    els.head = h("div", { class: "page-head dz-head" },
      h("div", { class: "dz-titles" }, h("h1", null, els.title, " ", els.status), els.state),
      h("div", { class: "actions" }, els.versions, els.problemsBtn, S.readOnly ? null : [els.undo, els.redo], els.settingsBtn, S.readOnly ? null : [els.save, els.start, els.resume]));
    els.flash = h("div", { class: "dz-flashes" });
    els.palette = h("aside", { class: "dz-palette", "aria-label": "Step palette" });
    els.canvas = h("div", { class: "dz-canvas", role: "region", "aria-label": "The flow", "data-canvas": "" });
    els.panel = h("aside", { class: "dz-panel", role: "region", "aria-label": "Settings panel", "data-panel-root": "" });
    els.body = h("div", { class: "dz-body" + (S.readOnly ? " dz-readonly" : "") }, S.readOnly ? null : els.palette, els.canvas, els.panel);
    els.live = h("div", { class: "dz-sr", "aria-live": "polite", role: "status" });
    add(root, [crumbs, els.head]);
    if (S.readOnly) {
      root.appendChild(h("div", { class: "flash dz-readonly-banner", role: "note", "data-read-only": "" },
        h("b", null, "Read-only. "), b.read_only_reason || "This version cannot be edited.",
        b.urls.flow_page ? [" ", h("a", { href: b.urls.flow_page }, "Go to the flow")] : null));
    }
    add(root, [els.flash, els.body, els.live]);
    if (!S.readOnly) renderPalette();
    renderVersions();
    renderHead();
    renderCanvas();
    renderPanel();
  }

  function init() {
    var root = document.getElementById("designer");
    var bootEl = document.getElementById("designer-boot");
    if (!root || !bootEl) return;
    try { S.boot = JSON.parse(bootEl.textContent); } catch (e) { root.textContent = "The designer could not read its data: " + e.message; return; }
    S.boot.urls = S.boot.urls || {};
    S.readOnly = !!S.boot.read_only;
    S.doc = normalize(clone(S.boot.doc) || {});
    api("GET", url("catalog")).then(function (r) {
      if (!r.ok) {
        root.textContent = "";
        root.appendChild(h("div", { class: "empty" }, h("h2", null, "The designer could not load the flow parts"), h("p", null, ((r.data.errors || [])[0] || { message: "The server answered " + r.status + "." }).message)));
        return;
      }
      S.catalog = r.data;
      if (!S.boot.flow_id && !S.doc.steps.length) S.sel = { kind: "settings" };
      build(root);
      runCheck();
      preloadChoiceLabels();
      if (S.sel && S.sel.kind === "settings") { var n = els.panel.querySelector("[data-flow-name]"); if (n) n.focus(); }
    });
    document.addEventListener("keydown", function (e) {
      var ctrl = e.ctrlKey || e.metaKey;
      if (!ctrl || e.altKey) return;
      var k = e.key.toLowerCase();
      if (k === "s") { e.preventDefault(); save(); return; }
      if (isTextInput(document.activeElement)) return;
      if (k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
      else if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); redo(); }
    });
    window.addEventListener("beforeunload", function (e) {
      if (S.dirty && !S.readOnly) { e.preventDefault(); e.returnValue = ""; }
    });
    window.superflowDesigner = { state: S, save: save, undo: undo, redo: redo, smsCount: smsCount, htmlToText: htmlToText };
  }
  window.superflowWidgets = window.superflowWidgets || {};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
