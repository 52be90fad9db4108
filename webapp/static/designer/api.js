/* How the designer talks to the server: JSON requests with the CSRF token, and the CRM choice lists, fetched once. */
import { S } from "./state.js";

export function csrf() {
  var m = document.querySelector("meta[name=csrf-token]");
  return m ? m.getAttribute("content") : "";
}
export function api(method, url, body) {
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
export function url(name) { return S.boot.urls[name]; }

export function choices(source) {
  if (!S.choices[source]) {
    S.choices[source] = api("GET", url("choices").replace("{source}", encodeURIComponent(source))).then(function (r) {
      if (!r.ok) { delete S.choices[source]; return null; }
      return r.data.choices || [];
    });
  }
  return S.choices[source];
}
