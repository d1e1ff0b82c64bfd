"""Import adverse events from pvtrack's CSV template (``docs/import.md``): dry run, then all-or-nothing commit.

The rows stream in batches of :data:`BATCH_SIZE`: each batch is checked with set-based lookups (the ward's patients
and their cycles, the events already recorded for the batch's (cycle, CTCAE term) pairs, under their episode
advisory locks; the CTCAE catalogue is read once) and its new events are inserted with one ``bulk_create`` under
:func:`core.audit.bulk_audit_context` — a constant number of queries per batch, never one per row, and the file is
never held whole. The rules are those of the AE form and the API (:func:`ae.services.events.adverse_event_create`):
the model's ``clean`` (grade allowed for the term, onset not before the cycle, death is serious…) with the same
derived fields, and one clinical event = one AE (a row while an episode of its term is open in the cycle is
refused). Earlier rows of the file count as recorded for the later ones. Should the database still refuse a row
(a constraint the checks missed), the batch is inserted row by row in savepoints and the refusal lands on its line.

One transaction: a dry run, or a file with any bad row, rolls everything back and reports each row's errors in the
ward's words; a clean file commits every row at once. A row that repeats an adverse event already recorded (same
patient, cycle, CTCAE term and onset) with the same values is "unchanged", so importing the same file again creates
nothing; with different values it is an error naming the existing event. The audit trail records the rows with
source "import", the importing user and the file's name and sha256. New serious events and deaths notify the
ward's safety officers (after the checks, only when the import commits); one benchmark run is requested.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext

from ae.import_sources import (
    RedcapFetchError,
    apply_mapping,
    csv_delimiter,
    csv_header,
    csv_rows,
    odm_rows,
    redcap_records_csv,
    row_selected,
)
from ae.models import AdverseEvent, CTCAETerm, ImportMapping
from ae.models.events import patient_death_facts
from ae.services.episodes import episode_locks, reported_key
from ae.services.events import covering_episode_detail, derive_fields, ongoing_episode_detail
from ae.services.notifications import new_serious_events_notify
from ae.services.sae import cases_open_for_new_events
from ae.synonyms import terms_for_synonym
from core.audit import bulk_audit_context
from core.outbox import benchmark_request
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
#: Rows checked and inserted together: a constant number of queries per batch, whatever the file's length.
BATCH_SIZE = 1000


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8 CSV, missing columns): nothing was imported."""


@dataclass
class RowResult:
    """One data row: its line number in the file, "created" / "unchanged" / "error", the messages, the event."""

    line: int
    status: str
    errors: list[str] = field(default_factory=list)
    event_id: int | None = None
    #: while importing: the event (recorded or created by this file) the row was checked against
    twin: Any = field(default=None, repr=False, compare=False)


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


def _choice(value: str, choices: Sequence[tuple[str, object]], name: str) -> str:
    """The code of ``value``: a code or its English label (the labels are shown translated on the pages, but a
    file's words are read the same whoever imports it)."""
    wanted = value.strip().casefold()
    with translation.override("en-gb"):
        english = [(code, str(label)) for code, label in choices]
    for code, label in english:
        if wanted in (code.casefold(), label.casefold()):
            return code
    allowed = ", ".join(code for code, _ in choices)
    raise ValidationError({name: gettext("%(value)r is not one of: %(allowed)s.") % {
        "value": value, "allowed": allowed}})


def _flag(value: str, name: str) -> bool:
    text = value.strip().casefold()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationError({name: gettext("%(value)r: write yes or no.") % {"value": value}})


def _date(value: str, name: str) -> Any:
    from django.forms import DateField

    try:
        return DateField(input_formats=["%Y-%m-%d"]).clean(value.strip()) if value.strip() else None
    except ValidationError as exc:
        raise ValidationError({name: gettext("%(value)r is not a date (YYYY-MM-DD).") % {"value": value}}) from exc


def _int(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError as exc:
        raise ValidationError({name: gettext("%(value)r is not a whole number.") % {"value": value}}) from exc


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()]
    return list(exc.messages)


