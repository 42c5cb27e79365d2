// The room page's week grid with JavaScript. Without it, a free hour is a link to the page with
// that date and time in the form, and the week links load the whole page; with it:
// - choosing a free hour fills the form's date and start in place (the booking form, or the
//   price form of those who cannot book; the end keeps the length the form had) and moves focus
//   to the form;
// - when the form's date moves to another week, the grid shows that week;
// - the previous and next week links swap the grid in place, keeping what the form holds.
// The grid comes from the server as an HTML fragment (/rooms/<id>/week), never built here.
(function () {
  "use strict";
  var section = document.getElementById("week");
  if (!section || !window.fetch || !window.URLSearchParams) { return; }
  // The booking form, or the price form of those who cannot book: both have the time fields.
  var form = document.getElementById("booking-form") || document.getElementById("price-form");
  var field = function (name) { return form ? form.querySelector("[name='" + name + "']") : null; };
  var latest = 0;
  var timer = null;

  function minutes(value) {
    var match = /^(\d{2}):(\d{2})/.exec(value || "");
    return match ? Number(match[1]) * 60 + Number(match[2]) : null;
  }

  function clock(total) {
    var h = Math.floor(total / 60), m = total % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  // The Monday of an ISO date's week, as an ISO date; null for anything else.
  function mondayOf(iso) {
    var match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!match) { return null; }
    var day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    if (isNaN(day.getTime())) { return null; }
    day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
    return day.toISOString().slice(0, 10);
  }

  function shownWeek() {
    var head = section.querySelector(".week-head");
    return head ? head.getAttribute("data-week") : null;
  }

  // Mark the cell (and the phone list's button) the form's date and start point at.
  function markChosen() {
    var date = field("date") ? field("date").value : "";
    var start = field("start") ? field("start").value : "";
    Array.prototype.forEach.call(section.querySelectorAll("a.pick"), function (link) {
      var chosen = link.getAttribute("data-date") === date && link.getAttribute("data-start") === start;
      var target = link.parentNode.tagName === "TD" ? link.parentNode : link;
      target.classList.toggle("is-chosen", chosen);
      if (chosen) { link.setAttribute("aria-current", "true"); } else { link.removeAttribute("aria-current"); }
    });
  }

  function load(params, focusHeading) {
    var head = section.querySelector(".week-head");
    if (!head) { return; }
    ["organization_id", "start", "end"].forEach(function (name) {
      if (field(name) && field(name).value) { params.set(name, field(name).value); }
    });
    var request = ++latest;
    section.setAttribute("aria-busy", "true");
    fetch(head.getAttribute("data-week-url") + "?" + params.toString(), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || request !== latest) { return; }
        section.innerHTML = html;
        markChosen();
        if (focusHeading) {
          var heading = document.getElementById("week-heading");
          if (heading) { heading.focus(); }
        }
      })
      .catch(function () { /* the links still work */ })
      .then(function () { if (request === latest) { section.removeAttribute("aria-busy"); } });
  }

  function choose(link) {
    var start = link.getAttribute("data-start");
    var from = minutes(field("start").value), to = minutes(field("end").value);
    var length = from !== null && to !== null && to > from ? to - from : 120;
    field("date").value = link.getAttribute("data-date");
    field("start").value = start;
    if (field("end")) { field("end").value = clock(Math.min(minutes(start) + length, 24 * 60 - 1)); }
    ["date", "start", "end"].forEach(function (name) {
      var input = field(name);
      if (!input) { return; }
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    markChosen();
    var target = field("title") && !field("title").value ? field("title") : field("start");
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({ block: "center" }); }
  }

  section.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!link || !section.contains(link)) { return; }
    if (link.classList.contains("pick") && field("date") && field("start")) {
      event.preventDefault();
      choose(link);
    } else if (link.hasAttribute("data-week") && link.closest(".week-nav")) {
      event.preventDefault();
      load(new URLSearchParams({ week: link.getAttribute("data-week") }), true);
    }
  });

  function followDate() {
    var date = field("date").value;
    var monday = mondayOf(date);
    if (monday && monday !== shownWeek()) {
      load(new URLSearchParams({ date: date }), false);
    } else {
      markChosen();
    }
  }

  if (field("date")) {
    var schedule = function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(followDate, 250);
    };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }
  markChosen();
})();
