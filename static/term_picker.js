// CTCAE term picker: when a term is chosen, show its grade definitions and enable only its grades.
// Works without this script too: the server validates the term and the grade.
(function () {
  "use strict";
  const input = document.querySelector("[data-term-picker]");
  const box = document.getElementById("grade-definitions");
  if (!input || !box) return;
  const radios = Array.from(document.querySelectorAll("input[name=grade]"));
  let last = null;

  function reset() {
    box.replaceChildren();
    radios.forEach((r) => { r.disabled = false; r.parentElement.title = ""; });
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
    const dl = document.createElement("dl");
    const head = document.createElement("p");
    head.textContent = match.term + " (MedDRA " + match.meddra_code + ", " + match.soc + ")";
    match.grades.forEach((g) => {
      const dt = document.createElement("dt"); dt.textContent = "Grade " + g.grade;
      const dd = document.createElement("dd"); dd.textContent = g.description;
      dl.append(dt, dd);
    });
    box.replaceChildren(head, dl);
    radios.forEach((r) => {
      r.disabled = !allowed.has(r.value);
      if (r.disabled && r.checked) r.checked = false;
      r.parentElement.title = allowed.get(r.value) || "Not a grade of this term in CTCAE v5.0";
    });
  }

  input.addEventListener("change", () => show(input.value.trim()));
  input.addEventListener("input", () => { if (input.value.trim() !== last) show(input.value.trim()); });
  if (input.value) show(input.value.trim());
})();
