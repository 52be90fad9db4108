/* superflow: the pop-up of a provider sign-in started in a CRM's frame.  It hands the
   one-time code to the frame that opened it (only if that frame is superflow's own
   origin) and closes; opened any other way, it goes on to the page itself. */
(function () {
  "use strict";
  var done = document.querySelector("[data-handoff]");
  if (!done) return;
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage({ superflowHandoff: done.dataset.handoff }, location.origin);
    window.close();
  } else {
    location.replace(done.dataset.next);
  }
})();
