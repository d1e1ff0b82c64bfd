// CTCAE term picker. As the nurse types, the suggestions come from the ranked term search (term names, ward
// synonyms such as "plt" or "CRS", MedDRA codes); once the text is a term, or a ward synonym of exactly one
// term, its grade definitions are shown and only its grades are enabled. A grade the new term also has stays
// chosen; a grade it lacks is cleared and the nurse is told so, in words, next to the grades.
// Works without this script too: the server resolves the term or synonym and validates the grade.
(function () {
  "use strict";
  // The texts in the reader's language (Django's JavaScriptCatalog, /jsi18n/, loaded by base.html); English if it
  // did not load. CTCAE terms, grade definitions, MedDRA codes and SOCs stay in NCI's English (they are data).
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate
    || ((fmt, values) => fmt.replace(/%\((\w+)\)s/g, (all, name) => String(values[name])));
  const input = document.querySelector("[data-term-picker]");
  const box = document.getElementById("grade-definitions");
  if (!input || !box) return;
  const list = input.list;
  const radios = Array.from(document.querySelectorAll("input[name=grade]"));
  const termField = document.getElementById("field-term");
  if (termField) termField.after(box);  // the term's details right under the picker
  const DELAY_MS = 120;  // wait for a pause in typing before searching
  const LIMIT = 25;

  // The grade status: one polite live region right after the grade radios.
  const status = document.createElement("p");
  status.id = "grade-status";
  status.className = "grade-status";
  status.setAttribute("aria-live", "polite");
  const gradeSet = radios.length ? radios[0].closest("fieldset") : null;
  if (gradeSet) {
    gradeSet.after(status);
    // after the help text and error the page already ties to the group (templates/form_fields.html)
    const describedBy = (gradeSet.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    gradeSet.setAttribute("aria-describedby", describedBy.concat([status.id]).join(" "));
  }
  radios.forEach((r) => r.addEventListener("change", () => { status.textContent = ""; }));

  let last = null;
  let timer = null;
  let retries = 0;
  const MAX_RETRIES = 3;
  const RETRY_MS = 700;

  const normal = (text) => text.trim().replace(/\s+/g, " ");
  const same = (a, b) => a.toLowerCase() === b.toLowerCase();

  function paragraph(text, className) {
    const p = document.createElement("p");
    if (className) p.className = className;
    p.textContent = text;
    return p;
  }

  function describe(radio, text) {
    // Each grade's CTCAE definition goes into its own label, where the nurse chooses it.
    const label = radio.closest("label");
    if (!label) return;
    let span = label.querySelector(".grade-text");
    if (!span) {
      span = document.createElement("span");
      span.className = "grade-text";
      label.append(span);
    }
    span.textContent = text ? " — " + text : "";
  }

  function enableAll() {
    radios.forEach((r) => { r.disabled = false; describe(r, ""); });
  }

  function label(item, text) {
    // What the suggestion shows besides the term: the synonym, code or SOC that matched (the browser only
    // lists options whose value or label contains what was typed).
    if (item.term.toLowerCase().includes(text.toLowerCase())) return item.term;
    if (item.matched_synonym) return item.term + " — " + item.matched_synonym;
    if (String(item.meddra_code) === text) return item.term + " — MedDRA " + item.meddra_code;
    return item.term + " — " + item.soc;
  }

  function suggest(items, text) {
    if (!list) return;
    list.replaceChildren(...items.map((item) => {
      const option = document.createElement("option");
      option.value = item.term;
      option.label = label(item, text);
      return option;
    }));
  }

  function choose(term) {
    input.value = term;
    input.focus();
    update();
  }

  function showChoices(text, items) {
    // A synonym of several terms: nothing to grade yet; offer the terms it can mean.
    const intro = paragraph(interpolate(gettext("“%(typed)s” can mean several CTCAE v5.0 terms. Pick the one you mean:"),
      { typed: text }, true));
    const buttons = document.createElement("p");
    buttons.className = "term-choices";
    items.forEach((item) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = item.term;
      button.addEventListener("click", () => choose(item.term));
      buttons.append(button);
    });
    const parts = [intro, buttons];
    const notes = [...new Set(items.map((item) => item.matched_synonym_note).filter(Boolean))];
    notes.forEach((note) => parts.push(paragraph(note, "small")));
    box.replaceChildren(...parts);
    enableAll();
  }

  function showTerm(match, typed) {
    const allowed = new Map(match.grades.map((g) => [String(g.grade), g.description]));
    const parts = [];
    if (typed) {
      parts.push(paragraph(interpolate(gettext("“%(typed)s” is recorded as %(term)s (CTCAE v5.0), with “%(typed)s” "
        + "as the verbatim term unless you write one."), { typed: typed, term: match.term }, true)));
      if (match.matched_synonym_note) parts.push(paragraph(match.matched_synonym_note, "synonym-note"));
    }
    parts.push(paragraph(interpolate(gettext("%(term)s — MedDRA %(code)s, %(soc)s. Grades %(grades)s exist for this "
      + "term."), { term: match.term, code: match.meddra_code, soc: match.soc,
      grades: match.grades.map((g) => g.grade).join(", ") }, true)));
    if (match.navigational_note) {
      parts.push(paragraph(interpolate(gettext("Note: %(note)s"), { note: match.navigational_note }, true), "small"));
    }
    box.replaceChildren(...parts);

    const chosen = radios.find((r) => r.checked);
    radios.forEach((r) => {
      r.disabled = !allowed.has(r.value);
      describe(r, allowed.get(r.value) || gettext("not a grade of this term in CTCAE v5.0"));
    });
    if (chosen && chosen.disabled) {
      chosen.checked = false;
      status.textContent = interpolate(gettext("Grade %(grade)s is not defined for %(term)s — choose a grade again."),
        { grade: chosen.value, term: match.term }, true);
    } else {
      status.textContent = "";
    }
  }

  async function search(text) {
    const url = "/api/v1/ctcae-terms/?limit=" + LIMIT + "&search=" + encodeURIComponent(text);
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) return null;
      const data = await resp.json();
      return Array.isArray(data) ? data : data.results || [];
    } catch (e) {
      return null;
    }
  }

  async function update() {
    const text = normal(input.value);
    if (text === last) return;
    last = text;
    if (!text) { box.replaceChildren(); enableAll(); return; }
    const items = await search(text);
    if (text !== last) return;  // a later keystroke asked for another term
    if (items === null) {
      // The search failed (network, server busy): try again shortly, so the grades still appear without
      // the nurse having to retype; a few attempts, then the server validates on save as without script.
      last = null;
      if (retries < MAX_RETRIES) { retries += 1; timer = setTimeout(update, RETRY_MS * retries); }
      return;
    }
    retries = 0;
    suggest(items, text);
    const byName = items.find((item) => same(item.term, text));
    if (byName) { showTerm(byName, null); return; }
    const bySynonym = items.filter((item) => item.matched_synonym && same(item.matched_synonym, text));
    if (bySynonym.length === 1) { showTerm(bySynonym[0], text); return; }
    if (bySynonym.length > 1) { showChoices(text, bySynonym); return; }
    box.replaceChildren();  // not (yet) a term: every grade may be chosen; the chosen one stays
    enableAll();
  }

  input.addEventListener("change", () => { clearTimeout(timer); retries = 0; update(); });
  input.addEventListener("input", () => { clearTimeout(timer); retries = 0; timer = setTimeout(update, DELAY_MS); });
  if (input.value) update();
})();
