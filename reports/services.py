"""Benchmark runs (request, execute, requeue) and flag reviews."""

from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import json
import logging
import os
import threading
import time
import traceback

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from patients.access import REVIEWERS, require_role
from patients.models import Site
from reports import benchmark
from reports.models import BenchmarkCategory, BenchmarkRun, Flag, RunSignoff

logger = logging.getLogger(__name__)


def benchmark_request(*, site: Site, trigger: str) -> BenchmarkRun:
    """Queue a benchmark run of ``site`` in the caller's transaction; publish it after commit.

    At most one run per site waits at a time (a partial unique index): a change made while a run is
    pending is covered by that run, which reads the data when it starts. If publishing fails (broker
    down), the run stays pending and ``requeue_pending_runs`` publishes it later; the caller's save is
    never undone by a broker error.
    """
    try:
        with transaction.atomic():
            run = BenchmarkRun.objects.create(site=site, trigger=trigger)
    except IntegrityError:
        return BenchmarkRun.objects.get(site=site, status=BenchmarkRun.Status.PENDING)
    transaction.on_commit(lambda: _publish(run.pk), robust=True)
    return run


def _publish(run_id: int) -> None:
    """Send run ``run_id`` to the broker, waiting at most ``PVTRACK_OUTBOX["PUBLISH_WAIT_S"]`` (never raises).

    With a real broker the send happens on a small thread pool and the caller waits for it only up
    to that bound: a refused connection fails in milliseconds, but a stalled broker (accepts the
    connection, never answers) holds a send for the broker socket timeouts plus the publish retry
    (about 4 s with the settings' values), which must not become the nurse's wait. A send still
    running after the bound finishes (or fails) in the background; at most ``PUBLISH_THREADS`` sends
    are in flight, further ones are skipped. Whatever is not sent stays a pending run in the
    database, and ``requeue_pending_runs`` (beat) publishes it later. In-process mode (no broker)
    runs the task directly.
    """
    from reports.tasks import benchmark_run_task

    if benchmark_run_task.app.conf.task_always_eager:
        benchmark_run_task.delay(run_id)
        return
    if not _publish_slots.acquire(blocking=False):
        logger.warning("benchmark run %s not published: broker sends are stuck; the sweeper will retry", run_id)
        return
    try:
        future = _publish_pool.submit(_send, benchmark_run_task, run_id)
    except RuntimeError:  # the interpreter is shutting down
        _publish_slots.release()
        return
    try:
        future.result(timeout=settings.PVTRACK_OUTBOX["PUBLISH_WAIT_S"])
    except concurrent.futures.TimeoutError:
        logger.warning("benchmark run %s: broker slow, publish left to finish in the background", run_id)
    except Exception as exc:  # broker down: the run stays pending for the sweeper
        logger.warning("benchmark run %s not published (%s); the sweeper will retry", run_id, type(exc).__name__)


_publish_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=settings.PVTRACK_OUTBOX["PUBLISH_THREADS"], thread_name_prefix="pvtrack-publish")
_publish_slots = threading.BoundedSemaphore(settings.PVTRACK_OUTBOX["PUBLISH_THREADS"])


def _send(task, run_id: int) -> None:
    try:
        task.delay(run_id)
    finally:
        _publish_slots.release()


# Session-level advisory lock (namespace, run id) held by the process computing a run. PostgreSQL
# releases it when that process's connection ends, so a run left 'running' without its lock was
# abandoned (worker killed, container lost) and may be taken over; one with its lock is still alive.
RUN_LOCK_NAMESPACE = 0x5056  # "PV"


def _try_lock_run(run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])
        return cursor.fetchone()[0]


def _unlock_run(run_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_NAMESPACE, run_id])
    except DatabaseError:  # the connection is gone, and the lock with it
        logger.warning("benchmark run %s: could not release its lock (connection lost)", run_id)


def _locked_run_ids() -> set[int]:
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
    if not _try_lock_run(run_id):
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
        _unlock_run(run_id)


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
        with benchmark.reporting_progress(_progress_recorder(run.pk)):
            results = benchmark.compute(inputs)
        _store(run, inputs, results)
    except Exception:
        logger.exception("benchmark run %s failed", run.pk)
        BenchmarkRun.objects.filter(pk=run.pk).update(status=BenchmarkRun.Status.FAILED, finished_at=timezone.now(),
                                                      error=traceback.format_exc(limit=5))
        raise


def _progress_recorder(run_id: int, step: int = 10):
    """A ``benchmark.compute`` progress callback that stores the percentage on the run every ``step`` points."""
    last = [0]

    def record(percent: int) -> None:
        if percent - last[0] >= step or percent == 100:
            last[0] = percent
            BenchmarkRun.objects.filter(pk=run_id).update(progress=percent)

    return record


@transaction.atomic
def _store(run: BenchmarkRun, inputs: dict, results: dict) -> None:
    categories = {c.slug: c for c in BenchmarkCategory.objects.all()}
    run.inputs, run.results = inputs, results
    run.method_version = results["method_version"]
    run.status, run.finished_at, run.error = BenchmarkRun.Status.DONE, timezone.now(), ""
    run.save(update_fields=["inputs", "results", "method_version", "status", "finished_at", "error"])
    Flag.objects.bulk_create(
        Flag(run=run, category=categories[f["category"]], grade_band=f["grade_band"], cycle_scope=f["cycle_scope"],
             level=f["level"], direction=f["direction"], message=f["message"], p_value=f["p_value"])
        for f in results["flags"])


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


