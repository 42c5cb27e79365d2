// The day sheets' print button: hidden without JavaScript (the browser's own print command
// prints the same sheet, with print.css).
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
