"""Service health: database, broker, worker, beat and the benchmark backlog; beat's heartbeat.

``collect()`` is what ``GET /health/`` and ``python manage.py health`` report. It holds no patient data
and no host names, user names or error texts (only exception class names), so it needs no login.
Every check runs on its own daemon thread with a time bound, so a stalled service makes the check
fail after ``timeout`` seconds instead of hanging the caller.

Nothing is pinged while a request waits: worker and beat are judged from heartbeats in Redis, written
in the background, and reported with their age.

- Beat: its scheduler (``HeartbeatScheduler``, set as ``CELERY_BEAT_SCHEDULER``) writes, on every tick,
  ``{"at": Unix time, "next_tick_s": seconds until its next tick}`` into ``BEAT_HEARTBEAT_KEY``. Written
  by beat's own loop (not by a task) it proves beat alone is alive; beat is stale as soon as the announced
  next tick is more than ``PVTRACK_HEARTBEAT_GRACE_S`` late, i.e. within one tick period of stopping.
- Workers: beat sends ``reports.tasks.worker_heartbeat_task`` every ``PVTRACK_HEARTBEAT_EVERY_S``; the
  worker that runs it writes its host name and the Unix time into the hash ``WORKER_HEARTBEAT_KEY``. A
  fresh entry proves the whole path beat → broker → worker → Redis; a worker is stale when its newest
  heartbeat is older than ``PVTRACK_WORKER_DEAD_AFTER_S``.
"""

from __future__ import annotations

import datetime
import faulthandler
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reports.models import BenchmarkRun

logger = logging.getLogger(__name__)
BEAT_HEARTBEAT_KEY = "pvtrack:beat:heartbeat"
WORKER_HEARTBEAT_KEY = "pvtrack:worker:heartbeat"
HEARTBEAT_FORGET_AFTER_S = 3600  # worker entries older than this are dropped from the hash
CHECK_TIMEOUT_S = 1.5


def _redis_client(timeout: float):
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def _bounded(fn, timeout: float) -> dict[str, Any]:
    """Run ``fn() -> dict`` on a daemon thread; a failure or overrun becomes {"ok": False, "error": ...}."""
    box: dict[str, Any] = {}

    def target():
        try:
            box["result"] = fn()
        except Exception as exc:  # reported, never raised: health must answer
            box["result"] = {"ok": False, "error": type(exc).__name__}

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True, name="pvtrack-health")
    thread.start()
    thread.join(timeout)
    if "result" not in box:
        return {"ok": False, "error": f"no answer within {timeout:g} s"}
    result = box["result"]
    result.setdefault("latency_ms", round((time.monotonic() - started) * 1000, 1))
    return result


def _database() -> dict[str, Any]:
    try:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        latency = round((time.monotonic() - started) * 1000, 1)
        now = timezone.now()
        runs = BenchmarkRun.objects.filter(status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING])
        oldest = runs.filter(status=BenchmarkRun.Status.PENDING).order_by("requested_at").values_list(
            "requested_at", flat=True).first()
        counts = {row["status"]: row["n"] for row in _count_by_status(runs)}
        failed = BenchmarkRun.objects.filter(status=BenchmarkRun.Status.FAILED,
                                             finished_at__gte=now - datetime.timedelta(days=1)).count()
        age = round((now - oldest).total_seconds(), 1) if oldest else None
        backlog = {
            "ok": age is None or age <= settings.PVTRACK_OUTBOX["STALE_AFTER_S"],
            "oldest_pending_age_s": age,
            "pending": counts.get(BenchmarkRun.Status.PENDING, 0),
            "running": counts.get(BenchmarkRun.Status.RUNNING, 0),
            "failed_last_24h": failed,
            "stale_after_s": settings.PVTRACK_OUTBOX["STALE_AFTER_S"],
        }
        return {"database": {"ok": True, "latency_ms": latency}, "backlog": backlog}
    finally:
        connection.close()  # this thread's own connection


def _count_by_status(runs):
    return runs.values("status").annotate(n=Count("id")).order_by()


def _broker() -> dict[str, Any]:
    started = time.monotonic()
    _redis_client(CHECK_TIMEOUT_S).ping()
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _worker() -> dict[str, Any]:
    beats = _redis_client(CHECK_TIMEOUT_S).hgetall(WORKER_HEARTBEAT_KEY)
    dead_after = settings.PVTRACK_HEARTBEAT["WORKER_DEAD_AFTER_S"]
    now = time.time()
    ages = sorted(max(0.0, now - float(at)) for at in beats.values())
    fresh = [age for age in ages if age <= dead_after]
    report: dict[str, Any] = {"ok": bool(fresh), "workers": len(fresh),
                              "heartbeat_age_s": round(ages[0], 1) if ages else None, "dead_after_s": dead_after}
    if not ages:
        report["error"] = "no heartbeat"
    return report


def _beat() -> dict[str, Any]:
    raw = _redis_client(CHECK_TIMEOUT_S).get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        return {"ok": False, "heartbeat_age_s": None, "error": "no heartbeat"}
    beat = json.loads(raw)
    if not isinstance(beat, dict):  # a bare time from a beat older than this format (during an upgrade)
        beat = {"at": beat, "next_tick_s": settings.CELERY_BEAT_MAX_LOOP_INTERVAL}
    age = max(0.0, time.time() - float(beat["at"]))
    stale_after = round(float(beat["next_tick_s"]) + settings.PVTRACK_HEARTBEAT["GRACE_S"], 1)
    return {"ok": age <= stale_after, "heartbeat_age_s": round(age, 1), "stale_after_s": stale_after}


