"""ADaM ADAE of one site (ADaMIG v1.3, OCCDS v1.1), following pharmaverse admiral's ADAE template
(``inst/templates/ad_adae.R``, admiral 1.5) variable by variable — each derivation is cited on its variable.

TRTEMFL is not derived here: it is THE rule of :func:`ae.models.events.treatment_emergent_q` (admiral
``derive_var_trtemfl()`` with the initial-intensity worsening rule), read from the database annotation that the
benchmark and the graded AE table use too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable

from patients.models import Site
from reports.cdisc.meddra import MeddraRelease
from reports.cdisc.model import Dataset, Value, Variable, study_day
from reports.cdisc.sdtm import GRADING_SCALE_TEXT, ae_records, first_doses, meddra_note

ADAMIG = "ADaMIG 1.3"


def _v(name: str, label: str, source: str, type_: str = "text", empty: str = "", fmt: str = "") -> Variable:
    return Variable(name, label, type_, source, empty, fmt)  # type: ignore[arg-type]


ADAE_VARIABLES = (
    _v("STUDYID", "Study Identifier", "AE.STUDYID"),
    _v("USUBJID", "Unique Subject Identifier", "AE.USUBJID"),
    _v("AESEQ", "Sequence Number", "AE.AESEQ", "integer"),
    _v("AETERM", "Reported Term for the Adverse Event", "AE.AETERM"),
    _v("AELLT", "Lowest Level Term", "AE.AELLT"),
    _v("AELLTCD", "Lowest Level Term Code", "AE.AELLTCD", "integer"),
    _v("AEDECOD", "Dictionary-Derived Term", "AE.AEDECOD", empty="as AE.AEDECOD (no MedDRA release supplied)"),
    _v("AEBODSYS", "Body System or Organ Class", "AE.AEBODSYS"),
    _v("AESER", "Serious Event", "AE.AESER"),
    _v("AESDTH", "Results in Death", "AE.AESDTH"),
    _v("AEACN", "Action Taken with Study Treatment", "AE.AEACN"),
    _v("AEREL", "Causality", "AE.AEREL"),
    _v("AEOUT", "Outcome of Adverse Event", "AE.AEOUT"),
    _v("AETOXGR", "Standard Toxicity Grade", "AE.AETOXGR"),
    _v("TRTSDT", "Date of First Exposure to Treatment",
       "ADSL.TRTSDT = first cycle start; admiral derive_vars_merged() from ADSL", "date", fmt="DATE9."),
    _v("TRTEDT", "Date of Last Exposure to Treatment",
       "ADSL.TRTEDT = end of the last cycle (empty while it runs); admiral derive_vars_merged()", "date",
       fmt="DATE9."),
    _v("ASTDT", "Analysis Start Date", "AE.AESTDTC; admiral derive_vars_dtm()/derive_vars_dtm_to_dt() "
       "(pvtrack dates are complete, no imputation)", "date", fmt="DATE9."),
    _v("AENDT", "Analysis End Date", "AE.AEENDTC; admiral derive_vars_dtm()/derive_vars_dtm_to_dt()", "date",
       fmt="DATE9."),
    _v("ASTDY", "Analysis Start Relative Day",
       "admiral derive_vars_dy(reference_date = TRTSDT): ASTDT - TRTSDT + 1 on/after TRTSDT, else ASTDT - TRTSDT "
       "(study day from first dose, not cycle day)", "integer"),
    _v("AENDY", "Analysis End Relative Day", "admiral derive_vars_dy(reference_date = TRTSDT)", "integer"),
    _v("APERIOD", "Period", "treatment cycle number (TreatmentCycle.number) of the event", "integer"),
    _v("APERIODC", "Period (C)", '"CYCLE n"'),
    _v("TRTEMFL", "Treatment Emergent Analysis Flag",
       "ae.models.events.treatment_emergent_q (admiral derive_var_trtemfl() with initial_intensity): Y or empty"),
    _v("ATOXGR", "Analysis Toxicity Grade", "AE.AETOXGR (admiral ADAE: ATOXGR = AETOXGR)"),
    _v("ATOXGRN", "Analysis Toxicity Grade (N)", "ATOXGR as a number", "integer"),
    _v("ATOXSCAL", "Toxicity Grading Scale", "AdverseEvent.grading_scale: CTCAE v5.0, ASTCT 2019 or Lee 2014"),
    _v("AOCCIFL", "1st Max Sev./Int. Occurrence Flag",
       "admiral derive_var_extreme_flag(by USUBJID, order desc(ATOXGRN), ASTDT, AESEQ, mode first) "
       "restricted to TRTEMFL = Y"),
    _v("AOCCSFL", "1st Occurrence of SOC Flag",
       "admiral derive_var_extreme_flag(by USUBJID, AEBODSYS, order ASTDT, AESEQ, mode first), TRTEMFL = Y"),
    _v("AOCCPFL", "1st Occurrence of Preferred Term Flag",
       "admiral derive_var_extreme_flag(by USUBJID, AEBODSYS, AEDECOD, order ASTDT, AESEQ, mode first), "
       "TRTEMFL = Y; without a MedDRA PT the CTCAE term (AELLT) stands for AEDECOD"),
)


def _flag_first(rows: list[dict[str, Value]], flag: str, by: Callable[[dict[str, Value]], Hashable],
                order: Callable[[dict[str, Value]], tuple]) -> None:
    """admiral ``derive_var_extreme_flag(mode = "first")`` restricted to TRTEMFL = "Y": "Y" on the first record of
    each ``by`` group in ``order``, "" elsewhere."""
    seen: set[Hashable] = set()
    for row in sorted((r for r in rows if r["TRTEMFL"] == "Y"), key=order):
        key = by(row)
        if key not in seen:
            seen.add(key)
            row[flag] = "Y"
    for row in rows:
        row.setdefault(flag, "")


def _when(row: dict[str, Value]) -> tuple[datetime.date, int]:
    start = row["ASTDT"]
    seq = row["AESEQ"]
    assert isinstance(start, datetime.date) and isinstance(seq, int)
    return start, seq


def _grade(row: dict[str, Value]) -> int:
    grade = row["ATOXGRN"]
    assert isinstance(grade, int)
    return grade


def adae_dataset(site: Site, meddra: MeddraRelease | None = None) -> Dataset:
    """ADaM ADAE of the site: one record per SDTM AE record."""
    spans = first_doses(site)
    rows: list[dict[str, Value]] = []
    for event, ae in ae_records(site, meddra):
        trtsdt, trtedt, _ = spans.get(event.patient_id, (None, None, False))
        row: dict[str, Value] = {k: ae[k] for k in ("STUDYID", "USUBJID", "AESEQ", "AETERM", "AELLT", "AELLTCD",
                                                   "AEDECOD", "AEBODSYS", "AESER", "AESDTH", "AEACN", "AEREL",
                                                   "AEOUT", "AETOXGR")}
        row |= {
            "TRTSDT": trtsdt, "TRTEDT": trtedt, "ASTDT": event.onset_date, "AENDT": event.resolution_date,
            "ASTDY": study_day(event.onset_date, trtsdt), "AENDY": study_day(event.resolution_date, trtsdt),
            "APERIOD": event.cycle.number, "APERIODC": f"CYCLE {event.cycle.number}",
            "TRTEMFL": "Y" if event.trtemfl else "",  # type: ignore[attr-defined]
            "ATOXGR": str(event.grade), "ATOXGRN": event.grade,
            "ATOXSCAL": GRADING_SCALE_TEXT.get(event.grading_scale, event.grading_scale),
        }
        rows.append(row)
    _flag_first(rows, "AOCCIFL", lambda r: r["USUBJID"], lambda r: (-_grade(r), *_when(r)))
    _flag_first(rows, "AOCCSFL", lambda r: (r["USUBJID"], r["AEBODSYS"]), _when)
    _flag_first(rows, "AOCCPFL", lambda r: (r["USUBJID"], r["AEBODSYS"], r["AEDECOD"] or r["AELLT"]), _when)
    names = [v.name for v in ADAE_VARIABLES]
    ordered = [{name: row[name] for name in names} for row in rows]
    return Dataset("ADAE", "Adverse Events Analysis Dataset", ADAMIG, ADAE_VARIABLES, ordered,
                   ("STUDYID", "USUBJID", "AESEQ"), [meddra_note(meddra)])
