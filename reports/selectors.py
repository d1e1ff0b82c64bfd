"""Reads of the reports app: benchmark runs and flags of the sites a user may see, staleness of a site's benchmark,
the review status of a run's flags, the history of a site's runs and what changed since its last signed run."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, JSONObject
from django.utils import timezone
from django.utils.translation import gettext

from ae.models import AdverseEvent
from ae.models.events import treatment_emergent_q
from ae.selectors import adverse_events_for
from core.types import AnyUser
from patients.access import sites_for
from patients.models import Site
from reports.benchmark import GRADE_BANDS
from reports.cells import canonical_sha256, changes_between, describe_cell_change
from reports.cells import summary as cell_summary
from reports.flag_text import reason_for_reader
from reports.models import BenchmarkCategory, BenchmarkRun, Flag, RunSignoff


def runs_for(user: AnyUser) -> QuerySet[BenchmarkRun]:
    """Benchmark runs of the user's sites."""
    return BenchmarkRun.objects.filter(site__in=sites_for(user))


def flags_for(user: AnyUser) -> QuerySet[Flag]:
    """Benchmark flags of the user's sites."""
    return Flag.objects.filter(run__site__in=sites_for(user))


def runs_waiting(site: Site) -> QuerySet[BenchmarkRun]:
    """The site's runs still pending or running."""
    return site.benchmark_runs.filter(status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING])


def cell_events(user: AnyUser, *, site: Site, category: BenchmarkCategory, band: str,
                scope: str) -> QuerySet[AdverseEvent]:
    """The ward's events behind one benchmark number: treatment-emergent events of the category's terms (or, for
    an action category such as AE-driven interruption, with one of its ``ae_actions``) with grade in ``band``
    ("any"/"ge3"), in ``scope`` ("all" cycles / "first" cycle), ordered by patient and onset. All causes and all
    of the category's terms: the cell's own definitions (related only, terms left out) are shown on the report."""
    what = Q(action_taken__in=category.ae_actions) if category.ae_actions else Q(term__in=category.terms.all())
    events = (adverse_events_for(user).filter(treatment_emergent_q()).filter(
        what, patient__site=site, grade__gte=GRADE_BANDS[band]).select_related("patient", "cycle", "term")
        .order_by("patient__study_id", "onset_date"))
    return events.filter(cycle__number=1) if scope == "first" else events


def latest_run(site: Site) -> BenchmarkRun | None:
    """The most recent finished run of ``site``."""
    return site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).order_by("-finished_at", "-id").first()


def report_run(site: Site) -> BenchmarkRun | None:
    """``latest_run`` for the report page: ``inputs`` deferred (≈ 100 kB of JSON for a 200-patient ward — cohort
    figures, the monitoring's per-patient rows — that the page does not show; reading ``run.inputs`` would load them
    with one more query) and the parts it shows annotated as ``run.report_inputs``: {"denominators": …,
    "thresholds": …} (each None for a run without)."""
    return (site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).defer("inputs")
            .annotate(report_inputs=JSONObject(denominators=KeyTransform("denominators", "inputs"),
                                               thresholds=KeyTransform("thresholds", "inputs")))
            .order_by("-finished_at", "-id").first())


def latest_run_id(site: Site) -> int | None:
    """The id of the most recent finished run of ``site`` (without loading the run)."""
    return (site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).order_by("-finished_at", "-id")
            .values_list("pk", flat=True).first())


