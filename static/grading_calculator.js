// Bedside calculators: as the nurse fills the CRS, ICANS or lab form, POST the criteria to the stateless
// grading API (/api/v1/grading/crs|icans|lab/) and show the computed grade and the criterion that set it.
// No page reload; the server recomputes and stores the same grade on save, so the form works without it.
(function () {
  "use strict";
  // The texts in the reader's language (Django's JavaScriptCatalog, /jsi18n/, loaded by base.html); English if it
  // did not load. Scale names, versions and the server's rationale come as they are.
  const gettext = window.gettext || ((text) => text);
  const interpolate = window.interpolate
    || ((fmt, values) => fmt.replace(/%\((\w+)\)s/g, (all, name) => String(values[name])));
  const form = document.querySelector("form[data-grading-url]");
  const box = document.getElementById("computed-grade");
  if (!form || !box) return;
  const url = form.dataset.gradingUrl;
  const kind = form.dataset.gradingKind;
  const csrf = (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value
    || (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  let seq = 0;
  let timer = null;

  const el = (name) => form.elements.namedItem(name);
  // A field the API refused, named as the form's own label names it (the reader's language); the API's name
  // with spaces when the form has no such field (a criterion sent as a key of its own, e.g. a lab criterion).
  const fieldName = (name) => {
    const field = form.querySelector("[name='" + name + "']");
    const label = field && (field.labels && field.labels[0]
      || (field.closest("fieldset") || {}).querySelector && field.closest("fieldset").querySelector("legend"));
    const text = label ? label.textContent.replace(/\s*\(.*\)\s*$/, "").trim() : "";
    return text || name.replace(/_/g, " ");
  };
  const val = (name) => { const e = el(name); return e ? String(e.value).trim() : ""; };
  // Decimals as the server reads them (core.numbers.typed_decimal): the point always, the comma only where it is the
  // reader's decimal sign (Polish); in English "1,500" is refused, not guessed.
  const separator = (window.get_format && window.get_format("DECIMAL_SEPARATOR")) || ".";
  const num = (name) => { const v = val(name).replace(",", "."); return v === "" ? null : Number(v); };
  function badNumber() {
    for (const input of form.querySelectorAll("input[inputmode=decimal]")) {
      const v = String(input.value).trim();
      if (v === "") continue;
      if (!/^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(v)) {
        return interpolate(gettext("Enter a number such as %(example)s, without spaces or thousands separators."),
          { example: "3" + separator + "2" }, true);
      }
      if (v.includes(",") && separator !== ",") {
        return interpolate(gettext("Write the decimal with a point, e.g. %(example)s, and no thousands separator " +
          "(150000, not 150,000)."), { example: "3" + separator + "2" }, true);
      }
    }
    return null;
  }
  const checked = (name) => { const e = el(name); return !!(e && e.checked); };
  // An empty LLN/ULN of the lab form is graded with the site range lab_form.js put in its data-site-default.
  const limit = (name) => {
    const v = num(name);
    const e = el(name);
    return v !== null ? v : (e && e.dataset.siteDefault ? Number(e.dataset.siteDefault) : null);
  };

  function payload() {
    const bad = badNumber();
    if (bad) return { incomplete: bad };
    if (kind === "crs") {
      const episode = val("episode");
      const positive = (el("episode") && el("episode").dataset.positive || "").split(" ");
      return {
        temperature_c: num("temperature_c"),
        fever_masking_therapies: Array.from(form.querySelectorAll("input[name=fever_masking_therapies]:checked")).map((c) => c.value),
        had_crs_before: episode !== "" && positive.includes(episode),
        hypotension: checked("hypotension"),
        vasopressors: Array.from(form.querySelectorAll("input[name=vasopressors]:checked")).map((c) => c.value),
        oxygen_device: val("oxygen_device") || "none",
        oxygen_flow_l_min: num("oxygen_flow_l_min"),
        other_cause_findings: Array.from(form.querySelectorAll("input[name=other_cause_findings]:checked")).map((c) => c.value),
      };
    }
    if (kind === "icans") {
      const tool = val("tool");
      const unable = checked("unable_to_perform");
      const score = unable ? null : num("score");
      if (!unable && score === null) return {
        incomplete: interpolate(gettext("Enter the %(tool)s score, or tick 'unable to perform'."), { tool: tool }, true),
      };
      return {
        tool: tool, unable_to_perform: unable,
        ice_score: tool === "ICE" ? score : null, capd_score: tool === "CAPD" ? score : null,
        consciousness: val("consciousness"), seizure: val("seizure"), motor: val("motor"),
        cerebral_edema: val("cerebral_edema"),
        other_cause_domains: Array.from(form.querySelectorAll("input[name=other_cause_domains]:checked")).map((c) => c.value),
      };
    }
    if (num("value") === null) return { incomplete: gettext("Enter the value.") };
    const body = { analyte: val("analyte"), value: num("value"), unit: val("unit"), lln: limit("lln"), uln: limit("uln") };
    form.querySelectorAll("input[name=clinical_criteria]:checked").forEach((c) => { body[c.value] = true; });
    return body;
  }

  function show(title, detail, state) {
    const strong = document.createElement("strong");
    strong.textContent = title;
    const p = document.createElement("p");
    p.className = "small";
    p.textContent = detail;
    box.replaceChildren(strong, p);
    box.dataset.state = state;
  }

  async function compute() {
    const body = payload();
    const mine = ++seq;
    if (body.incomplete) { show(gettext("Computed grade: —"), body.incomplete, "incomplete"); return; }
    let resp, data;
    try {
      resp = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      });
      data = await resp.json();
    } catch (e) { return; }
    if (mine !== seq) return;  // a later change asked again meanwhile
    if (!resp.ok) {
      // the API's problem document (core/errors.py): field errors under "errors", else one "detail" sentence
      const msgs = Object.entries(data.errors || {}).map(([k, v]) => fieldName(k) + ": " + [].concat(v).join(" "));
      show(gettext("Computed grade: —"), msgs.join("; ") || data.detail || "", "error");
      return;
    }
    const grade = data.grade === null ? gettext("undetermined") : String(data.grade);
    const scale = data.scale + (data.scale === "CTCAE" ? " v" + data.version : "");
    show(data.ctcae_term
      ? interpolate(gettext("Computed %(term)s, %(scale)s grade: %(grade)s"),
        { term: data.ctcae_term, scale: scale, grade: grade }, true)
      : interpolate(gettext("Computed %(scale)s grade: %(grade)s"), { scale: scale, grade: grade }, true),
    data.rationale, "done");
    box.dataset.grade = data.grade === null ? "" : String(data.grade);
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(compute, 150); }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  compute();
})();
