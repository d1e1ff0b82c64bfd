"""Import adverse events from pvtrack's CSV template (``docs/import.md``): dry run, then all-or-nothing commit.

Every row goes through :func:`ae.services.events.adverse_event_create` — the same rules as the AE form and the API
(grade allowed for the term, onset not before the cycle, death is serious, probable duplicates refused) — inside
one transaction with a savepoint per row. A dry run, or a file with any bad row, rolls everything back and reports
each row's errors in the ward's words; a clean file commits every row at once. A row that repeats an adverse event
already recorded (same patient, cycle, CTCAE term and onset) with the same values is "unchanged", so importing the
same file again creates nothing; with different values it is an error naming the existing event. The audit trail
records the rows with source "import" and the file's name and sha256.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ae.import_sources import apply_mapping, csv_header, csv_rows, odm_rows, row_selected
from ae.models import AdverseEvent, CTCAETerm, ImportMapping
from ae.services.events import ProbableDuplicateError, adverse_event_create
from ae.synonyms import terms_for_synonym
from core.audit import audit_context
from patients.access import RECORDERS, require_role
from patients.models import Patient, Site, TreatmentCycle

#: The template's columns (docs/import.md); the first five are required.
COLUMNS = ("study_id", "cycle", "ctcae_term", "grade", "onset_date", "resolution_date", "verbatim_term",
           "grading_scale", "serious_criteria", "relatedness", "action_taken", "outcome", "present_before_cycle",
           "grade_at_cycle_start")
REQUIRED = COLUMNS[:5] + ("relatedness", "action_taken", "outcome")
SAE_CRITERIA = {"death": "sae_death", "life_threatening": "sae_life_threatening",
                "hospitalization": "sae_hospitalization", "disability": "sae_disability",
                "congenital_anomaly": "sae_congenital_anomaly", "medically_important": "sae_medically_important"}
COMPARED = ("grade", "resolution_date", "grading_scale", "relatedness", "action_taken", "outcome", "serious",
            *SAE_CRITERIA.values(), "present_before_cycle", "grade_at_cycle_start")
YES, NO = {"y", "yes", "1", "true"}, {"", "n", "no", "0", "false"}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8 CSV, missing columns): nothing was imported."""


@dataclass
class RowResult:
    """One data row: its line number in the file, "created" / "unchanged" / "error", the messages, the event."""

    line: int
    status: str
    errors: list[str] = field(default_factory=list)
    event_id: int | None = None


@dataclass
class ImportReport:
    sha256: str
    dry_run: bool
    committed: bool
    rows: list[RowResult]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


class _RollBack(Exception):
    pass


def _choice(value: str, choices: list[tuple[str, str]], name: str) -> str:
    wanted = value.strip().casefold()
    for code, label in choices:
        if wanted in (code.casefold(), str(label).casefold()):
            return code
    allowed = ", ".join(code for code, _ in choices)
    raise ValidationError({name: f"{value!r} is not one of: {allowed}."})


def _flag(value: str, name: str) -> bool:
    text = value.strip().casefold()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationError({name: f"{value!r}: write yes or no."})


def _term(text: str) -> CTCAETerm:
    text = " ".join(text.split())
    term = CTCAETerm.objects.filter(term__iexact=text).first()
    if term is not None:
        return term
    by_synonym = terms_for_synonym(text)
    if len(by_synonym) == 1:
        return by_synonym[0]
    names = list(CTCAETerm.objects.values_list("term", flat=True))
    close = [t.term for t in by_synonym] or difflib.get_close_matches(text, names, n=3, cutoff=0.6)
    hint = f" Did you mean: {'; '.join(close)}?" if close else ""
    raise ValidationError({"ctcae_term": f"{text!r} is not a CTCAE v5.0 term.{hint}"})


def _date(value: str, name: str) -> Any:
    from django.forms import DateField

    try:
        return DateField(input_formats=["%Y-%m-%d"]).clean(value.strip()) if value.strip() else None
    except ValidationError as exc:
        raise ValidationError({name: f"{value!r} is not a date (YYYY-MM-DD)."}) from exc


