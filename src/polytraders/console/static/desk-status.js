// Polytraders console: refreshes the live part of the Desk status page every 2 seconds from
// /desk-status/live (same origin, the session cookie); served by the console itself.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var source = live.getAttribute("data-src");
  function refresh() {
    fetch(source, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) { if (html !== null) { live.innerHTML = html; } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(refresh, 2000); });
  }
  window.setTimeout(refresh, 2000);
})();
