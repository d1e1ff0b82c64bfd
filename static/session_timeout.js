// Session timeout, said in time (WCAG 2.2 SC 2.2.1 Timing Adjustable). A session ends after SESSION_COOKIE_AGE
// idle seconds (30 minutes by default: shared ward PCs), counted by the server from the last request of any tab.
// - Every page load is a request: it restarts the count, noted in localStorage so that all tabs agree.
// - Typing, clicking or touching in a page is not a request. So when the end is near (3 minutes before; never
//   less than 20 seconds, never more than a third of the session), a page used since the last request keeps the
//   session going by itself (GET /account/session/, 204), and an idle page shows a warning with the time it ends
//   and a "Stay logged in" button that does the same. The warning is an alert with the focus on its button.
// - Once ended, the page says so: a form sent now goes to the login page, and its entries come back after
//   logging in (static/forms.js).
// Texts come translated on <body> (data-session-*, templates/base.html); nothing here without them.
(function () {
  "use strict";
  var body = document.body;
  var seconds = Number(body.getAttribute("data-session-seconds"));
  var url = body.getAttribute("data-session-url");
  if (!seconds || !url) { return; }
  var KEY = "pvtrack:session-touched";
  var lifeMs = seconds * 1000;
  var warnMs = Math.max(20000, Math.min(180000, lifeMs / 3));
  var loadedAt = Date.now();
  var lastUse = 0;
  var box = null;
  var ended = false;
  var asking = false;

  function touch() {
    loadedAt = Date.now();
    try { localStorage.setItem(KEY, String(loadedAt)); } catch (e) { /* private mode: this tab's own count */ }
  }
  function touched() {
    var shared = 0;
    try { shared = Number(localStorage.getItem(KEY)) || 0; } catch (e) { shared = 0; }
    return Math.max(shared, loadedAt);
  }
  touch();
  ["keydown", "input", "pointerdown"].forEach(function (type) {
    document.addEventListener(type, function () { lastUse = Date.now(); }, {capture: true, passive: true});
  });

  function banner(text, withButton) {
    if (!box) {
      box = document.createElement("div");
      box.id = "session-warning";
      box.className = "msg error session-warning";
      box.setAttribute("role", "alert");
      var main = document.querySelector("main") || body;
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    if (withButton) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = body.getAttribute("data-session-stay");
      button.addEventListener("click", stay);
      box.appendChild(button);
      button.focus();
    }
  }
  function hide() {
    if (box) { box.remove(); box = null; }
  }
  function showEnded() {
    if (ended) { return; }
    ended = true;
    banner(body.getAttribute("data-session-ended"), false);
  }
  function stay() {
    if (asking) { return; }
    asking = true;
    fetch(url, {credentials: "same-origin", cache: "no-store", redirect: "manual"}).then(function (response) {
      asking = false;
      if (response.status === 204) {
        touch();
        hide();
      } else {
        showEnded();
      }
    }, function () { asking = false; });  // offline: try again at the next tick
  }
  function tick() {
    if (ended) { return; }
    var left = touched() + lifeMs - Date.now();
    if (left <= 0) {
      showEnded();
    } else if (left <= warnMs) {
      if (lastUse > touched()) {
        stay();  // used since the last request: someone is at work here
      } else if (!box) {
        var at = new Date(Date.now() + left);
        var time = new Intl.DateTimeFormat(document.documentElement.lang || "en",
                                           {hour: "2-digit", minute: "2-digit"}).format(at);
        banner(body.getAttribute("data-session-warning").replace("%(time)s", time), true);
      }
    } else if (box) {
      hide();  // another tab kept the session going
    }
  }
  window.setInterval(tick, 1000);
}());