def requeue_pending_runs(*, older_than: datetime.timedelta | None = None) -> int:
    """The outbox sweeper: publish again every run waiting longer than ``older_than``; returns how many.

    Waiting means pending since before ``older_than`` (default ``PVTRACK_OUTBOX["SWEEP_AFTER_S"]``),
    or 'running' since before ``RECLAIM_AFTER_S`` with nobody holding its lock (its worker died). The
    rows are picked with SELECT ... FOR UPDATE SKIP LOCKED, so two sweepers never pick the same row at
    once, and published after that transaction; a run published twice is still computed once (the
    claim in ``benchmark_execute``).
    """
    now = timezone.now()
    if older_than is None:
        older_than = datetime.timedelta(seconds=settings.PVTRACK_OUTBOX["SWEEP_AFTER_S"])
    reclaim = now - datetime.timedelta(seconds=settings.PVTRACK_OUTBOX["RECLAIM_AFTER_S"])
    waiting = (Q(status=BenchmarkRun.Status.PENDING, requested_at__lt=now - older_than)
               | Q(status=BenchmarkRun.Status.RUNNING, started_at__lt=reclaim))
    with transaction.atomic():
        ids = list(BenchmarkRun.objects.select_for_update(skip_locked=True).filter(waiting)
                   .order_by("requested_at").values_list("pk", flat=True)[:500])
        alive = _locked_run_ids()
    ids = [run_id for run_id in ids if run_id not in alive]
    for run_id in ids:
        _publish(run_id)
    return len(ids)


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
    elif overdue:
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


FLAG_REVIEW_MEANING = ("Reviewed: I have reviewed this flag, the events behind it and the benchmark run it "
                       "belongs to, and my comment records my conclusion.")
RUN_SIGNOFF_MEANING = ("Approved: I have reviewed this benchmark run (its inputs, results and flags) and "
                       "approve it as the site's safety benchmark for this period.")


def results_sha256(run: BenchmarkRun) -> str:
    """Hex sha256 of the run's stored results (canonical JSON): what a signature is bound to."""
    return hashlib.sha256(json.dumps(run.results, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _verify_signer(*, acting_user: AbstractBaseUser, password: str, request: HttpRequest | None) -> str:
    """Re-authenticate the signer (21 CFR 11.200: ID plus password); returns the printed name.

    Goes through ``authenticate`` so failed attempts count toward the login lockout. Raises ValidationError
    if the password is wrong.
    """
    # The lockout backend needs a request; a command-line caller has none.
    user = authenticate(request or HttpRequest(), username=acting_user.get_username(), password=password)
    if user is None or user.pk != acting_user.pk:
        raise ValidationError({"password": "The password is not correct: nothing was signed."})
    return acting_user.get_full_name() or acting_user.get_username()


@transaction.atomic
def flag_review(*, flag: Flag, acting_user: AbstractBaseUser, comment: str, password: str,
                request: HttpRequest | None = None) -> Flag:
    """Sign a flag's review: comment, re-entered password, printed name, meaning, time, run content hash.

    Raises PermissionDenied unless the user is a safety officer (or administrator) of the flag's site,
    ValidationError (nothing saved) if the comment is blank, the password wrong or the flag already reviewed.
    """
    require_role(acting_user, flag.run.site, REVIEWERS)
    flag = Flag.objects.select_for_update().select_related("run").get(pk=flag.pk)
    if flag.reviewed_at is not None:
        raise ValidationError(f"This flag was already reviewed by {flag.reviewed_by} on {flag.reviewed_at:%d %b %Y}.")
    if not comment.strip():
        raise ValidationError({"comment": "Write what you concluded (it is kept with the flag)."})
    flag.signer_name = _verify_signer(acting_user=acting_user, password=password, request=request)
    flag.reviewed_by, flag.reviewed_at, flag.review_comment = acting_user, timezone.now(), comment.strip()
    flag.signature_meaning, flag.signed_results_sha256 = FLAG_REVIEW_MEANING, results_sha256(flag.run)
    flag.save(update_fields=["reviewed_by", "reviewed_at", "review_comment", "signer_name", "signature_meaning",
                             "signed_results_sha256"])
    return flag


@transaction.atomic
def run_signoff(*, run: BenchmarkRun, acting_user: AbstractBaseUser, password: str, comment: str = "",
                request: HttpRequest | None = None) -> RunSignoff:
    """Sign a finished benchmark run as a whole (see ``RunSignoff``); returns the signature.

    Raises PermissionDenied unless the user reviews for the run's site, ValidationError (nothing saved) if the
    run is not finished, the password is wrong, or this user signed it already.
    """
    require_role(acting_user, run.site, REVIEWERS)
    if run.status != BenchmarkRun.Status.DONE:
        raise ValidationError("Only a finished benchmark run can be signed.")
    if run.signoffs.filter(signed_by=acting_user).exists():
        raise ValidationError("You have already signed this run.")
    name = _verify_signer(acting_user=acting_user, password=password, request=request)
    return RunSignoff.objects.create(run=run, signed_by=acting_user, signer_name=name, signed_at=timezone.now(),
                                     meaning=RUN_SIGNOFF_MEANING, comment=comment.strip(),
                                     signed_results_sha256=results_sha256(run))
