// Live itemized quote on the room page: whenever the booking form changes, ask the server for
// the quote fragment (the same HTML the "Calculate price" button shows) and put it in place.
// Without JavaScript the button does the same with a full page.
(function () {
  "use strict";
  // The booking form, or the price form of those who cannot book: the same fields for the quote.
  var form = document.getElementById("booking-form") || document.getElementById("price-form");
  var target = document.getElementById("quote");
  if (!form || !target || !window.fetch || !window.URLSearchParams) { return; }
  var url = form.getAttribute("data-quote-url");
  var timer = null;
  var latest = 0;

  function toggleWeekly() {
    var weekly = form.querySelector("#repeat-weekly");
    var options = form.querySelector(".weekly-options");
    if (weekly && options) { options.hidden = !weekly.checked; }
  }

  function refresh() {
    var data = new FormData(form);
    data.delete("csrf_token");
    data.delete("action");
    var params = new URLSearchParams(data);
    var request = ++latest;
    target.setAttribute("aria-busy", "true");
    fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null && request === latest) { target.innerHTML = html; }
      })
      .catch(function () { /* the button still works */ })
      .then(function () { if (request === latest) { target.removeAttribute("aria-busy"); } });
  }

  function schedule() {
    toggleWeekly();
    // A conflict shown above the form (after "Book") is about the time asked then: the live
    // quote below speaks for the form as it is now.
    var conflict = document.getElementById("conflict");
    if (conflict) { conflict.hidden = true; }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 350);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  toggleWeekly();
  form.classList.add("live-quote");
  if (!target.querySelector("table") && !document.querySelector(".conflict")) { refresh(); }
})();