def benchmark_staleness(site: Site, read: tuple[BenchmarkRun | None, Sequence[BenchmarkRun]] | None = None) -> dict:
    """Whether ``site``'s benchmark reflects the saved data, for the safety officer's report (3 queries; 1 when
    ``read`` gives what the caller has read already: (the site's latest finished run or None, its runs still
    waiting)).

    Shape: {"stale": bool, "message": str (one sentence for the page),
    "latest_done_run": id | None, "latest_done_at": datetime | None,
    "waiting_since": datetime | None (oldest run still pending or running), "waiting_s": float | None,
    "last_failure": {"run": id, "at": datetime, "attempts": int, "error": first line} | None}.
    Stale means: no benchmark has finished yet while changes wait, a change has waited longer than
    ``PVTRACK_OUTBOX["STALE_AFTER_S"]`` for its benchmark, or the newest attempt failed.
    """
    now = timezone.now()
    done: Mapping[str, Any] | None
    waiting_since: datetime.datetime | None
    if read is None:
        done = (site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).order_by("-finished_at", "-id")
                .values("pk", "finished_at").first())  # not latest_run: its JSON columns are ~0.3 MB to decode
        waiting_since = (site.benchmark_runs.filter(status__in=[BenchmarkRun.Status.PENDING,
                                                                BenchmarkRun.Status.RUNNING])
                         .order_by("requested_at").values_list("requested_at", flat=True).first())
    else:
        latest, runs = read
        done = {"pk": latest.pk, "finished_at": latest.finished_at} if latest is not None else None
        waiting_since = min((r.requested_at for r in runs), default=None)
    failures = site.benchmark_runs.filter(status=BenchmarkRun.Status.FAILED)
    if done is not None:
        failures = failures.filter(finished_at__gt=done["finished_at"])
    failure = failures.order_by("-finished_at", "-id").values("pk", "finished_at", "attempts", "error").first()
    waiting_s = round((now - waiting_since).total_seconds(), 1) if waiting_since else None
    overdue = waiting_s is not None and waiting_s > settings.PVTRACK_OUTBOX["STALE_AFTER_S"]
    error_lines = (failure["error"] or "").strip().splitlines() if failure else []
    last_error = error_lines[-1] if error_lines else ""
    if failure is not None:
        message = (f"The latest benchmark attempt failed after {failure['attempts']} attempt(s) "
                   f"({last_error or 'no error text'}); the figures shown may be out of date.")
    elif overdue and waiting_since is not None and waiting_s is not None:
        message = (f"Changes saved since {timezone.localtime(waiting_since):%d %b %Y %H:%M} have waited "
                   f"{waiting_s / 60:.0f} min for the benchmark: the figures shown may be out of date.")
    elif done is None:
        message = "No benchmark has finished yet." + (" One is queued." if waiting_since else "")
    else:
        message = f"Benchmark up to date as of {timezone.localtime(done['finished_at']):%d %b %Y %H:%M}."
        if waiting_since:
            message += " A newer run is queued."
    return {
        "stale": failure is not None or overdue or (done is None and waiting_since is not None),
        "message": message,
        "latest_done_run": done["pk"] if done else None,
        "latest_done_at": done["finished_at"] if done else None,
        "waiting_since": waiting_since,
        "waiting_s": waiting_s,
        "last_failure": None if failure is None else {
            "run": failure["pk"], "at": failure["finished_at"], "attempts": failure["attempts"], "error": last_error},
    }


# --- review status of flags, sign-offs, history of runs ---------------------------------------------------------

@dataclass
class FlagRow:
    """A flag as the report shows it.

    ``review``: the flag whose own signature reviews this one (the flag itself, or the original signed flag of
    an earlier run it carries), or None if open. ``carried``: the review is carried over from ``review.run_id``.
    For an open flag whose cell was reviewed in an earlier run: ``previous`` is that signed flag and ``change``
    how the cell changed since ("when the ward was 5/20 (benchmark 7.4%, ALERT); now 6/21 (...)"), "" if it is
    back to the reviewed values after a change in between.
    """

    flag: Flag
    review: Flag | None
    carried: bool
    previous: Flag | None = None
    change: str = ""
    #: The flag's reason in the reader's language (``reports.flag_text``); the stored English if it cannot be rebuilt.
    message: str = ""
    #: Issue 17 item 5: the finish time of the first run of the unbroken series of runs flagging this cell (within
    #: the last ``TREND_RUNS``; ``since_at_least`` when the series reaches further back), and the cell's flag over
    #: those runs, oldest first: [(run id, finished_at, level or None, "x/n" or "")].
    since: Any = None
    since_at_least: bool = False
    trend: list[tuple[int, Any, str | None, str]] = field(default_factory=list)

    @property
    def cell_summary(self) -> str:
        """The flag's cell values in one phrase in the reader's language, "8/10 (benchmark 12.5%, ALARM)"; "" if not
        known."""
        return cell_summary(self.flag.cell_values, gettext) if self.flag.cell_values else ""


