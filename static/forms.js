// Forms that help (issue 15 item 5), for every page (loaded by base.html; a static file, as the CSP allows no
// inline script):
// - a form answered with errors: the focus moves to the error summary at its top (templates/form_fields.html),
//   whose links move it on to each field;
// - leaving a form with entries not yet saved asks first (the browser's own "leave site?" question);
// - each date field shows the chosen date in the site's format ("03 Aug 2025", as the pages show dates) under
//   the browser's date picker, whose own format follows the browser's language, not the site's.
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      event.preventDefault();
      var box = target.closest(".field") || target;
      box.scrollIntoView({block: "center"});
      target.focus();
    });
  }

  // Unsaved changes: data-entry forms are the POST forms styled "form" (not filters, log-out or sign-in).
  var dirty = false;
  Array.prototype.forEach.call(document.querySelectorAll("form.form[method=post]"), function (form) {
    // A form sent back with errors holds entries the server has not saved.
    if (form.querySelector(".error-summary")) { dirty = true; }
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (!dirty) { return; }
    event.preventDefault();
    event.returnValue = "";  // older browsers need a value to ask
  });

  // Dates in the site's format: day, abbreviated month in the page's language, year ("d M Y" in Django's terms).
  var lang = document.documentElement.lang || "en";
  // A date-and-time field adds the time as the pages show it ("03 Aug 2025 14:30", Django "d M Y H:i").
  function siteDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}:\d{2}))?/.exec(iso);
    if (!m) { return ""; }
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    var month = new Intl.DateTimeFormat(lang, {month: "short", timeZone: "UTC"}).format(d).replace(/\.$/, "");
    month = month.charAt(0).toUpperCase() + month.slice(1);  // as Django's abbreviations ("Sie", "Aug")
    return m[3] + " " + month + " " + m[1] + (m[4] ? " " + m[4] : "");
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[type=date], input[type=datetime-local]"),
                               function (input) {
    // The hint comes translated from the page (base.html: data-date-hint / data-datetime-hint on <body>).
    var root = document.body;
    var hint = input.type === "date"
      ? root.getAttribute("data-date-hint") || "format: dd Mmm yyyy (e.g. 03 Aug 2025)"
      : root.getAttribute("data-datetime-hint") || "format: dd Mmm yyyy hh:mm (e.g. 03 Aug 2025 14:30)";
    var echo = document.createElement("small");
    echo.className = "help date-echo";
    echo.id = input.id + "_site_date";
    input.insertAdjacentElement("afterend", echo);
    function show() { echo.textContent = input.value ? siteDate(input.value) : hint; }
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  });
}());