def _int(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError as exc:
        raise ValidationError({name: f"{value!r} is not a whole number."}) from exc


def _fields(row: dict[str, str], site: Site) -> dict[str, Any]:
    """The AE fields of one row; raises ValidationError keyed by column for everything a row alone can tell."""
    errors: dict[str, str] = {}
    missing = [c for c in REQUIRED if not (row.get(c) or "").strip()]
    if missing:
        raise ValidationError({c: "required" for c in missing})
    data: dict[str, Any] = {}
    steps = {
        "patient": lambda: Patient.objects.get(site=site, study_id=row["study_id"].strip()),
        "ctcae_term": lambda: _term(row["ctcae_term"]),
        "grade": lambda: _int(row["grade"], "grade"),
        "onset_date": lambda: _date(row["onset_date"], "onset_date"),
        "resolution_date": lambda: _date(row.get("resolution_date") or "", "resolution_date"),
        "relatedness": lambda: _choice(row["relatedness"], AdverseEvent.Relatedness.choices, "relatedness"),
        "action_taken": lambda: _choice(row["action_taken"], AdverseEvent.Action.choices, "action_taken"),
        "outcome": lambda: _choice(row["outcome"], AdverseEvent.Outcome.choices, "outcome"),
        "grading_scale": lambda: _choice(row.get("grading_scale") or "ctcae_v5_0", AdverseEvent.GradingScale.choices,
                                         "grading_scale"),
        "present_before_cycle": lambda: _flag(row.get("present_before_cycle") or "", "present_before_cycle"),
        "grade_at_cycle_start": lambda: _int(row.get("grade_at_cycle_start") or "", "grade_at_cycle_start"),
    }
    for name, step in steps.items():
        try:
            data[name] = step()
        except Patient.DoesNotExist:
            errors["study_id"] = f"no patient {row['study_id'].strip()!r} on this ward."
        except ValidationError as exc:
            errors |= {k: " ".join(v) for k, v in exc.message_dict.items()}
    criteria = [c.strip().casefold() for c in (row.get("serious_criteria") or "").replace(",", ";").split(";")]
    unknown = [c for c in criteria if c and c not in SAE_CRITERIA]
    if unknown:
        errors["serious_criteria"] = f"unknown criteria {', '.join(unknown)}; use {', '.join(SAE_CRITERIA)}."
    if "patient" in data:
        number = row["cycle"].strip()
        cycle = (TreatmentCycle.objects.filter(patient=data["patient"], number=int(number)).first()
                 if number.isdigit() else None)
        if cycle is None:
            errors["cycle"] = f"patient {data['patient'].study_id} has no cycle {row['cycle'].strip()}."
        data["cycle"] = cycle
    if errors:
        raise ValidationError(errors)
    data["term"] = data.pop("ctcae_term")
    for criterion, name in SAE_CRITERIA.items():
        data[name] = criterion in criteria
    data["serious"] = any(data[name] for name in SAE_CRITERIA.values())
    data["verbatim_term"] = (row.get("verbatim_term") or "").strip()
    return data


def _existing(data: dict[str, Any]) -> AdverseEvent | None:
    return AdverseEvent.objects.filter(cycle=data["cycle"], term=data["term"], onset_date=data["onset_date"]).first()


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()]
    return list(exc.messages)


def _import_row(row: dict[str, str], line: int, site: Site, user: User) -> RowResult:
    try:
        data = _fields(row, site)
    except ValidationError as exc:
        return RowResult(line, "error", _messages(exc))
    twin = _existing(data)
    if twin is not None:
        probe = AdverseEvent(**{k: v for k, v in data.items() if k in COMPARED})
        if data["grade"] == 5 or data["outcome"] == AdverseEvent.Outcome.FATAL:
            probe.serious, probe.sae_death = True, True
        differ = [f for f in COMPARED if getattr(probe, f) != getattr(twin, f)]
        if not differ:
            return RowResult(line, "unchanged", event_id=twin.pk)
        return RowResult(line, "error", [
            f"duplicate of adverse event #{twin.pk} ({twin.term}, onset {twin.onset_date:%d %b %Y}) with different "
            f"{', '.join(differ)}: change that event on its page, with a reason"], twin.pk)
    try:
        with transaction.atomic():
            event = adverse_event_create(acting_user=user, **data)
    except ValidationError as exc:
        return RowResult(line, "error", _messages(exc))
    except ProbableDuplicateError as exc:
        return RowResult(line, "error", [exc.detail], exc.existing.pk)
    except IntegrityError as exc:
        return RowResult(line, "error", [str(exc).splitlines()[0]])
    return RowResult(line, "created", event_id=event.pk)


def _sha256(raw: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: raw.read(1 << 16), b""):
        digest.update(chunk)
    raw.seek(0)
    return digest.hexdigest()