#: Runs looked back over for a flag's "since" and trend (issue 17 item 5).
TREND_RUNS = 10


def _flag_trends(run: BenchmarkRun, rows: list[FlagRow]) -> None:
    """Fill ``since``/``since_at_least``/``trend`` of ``rows`` from the site's last ``TREND_RUNS`` finished runs up to
    ``run`` (2 queries: the runs, their flags)."""
    if not rows:
        return
    runs = list(BenchmarkRun.objects.filter(site_id=run.site_id, status=BenchmarkRun.Status.DONE,
                                            finished_at__lte=run.finished_at)
                .order_by("-finished_at", "-id").values_list("pk", "finished_at")[:TREND_RUNS])[::-1]
    # Every flag of those ≤ TREND_RUNS runs, matched to the rows' cells here: a plain query instead of an OR of each
    # cell's four conditions, which Django took longer to build than PostgreSQL to run.
    flags = {(run_id, *key): (level, values or {}) for run_id, *key, level, values in Flag.objects.filter(
        run_id__in=[pk for pk, _ in runs]).order_by().values_list(
        "run_id", "kind", "category_id", "grade_band", "cycle_scope", "level", "cell_values")}
    for row in rows:
        key = (row.flag.kind, row.flag.category_id, row.flag.grade_band, row.flag.cycle_scope)
        row.trend = []
        for pk, finished in runs:
            level, values = flags.get((pk, *key), (None, {}))
            row.trend.append((pk, finished, level,
                              f"{values['x']}/{values['n']}" if "x" in values and "n" in values else ""))
        streak = 0
        for _, _, level, _ in reversed(row.trend):
            if level is None:
                break
            streak += 1
        row.since = row.trend[-streak][1] if streak else run.finished_at
        row.since_at_least = streak == len(runs) == TREND_RUNS


def flag_rows(run: BenchmarkRun) -> list[FlagRow]:
    """The run's flags in report order with their review status and, for each, since when the cell is flagged and
    its trend over the last runs (3 queries, 4 when some flag is open)."""
    flags = list(run.flags.select_related("category", "reviewed_by", "carried_review__reviewed_by"))
    message = reason_for_reader(run.results)

    rows = [FlagRow(flag=f, review=f.signed_review, carried=f.carried_review_id is not None, message=message(f))
            for f in flags]
    _flag_trends(run, rows)
    open_rows = [r for r in rows if r.review is None]
    if not open_rows:
        return rows
    # The latest reviewed flag of each cell of these kinds and categories (matched to the open rows' cells below): a
    # superset of the open cells by four IN lists rather than an OR of each cell's four conditions, which Django took
    # longer to build than PostgreSQL to run; DISTINCT ON keeps one per cell either way.
    earlier = (Flag.objects.filter(kind__in=sorted({r.flag.kind for r in open_rows}),
                                   category_id__in=sorted({r.flag.category_id for r in open_rows}),
                                   grade_band__in=sorted({r.flag.grade_band for r in open_rows}),
                                   cycle_scope__in=sorted({r.flag.cycle_scope for r in open_rows}))
        .filter(Q(reviewed_at__isnull=False) | Q(carried_review__isnull=False),
                run__site_id=run.site_id, run__status=BenchmarkRun.Status.DONE, run__finished_at__lt=run.finished_at)
        .select_related("reviewed_by", "carried_review__reviewed_by")
        .order_by("kind", "category_id", "grade_band", "cycle_scope", "-run__finished_at", "-run_id")
        .distinct("kind", "category_id", "grade_band", "cycle_scope"))
    latest_review = {(f.kind, f.category_id, f.grade_band, f.cycle_scope): f.signed_review for f in earlier}
    for row in open_rows:
        previous = latest_review.get((row.flag.kind, row.flag.category_id, row.flag.grade_band,
                                      row.flag.cycle_scope))
        if previous is not None:
            row.previous = previous
            row.change = describe_cell_change(previous.cell_values, row.flag.cell_values, gettext)
    return rows


