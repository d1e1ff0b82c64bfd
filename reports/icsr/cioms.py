"""CIOMS I form ("Suspect adverse reaction report") of one SAE case version, as an A4 PDF (fpdf2).

The boxes and their numbers follow the CIOMS I form (Council for International Organizations of Medical
Sciences, CIOMS Working Group I, 1990): I. Reaction information 1–13 (with the seriousness checkboxes 8–12),
II. Suspect drug(s) information 14–21, III. Concomitant drug(s) and history 22–23, IV. Manufacturer
information 24a–25b. The form predates E2B; where pvtrack holds no value for a box (date of birth, a
manufacturer's control number) the box says so rather than staying blank.

Text is written in DejaVu Sans, embedded (subset) from the copy matplotlib ships (a locked dependency, so no
font file is added to the repository): Polish and other European letters, µ, ², ≥ and → print as typed.
Characters DejaVu Sans lacks (CJK, emoji) are transliterated (:func:`transliterate`: symbols spelled out, letters
reduced to their base letter, else ``?``). Without matplotlib the PDF core font Helvetica is used and everything
outside Latin-1 is transliterated (``ł`` → ``l``, ``≥`` → ``>=``).
Drugs given to treat the reaction go to box 7+13 (the form's box 22 excludes them).
"""

from __future__ import annotations

import importlib.util
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

from ae.sae.snapshot import CaseSnapshot, Drug

from .common import as_reported, check, clean_text, day_month_year, dose_text, grade_text, parse, ucum

_TRANSLITERATION = {"≥": ">=", "≤": "<=", "→": "->", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
                    "ł": "l", "Ł": "L", "…": "...", "•": "*", "×": "x"}
PAGE_WIDTH = 190.0  # A4 (210 mm) less 10 mm margins
CHECKED, UNCHECKED = "[X]", "[  ]"


def transliterate(text: str, printable: Callable[[str], bool]) -> str:
    """``text`` with each character ``printable`` rejects replaced: known symbols spelled out (``≥`` → ``>=``),
    letters reduced to their printable base letter (NFKD: ``ź`` → ``z``), anything else ``?``."""
    out = []
    for char in clean_text(text):
        if char in "\n\t" or printable(char):
            out.append(char)
        elif char in _TRANSLITERATION:
            out.append(_TRANSLITERATION[char])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if printable(c))
            out.append(base or "?")
    return "".join(out)


def latin1(text: str) -> str:
    """``text`` for the PDF core fonts (Latin-1): see :func:`transliterate`."""
    return transliterate(text, lambda char: ord(char) < 256)


