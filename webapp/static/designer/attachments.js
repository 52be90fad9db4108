/* The editor of a setting that holds uploaded files (x-upload): the list, remove, and upload with the server's refusal shown. */
import { api, url } from "./api.js";
import { h, nextId } from "./dom.js";
import { commit } from "./history.js";
import { S } from "./state.js";
import { flash } from "./toolbar.js";

export function attachmentsEditor(prop, id, obj, name, ctx, setValue) {
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
