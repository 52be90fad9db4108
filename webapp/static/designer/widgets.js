/* The designer's public module: the registry of setting widgets and message channels
   that plugins fill, and the parts of the designer a plugin's widget may build with.

   A plugin's script is an ES module importing this file by its address,
   `import { registerWidget } from "/static/designer/widgets.js";`, and registers what
   it draws before the designer renders any settings (the page runs plugin scripts
   first). A settings field whose schema says `"x-widget": name` is then drawn by
   that widget. Scripts written for the older contract, classic scripts that set
   `window.superflowWidgets[name] = function (container, value, onChange, property)`,
   still work: a widget registered here wins over one of the same name there. */

const widgets = new Map();
const channels = new Map();
const summaries = new Map();

/* A widget draws one setting: `draw(field)` gets `{name, prop, value, settings, id,
   set(value), ctx, required, title, wrap}` (`prop` the field's JSON Schema, `settings`
   the whole settings object, `set` stores a new value with undo) and returns
   `{el, focusTarget}`, plus `ownsTagButton: true` when it offers merge tags itself and
   `labelExtras: [elements]` for buttons beside the field's label. */
export function registerWidget(name, draw) {
  widgets.set(String(name), draw);
}

export function widgetFor(name) {
  return widgets.get(String(name)) || null;
}

/* A channel (a step type's `sends`) says how its messages are shown and tested:
   `{message(content) -> element, testInput: {type, placeholder, autocomplete},
   deliveryApart: bool}`; `deliveryApart` puts the step's content settings (its merge-tag
   texts and content files) in "Message" and the rest under "Sender and delivery". */
export function registerChannel(name, how) {
  channels.set(String(name), how);
}

export function channelFor(name) {
  return channels.get(String(name)) || {};
}

/* How the chart words a part's settings: `words(settings)` returns a short text ("3
   days"), or "" for the designer's own words (the first few settings by title). */
export function registerSummary(kind, name, words) {
  summaries.set(kind + ":" + name, words);
}

export function summaryFor(kind, name) {
  return summaries.get(kind + ":" + name) || null;
}

/* Where a step's links are, for "When someone clicks a link": `links(settings)` returns
   the http(s) addresses in the step's content, or null when the step's content is not
   of the kind this source knows (then the next source, and last the `html` setting, is
   asked). A plugin whose content is not raw HTML (blocks, a library email) registers one. */
const linkSources = [];
export function registerLinkSource(links) {
  linkSources.push(links);
}

export function linkSourcesFor() {
  return linkSources.slice();
}

window.superflowWidgets = window.superflowWidgets || {};

/* commit(fn): a change to several settings at once (fn changes them), with undo,
   and the panel drawn again. */
export { commit } from "./history.js";
export { h, nextId, plural } from "./dom.js";
export { isReadOnly } from "./state.js";
export { smsCount, htmlToText, withoutTemplateTags } from "./text.js";
export { highlighted, insertAt, mergeInput, mergeTagButton, textArea } from "./mergefields.js";
export { choiceSelect } from "./settings.js";
export { problemBox } from "./preview.js";
