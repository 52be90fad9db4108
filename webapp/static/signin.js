/* superflow sign-in page inside a CRM's frame: identity providers refuse frames, so a
   provider button opens the provider in a pop-up instead of taking the CRM's window away.
   The pop-up's cookie is not the frame's (partitioned cookies), so once signed in there
   it sends back a one-time code (signin_handoff.js); this page posts it, with the page's
   CSRF token, to /login/handoff, which gives the frame a session of its own.
   Outside a frame, or without script, the buttons stay plain links. */
(function () {
  "use strict";
  var POPUP = "superflow-signin";
  var buttons = document.querySelectorAll("a.signin-provider");
  if (window.top === window.self) {
    /* The pop-up itself, back on this page after a refused sign-in: trying again stays a
       pop-up sign-in, so that it still ends in the frame. */
    if (window.name === POPUP && window.opener) buttons.forEach(function (button) {
      var url = new URL(button.href, location.href);
      url.searchParams.set("popup", "1");
      button.href = url.href;
      button.removeAttribute("target");
    });
    return;
  }
  var form = document.querySelector("form.signin-handoff");
  var blocked = document.querySelector(".signin-popup-blocked");
  if (!form) return;
  var CODE = /^[A-Za-z0-9_-]{32,100}$/;
  var sent = false;

  buttons.forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var url = new URL(button.href, location.href);
      url.searchParams.set("popup", "1");
      var popup = window.open(url.href, POPUP, "popup,width=520,height=680");
      if (blocked) blocked.hidden = !!popup;
      if (popup) popup.focus();
    });
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== location.origin) return;
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.superflowHandoff !== "string") return;
    if (sent || !CODE.test(data.superflowHandoff)) return;
    sent = true;
    form.elements.code.value = data.superflowHandoff;
    form.submit();
  });
})();
