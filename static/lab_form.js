// Lab form: offer only the units of the chosen analyte, the ward's usual one first (docs/labs.md). The units come
// from the select's data-units attribute ({analyte: [[code, label], ...]}), so there is no inline script (CSP).
// A unit still valid for the new analyte stays chosen; otherwise the analyte's usual unit is chosen. Without
// JavaScript every unit is offered and the server refuses one that is not the analyte's.
(function () {
  "use strict";
  const analyte = document.getElementById("id_analyte");
  const unit = document.getElementById("id_unit");
  if (!analyte || !unit || !unit.dataset.units) return;
  const units = JSON.parse(unit.dataset.units);

  function offer() {
    const choices = units[analyte.value];
    if (!choices) return;
    const current = unit.value;
    const keep = choices.some(([code]) => code === current);
    unit.replaceChildren(...choices.map(([code, label]) => new Option(label, code)));
    unit.value = keep ? current : choices[0][0];
  }

  analyte.addEventListener("change", offer);
  offer();
})();
