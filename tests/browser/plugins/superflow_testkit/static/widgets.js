/* superflow-testkit's custom setting widget: colour swatches instead of a text input. */
(function () {
  "use strict";
  window.superflowWidgets = window.superflowWidgets || {};
  window.superflowWidgets.testkit_colour = function (container, value, onChange) {
    ["red", "green", "blue"].forEach(function (colour) {
      var swatch = document.createElement("button");
      swatch.type = "button";
      swatch.className = "testkit-swatch";
      swatch.textContent = colour;
      swatch.setAttribute("aria-pressed", String(value === colour));
      swatch.addEventListener("click", function () {
        container.querySelectorAll(".testkit-swatch").forEach(function (other) {
          other.setAttribute("aria-pressed", String(other === swatch));
        });
        onChange(colour);
      });
      container.appendChild(swatch);
    });
  };
})();
