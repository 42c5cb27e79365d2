// Copy buttons for the private calendar link. The buttons are hidden without JavaScript; the
// link stays selectable in its read-only field.
(function () {
  "use strict";
  var buttons = document.querySelectorAll(".copy-button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.parentNode.querySelector(".copy-status");
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { if (status) { status.textContent = status.getAttribute("data-copied"); } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
      } else {
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected for manual copy */ }
      }
    });
  });
})();
