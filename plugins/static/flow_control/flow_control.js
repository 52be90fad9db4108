/* The flow-control plugin's part of the flow designer: how the chart words a wait. */
import { plural, registerSummary } from "/static/designer/widgets.js";

registerSummary("step_types", "wait", function (settings) {
  if (settings.until) return "Until " + String(settings.until).replace("T", " ").slice(0, 16);
  if (settings.amount) return plural(Number(settings.amount), (settings.unit || "days").replace(/s$/, ""), settings.unit || "days");
  return "";
});
