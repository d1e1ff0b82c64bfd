// Forms that help (issue 15 item 5), for every page (loaded by base.html; a static file, as the CSP allows no
// inline script):
// - a form answered with errors: the focus moves to the error summary at its top (templates/form_fields.html),
//   whose links move it on to each field;
// - leaving a form with entries not yet saved asks first (the browser's own "leave site?" question);
// - each date field shows the chosen date in the site's format ("03 Aug 2025", as the pages show dates) under
//   the browser's date picker, whose own format follows the browser's language, not the site's;
// - what was typed into a form is not lost when sending it ends on the login page (the session had ended), a
//   two-factor page, the CSRF page or the 500 page: see "Entries kept" below.
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

  // Entries kept. Sending a form keeps its entries in this tab's sessionStorage (never a password, a one-time code,
  // a file or the CSRF token), marked with the user and the page. The next page decides:
  // - a page that keeps entries (<body data-keeps-drafts>: login, two-factor, CSRF and 500 pages) marks them
  //   "interrupted" and says so (its data-keeps-drafts text, when it has one);
  // - any other page forgets them (the form was saved, or answered with its errors, which the server shows), except
  //   the page the form was on, opened again by the same user after an interruption: the entries go back into the
  //   form, unsaved, with a notice and a button that discards them. Hidden fields come back too, so a record's
  //   version still answers "changed meanwhile" if someone else saved it in between.
  // Entries older than 12 hours are forgotten. Runs when the page's own scripts (term picker, grading) are ready.
  var DRAFT_PREFIX = "pvtrack:draft:";
  var DRAFT_MAX_AGE_MS = 12 * 3600 * 1000;
  var SKIPPED_TYPES = ["password", "file", "submit", "button", "reset", "image"];
  var store = null;
  try { store = window.sessionStorage; store.getItem(DRAFT_PREFIX); } catch (e) { store = null; }
  var body = document.body;
  var user = body.getAttribute("data-user") || "";
  var keeps = body.hasAttribute("data-keeps-drafts");
  var here = location.pathname + location.search;

  function draftForms() {
    return Array.prototype.slice.call(document.querySelectorAll("main form[method=post]:not(.inline)"));
  }
  function formName(form, index) {
    // A form's id, else its hidden "action" (several forms on one page: the SAE case), else its place on the page.
    var action = form.querySelector("input[type=hidden][name=action]");
    return form.id || (action ? "action=" + action.value : "#" + index);
  }
  function kept(el) {
    // Not a one-time code either (a signature's second factor): it is stale by the time it would come back.
    return el.name && el.name !== "csrfmiddlewaretoken" && SKIPPED_TYPES.indexOf((el.type || "").toLowerCase()) < 0
      && el.getAttribute("autocomplete") !== "one-time-code";
  }
  function entries(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el) || el.disabled) { return; }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { values.push([el.name, o.value]); });
        return;
      }
      values.push([el.name, el.value]);
    });
    return values;
  }
  function restore(form, draft) {
    var byName = {};
    draft.values.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
    var changed = [];
    var hidden = [];  // form.reset() leaves a hidden field as set: Discard puts back what the server sent
    Array.prototype.forEach.call(form.elements, function (el) {
      var box = el.type === "checkbox" || el.type === "radio";  // one left unticked was not sent: untick it
      if (!kept(el) || !box && !Object.prototype.hasOwnProperty.call(byName, el.name)) { return; }
      var values = byName[el.name] || [];
      if (box) {
        var checked = values.indexOf(el.value) >= 0;
        if (el.checked !== checked) { el.checked = checked; changed.push(el); }
      } else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) >= 0; });
        changed.push(el);
      } else if (values.length) {
        var value = values.shift();  // fields sharing a name take their values in order
        if (el.value !== value) {
          if (el.type === "hidden") { hidden.push([el, el.value]); }
          el.value = value;
          changed.push(el);
        }
      }
    });
    function announce() {
      changed.forEach(function (el) {
        el.dispatchEvent(new Event("input", {bubbles: true}));
        el.dispatchEvent(new Event("change", {bubbles: true}));
      });
    }
    announce();
    var notice = document.createElement("div");
    notice.className = "msg error draft-restored";
    notice.id = "draft-restored";
    notice.setAttribute("role", "alert");
    notice.tabIndex = -1;
    var text = document.createElement("p");
    text.textContent = body.getAttribute("data-draft-restored");
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "secondary";
    discard.textContent = body.getAttribute("data-draft-discard");
    discard.addEventListener("click", function () {
      form.reset();  // the form as the server sent it
      hidden.forEach(function (pair) { pair[0].value = pair[1]; });
      announce();
      dirty = false;
      notice.remove();
    });
    notice.appendChild(text);
    notice.appendChild(discard);
    form.insertAdjacentElement("beforebegin", notice);
    notice.focus();
  }

  if (store && !keeps && user) {
    draftForms().forEach(function (form, index) {
      form.addEventListener("submit", function () {
        var draft = {user: user, page: here, form: formName(form, index), values: entries(form), at: Date.now(),
                     interrupted: false};
        try {
          store.setItem(DRAFT_PREFIX + here + "|" + draft.form, JSON.stringify(draft));
        } catch (e) { /* storage full or refused: the form is sent as before */ }
      });
    });
  }
  function settleDrafts() {
    if (!store) { return; }
    var now = Date.now();
    var interrupted = false;
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (!key || key.indexOf(DRAFT_PREFIX) !== 0) { continue; }
      var draft = null;
      try { draft = JSON.parse(store.getItem(key)); } catch (e) { draft = null; }
      if (!draft || !draft.values || !(now - draft.at < DRAFT_MAX_AGE_MS)) { store.removeItem(key); continue; }
      if (keeps) {
        draft.interrupted = true;
        interrupted = true;
        store.setItem(key, JSON.stringify(draft));
        continue;
      }
      store.removeItem(key);
      if (!draft.interrupted || draft.user !== user || draft.page !== here) { continue; }
      var form = draftForms().filter(function (f, index) { return formName(f, index) === draft.form; })[0];
      if (form && !form.querySelector(".error-summary")) { restore(form, draft); }
    }
    var said = body.getAttribute("data-keeps-drafts");
    var main = document.querySelector("main");
    if (keeps && interrupted && said && main) {
      var p = document.createElement("p");
      p.className = "msg error";
      p.id = "drafts-kept";
      p.setAttribute("role", "status");
      p.textContent = said;
      main.insertBefore(p, main.querySelector("h1") ? main.querySelector("h1").nextSibling : main.firstChild);
    }
  }
  // A deferred script runs before DOMContentLoaded, which waits for the page's other deferred scripts.
  if (document.readyState === "complete") {
    settleDrafts();
  } else {
    document.addEventListener("DOMContentLoaded", settleDrafts);
  }

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
      ? root.getAttribute("data-date-hint") || "Shown here as dd Mmm yyyy once entered (e.g. 03 Aug 2025)"
      : root.getAttribute("data-datetime-hint") || "Shown here as dd Mmm yyyy hh:mm once entered (e.g. 03 Aug 2025 14:30)";
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
