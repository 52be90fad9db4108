/* The selections plugin's part of the flow designer: the selection picker, a list of
   the CRM's selections by name (the setting's x-choices, else "selections"). */
import { choiceSelect, registerWidget } from "/static/designer/widgets.js";

registerWidget("crm_selection", function (f) {
  return choiceSelect(f.prop["x-choices"] || "selections", f.prop, f.id, f.value, f.set, f.required, f.prop["x-empty-label"]);
});
