/* superflow admin: the form builder — add, remove and reorder the field rows, and
   show each row's extra settings for its type. The server reads the rows in the
   order of their numbers, so every change renumbers them. */
(function () {
  "use strict";
  var rows = document.getElementById("rows");
  var template = document.getElementById("row-template");
  var add = document.getElementById("add-field");
  if (!rows || !template) return;

  function renumber() {
    Array.prototype.forEach.call(rows.querySelectorAll("[data-row]"), function (row, i) {
      row.querySelectorAll("[name],[id],[for]").forEach(function (node) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = node.getAttribute(attr);
          if (value && /^fields-\d+-/.test(value)) node.setAttribute(attr, value.replace(/^fields-\d+-/, "fields-" + i + "-"));
        });
      });
      var legend = row.querySelector("legend");
      if (legend) legend.textContent = "Field " + (i + 1);
    });
  }

  function showExtras(row) {
    var type = row.querySelector("[data-type]").value;
    row.querySelectorAll(".form-row-extra").forEach(function (box) {
      box.hidden = box.dataset.for !== type;
    });
  }

  rows.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    var row = button.closest("[data-row]");
    if (button.hasAttribute("data-remove")) {
      row.remove();
    } else if (button.dataset.move === "-1" && row.previousElementSibling) {
      rows.insertBefore(row, row.previousElementSibling);
    } else if (button.dataset.move === "1" && row.nextElementSibling) {
      rows.insertBefore(row.nextElementSibling, row);
    } else {
      return;
    }
    renumber();
    button.focus();
  });
  rows.addEventListener("change", function (event) {
    if (event.target.matches("[data-type]")) showExtras(event.target.closest("[data-row]"));
  });
  if (add) {
    add.addEventListener("click", function () {
      var row = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(row);
      renumber();
      showExtras(row);
      row.querySelector("input[type=text]").focus();
    });
  }
  rows.querySelectorAll("[data-row]").forEach(showExtras);
})();