def worker_heartbeat_write(hostname: str) -> None:
    """Record that worker ``hostname`` ran a task just now (hash field = host name, value = Unix time)."""
    client = _redis_client(CHECK_TIMEOUT_S)
    now = time.time()
    stale = [name for name, at in client.hgetall(WORKER_HEARTBEAT_KEY).items()
             if now - float(at) > HEARTBEAT_FORGET_AFTER_S]
    pipe = client.pipeline()
    if stale:
        pipe.hdel(WORKER_HEARTBEAT_KEY, *stale)
    pipe.hset(WORKER_HEARTBEAT_KEY, hostname, repr(now))
    pipe.expire(WORKER_HEARTBEAT_KEY, HEARTBEAT_FORGET_AFTER_S)
    pipe.execute()


def collect(timeout: float = CHECK_TIMEOUT_S + 0.5) -> dict[str, Any]:
    """Check every service and return the report; total time at most about ``timeout`` seconds.

    Shape: {"ok": bool, "checked_at": ISO 8601,
    "database": {"ok", "latency_ms"[, "error"]},
    "broker": {"ok", "latency_ms"[, "mode" | "error"]},
    "worker": {"ok", "workers" (with a fresh heartbeat), "heartbeat_age_s" (s, newest; null when none),
    "dead_after_s"[, "mode" | "error"]},
    "beat": {"ok", "heartbeat_age_s" (s), "stale_after_s" (s: beat's announced next tick + grace)[, "mode" | "error"]},
    "backlog": {"ok", "oldest_pending_age_s" (s, null when nothing waits), "pending", "running",
    "failed_last_24h", "stale_after_s"}}. Without a broker (REDIS_URL unset) jobs run in-process:
    broker, worker and beat then report {"ok": true, "mode": "in-process"}.
    """
    checks: dict[str, Any] = {}
    threads = {"database": _database}
    if settings.REDIS_URL:
        threads |= {"broker": _broker, "worker": _worker, "beat": _beat}
    else:
        for name in ("broker", "worker", "beat"):
            checks[name] = {"ok": True, "mode": "in-process"}
    results: dict[str, dict] = {}
    runners = []
    for name, fn in threads.items():
        runner = threading.Thread(target=lambda n=name, f=fn: results.__setitem__(n, _bounded(f, timeout)),
                                  daemon=True)
        runner.start()
        runners.append(runner)
    for runner in runners:
        runner.join(timeout + 0.5)
    db = results.get("database", {"ok": False, "error": "no answer"})
    checks["database"] = db.get("database", {k: v for k, v in db.items() if k != "backlog"})
    checks["backlog"] = db.get("backlog", {"ok": False, "error": "database unavailable"})
    for name in ("broker", "worker", "beat"):
        if name in threads:
            checks[name] = results.get(name, {"ok": False, "error": "no answer"})
    report = {"ok": all(c["ok"] for c in checks.values()), "checked_at": timezone.now().isoformat()}
    return report | {k: checks[k] for k in ("database", "broker", "worker", "beat", "backlog")}


@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """GET /health/: the ``collect()`` report as JSON; 200 when everything is healthy, else 503. No login."""
    report = collect()
    return JsonResponse(report, status=200 if report["ok"] else 503)


class HeartbeatScheduler(PersistentScheduler):
    """Celery beat's default scheduler that also writes beat's heartbeat (see the module docstring), with a
    stall watchdog.

    Beat is a single loop: a send that never returns (a broker that half-answers, a library bug) would stop
    every scheduled task — the outbox sweeper, the workers' heartbeats — while the process looks alive. A
    daemon thread therefore checks that ticks keep finishing; when none has finished for
    ``PVTRACK_HEARTBEAT["BEAT_STALL_EXIT_S"]`` seconds it writes every thread's stack to the log and exits
    the process with status 70, so its supervisor (``restart: unless-stopped`` in docker-compose.yml, or
    systemd) starts a fresh beat. Nothing is lost: every scheduled task is idempotent and outbox rows stay in
    the database until sent.
    """

    STALL_EXIT_STATUS = 70  # EX_SOFTWARE

    def setup_schedule(self):
        super().setup_schedule()
        self._tick_done_at = time.monotonic()
        stall_s = float(settings.PVTRACK_HEARTBEAT["BEAT_STALL_EXIT_S"])
        if stall_s > 0:
            threading.Thread(target=self._watchdog, args=(stall_s,), name="beat-stall-watchdog",
                             daemon=True).start()

    def _watchdog(self, stall_s: float) -> None:
        while True:
            time.sleep(min(1.0, stall_s / 4))
            stalled = time.monotonic() - self._tick_done_at
            if stalled > stall_s:
                logger.critical("beat: no tick finished for %.0f s (limit %.0f s); exiting so that its "
                                "supervisor restarts it. Stacks follow.", stalled, stall_s)
                try:  # the real stderr: Celery's sys.stderr is a logging proxy without a file descriptor
                    faulthandler.dump_traceback(file=sys.__stderr__ or sys.stderr, all_threads=True)
                finally:
                    os._exit(self.STALL_EXIT_STATUS)

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        self._tick_done_at = time.monotonic()
        if settings.REDIS_URL:
            try:
                beat = {"at": time.time(), "next_tick_s": float(interval or 0)}
                _redis_client(0.5).set(BEAT_HEARTBEAT_KEY, json.dumps(beat), ex=HEARTBEAT_FORGET_AFTER_S)
            except Exception as exc:  # broker down: health shows it; beat keeps running
                logger.warning("beat heartbeat not written: %s", type(exc).__name__)
        return interval
