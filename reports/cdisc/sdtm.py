"""SDTM AE, DM, EX and LB of one site (SDTMIG v3.4), built from pvtrack's records.

Every variable names its source (the pvtrack field or the rule); a variable pvtrack has no value for is empty and
says why (``Variable.empty_reason``, listed in ``docs/cdisc.md``). Dates are ISO 8601; lab collection times are in
the site's time zone (``TIME_ZONE``), as on the pages. STUDYID is the site's slug in capitals (pvtrack is a registry
per ward, not a trial); USUBJID is :attr:`patients.models.Patient.usubjid`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from ae import lab_units
from ae.models import AdverseEvent, LabResult
from ae.selectors import with_treatment_emergent
from patients.models import Patient, Site, TreatmentCycle
from reports.cdisc.meddra import MeddraRelease
from reports.cdisc.model import Dataset, Value, Variable, study_day, yn

SDTMIG = "SDTMIG 3.4"
EXTRT = "BLINATUMOMAB"
NO_MEDDRA = "no MedDRA release was supplied (pvtrack does not ship MedDRA): PT and SOC codes are empty"

RELATEDNESS = {  # AEREL: sponsor-defined (SDTMIG v3.4 AE assumption 8); the wording of pvtrack's choices
    AdverseEvent.Relatedness.NOT_RELATED: "NOT RELATED",
    AdverseEvent.Relatedness.UNLIKELY: "UNLIKELY RELATED",
    AdverseEvent.Relatedness.POSSIBLE: "POSSIBLY RELATED",
    AdverseEvent.Relatedness.PROBABLE: "PROBABLY RELATED",
    AdverseEvent.Relatedness.DEFINITE: "RELATED",
}
#: LBTESTCD / LBTEST (CDISC CT codelists C65047 / C67154) and LBCAT per pvtrack analyte.
LB_TESTS = {
    "anc": ("NEUT", "Neutrophils", "HEMATOLOGY"),
    "platelets": ("PLAT", "Platelets", "HEMATOLOGY"),
    "wbc": ("WBC", "Leukocytes", "HEMATOLOGY"),
    "lymphocytes": ("LYM", "Lymphocytes", "HEMATOLOGY"),
    "hemoglobin": ("HGB", "Hemoglobin", "HEMATOLOGY"),
    "potassium": ("K", "Potassium", "CHEMISTRY"),
    "alt": ("ALT", "Alanine Aminotransferase", "CHEMISTRY"),
    "ast": ("AST", "Aspartate Aminotransferase", "CHEMISTRY"),
}
GRADING_SCALE_TEXT = dict(AdverseEvent.GradingScale.choices)


def _v(name: str, label: str, source: str = "", type_: str = "text", empty: str = "", fmt: str = "") -> Variable:
    return Variable(name, label, type_, source, empty, fmt)  # type: ignore[arg-type]


def _ident(domain: str) -> tuple[Variable, ...]:
    return (_v("STUDYID", "Study Identifier", "site slug in capitals"),
            _v("DOMAIN", "Domain Abbreviation", f'"{domain}"'),
            _v("USUBJID", "Unique Subject Identifier", "Patient.usubjid (site slug + study ID)"))


AE_VARIABLES = (
    *_ident("AE"),
    _v("AESEQ", "Sequence Number", "per subject, by onset then record id", "integer"),
    _v("AESPID", "Sponsor-Defined Identifier", "pvtrack adverse event id"),
    _v("AETERM", "Reported Term for the Adverse Event", "verbatim term, else the CTCAE term"),
    _v("AELLT", "Lowest Level Term", "CTCAE v5.0 term (a MedDRA LLT)"),
    _v("AELLTCD", "Lowest Level Term Code", "MedDRA LLT code published with CTCAE v5.0", "integer"),
    _v("AEDECOD", "Dictionary-Derived Term", "MedDRA PT of the LLT, from the supplied MedDRA release",
       empty="empty when no MedDRA release is supplied or it lacks the LLT (MedDRA is licensed; not shipped)"),
    _v("AEPTCD", "Preferred Term Code", "MedDRA PT code, from the supplied release", "integer",
       empty="as AEDECOD"),
    _v("AEBODSYS", "Body System or Organ Class",
       "primary SOC of the PT from the supplied release; without one, the SOC CTCAE v5.0 lists for the term"),
    _v("AEBDSYCD", "Body System or Organ Class Code", "primary SOC code, from the supplied release", "integer",
       empty="as AEDECOD"),
    _v("AESOC", "Primary System Organ Class", "as AEBODSYS"),
    _v("AESOCCD", "Primary System Organ Class Code", "as AEBDSYCD", "integer", empty="as AEDECOD"),
    _v("AESEV", "Severity/Intensity", empty="not collected: pvtrack grades by CTCAE/ASTCT (AETOXGR)"),
    _v("AESER", "Serious Event", "AdverseEvent.serious"),
    _v("AEACN", "Action Taken with Study Treatment", "AdverseEvent.action_taken (CT codelist ACN)"),
    _v("AEREL", "Causality", "AdverseEvent.relatedness (relatedness to blinatumomab)"),
    _v("AEOUT", "Outcome of Adverse Event", "AdverseEvent.outcome (CT codelist OUT)"),
    _v("AESCONG", "Congenital Anomaly or Birth Defect", "AdverseEvent.sae_congenital_anomaly"),
    _v("AESDISAB", "Persist or Signif Disability/Incapacity", "AdverseEvent.sae_disability"),
    _v("AESDTH", "Results in Death", "AdverseEvent.sae_death"),
    _v("AESHOSP", "Requires or Prolongs Hospitalization", "AdverseEvent.sae_hospitalization"),
    _v("AESLIFE", "Is Life Threatening", "AdverseEvent.sae_life_threatening"),
    _v("AESMIE", "Other Medically Important Serious Event", "AdverseEvent.sae_medically_important"),
    _v("AETOXGR", "Standard Toxicity Grade",
       "AdverseEvent.grade on the event's grading scale (CTCAE v5.0, ASTCT 2019 or Lee 2014: see ADAE ATOXSCAL)"),
    _v("EPOCH", "Epoch", "SCREENING before the first dose, FOLLOW-UP when recorded after the cycle's window, "
       "else TREATMENT"),
    _v("AESTDTC", "Start Date/Time of Adverse Event", "AdverseEvent.onset_date"),
    _v("AEENDTC", "End Date/Time of Adverse Event", "AdverseEvent.resolution_date (empty while not resolved)"),
    _v("AESTDY", "Study Day of Start of Adverse Event", "SDTMIG 4.4.4 from RFSTDTC (first dose)", "integer"),
    _v("AEENDY", "Study Day of End of Adverse Event", "SDTMIG 4.4.4 from RFSTDTC", "integer"),
)

DM_VARIABLES = (
    *_ident("DM"),
    _v("SUBJID", "Subject Identifier for the Study", "Patient.study_id"),
    _v("RFSTDTC", "Subject Reference Start Date/Time", "first cycle start (first dose of blinatumomab)"),
    _v("RFENDTC", "Subject Reference End Date/Time", "end of the last cycle (empty while it runs)"),
    _v("RFXSTDTC", "Date/Time of First Study Treatment", "first cycle start"),
    _v("RFXENDTC", "Date/Time of Last Study Treatment", "end of the last cycle (empty while it runs)"),
    _v("RFICDTC", "Date/Time of Informed Consent", empty="not held by pvtrack (ward registry, no consent record)"),
    _v("DTHDTC", "Date/Time of Death", "the earliest resolution date (AEENDTC) of the subject's adverse events with "
       "outcome FATAL", empty="no fatal event has a resolution date"),
    _v("DTHFL", "Subject Death Flag", "Y when an adverse event has outcome FATAL"),
    _v("SITEID", "Study Site Identifier", "Site.slug"),
    _v("BRTHDTC", "Date/Time of Birth", "Patient.birth_month (year and month only)"),
    _v("AGE", "Age", "whole years from the first day of the birth month to RFSTDTC", "integer"),
    _v("AGEU", "Age Units", '"YEARS"'),
    _v("SEX", "Sex", "Patient.sex (CT codelist SEX)"),
    _v("RACE", "Race", empty="not collected by pvtrack"),
    _v("ETHNIC", "Ethnicity", empty="not collected by pvtrack"),
    _v("ARMCD", "Planned Arm Code", '"BLINA" (single-arm registry), "NOTTRT" without a cycle'),
    _v("ARM", "Description of Planned Arm", '"Blinatumomab" / "Not Treated"'),
    _v("ACTARMCD", "Actual Arm Code", "as ARMCD"),
    _v("ACTARM", "Description of Actual Arm", "as ARM"),
    _v("COUNTRY", "Country", empty="pvtrack's site has no country"),
)

EX_VARIABLES = (
    *_ident("EX"),
    _v("EXSEQ", "Sequence Number", "per subject, by start", "integer"),
    _v("EXSPID", "Sponsor-Defined Identifier", '"CYCLE n", with " STEP k" when the cycle has several dose steps'),
    _v("EXTRT", "Name of Treatment", '"BLINATUMOMAB"'),
    _v("EXDOSE", "Dose", "DosingStep.dose (empty for a cycle without recorded steps)", "float"),
    _v("EXDOSU", "Dose Units", '"ug/m2/day" or "ug/day" (DosingStep.unit)'),
    _v("EXDOSFRM", "Dose Form", '"INJECTION, POWDER, LYOPHILIZED, FOR SOLUTION"'),
    _v("EXDOSFRQ", "Dosing Frequency per Interval", '"CONTINUOUS" (continuous infusion)'),
    _v("EXROUTE", "Route of Administration", '"INTRAVENOUS"'),
    _v("EPOCH", "Epoch", '"TREATMENT"'),
    _v("EXSTDTC", "Start Date/Time of Treatment", "the dose step's cycle day"),
    _v("EXENDTC", "End Date/Time of Treatment", "the day before the next step, or the cycle end (empty while it runs)"),
    _v("EXSTDY", "Study Day of Start of Treatment", "SDTMIG 4.4.4 from RFSTDTC", "integer"),
    _v("EXENDY", "Study Day of End of Treatment", "SDTMIG 4.4.4 from RFSTDTC", "integer"),
)

LB_VARIABLES = (
    *_ident("LB"),
    _v("LBSEQ", "Sequence Number", "per subject, by collection time", "integer"),
    _v("LBSPID", "Sponsor-Defined Identifier", "pvtrack lab result id"),
    _v("LBTESTCD", "Lab Test or Examination Short Name", "analyte (CT codelist LBTESTCD)"),
    _v("LBTEST", "Lab Test or Examination Name", "analyte (CT codelist LBTEST)"),
    _v("LBCAT", "Category for Lab Test", "HEMATOLOGY or CHEMISTRY"),
    _v("LBORRES", "Result or Finding in Original Units", "LabResult.value"),
    _v("LBORRESU", "Original Units", "LabResult.unit"),
    _v("LBORNRLO", "Reference Range Lower Limit in Orig Unit", "LabResult.lln"),
    _v("LBORNRHI", "Reference Range Upper Limit in Orig Unit", "LabResult.uln"),
    _v("LBSTRESC", "Character Result/Finding in Std Format", "as LBORRES (no unit conversion)"),
    _v("LBSTRESN", "Numeric Result/Finding in Standard Units", "as LBORRES (no unit conversion)", "float"),
    _v("LBSTRESU", "Standard Units", "as LBORRESU: pvtrack keeps the unit entered, no conversion"),
    _v("LBSTNRLO", "Reference Range Lower Limit-Std Units", "LabResult.lln", "float"),
    _v("LBSTNRHI", "Reference Range Upper Limit-Std Units", "LabResult.uln", "float"),
    _v("LBTOX", "Toxicity", "CTCAE v5.0 term the value is graded under"),
    _v("LBTOXGR", "Standard Toxicity Grade", "LabResult.grade, CTCAE v5.0 (empty when undetermined)"),
    _v("LBBLFL", "Baseline Flag", "LabResult.baseline"),
    _v("EPOCH", "Epoch", "SCREENING before the first dose, else TREATMENT"),
    _v("LBDTC", "Date/Time of Specimen Collection", "LabResult.collected_at in the site's time zone"),
    _v("LBDY", "Study Day of Specimen Collection", "SDTMIG 4.4.4 from RFSTDTC", "integer"),
)


def study_id(site: Site) -> str:
    """STUDYID of a site's exports: its slug in capitals."""
    return site.slug.upper()


