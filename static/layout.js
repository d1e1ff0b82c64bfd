// Tablet and phone (issue 15 item 2), for every page (loaded by base.html; a static file, as the CSP allows no inline
// script): each data table (table.grid) goes inside its own horizontally scrolling box, so that the page itself
// never scrolls sideways at 768 or 390 CSS px; the first column stays in view (pvtrack.css, .table-scroll). The box
// is a named, focusable region, so keyboard users can scroll it too (WCAG 2.1.1; axe "scrollable-region-focusable").
(function () {
  "use strict";
  // The texts in the reader's language (Django's JavaScriptCatalog, /jsi18n/, loaded by base.html); English if it
  // did not load.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (fmt, values) {
    return fmt.replace(/%\((\w+)\)s/g, function (all, name) { return String(values[name]); });
  };
  Array.prototype.forEach.call(document.querySelectorAll("table.grid"), function (table) {
    if (table.parentElement && table.parentElement.classList.contains("table-scroll")) { return; }
    var box = document.createElement("div");
    box.className = "table-scroll";
    box.setAttribute("role", "region");
    box.setAttribute("tabindex", "0");
    var caption = table.querySelector("caption");
    var heading = table.previousElementSibling;
    var name = (caption && caption.textContent) || table.getAttribute("aria-label") ||
      (heading && /^H[1-6]$/.test(heading.tagName) && heading.textContent) || gettext("Table");
    box.setAttribute("aria-label", interpolate(gettext("%(table)s (scrolls sideways)"), {table: name.trim()}, true));
    table.parentNode.insertBefore(box, table);
    box.appendChild(table);
  });
}());
