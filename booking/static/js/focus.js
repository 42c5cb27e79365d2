// After a form is sent back with errors, or a booking meets a taken time (409), move the focus
// to what the page says about it: the error summary, else the conflict with its alternatives.
// Without JavaScript both come first in the reading order of their section. A link in the error
// summary puts the focus in its field (the browser would only scroll to it).
(function () {
  "use strict";

  function focusTarget() {
    var target = document.getElementById("error-summary") || document.getElementById("conflict");
    if (!target) { return; }
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "start" });
  }

  function fieldOf(link) {
    var href = link.getAttribute("href") || "";
    if (href.charAt(0) !== "#" || href.length < 2) { return null; }
    var field = document.getElementById(decodeURIComponent(href.slice(1)));
    if (!field) { return null; }
    // A radio group or a box of fields: its first control.
    if (!/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(field.tagName)) {
      field = field.querySelector("input, select, textarea") || field;
    }
    return field;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a, .quote .missing a");
    if (!link) { return; }
    var field = fieldOf(link);
    if (!field || typeof field.focus !== "function") { return; }
    event.preventDefault();
    var label = field.id && document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });

  // Again once loaded: the browser's scroll to the address's #fragment (the form's "#book")
  // comes after the document is parsed and leaves the focus on the page itself. Unless the user
  // has gone on to something else by then.
  function again() {
    var active = document.activeElement;
    if (!active || active === document.body || active === document.documentElement) { focusTarget(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusTarget);
  } else {
    focusTarget();
  }
  window.addEventListener("load", function () { window.setTimeout(again, 0); });
})();