def _iso(date: datetime.date | None) -> str:
    return date.isoformat() if date is not None else ""


def first_doses(site: Site) -> dict[int, tuple[datetime.date, datetime.date | None, bool]]:
    """Per patient id: (first cycle start, end of the last cycle or None while it runs, any cycle)."""
    spans: dict[int, tuple[datetime.date, datetime.date | None, bool]] = {}
    cycles = TreatmentCycle.objects.filter(patient__site=site).order_by("patient_id", "start_date")
    for cycle in cycles.only("patient_id", "start_date", "end_date"):
        first = spans.get(cycle.patient_id, (cycle.start_date, None, True))[0]
        spans[cycle.patient_id] = (first, cycle.end_date, True)
    return spans


def site_events(site: Site) -> QuerySet[AdverseEvent]:
    """The site's adverse events with term, cycle and patient, each annotated ``trtemfl`` by THE rule
    (:func:`ae.models.events.treatment_emergent_q`), ordered by patient, onset, id."""
    return (with_treatment_emergent(AdverseEvent.objects.filter(patient__site=site))
            .select_related("term", "cycle", "patient__site").order_by("patient__study_id", "onset_date", "id"))


def _coding(event: AdverseEvent, meddra: MeddraRelease | None) -> dict[str, Value]:
    coding = meddra.code(event.term.meddra_code) if meddra else None
    if coding is None:
        return {"AEDECOD": "", "AEPTCD": None, "AEBODSYS": event.term.soc, "AEBDSYCD": None,
                "AESOC": event.term.soc, "AESOCCD": None}
    return {"AEDECOD": coding.pt_name, "AEPTCD": coding.pt_code, "AEBODSYS": coding.soc_name,
            "AEBDSYCD": coding.soc_code, "AESOC": coding.soc_name, "AESOCCD": coding.soc_code}


