// The adverse-event form's rules a nurse should see at once (the server applies the same rules on save):
// - a death (grade 5 or outcome Fatal) is a serious adverse event that "results in death": both boxes are ticked
//   and a note says why;
// - "grade when the cycle started" only matters for an event present before the cycle, and the reason only for
//   an onset recorded as follow-up after the cycle: each is shown only when it applies.
(function () {
  "use strict";
  var form = document.querySelector("form.ae-form");
  if (!form) { return; }

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
    var isDeath = gradeValue() === "5" || (outcome && outcome.value === "FATAL");
    if (isDeath && serious && death) {
      var changed = !serious.checked || !death.checked;
      serious.checked = true;
      death.checked = true;
      note.textContent = "A death (grade 5 or outcome Fatal) is always a serious adverse event that results in " +
        "death: Serious and 'results in death' are ticked" + (changed ? " for you." : ".");
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
  toggle("id_present_before_cycle", "field-grade_at_cycle_start");
  toggle("id_after_cycle_follow_up", "field-follow_up_reason");
  applyDeath();
}());
