// The adverse-event form's rules a nurse should see at once (the server applies the same rules on save):
// - a death (grade 5 or outcome Fatal) is a serious adverse event that "results in death": both boxes are ticked
//   and a note says why; grade 5 with no outcome chosen yet sets the outcome to Fatal;
// - "grade when the cycle started" only matters for an event present before the cycle, and the reason only for
//   an onset recorded as follow-up after the cycle: each is shown only when it applies.
(function () {
  "use strict";
  var form = document.querySelector("form.ae-form");
  if (!form) { return; }

  // The texts in the reader's language (Django's JavaScriptCatalog, /jsi18n/, loaded by base.html); English if it
  // did not load.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (fmt, values) {
    return fmt.replace(/%\((\w+)\)s/g, function (all, name) { return String(values[name]); });
  };

  function el(id) { return document.getElementById(id); }
  var serious = el("id_serious"), death = el("id_sae_death"), outcome = el("id_outcome");
  var note = document.createElement("p");
  note.className = "help death-note";
  note.setAttribute("role", "status");
  note.setAttribute("aria-live", "polite");
  if (serious) { serious.closest(".field").appendChild(note); }

  function gradeValue() {
    var checked = form.querySelector("input[name=grade]:checked");
    return checked ? checked.value : "";
  }

  function applyDeath() {
    // Grade 5 is death related to the event (CTCAE v5.0), so its outcome can only be Fatal: an empty outcome is
    // set to Fatal for the nurse; one she chose stays (the server refuses a grade 5 that is not Fatal, and says why).
    var outcomeSet = false;
    if (gradeValue() === "5" && outcome && !outcome.value) {
      outcome.value = "FATAL";
      outcomeSet = true;
    }
    var isDeath = gradeValue() === "5" || (outcome && outcome.value === "FATAL");
    if (isDeath && serious && death) {
      var changed = !serious.checked || !death.checked;
      serious.checked = true;
      death.checked = true;
      note.textContent = (changed
        ? gettext("A death (grade 5 or outcome Fatal) is always a serious adverse event that results in death: " +
                  "Serious and 'results in death' are ticked for you.")
        : gettext("A death (grade 5 or outcome Fatal) is always a serious adverse event that results in death: " +
                  "Serious and 'results in death' are ticked.")) +
        (outcomeSet ? " " + gettext("The outcome is set to Fatal.") : "");
    } else {
      note.textContent = "";
    }
  }

  function toggle(checkboxId, fieldId) {
    var box = el(checkboxId), field = el(fieldId);
    if (!box || !field) { return; }
    var update = function () { field.hidden = !box.checked; };
    box.addEventListener("change", update);
    update();
  }

  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "grade" || name === "outcome") { applyDeath(); }
  });
  // The grade a lab term gets from the patient's lab values (the server computes the same on save, ae/forms.py):
  // the worst computed grade of the term's values from the onset day to the resolution day (today while ongoing).
  var term = el("id_term"), onset = el("id_onset_date"), resolution = el("id_resolution_date");
  var verbatim = el("id_verbatim_term");
  var entries = [];
  try { entries = JSON.parse((term && term.dataset.labProposals) || "[]"); } catch (e) { entries = []; }
  var proposal = document.createElement("div");
  proposal.id = "lab-proposal";
  proposal.className = "grade-definitions lab-proposal";
  proposal.setAttribute("role", "status");
  proposal.setAttribute("aria-live", "polite");
  var gradeField = el("field-grade");
  if (gradeField && entries.length) { gradeField.after(proposal); }

  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  function proposeFromLabs() {
    var name = term ? term.value.trim().replace(/\s+/g, " ").toLowerCase() : "";
    var mine = entries.filter(function (e) {
      return e.term.toLowerCase() === name && (!e.verbatim || (verbatim && verbatim.value.trim().toLowerCase() ===
        e.verbatim.toLowerCase()));
    });
    proposal.textContent = "";
    if (!mine.length || !onset || !onset.value) { return; }
    var end = (resolution && resolution.value) || today();
    var inWindow = mine.filter(function (e) { return e.day >= onset.value && e.day <= end; });
    var strong = document.createElement("strong");
    var p = document.createElement("p");
    p.className = "small";
    if (!inWindow.length) {
      strong.textContent = gettext("No computed grade");
      p.textContent = interpolate(resolution && resolution.value
        ? gettext("No %(analyte)s value from the onset to the resolution: your grade needs no reason.")
        : gettext("No %(analyte)s value from the onset to today: your grade needs no reason."),
        {analyte: mine[0].label}, true);
    } else {
      var worst = inWindow.reduce(function (a, b) { return b.grade > a.grade ? b : a; });
      strong.textContent = interpolate(gettext("Computed grade %(grade)s from the lab values"), {grade: worst.grade}, true);
      p.textContent = interpolate(gettext("Worst of %(count)s %(analyte)s value(s) in the event's days: %(worst)s " +
        "A different grade needs the reason below."), {count: inWindow.length, analyte: worst.label, worst: worst.text},
        true);
    }
    proposal.replaceChildren(strong, p);
  }
  [term, onset, resolution, verbatim].forEach(function (field) {
    if (field) { field.addEventListener("input", proposeFromLabs); field.addEventListener("change", proposeFromLabs); }
  });
  proposeFromLabs();

  toggle("id_present_before_cycle", "field-grade_at_cycle_start");
  toggle("id_after_cycle_follow_up", "field-follow_up_reason");
  applyDeath();
}());
