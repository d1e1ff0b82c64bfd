// CTCAE term picker: when a term is chosen, show its grade definitions and enable only its grades.
// Works without this script too: the server validates the term and the grade.
(function () {
  "use strict";
  const input = document.querySelector("[data-term-picker]");
  const box = document.getElementById("grade-definitions");
  if (!input || !box) return;
  const radios = Array.from(document.querySelectorAll("input[name=grade]"));
  const termField = document.getElementById("field-term");
  if (termField) termField.after(box);  // the term's details right under the picker
  let last = null;

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

  function reset() {
    box.replaceChildren();
    radios.forEach((r) => { r.disabled = false; describe(r, ""); });
  }

  async function show(term) {
    if (term === last) return;
    last = term;
    if (!term) { reset(); return; }
    const url = "/api/v1/ctcae-terms/?search=" + encodeURIComponent(term);
    let data;
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (e) { return; }
    if (term !== last) return;  // a later keystroke asked for another term meanwhile
    const items = Array.isArray(data) ? data : data.results || [];
    const match = items.find((t) => t.term.toLowerCase() === term.toLowerCase());
    if (!match) { reset(); return; }
    const allowed = new Map(match.grades.map((g) => [String(g.grade), g.description]));
    const head = document.createElement("p");
    head.textContent = match.term + " — MedDRA " + match.meddra_code + ", " + match.soc + ". Grades "
      + match.grades.map((g) => g.grade).join(", ") + " exist for this term.";
    const parts = [head];
    if (match.navigational_note) {
      const note = document.createElement("p");
      note.className = "small";
      note.textContent = "Note: " + match.navigational_note;
      parts.push(note);
    }
    box.replaceChildren(...parts);
    radios.forEach((r) => {
      r.disabled = !allowed.has(r.value);
      if (r.disabled && r.checked) r.checked = false;
      describe(r, allowed.get(r.value) || "not a grade of this term in CTCAE v5.0");
    });
  }

  input.addEventListener("change", () => show(input.value.trim()));
  input.addEventListener("input", () => { if (input.value.trim() !== last) show(input.value.trim()); });
  if (input.value) show(input.value.trim());
})();
