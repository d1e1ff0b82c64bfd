"""Computing a benchmark run: claim it once (advisory lock + conditional UPDATE), compute, store results and flags.

A run left 'running' by a dead worker is taken over after ``PVTRACK_OUTBOX["RECLAIM_AFTER_S"]``, at most
``PVTRACK_BENCHMARK["MAX_ATTEMPTS"]`` attempts. Queueing and publishing runs: :mod:`reports.outbox`.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
import traceback
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.models import Site
from reports import benchmark, network_plots, plots
from reports.carry import carry_into
from reports.cells import cell_fingerprint, flag_values
from reports.flag_notices import flag_changes_notify
from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from reports.network import collect_network
from reports.plot_language import ENGLISH, plot_language
from reports.trend_inputs import collect_monitoring

logger = logging.getLogger(__name__)


# abandoned (worker killed, container lost) and may be taken over; one with its lock is still alive.
RUN_LOCK_NAMESPACE = 0x5056  # "PV"


def try_lock_run(run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])
        return cursor.fetchone()[0]


def unlock_run(run_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])
    except DatabaseError:  # the connection is gone, and the lock with it
        logger.warning("benchmark run %s: could not release its lock (connection lost)", run_id)


def locked_run_ids() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 "
                       "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                       [RUN_LOCK_NAMESPACE])
        return {row[0] for row in cursor.fetchall()}


def benchmark_execute(run_id: int) -> BenchmarkRun | None:
    """Claim a pending run, compute it and store inputs, results and flags; return it (None if not claimed).

    The claim is a conditional UPDATE taken while holding the run's advisory lock, so a run delivered
    twice, or to two workers at once, is computed once. A run left 'running' is taken over only when
    no live process holds its lock (its worker died) and it started more than
    ``PVTRACK_OUTBOX["RECLAIM_AFTER_S"]`` ago, at most MAX_ATTEMPTS attempts in all; then it is marked
    failed ("gave up after N attempts"). A failure is stored on the run (status failed, error text)
    and re-raised.
    """
    if not try_lock_run(run_id):
        return None  # another process is computing it right now
    try:
        now = timezone.now()
        stale = now - datetime.timedelta(seconds=settings.PVTRACK_OUTBOX["RECLAIM_AFTER_S"])
        max_attempts = settings.PVTRACK_BENCHMARK["MAX_ATTEMPTS"]
        claimable = (Q(status=BenchmarkRun.Status.PENDING)
                     | Q(status=BenchmarkRun.Status.RUNNING, started_at__lt=stale))
        claimed = BenchmarkRun.objects.filter(claimable, pk=run_id, attempts__lt=max_attempts).update(
            status=BenchmarkRun.Status.RUNNING, started_at=now, attempts=F("attempts") + 1)
        if not claimed:
            BenchmarkRun.objects.filter(claimable, pk=run_id, attempts__gte=max_attempts).update(
                status=BenchmarkRun.Status.FAILED, finished_at=now, error=f"gave up after {max_attempts} attempts")
            return None
        _test_only_delay()
        run = BenchmarkRun.objects.select_related("site").get(pk=run_id)
        _compute_and_store(run)
        return run
    finally:
        unlock_run(run_id)


def _test_only_delay() -> None:
    """Fault-injection hook (tests/faults only): sleep PVTRACK_TEST_JOB_DELAY_S seconds after the claim.

    Honoured only when PVTRACK_ENV is "test", so that a test can kill a worker in the middle of a job.
    """
    delay = os.environ.get("PVTRACK_TEST_JOB_DELAY_S")
    if delay and settings.PVTRACK_ENV == "test":
        time.sleep(float(delay))


def _compute_and_store(run: BenchmarkRun) -> None:
    try:
        inputs = benchmark.collect_inputs(run.site)
        inputs["monitoring"] = collect_monitoring(run.site)  # the CUSUM, exposure and entry lag (issue 17)
        inputs["network"] = collect_network(run.site)  # the other wards' counts now, for the network flags
        with benchmark.reporting_progress(_progress_recorder(run.pk)):
            results = benchmark.compute(inputs)
        _store(run, inputs, results)
    except Exception:
        logger.exception("benchmark run %s failed", run.pk)
        BenchmarkRun.objects.filter(pk=run.pk).update(status=BenchmarkRun.Status.FAILED, finished_at=timezone.now(),
                                                      error=traceback.format_exc(limit=5))
        raise
    _draw_plots(run.pk, results, run.site.language)


def _draw_plots(run_id: int, results: dict, site_language: str | None = None) -> None:
    """Draw the plots the report shows (flagged cells with a pooled benchmark) into the shared plot table, so that no
    page request draws (issue 12): in English and in the ward's language (``Site.language``; a reader of a third
    language draws once on the first page). The run is already stored: a drawing failure is logged, and the page
    then draws the cell itself."""
    languages = dict.fromkeys((ENGLISH, plot_language(site_language)))
    try:
        drawn = plots.draw_run_plots([c for c in results["cells"] if c.get("flag")], languages)
        network_plots.draw_run_cusums(results, languages)  # the report's CUSUM charts (issue 17)
    except Exception:
        logger.exception("drawing the plots of benchmark run %s failed; the report will draw them", run_id)
    else:
        logger.info("benchmark run %s: %d cells' plots drawn (%s)", run_id, drawn, ", ".join(languages))


#: A run's progress is stored at most this often (seconds), and at 100 %: a fast run (a warm worker computes a
#: ward in well under a second) writes it once instead of ten committed UPDATEs; a slow one still shows it move.
PROGRESS_MIN_INTERVAL_S = 1.0


def _progress_recorder(run_id: int, step: int = 10, min_interval_s: float = PROGRESS_MIN_INTERVAL_S,
                       clock: Callable[[], float] = time.monotonic):
    """A ``benchmark.compute`` progress callback that stores the percentage on the run every ``step`` points, at most
    once per ``min_interval_s`` seconds of ``clock``, and always at 100."""
    last = [0]
    written_at = [clock()]

    def record(percent: int) -> None:
        now = clock()
        if (percent - last[0] >= step and now - written_at[0] >= min_interval_s) or percent == 100:
            last[0], written_at[0] = percent, now
            BenchmarkRun.objects.filter(pk=run_id).update(progress=percent)

    return record


@transaction.atomic
def _store(run: BenchmarkRun, inputs: dict, results: dict) -> None:
    """Store a computed run and its flags (literature, network and CUSUM: ``Flag.kind``); each flag keeps its values
    and fingerprint (``reports.cells.flag_values``), and carries the previous run's review of the same kind and cell
    when those values are unchanged (``reports.carry``). New flags and flags
    that changed level notify the site's safety officers (``reports.flag_notices``)."""
    categories = {c.slug: c for c in BenchmarkCategory.objects.all()}
    run.inputs, run.results = inputs, results
    run.method_version = results["method_version"]
    run.status, run.finished_at, run.error = BenchmarkRun.Status.DONE, timezone.now(), ""
    run.save(update_fields=["inputs", "results", "method_version", "status", "finished_at", "error"])
    flags = []
    for f in results["flags"]:
        values = flag_values(f, results)
        flags.append(Flag(run=run, kind=f.get("kind", Flag.Kind.LITERATURE), category=categories[f["category"]],
                          grade_band=f["grade_band"],
                          cycle_scope=f["cycle_scope"], level=f["level"], direction=f["direction"],
                          message=f["message"], p_value=f["p_value"], cell_values=values,
                          cell_fingerprint=cell_fingerprint(values)))
    carry_into(run, flags)
    Flag.objects.bulk_create(flags)
    flag_changes_notify(run=run, flags=flags)  # new flags and level changes → the site's safety officers


def benchmark_run_now(*, site: Site, trigger: str = "manual") -> BenchmarkRun:
    """Compute a run synchronously in this process (command line) and return it, finished.

    The run is created already claimed, so no worker competes for it. Raises whatever the
    computation raises, after storing the failure on the run.
    """
    run = BenchmarkRun.objects.create(site=site, trigger=trigger, status=BenchmarkRun.Status.RUNNING,
                                      started_at=timezone.now(), attempts=1)
    _compute_and_store(run)
    run.refresh_from_db()
    return run
