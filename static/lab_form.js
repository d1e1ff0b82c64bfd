// Lab form: offer only the units of the chosen analyte, the ward's usual one first (docs/labs.md). The units come
// from the select's data-units attribute ({analyte: [[code, label], ...]}), so there is no inline script (CSP).
// A unit still valid for the new analyte stays chosen; otherwise the analyte's usual unit is chosen. Without
// JavaScript every unit is offered and the server refuses one that is not the analyte's.
// Site reference ranges (issue 10 item 10): the analyte select's data-site-ranges gives, per analyte, every site range
// that can apply to this patient (age band, sex, validity; limits in every unit). The one shown is the one in force
// on the collection date typed, for the patient's age in whole months at that date (data-birth-month "YYYY-MM"),
// a range of the patient's sex before one for both, the latest version: the rule of
// ae.selectors.reference_ranges_in_force, which the server grades with. LLN/ULN left empty show it as their
// placeholder (data-site-default, read by the calculator) and the note below them names the range and its source;
// changing the collection date updates them. A typed LLN/ULN overrides it.
(function () {
  "use strict";
  // The texts in the reader's language (Django's JavaScriptCatalog, /jsi18n/, loaded by base.html); English if it
  // did not load.
  const gettext = window.gettext || ((text) => text);
  const separator = (window.get_format && window.get_format("DECIMAL_SEPARATOR")) || ".";  // "3,5" in Polish
  const interpolate = window.interpolate
    || ((fmt, values) => fmt.replace(/%\((\w+)\)s/g, (all, name) => String(values[name])));
  const analyte = document.getElementById("id_analyte");
  const unit = document.getElementById("id_unit");
  if (!analyte || !unit || !unit.dataset.units) return;
  const units = JSON.parse(unit.dataset.units);
  const ranges = JSON.parse(analyte.dataset.siteRanges || "{}");
  const limits = [document.getElementById("id_lln"), document.getElementById("id_uln")];
  const collected = document.getElementById("id_collected_at");
  const birth = (analyte.dataset.birthMonth || "").split("-").map(Number);

  function sampleDay() {
    const typed = collected && collected.value ? collected.value.slice(0, 10) : "";
    if (/^\d{4}-\d{2}-\d{2}$/.test(typed)) return typed;
    const now = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  }

  function rangeInForce(code) {
    const day = sampleDay();
    const [year, month] = day.split("-").map(Number);
    const months = birth.length === 2 ? (year - birth[0]) * 12 + (month - birth[1]) : null;
    let chosen = null;
    (ranges[code] || []).forEach((r) => {  // valid-from order: a later version replaces an earlier one
      if (months === null || months < r.age_from_months || months >= r.age_to_months) return;
      if (r.valid_from > day || (r.valid_to && r.valid_to <= day)) return;
      if (!chosen || (chosen.sex === "" && r.sex) || chosen.sex === r.sex) chosen = r;
    });
    return chosen;
  }
  let note = document.getElementById("site-range-note");
  if (!note && limits[1]) {
    note = document.createElement("p");
    note.id = "site-range-note";
    note.className = "small site-range-note";
    note.setAttribute("aria-live", "polite");
    (document.getElementById("field-uln") || limits[1]).after(note);
  }

  function siteRange() {
    const range = rangeInForce(analyte.value);
    const values = range && range.by_unit[unit.value];
    limits.forEach((input, i) => {
      if (!input) return;
      const value = values ? values[i] : null;
      input.placeholder = value === null || value === undefined ? "" : interpolate(gettext("%(value)s (site range)"),
        { value: String(value).replace(".", separator) }, true);
      if (value === null || value === undefined) delete input.dataset.siteDefault;
      else input.dataset.siteDefault = String(value);
    });
    if (note) note.textContent = range ? range.text : "";
    unit.dispatchEvent(new Event("site-range"));
  }

  function offer() {
    const choices = units[analyte.value];
    if (!choices) return;
    const current = unit.value;
    const keep = choices.some(([code]) => code === current);
    unit.replaceChildren(...choices.map(([code, label]) => new Option(label, code)));
    unit.value = keep ? current : choices[0][0];
    siteRange();
  }

  analyte.addEventListener("change", offer);
  unit.addEventListener("change", siteRange);
  if (collected) {
    collected.addEventListener("change", siteRange);
    collected.addEventListener("input", siteRange);
  }
  offer();
})();