def meddra_note(meddra: MeddraRelease | None) -> str:
    """What the exports say about MedDRA coding."""
    if meddra is None:
        return f"MedDRA: {NO_MEDDRA}; AEBODSYS is the SOC CTCAE v5.0 lists for the term."
    return f"MedDRA: PT and primary SOC coded with MedDRA version {meddra.version} ({meddra.language})."


def ae_epoch(event: AdverseEvent, first_dose: datetime.date | None) -> str:
    """EPOCH of an adverse event at its onset."""
    if first_dose is not None and event.onset_date < first_dose:
        return "SCREENING"
    return "FOLLOW-UP" if event.after_cycle_follow_up else "TREATMENT"


def ae_records(site: Site, meddra: MeddraRelease | None) -> list[tuple[AdverseEvent, dict[str, Value]]]:
    """Each adverse event of the site with its SDTM AE record (AESEQ numbered per subject)."""
    spans = first_doses(site)
    sid = study_id(site)
    seq: dict[int, int] = defaultdict(int)
    out = []
    for event in site_events(site):
        seq[event.patient_id] += 1
        ref = spans.get(event.patient_id, (None, None, False))[0]
        record: dict[str, Value] = {
            "STUDYID": sid, "DOMAIN": "AE", "USUBJID": event.patient.usubjid, "AESEQ": seq[event.patient_id],
            "AESPID": str(event.pk), "AETERM": (event.verbatim_term or event.term.term).upper(),
            "AELLT": event.term.term, "AELLTCD": event.term.meddra_code, **_coding(event, meddra),
            "AESEV": "", "AESER": yn(event.serious), "AEACN": event.action_taken,
            "AEREL": RELATEDNESS[AdverseEvent.Relatedness(event.relatedness)], "AEOUT": event.outcome,
            "AESCONG": yn(event.sae_congenital_anomaly), "AESDISAB": yn(event.sae_disability),
            "AESDTH": yn(event.sae_death), "AESHOSP": yn(event.sae_hospitalization),
            "AESLIFE": yn(event.sae_life_threatening), "AESMIE": yn(event.sae_medically_important),
            "AETOXGR": str(event.grade), "EPOCH": ae_epoch(event, ref),
            "AESTDTC": _iso(event.onset_date), "AEENDTC": _iso(event.resolution_date),
            "AESTDY": study_day(event.onset_date, ref), "AEENDY": study_day(event.resolution_date, ref),
        }
        out.append((event, record))
    return out