@dataclass(slots=True)
class _Known:
    """An adverse event of one (cycle, term) pair: recorded before the import (``line`` None) or created by an
    earlier row of it (``event`` is the unsaved instance until its batch is inserted, then ``pk`` is set)."""

    pk: int | None
    line: int | None
    onset_date: Any
    resolution_date: Any
    outcome: str
    grade: int
    values: tuple[Any, ...]
    event: AdverseEvent | None = None
    reported: str = ""  # the reported term, trimmed and lower-case: under "Other, specify" it tells events apart


class _Batches:
    """The import's state across batches: the CTCAE catalogue (loaded once), the ward's patients and cycles and the
    events of each (cycle, term) pair met so far (loaded once per batch, set-based), and the row results."""

    def __init__(self, site: Site, user: User) -> None:
        self.site, self.user = site, user
        terms = list(CTCAETerm.objects.prefetch_related("grades"))
        self.terms = {t.term.casefold(): t for t in terms}
        self.terms_by_pk = {t.pk: t for t in terms}
        self.term_names = [t.term for t in terms]
        self.synonyms: dict[str, list[CTCAETerm]] = {}
        self.patients: dict[str, Patient | None] = {}
        self.cycles: dict[tuple[int, int], TreatmentCycle] = {}
        self.known: dict[tuple[int, int], list[_Known]] = {}
        self.death_facts: dict[int, tuple[Any, Any]] = {}  # patient id -> (date of death, latest record day)
        self.results: list[RowResult] = []
        self.serious: list[AdverseEvent] = []

    # --- set-based lookups, one query each per batch -------------------------------------------------------
    def _load_patients(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        wanted = {(row.get("study_id") or "").strip() for _, row in rows} - set(self.patients)
        wanted.discard("")
        if not wanted:
            return
        found = {p.study_id: p for p in Patient.objects.filter(site=self.site, study_id__in=wanted)
                 .select_related("site")}
        for study_id in wanted:
            self.patients[study_id] = found.get(study_id)
        for cycle in TreatmentCycle.objects.filter(patient__in=list(found.values())):
            cycle.patient = next(p for p in found.values() if p.pk == cycle.patient_id)
            self.cycles[(cycle.patient_id, cycle.number)] = cycle

    def _load_events(self, pairs: set[tuple[int, int]]) -> None:
        pairs -= set(self.known)
        if not pairs:
            return
        episode_locks(pairs)
        for pair in pairs:
            self.known[pair] = []
        events = (AdverseEvent.objects.filter(cycle_id__in={c for c, _ in pairs}, term_id__in={t for _, t in pairs})
                  .order_by("id").values("pk", "cycle_id", "term_id", "onset_date", "resolution_date", "outcome",
                                         "grade", "verbatim_term", *COMPARED))
        for e in events:
            pair = (e["cycle_id"], e["term_id"])
            if pair in pairs:
                self.known[pair].append(_Known(e["pk"], None, e["onset_date"], e["resolution_date"], e["outcome"],
                                               e["grade"], tuple(e[f] for f in COMPARED),
                                               reported=reported_key(e["verbatim_term"])))

    def _term(self, text: str) -> CTCAETerm:
        text = " ".join(text.split())
        term = self.terms.get(text.casefold())
        if term is not None:
            return term
        if text not in self.synonyms:
            self.synonyms[text] = [self.terms_by_pk[t.pk] for t in terms_for_synonym(text)]
        by_synonym = self.synonyms[text]
        if len(by_synonym) == 1:
            return by_synonym[0]
        close = [t.term for t in by_synonym] or difflib.get_close_matches(text, self.term_names, n=3, cutoff=0.6)
        if close:
            raise ValidationError({"ctcae_term": gettext("%(text)r is not a CTCAE v5.0 term. Did you mean: %(terms)s?")
                                   % {"text": text, "terms": "; ".join(close)}})
        raise ValidationError({"ctcae_term": gettext("%(text)r is not a CTCAE v5.0 term.") % {"text": text}})

    def _fields(self, row: dict[str, str]) -> dict[str, Any]:
        """The AE fields of one row; raises ValidationError keyed by column for everything a row alone can tell."""
        errors: dict[str, str] = {}
        missing = [c for c in REQUIRED if not (row.get(c) or "").strip()]
        if missing:
            raise ValidationError({c: gettext("required") for c in missing})
        data: dict[str, Any] = {}
        steps = {
            "ctcae_term": lambda: self._term(row["ctcae_term"]),
            "grade": lambda: _int(row["grade"], "grade"),
            "onset_date": lambda: _date(row["onset_date"], "onset_date"),
            "resolution_date": lambda: _date(row.get("resolution_date") or "", "resolution_date"),
            "relatedness": lambda: _choice(row["relatedness"], AdverseEvent.Relatedness.choices, "relatedness"),
            "action_taken": lambda: _choice(row["action_taken"], AdverseEvent.Action.choices, "action_taken"),
            "outcome": lambda: _choice(row["outcome"], AdverseEvent.Outcome.choices, "outcome"),
            "grading_scale": lambda: _choice(row.get("grading_scale") or "ctcae_v5_0",
                                             AdverseEvent.GradingScale.choices, "grading_scale"),
            "present_before_cycle": lambda: _flag(row.get("present_before_cycle") or "", "present_before_cycle"),
            "grade_at_cycle_start": lambda: _int(row.get("grade_at_cycle_start") or "", "grade_at_cycle_start"),
        }
        patient = self.patients.get(row["study_id"].strip())
        if patient is None:
            errors["study_id"] = gettext("no patient %(study_id)r on this ward.") % {
                "study_id": row["study_id"].strip()}
        for name, step in steps.items():
            try:
                data[name] = step()
            except ValidationError as exc:
                errors |= {k: " ".join(v) for k, v in exc.message_dict.items()}
        criteria = [c.strip().casefold() for c in (row.get("serious_criteria") or "").replace(",", ";").split(";")]
        unknown = [c for c in criteria if c and c not in SAE_CRITERIA]
        if unknown:
            errors["serious_criteria"] = gettext("unknown criteria %(unknown)s; use %(known)s.") % {
                "unknown": ", ".join(unknown), "known": ", ".join(SAE_CRITERIA)}
        if patient is not None:
            number = row["cycle"].strip()
            cycle = self.cycles.get((patient.pk, int(number))) if number.isdigit() else None
            if cycle is None:
                errors["cycle"] = gettext("patient %(study_id)s has no cycle %(cycle)s.") % {
                    "study_id": patient.study_id, "cycle": row["cycle"].strip()}
            data["patient"], data["cycle"] = patient, cycle
        if errors:
            raise ValidationError(errors)
        data["term"] = data.pop("ctcae_term")
        for criterion, name in SAE_CRITERIA.items():
            data[name] = criterion in criteria
        data["serious"] = any(data[name] for name in SAE_CRITERIA.values())
        data["verbatim_term"] = (row.get("verbatim_term") or "").strip()
        return derive_fields(data)

    # --- one batch ---------------------------------------------------------------------------------------
    def run(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        """Check the rows of one batch against the database and the earlier rows, then insert the new events."""
        self._load_patients(rows)
        checked: list[tuple[int, dict[str, Any] | ValidationError]] = []
        for line, row in rows:
            try:
                checked.append((line, self._fields(row)))
            except ValidationError as exc:
                checked.append((line, exc))
        self._load_events({(d["cycle"].pk, d["term"].pk) for _, d in checked if isinstance(d, dict)})
        # each patient's date of death and latest record, for the whole batch in one query (a death is the last
        # day of the record: AdverseEvent._death_errors); the batch's accepted rows update them in _check
        self.death_facts = patient_death_facts(sorted({d["patient"].pk for _, d in checked if isinstance(d, dict)}))
        pending: list[tuple[RowResult, _Known]] = []
        for line, data in checked:
            if isinstance(data, ValidationError):
                self.results.append(RowResult(line, "error", _messages(data)))
                continue
            result, known = self._check(line, data)
            self.results.append(result)
            if known is not None:
                pending.append((result, known))
        self._insert(pending)

    def _check(self, line: int, data: dict[str, Any]) -> tuple[RowResult, _Known | None]:
        cycle, term = data["cycle"], data["term"]
        recorded = self.known[(cycle.pk, term.pk)]
        reported = reported_key(data.get("verbatim_term"))
        # Under an "Other, specify" term only events reporting the same event can repeat it (same_reported_event).
        known = [k for k in recorded if k.reported == reported] if term.is_other_specify else recorded
        values = tuple(data[f] for f in COMPARED)
        twin = next((k for k in known if k.onset_date == data["onset_date"]), None)
        if twin is not None:
            differ = [f for f, new, old in zip(COMPARED, values, twin.values, strict=True) if new != old]
            if not differ:
                return RowResult(line, "unchanged", event_id=twin.pk, twin=twin), None
            if twin.line is None:
                return RowResult(line, "error", [
                    f"duplicate of adverse event #{twin.pk} ({term}, onset {twin.onset_date:%d %b %Y}) with different "
                    f"{', '.join(differ)}: change that event on its page, with a reason"], twin.pk), None
            return RowResult(line, "error", [
                f"duplicate of line {twin.line} of this file ({term}, onset {twin.onset_date:%d %b %Y}) with "
                f"different {', '.join(differ)}: keep one of the two rows"]), None
        event = AdverseEvent(created_by=self.user, origin=AdverseEvent.Origin.ENTERED, entered_grade=data["grade"],
                             **data)
        event.death_facts = self.death_facts.get(event.patient_id, (None, None))
        try:
            event.full_clean(validate_constraints=False)  # the rules are clean()'s; the database checks again
        except ValidationError as exc:
            return RowResult(line, "error", _messages(exc)), None
        ongoing = max((k for k in known if k.resolution_date is None and k.outcome != AdverseEvent.Outcome.FATAL),
                      key=lambda k: (k.onset_date, k.pk or 0, k.line or 0), default=None)
        onset = data["onset_date"]
        covering = max((k for k in known if k.resolution_date is not None and k.onset_date < onset
                        <= k.resolution_date), key=lambda k: (k.onset_date, k.pk or 0, k.line or 0), default=None)
        episode = ongoing or covering  # the open episode first, as the form and the API name it
        if episode is not None:
            detail = (ongoing_episode_detail(term=term.term, onset_date=episode.onset_date, grade=episode.grade,
                                             cycle=cycle.number) if episode is ongoing else
                      covering_episode_detail(term=term.term, onset_date=episode.onset_date,
                                              resolution_date=episode.resolution_date, grade=episode.grade,
                                              cycle=cycle.number))
            if episode.line is not None:
                return RowResult(line, "error", [f"{detail} (line {episode.line} of this file)"]), None
            return RowResult(line, "error", [detail], episode.pk), None
        died, last = event.death_facts
        end = data["resolution_date"] or data["onset_date"]
        if data["outcome"] == AdverseEvent.Outcome.FATAL:
            died = end if died is None else min(died, end)
        self.death_facts[event.patient_id] = (died, end if last is None else max(last, end))
        new = _Known(None, line, data["onset_date"], data["resolution_date"], data["outcome"], data["grade"],
                     values, event, reported)
        recorded.append(new)
        return RowResult(line, "created", twin=new), new

    def _insert(self, pending: list[tuple[RowResult, _Known]]) -> None:
        """bulk_create the batch's new events (one INSERT); if the database refuses one (a constraint the checks
        above missed), insert them one by one in savepoints so that the refusal lands on its row."""
        if not pending:
            return
        try:
            with transaction.atomic():
                AdverseEvent.objects.bulk_create([k.event for _, k in pending if k.event is not None])
        except (IntegrityError, DataError):
            for result, known in pending:
                event = known.event
                assert event is not None
                try:
                    with transaction.atomic():
                        event.save()
                except (IntegrityError, DataError) as exc:
                    self.known[(event.cycle_id, event.term_id)].remove(known)
                    known.event = None
                    result.status, result.errors, result.twin = "error", [str(exc).splitlines()[0]], None
        for _, known in pending:
            if known.event is not None:
                known.pk = known.event.pk
                if known.event.serious:
                    self.serious.append(known.event)
                known.event = None

    def finish(self, *, committed: bool) -> None:
        """Fill in the event ids of rows checked against an event created later in the file — or, when nothing was
        committed, clear them: those events were rolled back."""
        for result in self.results:
            twin, result.twin = result.twin, None
            if twin is not None:
                result.event_id = twin.pk if committed or twin.line is None else None


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
            delimiter = csv_delimiter(text)
            header = csv_header(text, delimiter)
        except csv.Error as exc:
            raise ImportFileError(gettext("the file is not readable CSV: %(error)s") % {"error": exc}) from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(gettext("the file is not UTF-8 text (save the sheet as CSV UTF-8)")) from exc
        mapped = {columns.get(h, h) for h in header} | set(constants)
        missing = [c for c in REQUIRED if c not in mapped]
        if missing:
            raise ImportFileError(gettext("the file lacks the template's columns %(columns)s (map them, or see "
                                          "docs/import.md)") % {"columns": ", ".join(missing)})
        rows = csv_rows(text, delimiter)
    try:
        for number, row in rows:
            if row_selected(row, row_filter):
                yield number, apply_mapping(row, columns, values, constants)
    except UnicodeDecodeError as exc:
        raise ImportFileError(gettext("the file is not UTF-8 text (save the sheet as CSV UTF-8)")) from exc
    except csv.Error as exc:
        raise ImportFileError(gettext("the file is not readable CSV: %(error)s") % {"error": exc}) from exc
    except ParseError as exc:
        raise ImportFileError(gettext("the file is not well-formed ODM XML: %(error)s") % {"error": exc}) from exc
    except DefusedXmlException as exc:
        raise ImportFileError(gettext("the ODM file declares entities or a DTD, which pvtrack refuses: %(error)r")
                              % {"error": exc}) from exc


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
        raise ImportFileError(gettext("that mapping belongs to another ward"))
    sha256 = _sha256(raw)
    batches = _Batches(site, acting_user)
    committed = False
    try:
        with transaction.atomic(), bulk_audit_context(source="import", user=acting_user.pk, import_sha256=sha256,
                                                      reason=f"import of {file_name} (sha256 {sha256})"):
            rows = _source_rows(raw, source, mapping)
            while batch := list(itertools.islice(rows, BATCH_SIZE)):
                batches.run(batch)
            if dry_run or any(r.status == "error" for r in batches.results):
                raise _RollBack
            new_serious_events_notify(events=batches.serious)
            cases_open_for_new_events(events=batches.serious, acting_user=acting_user)  # a draft SAE case each
            if batches.serious or any(r.status == "created" for r in batches.results):
                benchmark_request(site=site, trigger="ae_change")
            committed = True
    except _RollBack:
        pass
    batches.finish(committed=committed)
    return ImportReport(sha256, dry_run, committed, batches.results)


def adverse_events_import_redcap(*, site: Site, url: str, token: str, mapping: ImportMapping, dry_run: bool,
                                 acting_user: User, forms: list[str] | None = None) -> ImportReport:
    """Fetch the records of a REDCap project through its API (:func:`ae.import_sources.redcap_records_csv`) and
    import them as a ``redcap_csv`` file with the ward's saved ``mapping`` (its ``row_filter`` selects the AE
    instrument's rows). The audit trail names the export's sha256 and the API address (never the token).

    Raises ImportFileError when REDCap cannot be reached or refuses (its message), PermissionDenied as
    :func:`adverse_events_import` (checked before anything is fetched).
    """
    require_role(acting_user, site, RECORDERS)
    try:
        body = redcap_records_csv(url, token, forms=forms)
    except RedcapFetchError as exc:
        raise ImportFileError(str(exc)) from exc
    return adverse_events_import(site=site, raw=io.BytesIO(body), file_name=f"REDCap API export from {url}",
                                 dry_run=dry_run, acting_user=acting_user, source=ImportMapping.Source.REDCAP_CSV,
                                 mapping=mapping)


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
        raise ValidationError({"columns": gettext("not columns of the template: %(unknown)s (the template's: "
                                                  "%(columns)s).") % {"unknown": ", ".join(unknown),
                                                                      "columns": ", ".join(COLUMNS)}})
    mapping = ImportMapping.objects.filter(site=site, name=name).first() or ImportMapping(site=site, name=name)
    mapping.source, mapping.columns = source, columns
    mapping.values, mapping.constants, mapping.row_filter = values or {}, constants or {}, row_filter or {}
    mapping.updated_by = acting_user
    mapping.full_clean()
    mapping.save()
    return mapping