def _dejavu() -> tuple[Path, Path] | None:
    """DejaVu Sans regular and bold as matplotlib ships them, or None (then the core font is used)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    return (regular, bold) if regular.is_file() and bold.is_file() else None


def render(snapshot: CaseSnapshot) -> bytes:
    """The CIOMS I PDF (bytes). :class:`~reports.icsr.common.IcsrError` when the case cannot make a report."""
    check(snapshot)
    pdf = _Form(snapshot)
    pdf.add_page()
    _reaction_information(pdf, snapshot)
    _suspect_drug_information(pdf, snapshot)
    _concomitant_and_history(pdf, snapshot)
    _manufacturer_information(pdf, snapshot)
    return bytes(pdf.output())


class _Form(FPDF):
    def __init__(self, snapshot: CaseSnapshot) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.snapshot = snapshot
        self.set_margins(10, 12, 10)
        self.set_auto_page_break(True, margin=14)
        self.set_title(f"CIOMS I - {clean_text(snapshot.case_id)} v{snapshot.version}")
        self.set_creator("pvtrack")
        fonts = _dejavu()
        self.face = "Helvetica"
        self.printable: Callable[[str], bool] = lambda char: ord(char) < 256
        if fonts is not None:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.face = "DejaVu"
            regular, bold = self.fonts["dejavu"], self.fonts["dejavuB"]
            assert isinstance(regular, TTFFont) and isinstance(bold, TTFFont)
            self.printable = lambda char: ord(char) in regular.cmap and ord(char) in bold.cmap
        created = parse(snapshot.created_at, "C.1.2")
        if isinstance(created, datetime):  # the version's creation time: the same version gives the same bytes
            self.set_creation_date(created)

    def text_of(self, text: str) -> str:
        """``text`` as the current font can print it (:func:`transliterate`)."""
        return transliterate(text, self.printable)

    def header(self) -> None:
        self.set_font(self.face, "B", 12)
        self.cell(PAGE_WIDTH * 0.7, 7, "SUSPECT ADVERSE REACTION REPORT", new_x="RIGHT", new_y="TOP")
        self.set_font(self.face, "", 8)
        self.cell(PAGE_WIDTH * 0.3, 7, self.text_of(f"CIOMS FORM - {self.snapshot.case_id} v{self.snapshot.version}"),
                  align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.face, "", 7)
        self.cell(0, 5, self.text_of(f"pvtrack - {self.snapshot.site_name} - page {self.page_no()}"), align="C")

    def section(self, title: str) -> None:
        self.set_font(self.face, "B", 9)
        self.set_fill_color(225, 225, 225)
        self.cell(PAGE_WIDTH, 6, title, border=1, fill=True, new_x="LMARGIN", new_y="NEXT")

    def boxes(self, fields: list[tuple[str, str, float]]) -> None:
        """One row of labelled boxes: (label, value, width fraction); heights equalised to the tallest box."""
        x0, y0 = self.l_margin, self.get_y()
        heights = []
        for label, value, fraction in fields:
            heights.append(self._box_height(label, value, PAGE_WIDTH * fraction))
        height = max(heights)
        if height > self.page_break_trigger - self.t_margin - 10:  # taller than a page: one box after the other,
            for label, value, _ in fields:  # each running onto the next pages
                self.long_box(label, value)
            return
        if y0 + height > self.page_break_trigger:
            self.add_page()
            y0 = self.get_y()
        x = x0
        for label, value, fraction in fields:
            width = PAGE_WIDTH * fraction
            self.rect(x, y0, width, height)
            self.set_xy(x + 1, y0 + 0.5)
            self.set_font(self.face, "", 6.5)
            self.multi_cell(width - 2, 3, self.text_of(label), align="L", new_x="LEFT", new_y="NEXT")
            self.set_x(x + 1)
            self.set_font(self.face, "", 9)
            self.multi_cell(width - 2, 4.2, self.text_of(value) or " ", align="L", new_x="LEFT", new_y="NEXT")
            x += width
        self.set_xy(x0, y0 + height)

    def _box_height(self, label: str, value: str, width: float) -> float:
        self.set_font(self.face, "", 6.5)
        label_lines = self._count_lines(width - 2, 3, self.text_of(label))
        self.set_font(self.face, "", 9)
        value_lines = self._count_lines(width - 2, 4.2, self.text_of(value) or " ")
        return label_lines * 3 + value_lines * 4.2 + 1.5

    def _count_lines(self, width: float, height: float, text: str) -> int:
        lines = self.multi_cell(width, height, text, align="L", dry_run=True, output="LINES")
        assert isinstance(lines, list)
        return len(lines)

    def long_box(self, label: str, value: str) -> None:
        """A full-width box whose text may run over pages (the narrative)."""
        self.set_font(self.face, "", 6.5)
        self.multi_cell(PAGE_WIDTH, 3.5, self.text_of(label), border="LTR", align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.face, "", 9)
        self.multi_cell(PAGE_WIDTH, 4.2, self.text_of(value) or " ", border="LBR", align="L", new_x="LMARGIN",
                        new_y="NEXT")


def _tick(flag: bool) -> str:
    return CHECKED if flag else UNCHECKED


def _yes_no_na(answer: str) -> str:
    return "   ".join(f"{_tick(answer == key)} {label}" for key, label in
                      (("yes", "YES"), ("no", "NO"), ("not_applicable", "NA")))


def _reaction_information(pdf: _Form, snapshot: CaseSnapshot) -> None:
    patient = snapshot.patient
    first = min(snapshot.reactions, key=lambda r: r.onset)
    pdf.section("I. REACTION INFORMATION")
    pdf.boxes([
        ("1. PATIENT INITIALS (first, last)", f"masked - study ID {patient.identifier}", 0.25),
        ("1a. COUNTRY", snapshot.reporter.country or "unknown", 0.1),
        ("2. DATE OF BIRTH (day month year)", "not recorded (pseudonymous)", 0.17),
        ("2a. AGE (years)", "" if patient.age_years is None else str(patient.age_years), 0.1),
        ("3. SEX", patient.sex.upper(), 0.1),
        ("4-6. REACTION ONSET (day month year)", day_month_year(first.onset), 0.28),
    ])
    seriousness = snapshot.seriousness
    checks = "\n".join([
        f"{_tick(seriousness.death)} PATIENT DIED",
        f"{_tick(seriousness.hospitalisation)} INVOLVED OR PROLONGED INPATIENT HOSPITALISATION",
        f"{_tick(seriousness.disability)} INVOLVED PERSISTENCE OR SIGNIFICANT DISABILITY OR INCAPACITY",
        f"{_tick(seriousness.life_threatening)} LIFE THREATENING",
        f"{_tick(seriousness.congenital_anomaly)} CONGENITAL ANOMALY",
        f"{_tick(seriousness.other_medically_important)} OTHER MEDICALLY IMPORTANT CONDITION",
    ])
    pdf.boxes([("7 + 13. DESCRIBE REACTION(S) (including relevant tests / lab data)", _reactions_text(snapshot), 0.62),
               ("8-12. CHECK ALL APPROPRIATE TO ADVERSE REACTION", checks, 0.38)])
    pdf.long_box("7 + 13 (continued). CASE NARRATIVE", snapshot.narrative)


def _reactions_text(snapshot: CaseSnapshot) -> str:
    lines = []
    for reaction in snapshot.reactions:
        end = day_month_year(reaction.end) if reaction.end else "ongoing"
        lines.append(f"{grade_text(reaction)}; MedDRA {reaction.meddra_version} LLT {reaction.meddra_llt_code}; "
                     f"reported as \"{as_reported(reaction)}\"; onset {day_month_year(reaction.onset)} "
                     f"(cycle {reaction.cycle}, day {reaction.study_day}); end {end}; "
                     f"outcome {reaction.outcome.replace('_', ' ')}.")
    for lab in snapshot.labs:
        value = "" if lab.value is None else f"{lab.value:g} {lab.unit}"
        normal = f" (normal {lab.low:g}-{lab.high:g})" if lab.low is not None and lab.high is not None else ""
        lines.append(f"{lab.name} {value}{normal} on {day_month_year(lab.date)}.")
    treatments = [d for d in snapshot.drugs if d.characterisation == "treatment_of_event"]
    if treatments:
        lines.append("Treatment of the reaction: " + "; ".join(_drug_line(d) for d in treatments) + ".")
    return "\n".join(lines)


def _drug_line(drug: Drug) -> str:
    doses = ", ".join(filter(None, (dose_text(p) for p in drug.dose_periods)))
    when = ", ".join(f"{_period(p.start, p.stop)}" for p in drug.dose_periods)
    return "; ".join(filter(None, (f"{drug.name} ({drug.active_substance})", doses, when)))


def _period(start: str | None, stop: str | None) -> str:
    return f"{_moment(start) or '?'} to {_moment(stop) or 'continuing'}"


def _moment(value: str | None) -> str:
    if not value:
        return ""
    return f"{day_month_year(value)} {value[11:16]}".strip() if "T" in value else day_month_year(value)


def _suspect_drug_information(pdf: _Form, snapshot: CaseSnapshot) -> None:
    suspect = snapshot.suspect
    pdf.section("II. SUSPECT DRUG(S) INFORMATION")
    batches = sorted({p.batch for p in suspect.dose_periods if p.batch})
    pdf.boxes([("14. SUSPECT DRUG(S) (include generic name)",
                f"{suspect.name} ({suspect.active_substance})"
                + (f"; batch {', '.join(batches)}" if batches else ""), 1.0)])
    pdf.boxes([
        ("15. DAILY DOSE(S)", "\n".join(f"{p.dose_value:g} {ucum(p.dose_unit)} (cycle {p.cycle})"
                                        for p in suspect.dose_periods if p.dose_value is not None), 0.34),
        ("16. ROUTE(S) OF ADMINISTRATION", "\n".join(sorted({p.route for p in suspect.dose_periods if p.route})),
         0.33),
        ("17. INDICATION(S) FOR USE", suspect.indication, 0.33),
    ])
    terms = {r.adverse_event_id: r.ctcae_term for r in snapshot.reactions}
    causality = "; ".join(f"{terms.get(c.adverse_event_id, 'reaction')}: {c.result} ({c.source}, {c.method})"
                          for c in suspect.causality)
    pdf.boxes([
        ("18. THERAPY DATES (from/to)", "\n".join(_period(p.start, p.stop) for p in suspect.dose_periods), 0.34),
        ("19. THERAPY DURATION", _duration(suspect), 0.16),
        ("20. DID REACTION ABATE AFTER STOPPING DRUG?", _yes_no_na(suspect.dechallenge), 0.25),
        ("21. DID REACTION REAPPEAR AFTER REINTRODUCTION?", _yes_no_na(suspect.rechallenge), 0.25),
    ])
    pdf.boxes([("CAUSALITY (relatedness to the suspect drug) / ACTION TAKEN",
                f"{causality or 'not assessed'}. Action taken with drug: {suspect.action_taken.replace('_', ' ')}.",
                1.0)])


def _duration(drug: Drug) -> str:
    starts = [p.start[:10] for p in drug.dose_periods if p.start]
    stops = [p.stop[:10] for p in drug.dose_periods if p.stop]
    if not starts or len(stops) < len(drug.dose_periods):
        return "continuing" if starts else ""
    days = (date.fromisoformat(max(stops)) - date.fromisoformat(min(starts))).days + 1
    return f"{days} day{'s' if days != 1 else ''}"


def _concomitant_and_history(pdf: _Form, snapshot: CaseSnapshot) -> None:
    concomitant = [d for d in snapshot.drugs if d.characterisation in ("concomitant", "interacting")]
    pdf.section("III. CONCOMITANT DRUG(S) AND HISTORY")
    pdf.boxes([("22. CONCOMITANT DRUG(S) AND DATES OF ADMINISTRATION (exclude those used to treat reaction)",
                "\n".join(_drug_line(d) for d in concomitant) or "none", 1.0)])
    patient = snapshot.patient
    history = list(patient.medical_history)
    if patient.disease_status:
        history.append(f"Disease status: {patient.disease_status}")
    for label, flag in (("Prior HSCT", patient.prior_hsct), ("Prior CAR-T", patient.prior_car_t)):
        if flag is not None:
            history.append(f"{label}: {'yes' if flag else 'no'}")
    body = ", ".join(filter(None, (f"weight {patient.weight_kg:g} kg" if patient.weight_kg else "",
                                   f"height {patient.height_cm:g} cm" if patient.height_cm else "")))
    if body:
        history.append(body.capitalize())
    pdf.boxes([("23. OTHER RELEVANT HISTORY (e.g. diagnostics, allergies, pregnancy with last month of period, "
                "etc.)", "\n".join(history) or "none reported", 1.0)])


def _manufacturer_information(pdf: _Form, snapshot: CaseSnapshot) -> None:
    reporter = snapshot.reporter
    pdf.section("IV. MANUFACTURER INFORMATION")
    source = ("study" if snapshot.study_type != "none" else "health_professional")
    report_source = "   ".join(f"{_tick(source == key)} {label}" for key, label in
                               (("study", "STUDY"), ("literature", "LITERATURE"),
                                ("health_professional", "HEALTH PROFESSIONAL")))
    pdf.boxes([
        ("24a. NAME AND ADDRESS OF MANUFACTURER (reporting site)",
         f"{snapshot.site_name}\nReporter: {reporter.name} "
         f"({reporter.role}, {reporter.qualification.replace('_', ' ')})"
         + (f"\n{snapshot.study_name}" if snapshot.study_name else ""), 0.6),
        ("24b. MFR CONTROL NO.", f"{snapshot.case_id} (site case ID; no manufacturer number)", 0.4),
    ])
    pdf.boxes([
        ("24c. DATE RECEIVED BY MANUFACTURER (site awareness)", _moment(snapshot.awareness_at), 0.3),
        ("24d. REPORT SOURCE", report_source, 0.7),
    ])
    report_type = "   ".join(f"{_tick(snapshot.report_type == key)} {label}" for key, label in
                             (("initial", "INITIAL"), ("follow_up", "FOLLOWUP")))
    signed = (f"Signed by {snapshot.signed_by} on {_moment(snapshot.signed_at)}" if snapshot.signed_by
              else "Unsigned draft")
    pdf.boxes([
        ("25a. DATE OF THIS REPORT", _moment(snapshot.created_at), 0.3),
        ("25b. REPORT TYPE", f"{report_type}   (version {snapshot.version})", 0.35),
        ("SIGNATURE", signed, 0.35),
    ])
    if snapshot.changes_since_previous:
        pdf.boxes([("CHANGES SINCE THE PREVIOUS VERSION", "\n".join(snapshot.changes_since_previous), 1.0)])
    expected = f"Expectedness: {snapshot.expectedness}" + (f" ({snapshot.rsi_version})" if snapshot.rsi_version
                                                            else "")
    pdf.boxes([("REMARKS", f"{expected}. SUSAR: {'yes' if snapshot.susar else 'no'}.", 1.0)])