def ae_dataset(site: Site, meddra: MeddraRelease | None = None) -> Dataset:
    """SDTM AE of the site (one record per adverse event)."""
    rows = [record for _, record in ae_records(site, meddra)]
    return Dataset("AE", "Adverse Events", SDTMIG, AE_VARIABLES, rows, ("STUDYID", "USUBJID", "AESEQ"),
                   [meddra_note(meddra)])


def _age(born: datetime.date, on: datetime.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def dm_dataset(site: Site) -> Dataset:
    """SDTM DM of the site (one record per patient)."""
    spans = first_doses(site)
    # DTHFL: a fatal outcome; DTHDTC: the earliest resolution date (AEENDTC) of the patient's fatal events, the date
    # of death, empty while none has one (the onset of the event that led to the death is not the date of death).
    fatal: dict[int, datetime.date | None] = {}
    for patient_id, ended in (AdverseEvent.objects.filter(patient__site=site, outcome=AdverseEvent.Outcome.FATAL)
                              .values_list("patient_id", "resolution_date")):
        known = [d for d in (fatal.get(patient_id), ended) if d is not None]
        fatal[patient_id] = min(known, default=None)
    rows: list[dict[str, Value]] = []
    for patient in Patient.objects.filter(site=site).select_related("site").order_by("study_id"):
        first, last_end, treated = spans.get(patient.pk, (None, None, False))
        arm = ("BLINA", "Blinatumomab") if treated else ("NOTTRT", "Not Treated")
        rows.append({
            "STUDYID": study_id(site), "DOMAIN": "DM", "USUBJID": patient.usubjid, "SUBJID": patient.study_id,
            "RFSTDTC": _iso(first), "RFENDTC": _iso(last_end), "RFXSTDTC": _iso(first), "RFXENDTC": _iso(last_end),
            "RFICDTC": "", "DTHDTC": _iso(fatal.get(patient.pk)), "DTHFL": "Y" if patient.pk in fatal else "",
            "SITEID": site.slug,
            "BRTHDTC": f"{patient.birth_month:%Y-%m}", "AGE": _age(patient.birth_month, first) if first else None,
            "AGEU": "YEARS" if first else "", "SEX": patient.sex, "RACE": "", "ETHNIC": "",
            "ARMCD": arm[0], "ARM": arm[1], "ACTARMCD": arm[0], "ACTARM": arm[1], "COUNTRY": "",
        })
    return Dataset("DM", "Demographics", SDTMIG, DM_VARIABLES, rows, ("STUDYID", "USUBJID"))


def _dose(value: Decimal) -> float:
    return float(value)


#: EXDOSU of a dosing step's unit (patients.treatment.DoseUnit).
EXDOSU = {"ug_m2_day": "ug/m2/day", "ug_day": "ug/day"}


def ex_dataset(site: Site) -> Dataset:
    """SDTM EX of the site: one record per dosing step of each cycle (``patients.treatment.DosingStep``: from its
    cycle day until the day before the next step, the last until the cycle's end), with the step's dose and unit
    (``EXDOSU`` ug/m2/day or ug/day). A cycle without recorded steps gives one record with an empty dose.
    Interruptions (recorded as intervals) do not split the records yet."""
    spans = first_doses(site)
    rows: list[dict[str, Value]] = []
    seq: dict[int, int] = defaultdict(int)
    cycles = (TreatmentCycle.objects.filter(patient__site=site).select_related("patient__site")
              .prefetch_related("dosing_steps").order_by("patient__study_id", "start_date"))
    for cycle in cycles:
        ref = spans[cycle.patient_id][0]
        steps = sorted(cycle.dosing_steps.all(), key=lambda s: s.from_day)
        parts: list[tuple[str, float | None, str, datetime.date, datetime.date | None]] = []
        for i, step in enumerate(steps):
            start = cycle.start_date + datetime.timedelta(days=step.from_day - 1)
            if cycle.end_date is not None and start > cycle.end_date:
                break
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            end = (cycle.start_date + datetime.timedelta(days=nxt.from_day - 2)) if nxt else cycle.end_date
            if end is not None and cycle.end_date is not None:
                end = min(end, cycle.end_date)
            spid = f"CYCLE {cycle.number}" + (f" STEP {i + 1}" if len(steps) > 1 else "")
            parts.append((spid, _dose(step.dose), EXDOSU[step.unit], start, end))
        if not parts:
            parts.append((f"CYCLE {cycle.number}", None, "", cycle.start_date, cycle.end_date))
        for spid, dose, unit, start, end in parts:
            seq[cycle.patient_id] += 1
            rows.append({
                "STUDYID": study_id(site), "DOMAIN": "EX", "USUBJID": cycle.patient.usubjid,
                "EXSEQ": seq[cycle.patient_id], "EXSPID": spid, "EXTRT": EXTRT, "EXDOSE": dose,
                "EXDOSU": unit, "EXDOSFRM": "INJECTION, POWDER, LYOPHILIZED, FOR SOLUTION",
                "EXDOSFRQ": "CONTINUOUS", "EXROUTE": "INTRAVENOUS", "EPOCH": "TREATMENT",
                "EXSTDTC": _iso(start), "EXENDTC": _iso(end),
                "EXSTDY": study_day(start, ref), "EXENDY": study_day(end, ref),
            })
    return Dataset("EX", "Exposure", SDTMIG, EX_VARIABLES, rows, ("STUDYID", "USUBJID", "EXSEQ"))


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _text(value: Decimal | None) -> str:
    return lab_units.number(value) if value is not None else ""


def lb_dataset(site: Site) -> Dataset:
    """SDTM LB of the site: every lab result, CTCAE v5.0-graded (LBTOXGR), in the site's time zone."""
    spans = first_doses(site)
    rows: list[dict[str, Value]] = []
    seq: dict[int, int] = defaultdict(int)
    results = (LabResult.objects.filter(patient__site=site).select_related("patient__site")
               .order_by("patient__study_id", "collected_at", "id"))
    for result in results:
        ref = spans.get(result.patient_id, (None, None, False))[0]
        local = timezone.localtime(result.collected_at)
        code, test, category = LB_TESTS[result.analyte]
        seq[result.patient_id] += 1
        rows.append({
            "STUDYID": study_id(site), "DOMAIN": "LB", "USUBJID": result.patient.usubjid,
            "LBSEQ": seq[result.patient_id],
            "LBSPID": str(result.pk), "LBTESTCD": code, "LBTEST": test, "LBCAT": category,
            "LBORRES": _text(result.value), "LBORRESU": result.unit, "LBORNRLO": _text(result.lln),
            "LBORNRHI": _text(result.uln), "LBSTRESC": _text(result.value), "LBSTRESN": _num(result.value),
            "LBSTRESU": result.unit, "LBSTNRLO": _num(result.lln), "LBSTNRHI": _num(result.uln),
            "LBTOX": result.ctcae_term, "LBTOXGR": "" if result.grade is None else str(result.grade),
            "LBBLFL": "Y" if result.baseline else "",
            "EPOCH": "SCREENING" if ref is not None and local.date() < ref else "TREATMENT",
            "LBDTC": local.replace(tzinfo=None).isoformat(timespec="minutes"), "LBDY": study_day(local.date(), ref),
        })
    return Dataset("LB", "Laboratory Test Results", SDTMIG, LB_VARIABLES, rows,
                   ("STUDYID", "USUBJID", "LBTESTCD", "LBDTC"))


def sdtm_datasets(site: Site, meddra: MeddraRelease | None = None) -> list[Dataset]:
    """DM, AE, EX and LB of the site."""
    return [dm_dataset(site), ae_dataset(site, meddra), ex_dataset(site), lb_dataset(site)]
