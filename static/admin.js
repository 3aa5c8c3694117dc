// icebroker admin UI: copy buttons. Everything else works without JavaScript; the buttons stay
// hidden when this script does not run or the Clipboard API is unavailable (plain http on a
// non-loopback host). Loaded from /admin/static under a CSP that forbids inline script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    button.hidden = false;
    button.setAttribute("aria-label", "Copy to clipboard");
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent).then(
        function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        },
        function () {
          button.textContent = "Copy failed: select the text";
        }
      );
    });
  });
});