def _source_rows(raw: IO[bytes], source: str, mapping: ImportMapping | None
                 ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line or ordinal, template row) per selected source row; raises ImportFileError for an unreadable file."""
    columns = mapping.columns if mapping else {}
    values = mapping.values if mapping else {}
    constants = mapping.constants if mapping else {}
    row_filter = mapping.row_filter if mapping else {}
    if source == ImportMapping.Source.ODM:
        rows: Iterator[tuple[int, dict[str, str]]] = odm_rows(raw)
    else:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            header = csv_header(text)
        except csv.Error as exc:
            raise ImportFileError(f"the file is not readable CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError("the file is not UTF-8 text (save the sheet as CSV UTF-8)") from exc
        mapped = {columns.get(h, h) for h in header} | set(constants)
        missing = [c for c in REQUIRED if c not in mapped]
        if missing:
            raise ImportFileError(f"the file lacks the template's columns {', '.join(missing)} (map them, or see "
                                  "docs/import.md)")
        rows = csv_rows(text)
    try:
        for number, row in rows:
            if row_selected(row, row_filter):
                yield number, apply_mapping(row, columns, values, constants)
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is not UTF-8 text (save the sheet as CSV UTF-8)") from exc
    except csv.Error as exc:
        raise ImportFileError(f"the file is not readable CSV: {exc}") from exc
    except ParseError as exc:
        raise ImportFileError(f"the file is not well-formed ODM XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise ImportFileError(f"the ODM file declares entities or a DTD, which pvtrack refuses: {exc!r}") from exc


@transaction.atomic
def adverse_events_import(*, site: Site, raw: IO[bytes], file_name: str, dry_run: bool, acting_user: User,
                          source: str = "csv", mapping: ImportMapping | None = None) -> ImportReport:
    """Check (``dry_run``) or import the file in ``raw`` (a seekable binary file) into ``site``.

    ``source``: "csv" (pvtrack's template, or any CSV with ``mapping``), "redcap_csv" (a REDCap raw CSV export,
    with ``mapping``), "odm" (CDISC ODM 1.3 XML, with ``mapping`` from ItemOIDs); ``mapping``: a saved
    :class:`ae.models.ImportMapping` of the site. Returns the report: per data row its status and errors. Commits
    only when it is not a dry run and no row has an error; otherwise nothing is saved. Raises PermissionDenied if
    the user may not record on the site, ImportFileError if the file cannot be read as the source.
    """
    require_role(acting_user, site, RECORDERS)
    if mapping is not None and mapping.site_id != site.pk:
        raise ImportFileError("that mapping belongs to another ward")
    sha256 = _sha256(raw)
    results: list[RowResult] = []
    try:
        with transaction.atomic(), audit_context(source="import", reason=f"import of {file_name} (sha256 {sha256})",
                                                 import_sha256=sha256):
            for number, row in _source_rows(raw, source, mapping):
                results.append(_import_row(row, number, site, acting_user))
            if dry_run or any(r.status == "error" for r in results):
                raise _RollBack
    except _RollBack:
        return ImportReport(sha256, dry_run, False, results)
    return ImportReport(sha256, dry_run, True, results)


@transaction.atomic
def import_mapping_save(*, site: Site, name: str, source: str, columns: dict[str, str],
                        values: dict[str, dict[str, str]] | None = None, constants: dict[str, str] | None = None,
                        row_filter: dict[str, str] | None = None, acting_user: User) -> ImportMapping:
    """Create or replace the ward's mapping ``name``. Raises ValidationError (a column that is not the template's,
    an unknown source), PermissionDenied if the user may not record on the site."""
    require_role(acting_user, site, RECORDERS)
    targets = set(columns.values()) | set(values or {}) | set(constants or {})
    unknown = sorted(t for t in targets if t not in COLUMNS)
    if unknown:
        raise ValidationError({"columns": f"not columns of the template: {', '.join(unknown)} "
                                          f"(the template's: {', '.join(COLUMNS)})."})
    mapping = ImportMapping.objects.filter(site=site, name=name).first() or ImportMapping(site=site, name=name)
    mapping.source, mapping.columns = source, columns
    mapping.values, mapping.constants, mapping.row_filter = values or {}, constants or {}, row_filter or {}
    mapping.updated_by = acting_user
    mapping.full_clean()
    mapping.save()
    return mapping
