// Text longer than a field holds (issue 15 item 5; "bad input gets a clear error and nothing is lost"), for every
// page (loaded by base.html after the catalogue; a static file, as the CSP allows no inline script). The browser's
// maxlength cuts a pasted text at the limit without a word (a 2 MB note became its first 200 characters), so the
// limit moves from `maxlength` to a count under the field, as GOV.UK's character count does: nothing is cut; from
// 80 % of the limit the count says what is left, above it how many characters are too many (a polite live region the
// field names in aria-describedby, and aria-invalid); Save is held, with the focus on the first field over its
// limit, until it is shortened. Without the script the browser's maxlength still applies, and the server refuses a
// longer text with the field's error (Django's max_length).
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (fmt, values) {
    return fmt.replace(/%\((\w+)\)s/g, function (all, name) { return String(values[name]); });
  };
  var lang = document.documentElement.lang || "en";
  function number(n) { return n.toLocaleString(lang); }

  var limited = [];
  Array.prototype.forEach.call(
    document.querySelectorAll("form.form input[maxlength], form.form textarea[maxlength]"), function (field) {
      var max = parseInt(field.getAttribute("maxlength"), 10);
      if (!(max > 0) || !field.id) { return; }
      field.removeAttribute("maxlength");
      field.setAttribute("data-maxlength", String(max));
      var note = document.createElement("small");
      note.className = "help char-count";
      note.id = field.id + "_count";
      note.setAttribute("aria-live", "polite");
      field.insertAdjacentElement("afterend", note);
      var described = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      described.push(note.id);
      field.setAttribute("aria-describedby", described.join(" "));
      var serverInvalid = field.getAttribute("aria-invalid") === "true";  // the server's own error on the field
      function update() {
        var n = field.value.length;
        note.classList.toggle("over", n > max);
        if (n > max) {
          note.textContent = interpolate(ngettext(
            "%(over)s character too many: this field holds at most %(max)s. Nothing was cut; shorten it to save.",
            "%(over)s characters too many: this field holds at most %(max)s. Nothing was cut; shorten it to save.",
            n - max), {over: number(n - max), max: number(max)}, true);
          field.setAttribute("aria-invalid", "true");
          return;
        }
        note.textContent = n >= 0.8 * max ? interpolate(ngettext(
          "%(left)s character left", "%(left)s characters left", max - n), {left: number(max - n)}, true) : "";
        if (!serverInvalid) { field.removeAttribute("aria-invalid"); }
      }
      field.addEventListener("input", update);
      update();
      limited.push({field: field, max: max, update: update});
    });

  // Capture phase on the document: runs before the form's own submit listeners (forms.js forgets the unsaved
  // entries on submit), so a held save keeps them.
  document.addEventListener("submit", function (event) {
    for (var i = 0; i < limited.length; i += 1) {
      var item = limited[i];
      if (event.target.contains(item.field) && item.field.value.length > item.max) {
        event.preventDefault();
        event.stopPropagation();
        item.update();
        item.field.focus();
        return;
      }
    }
  }, true);
}());
