"""Reads of the reports app: benchmark runs and flags of the sites a user may see, staleness of a site's benchmark."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from ae.models import AdverseEvent
from ae.models.events import treatment_emergent_q
from ae.selectors import adverse_events_for
from core.types import AnyUser
from patients.access import sites_for
from patients.models import Site
from reports.benchmark import GRADE_BANDS
from reports.models import BenchmarkCategory, BenchmarkRun, Flag


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
    """The ward's events behind one benchmark number: treatment-emergent events of the category's terms with
    grade in ``band`` ("any"/"ge3"), in ``scope`` ("all" cycles / "first" cycle), ordered by patient and onset."""
    events = (adverse_events_for(user).filter(treatment_emergent_q()).filter(
        patient__site=site, term__in=category.terms.all(),
        grade__gte=GRADE_BANDS[band]).select_related("patient", "cycle", "term")
        .order_by("patient__study_id", "onset_date"))
    return events.filter(cycle__number=1) if scope == "first" else events


def latest_run(site: Site) -> BenchmarkRun | None:
    """The most recent finished run of ``site``."""
    return site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).order_by("-finished_at", "-id").first()


def benchmark_staleness(site: Site) -> dict:
    """Whether ``site``'s benchmark reflects the saved data, for the safety officer's report (3 queries).

    Shape: {"stale": bool, "message": str (one sentence for the page),
    "latest_done_run": id | None, "latest_done_at": datetime | None,
    "waiting_since": datetime | None (oldest run still pending or running), "waiting_s": float | None,
    "last_failure": {"run": id, "at": datetime, "attempts": int, "error": first line} | None}.
    Stale means: no benchmark has finished yet while changes wait, a change has waited longer than
    ``PVTRACK_OUTBOX["STALE_AFTER_S"]`` for its benchmark, or the newest attempt failed.
    """
    now = timezone.now()
    done = latest_run(site)
    waiting = (site.benchmark_runs.filter(status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING])
               .order_by("requested_at").values("requested_at").first())
    failures = site.benchmark_runs.filter(status=BenchmarkRun.Status.FAILED)
    if done is not None:
        failures = failures.filter(finished_at__gt=done.finished_at)
    failure = failures.order_by("-finished_at", "-id").values("pk", "finished_at", "attempts", "error").first()
    waiting_since = waiting["requested_at"] if waiting else None
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
        message = f"Benchmark up to date as of {timezone.localtime(done.finished_at):%d %b %Y %H:%M}."
        if waiting_since:
            message += " A newer run is queued."
    return {
        "stale": failure is not None or overdue or (done is None and waiting_since is not None),
        "message": message,
        "latest_done_run": done.pk if done else None,
        "latest_done_at": done.finished_at if done else None,
        "waiting_since": waiting_since,
        "waiting_s": waiting_s,
        "last_failure": None if failure is None else {
            "run": failure["pk"], "at": failure["finished_at"], "attempts": failure["attempts"], "error": last_error},
    }
