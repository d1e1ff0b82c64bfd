"""The nightly job on one versus two Celery worker processes (issue 12: "fanned out over Celery workers so that
two worker processes finish it measurably sooner than one").

    python -m benchmarks.workers [--prefix bench-s] [--workers 1 2] [--reps 1]

Needs ``DATABASE_URL`` (a benchmark database with a registry from ``benchmarks.generate``, e.g. the small one
``benchmarks.run --size small`` makes) and ``REDIS_URL`` (the broker; use a database number nothing else uses).
For each worker count it starts that many ``celery -A pvtrack worker --concurrency 1`` processes (fresh, so
each computes the site-independent statistics once, as after a deploy), queues a nightly run for every site whose
slug starts with ``--prefix`` the way ``reports.tasks.benchmark_all_sites_task`` does (one outbox row and one
task per site, published after commit), and times until every one of those runs is done; then it stops the
workers. Printed: seconds per worker count and the ratio against one worker (< 1: faster). Absolute times depend
on the machine; on 2 shared cores two workers cannot be twice as fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks._setup import django_setup

TIMEOUT_S = 900


def _start_workers(count: int, tag: str) -> list[subprocess.Popen[bytes]]:
    from pvtrack.celery import app

    command = [sys.executable, "-m", "celery", "-A", "pvtrack", "worker", "--concurrency", "1", "--without-gossip",
               "--without-mingle", "-l", "warning"]
    procs = [subprocess.Popen([*command, "-n", f"bench-{tag}-{i}@%h"], env=os.environ.copy())  # noqa: S603 (fixed)
             for i in range(count)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        names = {name for reply in replies for name in reply}
        if sum(name.startswith(f"bench-{tag}-") for name in names) >= count:
            return procs
        if any(p.poll() is not None for p in procs):
            break
    _stop(procs)
    raise RuntimeError(f"{count} Celery worker(s) did not answer a ping within 120 s (is REDIS_URL a broker?)")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def nightly_on_workers(sites: list[Any], count: int, tag: str) -> float:
    """Seconds from queueing a nightly run of each of ``sites`` to the last of them done, on ``count`` workers.
    Raises RuntimeError if a run fails or the whole does not finish within ``TIMEOUT_S``."""
    from django.db import transaction

    from core.outbox import benchmark_request
    from reports.models import BenchmarkRun

    procs = _start_workers(count, tag)
    try:
        _drain(sites)
        start = time.perf_counter()
        first_id = (BenchmarkRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        for site in sites:
            with transaction.atomic():
                benchmark_request(site=site, trigger="nightly")
        runs = BenchmarkRun.objects.filter(site__in=sites, pk__gte=first_id)
        while time.perf_counter() - start < TIMEOUT_S:
            statuses = list(runs.values_list("status", flat=True))
            if BenchmarkRun.Status.FAILED in statuses:
                raise RuntimeError("a benchmark run failed; see the worker's log")
            if len(statuses) == len(sites) and all(s == BenchmarkRun.Status.DONE for s in statuses):
                return time.perf_counter() - start
            time.sleep(0.05)
        raise RuntimeError(f"the nightly runs did not finish within {TIMEOUT_S} s")
    finally:
        _stop(procs)


def _drain(sites: list[Any]) -> None:
    """Let the workers finish runs of ``sites`` queued before (e.g. by the AE posts of ``benchmarks.run``, whose
    broker sends are not made): published now, waited for, not timed."""
    import datetime

    from reports.models import BenchmarkRun
    from reports.outbox import requeue_pending_runs

    waiting = BenchmarkRun.objects.filter(site__in=sites, status__in=(BenchmarkRun.Status.PENDING,
                                                                      BenchmarkRun.Status.RUNNING))
    deadline = time.monotonic() + TIMEOUT_S
    while waiting.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("runs queued before did not finish; is a run stuck 'running'?")
        requeue_pending_runs(older_than=datetime.timedelta(0))
        time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="bench-s", help="sites whose slug starts with this (default bench-s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args(argv)
    if not os.environ.get("REDIS_URL"):
        parser.error("REDIS_URL (the broker the workers consume) is required")
    django_setup()
    from patients.models import Site

    sites = list(Site.objects.filter(slug__startswith=args.prefix).order_by("slug"))
    if not sites:
        parser.error(f"no site's slug starts with {args.prefix!r}: generate a registry first (benchmarks/README.md)")
    times: dict[int, float] = {}
    for count in args.workers:
        samples = [nightly_on_workers(sites, count, f"{count}w{rep}") for rep in range(args.reps)]
        times[count] = statistics.median(samples)
    one = times.get(1)
    print(f"\nnightly job over {len(sites)} wards ({args.prefix}-*), fresh worker processes, median of {args.reps}\n")
    print("| worker processes | seconds | vs one worker |\n|---|---|---|")
    for count, seconds in times.items():
        print(f"| {count} | {seconds:.2f} | {f'{seconds / one:.2f}x' if one else ''} |")


if __name__ == "__main__":
    main()