def signoffs_with_validity(run: BenchmarkRun) -> list[tuple[RunSignoff, bool]]:
    """The run's sign-offs, oldest first, each with whether it is still valid: its hash matches the run's stored
    results now (1 query; ``run.results`` must be loaded; hashed only when the run has sign-offs)."""
    signoffs = list(run.signoffs.select_related("signed_by"))
    current = canonical_sha256(run.results) if signoffs else None
    return [(s, s.signed_results_sha256 == current) for s in signoffs]


@dataclass
class LastSigned:
    """The site's most recent signed run (by finish time), its sign-offs with validity, whether it is the latest
    finished run, and what changed from it to the latest run (``reports.cells.changes_between``, in the reader's
    language)."""

    run: BenchmarkRun
    signoffs: list[tuple[RunSignoff, bool]]
    is_latest: bool
    changes: list[str]


def last_signed(site: Site, latest: BenchmarkRun | None) -> LastSigned | None:
    """What the report says about sign-off: None when no run of ``site`` was ever signed (2 queries; 3 when the signed
    run is not the latest: its results are read then).

    ``latest``: the site's latest finished run (``latest_run``), whose results are compared with the signed run's.
    """
    if latest is None:
        return None
    # Without the JSON columns: when the signed run is the latest (the usual case) its results are those of
    # ``latest``, already decoded (≈ 0.2 MB for a 200-patient ward).
    signed = (BenchmarkRun.objects.filter(Exists(RunSignoff.objects.filter(run=OuterRef("pk"))), site=site,
                                          status=BenchmarkRun.Status.DONE)
              .defer("inputs", "results").order_by("-finished_at", "-id").first())
    if signed is None:
        return None
    if signed.pk == latest.pk:
        return LastSigned(run=latest, signoffs=signoffs_with_validity(latest), is_latest=True, changes=[])
    signed.refresh_from_db(fields=["results"])
    return LastSigned(run=signed, signoffs=signoffs_with_validity(signed), is_latest=False,
                      changes=changes_between(signed.results or {}, signed.method_version, latest.results or {},
                                              latest.method_version, gettext))


def run_history(site: Site) -> QuerySet[BenchmarkRun]:
    """The site's runs, newest first, without their inputs and results, annotated with counts of their flags:
    ``n_flags``, ``n_signed`` (signed on this run), ``n_carried`` (carrying an earlier review), ``n_open``, and
    ``n_signoffs`` (1 query per page, plus the count)."""
    def count(which: Q) -> Coalesce:
        flags = Flag.objects.filter(which, run=OuterRef("pk")).order_by().values("run")
        return Coalesce(Subquery(flags.annotate(n=Count("pk")).values("n")), 0)

    return (site.benchmark_runs.defer("inputs", "results")
            .annotate(n_flags=count(Q()), n_signed=count(Q(reviewed_at__isnull=False)),
                      n_carried=count(Q(carried_review__isnull=False)),
                      n_open=count(Q(reviewed_at__isnull=True, carried_review__isnull=True)),
                      n_signoffs=Count("signoffs"))
            .order_by("-requested_at", "-id"))


def signoffs_by_run(runs: Sequence[BenchmarkRun]) -> dict[int, list[tuple[RunSignoff, bool]]]:
    """Sign-offs of ``runs`` (e.g. one page of ``run_history``) with validity, by run id (at most 2 queries: the
    sign-offs, then the stored results of the signed runs only, to check each signature's hash)."""
    signoffs = list(RunSignoff.objects.filter(run__in=[r.pk for r in runs if getattr(r, "n_signoffs", 1)])
                    .select_related("signed_by").order_by("run_id", "signed_at"))
    if not signoffs:
        return {}
    hashes = {pk: canonical_sha256(results) for pk, results in
              BenchmarkRun.objects.filter(pk__in={s.run_id for s in signoffs}).values_list("pk", "results")}
    out: dict[int, list[tuple[RunSignoff, bool]]] = {}
    for s in signoffs:
        out.setdefault(s.run_id, []).append((s, s.signed_results_sha256 == hashes[s.run_id]))
    return out
