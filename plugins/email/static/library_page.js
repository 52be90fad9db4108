/* The Email library's edit page: the email's name, the block editor with its live
   preview, and Save (the server checks the design and names each wrong block). */
import { blockEditor, call, h, messages } from "./blocks.js";

var boot = JSON.parse(document.getElementById("email-boot").textContent);
var root = document.getElementById("email-editor");
var design = boot.email.design;
var status = h("div", { class: "sf-save-status", role: "status", "data-save-status": "" });
var name = h("input", { type: "text", id: "email-name", value: boot.email.name, maxlength: "120", disabled: boot.read_only });
var save = boot.read_only ? null : h("button", { type: "button", class: "primary", "data-save-email": "" }, "Save");
function dirty() { status.textContent = "Not saved yet."; status.className = "sf-save-status muted"; }
name.addEventListener("input", dirty);
if (save) save.addEventListener("click", function () {
  save.disabled = true;
  call("POST", boot.urls.save, { name: name.value, design: design }).then(function (r) {
    save.disabled = false;
    if (!r.ok) { status.className = "sf-save-status dz-msg"; status.textContent = "Not saved: " + messages(r).join("; "); return; }
    status.className = "sf-save-status ok";
    status.textContent = "Saved." + ((r.data.problems || []).length ? " Before a marketing email can go out: " + r.data.problems.join("; ") : "");
    document.querySelector(".page-head h1").textContent = r.data.email.name;
  });
});
root.appendChild(h("div", { class: "inline sf-name-row" }, h("label", { "for": "email-name" }, "Name"), name, save, status));
root.appendChild(blockEditor({ design: design, readOnly: boot.read_only, urls: boot.urls, onChange: function (d) { design = d; dirty(); } }));
