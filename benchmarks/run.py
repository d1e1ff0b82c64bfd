"""Measure issue 12's goals as ratios against their baselines, side by side in one run, and print a table.

    python -m benchmarks.run --size small|full [--reps N]

Each line times pvtrack and its baseline alternately in the same process (medians of ``--reps`` runs, web
p95 over ``--requests`` requests), so a shared or slow machine shifts both and the ratio stays readable;
absolute times are printed for context only. Nothing is asserted: CI runs ``--size small`` as a smoke test.
The registry is generated on first use (``benchmarks.generate``; small: 5 sites, 1,000 patients, 20,000 AEs;
full: 50 sites, 10,000 patients, 200,000 AEs) under its own site prefix and reused by later runs. Writes
(benchmark runs, AE form posts) stay in the database; the bulk-insert lines roll back.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from benchmarks._setup import django_setup

SIZES = {"small": {"sites": 5, "patients": 1000, "aes": 20_000, "prefix": "bench-s", "bulk": 2000, "reps": 3,
                   "requests": 15},
         "full": {"sites": 50, "patients": 10_000, "aes": 200_000, "prefix": "bench-f", "bulk": 16_000, "reps": 3,
                  "requests": 40}}
#: Patients of the "one ward" measured (the ward whose size is nearest).
WARD_PATIENTS = 200


@dataclass
class Line:
    what: str
    pvtrack: float
    baseline: float
    baseline_label: str
    goal: str
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.pvtrack / self.baseline if self.baseline else float("inf")


def _median_pair(a: Callable[[], Any], b: Callable[[], Any], reps: int, warm_up: bool = True) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, timed alternately (a, b, a, b, ...) after one warm-up each."""
    if warm_up:
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(reps):
        for f, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            f()
            out.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 2 else samples[0]


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _copy_out(sql: str, params: list[Any]) -> int:
    """Bytes of ``COPY (sql) TO STDOUT`` (CSV), read to the end."""
    from django.db import connection

    total = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)",
                                                           params) as copy:
        for block in copy:
            total += len(block)
    return total


# The counts of the benchmark's cells in one GROUP BY: patients per category, any grade / grade >= 3,
# all cycles / cycle 1 (what collect_inputs counts, without the case-mix and profile extras).
CELLS_SQL = """
SELECT {group} bc.slug,
       COUNT(DISTINCT ae.patient_id),
       COUNT(DISTINCT ae.patient_id) FILTER (WHERE ae.grade >= 3),
       COUNT(DISTINCT ae.patient_id) FILTER (WHERE c.number = 1),
       COUNT(DISTINCT ae.patient_id) FILTER (WHERE ae.grade >= 3 AND c.number = 1)
FROM ae_adverseevent ae
JOIN patients_patient p ON p.id = ae.patient_id
JOIN patients_treatmentcycle c ON c.id = ae.cycle_id
JOIN reports_benchmarkcategory_terms bt ON bt.ctcaeterm_id = ae.term_id
JOIN reports_benchmarkcategory bc ON bc.id = bt.benchmarkcategory_id
WHERE NOT ae.after_cycle_follow_up {where}
GROUP BY {group} bc.slug
"""
WARD_ROWS_SQL = """
SELECT ae.id, p.study_id, c.number, t.term, t.soc, ae.grade, ae.onset_date, ae.resolution_date, ae.serious
FROM ae_adverseevent ae JOIN patients_patient p ON p.id = ae.patient_id
JOIN patients_treatmentcycle c ON c.id = ae.cycle_id JOIN ae_ctcaeterm t ON t.id = ae.term_id
WHERE p.site_id = %s ORDER BY t.soc, t.term, p.study_id
"""


def ensure_registry(size: dict[str, Any]) -> list[Any]:
    """The registry's sites (generated on first use)."""
    from benchmarks.generate import generate
    from patients.models import Site

    sites = list(Site.objects.filter(slug__startswith=f"{size['prefix']}-").order_by("slug"))
    if not sites:
        generate(sites=size["sites"], patients=size["patients"], aes=size["aes"], prefix=size["prefix"])
        sites = list(Site.objects.filter(slug__startswith=f"{size['prefix']}-").order_by("slug"))
    return sites


def pick_ward(sites: list[Any]) -> Any:
    from django.db.models import Count

    from patients.models import Site

    counted = Site.objects.filter(pk__in=[s.pk for s in sites]).annotate(n=Count("patients"))
    return min(counted, key=lambda s: (abs(s.n - WARD_PATIENTS), s.slug))


def measure_benchmark(ward: Any, sites: list[Any], reps: int) -> list[Line]:
    from core.audit import audit_context
    from reports import stat_cache
    from reports.runs import benchmark_run_now

    site_ids = [s.pk for s in sites]
    ward_sql = CELLS_SQL.format(group="", where="AND p.site_id = %s")
    registry_sql = CELLS_SQL.format(group="p.site_id,", where="AND p.site_id = ANY(%s)")

    def job_cold() -> None:
        with stat_cache.disabled():
            benchmark_run_now(site=ward, trigger="manual")

    def job_warm() -> None:
        benchmark_run_now(site=ward, trigger="manual")

    def nightly(cache: bool) -> Callable[[], None]:
        def run() -> None:
            stat_cache.clear()
            if cache:
                for site in sites:
                    benchmark_run_now(site=site, trigger="manual")
            else:
                with stat_cache.disabled():
                    for site in sites:
                        benchmark_run_now(site=site, trigger="manual")
        return run

    lines = []
    with audit_context(source="job"):
        cold, base = _median_pair(job_cold, lambda: _fetch(ward_sql, [ward.pk]), reps, warm_up=False)
        lines.append(Line(f"benchmark job, one ward ({ward.slug}), statistics computed afresh", cold, base,
                          "the same cells in one GROUP BY", "<= 1.5x"))
        warm, base = _median_pair(job_warm, lambda: _fetch(ward_sql, [ward.pk]), reps)
        lines.append(Line("benchmark job, one ward, site-independent statistics reused", warm, base,
                          "the same cells in one GROUP BY", "<= 1.5x"))
        n_reps = max(1, reps // 2)
        before, base = _median_pair(nightly(False), lambda: _fetch(registry_sql, [site_ids]), n_reps, warm_up=False)
        lines.append(Line(f"nightly job over {len(sites)} wards, one process, no reuse", before, base,
                          "one GROUP BY site, category", "<= 3x"))
        after, base = _median_pair(nightly(True), lambda: _fetch(registry_sql, [site_ids]), n_reps, warm_up=False)
        lines.append(Line(f"nightly job over {len(sites)} wards, one process, statistics reused", after, base,
                          "one GROUP BY site, category", "<= 3x", note=f"{before / after:.1f}x faster than no reuse"))
    return lines


def measure_ward(ward: Any, reps: int) -> list[Line]:
    """The ward's own costs, for the growth check (issue 12: "a ward's cost is set by the ward"): run it against
    registries of different sizes holding the same ward (e.g. ``benchmarks.generate --prefix big`` added beside
    the registry, the ward's rows unchanged) and compare the lines. Each line: the ward's work and its bare-SQL
    baseline, so a busier machine in one run shifts both."""
    from ae import listing_copy, listing_views
    from ae.listing import listing
    from ae.models import AdverseEvent
    from core.audit import audit_context
    from reports import benchmark, exports
    from reports.runs import benchmark_run_now

    rows = AdverseEvent.objects.filter(patient__site=ward).count()
    total = AdverseEvent.objects.count()
    ward_sql = CELLS_SQL.format(group="", where="AND p.site_id = %s")

    def listing_csv() -> int:
        events = listing(ward, {})[1]
        return sum(len(b) for b in listing_copy.csv_blocks(events, list(listing_views.LISTING_HEADER)))

    inputs, base = _median_pair(lambda: benchmark.collect_inputs(ward), lambda: _fetch(ward_sql, [ward.pk]), reps)
    with audit_context(source="job"):
        job, job_base = _median_pair(lambda: benchmark_run_now(site=ward, trigger="manual"),
                                     lambda: _fetch(ward_sql, [ward.pk]), reps)
    csv, copy = _median_pair(lambda: sum(len(line) for line in exports.csv_lines(ward)),
                             lambda: _copy_out(WARD_ROWS_SQL, [ward.pk]), reps)
    listing_s, listing_copy_s = _median_pair(listing_csv, lambda: _copy_out(WARD_ROWS_SQL, [ward.pk]), reps)
    where = f"ward {ward.slug} ({rows} AEs of {total:,} in the registry)"
    return [Line(f"{where}: benchmark inputs (collect_inputs)", inputs, base, "the same cells in one GROUP BY",
                 "flat with registry size"),
            Line(f"{where}: benchmark job, statistics reused", job, job_base, "the same cells in one GROUP BY",
                 "flat with registry size"),
            Line(f"{where}: graded AE table CSV", csv, copy, "COPY of its AE rows", "flat with registry size"),
            Line(f"{where}: AE listing CSV, streamed (COPY)", listing_s, listing_copy_s, "COPY of its AE rows",
                 "flat with registry size")]


def measure_export(ward: Any, reps: int) -> list[Line]:
    from reports import exports

    rows = _fetch("SELECT count(*) FROM ae_adverseevent ae JOIN patients_patient p ON p.id = ae.patient_id "
                  "WHERE p.site_id = %s", [ward.pk])[0][0]
    ours, base = _median_pair(lambda: sum(len(line) for line in exports.csv_lines(ward)),
                              lambda: _copy_out(WARD_ROWS_SQL, [ward.pk]), reps)
    return [Line(f"CSV export of one ward ({rows} AE rows), in process", ours, base, "COPY of its AE rows",
                 ">= 0.5x COPY throughput")]


#: Ward sizes (AE rows) of the memory lines: a one-site registry per size, ``mem-<rows>`` (generated on first use).
MEMORY_ROWS = {"small": (10_000, 100_000), "full": (10_000, 100_000, 1_000_000)}
MEMORY_EXPORTS = ("listing-csv", "listing-csv-python", "listing-csv-list", "listing-xlsx", "table-csv", "copy")


def measure_memory(size_name: str, reps: int) -> list[Line]:
    """Peak RSS and time of each export (``benchmarks.memory``, a fresh process each) for wards of 10k and 100k
    (full: and 1M) AE rows; the streamed listing CSV's time is a line against ``COPY`` of the same rows."""
    import json
    import subprocess
    import sys

    from benchmarks.generate import generate
    from patients.models import Site

    lines: list[Line] = []
    memory: list[dict[str, Any]] = []
    for rows in MEMORY_ROWS[size_name]:
        prefix = f"mem-{rows}"
        if not Site.objects.filter(slug__startswith=f"{prefix}-").exists():
            generate(sites=1, patients=max(rows // 20, 1), aes=rows, prefix=prefix)
        slug = Site.objects.filter(slug__startswith=f"{prefix}-").order_by("slug").values_list("slug", flat=True)[0]
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(reps):
            for export in MEMORY_EXPORTS:
                out = subprocess.run([sys.executable, "-m", "benchmarks.memory", export, slug], check=True,  # noqa: S603
                                     capture_output=True, text=True).stdout
                runs.setdefault(export, []).append(json.loads(out.strip().splitlines()[-1]))
        for results in runs.values():
            best = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
            best["growth_mib"] = statistics.median(r["growth_mib"] for r in results)
            memory.append(best)
        ours, copy = (sorted(r["seconds"] for r in runs[e])[len(runs[e]) // 2] for e in ("listing-csv", "copy"))
        lines.append(Line(f"AE listing CSV of a {rows:,}-row ward, streamed (fresh process)", ours, copy,
                          "COPY of the same rows", ">= 0.5x COPY throughput",
                          note=f"{copy / ours:.2f}x COPY throughput; peak RSS growth "
                               f"{statistics.median(r['growth_mib'] for r in runs['listing-csv'])} MiB"))
    print("\n| export | AE rows | bytes | seconds | RSS after start-up | peak RSS | growth |")
    print("|---|---|---|---|---|---|---|")
    for r in memory:
        print(f"| {r['export']} | {r['rows']:,} | {r['bytes']:,} | {r['seconds']} | {r['rss_start_mib']} MiB | "
              f"{r['rss_peak_mib']} MiB | {r['growth_mib']} MiB |")
    return lines


@contextmanager
def _web_client(user: Any, *others: Any) -> Iterator[Any]:
    """A test client logged in as ``user`` (with ``others``: a tuple of clients, one per user, ``user``'s first)."""
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment, teardown_test_environment

    setup_test_environment()
    try:
        # Broker sends are not timed and not made (no worker consumes them here): the outbox row is written as in
        # production and stays pending, as when the broker is down (docs/operations.md §3).
        with override_settings(ROOT_URLCONF="benchmarks.urls", ALLOWED_HOSTS=["*"]), \
                mock.patch("core.publish.publish"):
            clients = []
            for u in (user, *others):
                client = Client()
                client.force_login(u)  # the user's language is remembered in the session at log-in
                clients.append(client)
            yield tuple(clients) if others else clients[0]
    finally:
        teardown_test_environment()


def measure_web(ward: Any, requests: int) -> list[Line]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Exists, OuterRef
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from ae.models import AdverseEvent
    from patients.models import Membership, TreatmentCycle, UserProfile
    from reports.models import BenchmarkRun

    user, _ = get_user_model().objects.get_or_create(username="bench-nurse")
    Membership.objects.update_or_create(user=user, site=ward, defaults={"role": Membership.Role.WARD_STAFF})
    # The same role reading in Polish (their own language choice; the report's computed texts are then rebuilt in
    # Polish for display, reports.computed_text / flag_text / definitions_text).
    polish, _ = get_user_model().objects.get_or_create(username="bench-nurse-pl")
    Membership.objects.update_or_create(user=polish, site=ward, defaults={"role": Membership.Role.WARD_STAFF})
    UserProfile.objects.update_or_create(user=polish, defaults={"language": "pl"})
    # Cycles without a Hiccups event yet: an earlier run's event on the same cycle and onset would make every POST
    # a probable duplicate, shown again with its warning (200) instead of saved — another path, not this line's.
    hiccups = AdverseEvent.objects.filter(cycle=OuterRef("pk"), term__term="Hiccups")
    cycles = list(TreatmentCycle.objects.filter(patient__site=ward, number=1).exclude(Exists(hiccups))
                  .select_related("patient").order_by("patient__study_id")[: requests + 2])
    if len(cycles) < requests:
        raise RuntimeError(f"only {len(cycles)} cycles of {ward.slug} without a Hiccups event are left for the AE "
                           "form POSTs: generate a fresh registry")
    lines = []
    with _web_client(user, polish) as (client, polish_client):
        trivial = reverse("benchmarks-trivial")

        def timed(method: Callable[..., Any], *args: Any, expect: int | None = None, **kwargs: Any) -> float:
            start = time.perf_counter()
            response = method(*args, **kwargs)
            elapsed = time.perf_counter() - start
            if response.status_code >= 400 or expect not in (None, response.status_code):
                raise RuntimeError(f"{args[0]} answered {response.status_code}")
            return elapsed

        day = datetime.timedelta(days=1)
        posts, bases, saved = [], [], 0
        queries = 0
        for i, cycle in enumerate(cycles[:requests]):
            data = {"cycle": cycle.pk, "term": "Hiccups", "grade": 1,
                    "onset_date": (cycle.start_date + day).isoformat(),
                    "resolution_date": (cycle.start_date + 2 * day).isoformat(), "relatedness": "unlikely",
                    "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERED/RESOLVED",
                    "grading_scale": "ctcae_v5_0", "verbatim_term": "benchmark"}
            url = reverse("event-create", kwargs={"patient_pk": cycle.patient_id})
            if i == 0:
                with CaptureQueriesContext(connection) as captured:
                    response = client.post(url, data)
                queries = len(captured)
                if response.status_code != 302:
                    raise RuntimeError(f"{url} did not save the event (answered {response.status_code})")
                saved += 1
                continue
            posts.append(timed(client.post, url, data, expect=302))  # saved, not shown again
            bases.append(timed(client.get, trivial))
            saved += 1
        lines.append(Line(f"AE form POST p95 ({queries} queries), sequential", _p95(posts), _p95(bases),
                          "trivial view, same middleware", "<= 3x, <= 15 queries",
                          note="16 concurrent clients: not measured in process"))
        if not BenchmarkRun.objects.filter(site=ward, status=BenchmarkRun.Status.DONE).exists():
            from reports.runs import benchmark_run_now

            benchmark_run_now(site=ward)  # the report then has flags and plots to show (drawn by the job)
        has_run = True
        report, patient_page, listing, base, report_pl, patient_page_pl = [], [], [], [], [], []
        patient_url = reverse("patient-detail", kwargs={"pk": cycles[0].patient_id})
        report_url = reverse("report", kwargs={"site": ward.slug})
        for _ in range(max(3, requests)):
            report.append(timed(client.get, report_url))
            patient_page.append(timed(client.get, patient_url))
            listing.append(timed(client.get, reverse("patient-list", kwargs={"site": ward.slug})))
            base.append(timed(client.get, trivial))
            report_pl.append(timed(polish_client.get, report_url))
            patient_page_pl.append(timed(polish_client.get, patient_url))
        med = statistics.median
        html = client.get(report_url).content
        if b'<html lang="pl">' not in polish_client.get(report_url).content:
            raise RuntimeError("the Polish reader's report is not in Polish")
        lines.append(Line("report page p50" + ("" if has_run else " (no run yet)"), med(report), med(patient_page),
                          "patient page", "<= 3x", note=f"{len(html) / 1000:.0f} kB of HTML, "
                                                        f"{html.count(b'<svg')} inline SVG plots"))
        lines.append(Line("report page, first request of the process", report[0], patient_page[0],
                          "patient page, first request", "<= 3x",
                          note="plots read from the shared table (before: drawn per process)"))
        lines.append(Line("report page p50, read in Polish", med(report_pl), med(patient_page_pl),
                          "patient page in Polish", "<= 3x", note="computed texts rebuilt in Polish per cell"))
        lines.append(Line("patient page p50", med(patient_page), med(base), "trivial view", "(context)"))
        lines.append(Line(f"patient list p50, {ward.patients.count()} patients", med(listing), med(base),
                          "trivial view", "(context)"))
    return lines


def measure_bulk(ward: Any, rows: int, reps: int) -> list[Line]:
    """``rows`` AEs inserted with bulk_create in one transaction, rolled back: triggers on (with and without the
    bulk audit context) against the same insert with the table's user triggers disabled."""
    import pghistory
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from ae.models import AdverseEvent, CTCAETerm
    from core.audit import bulk_audit_context
    from patients.models import TreatmentCycle

    term = CTCAETerm.objects.get(term="Hiccups")
    user = get_user_model().objects.get(username="registry-loader")
    cycles = list(TreatmentCycle.objects.filter(patient__site=ward).order_by("id"))

    def events() -> list[AdverseEvent]:
        return [AdverseEvent(patient_id=c.patient_id, cycle_id=c.pk, term=term, grade=1,
                             onset_date=c.start_date, resolution_date=c.start_date, relatedness="unlikely",
                             action_taken="DOSE NOT CHANGED", outcome="RECOVERED/RESOLVED", created_by=user,
                             verbatim_term="bulk benchmark")
                for c in (cycles[i % len(cycles)] for i in range(rows))]

    class _Rollback(Exception):
        pass

    def insert(mode: str) -> Callable[[], None]:
        def run() -> None:
            batch = events()
            try:
                with transaction.atomic():
                    if mode == "off":
                        with connection.cursor() as cursor:
                            cursor.execute("ALTER TABLE ae_adverseevent DISABLE TRIGGER USER")
                        AdverseEvent.objects.bulk_create(batch, batch_size=1000)
                    elif mode == "bulk":
                        with bulk_audit_context(source="import", reason="bulk benchmark"):
                            AdverseEvent.objects.bulk_create(batch, batch_size=1000)
                    else:
                        with pghistory.context(source="import", reason="bulk benchmark"):
                            AdverseEvent.objects.bulk_create(batch, batch_size=1000)
                    raise _Rollback
            except _Rollback:
                pass
        return run

    with_ctx, off = _median_pair(insert("bulk"), insert("off"), reps)
    plain, off2 = _median_pair(insert("plain"), insert("off"), 1, warm_up=False)
    return [Line(f"{rows} AEs in one transaction, audit triggers on, bulk audit context", with_ctx, off,
                 "triggers off", "<= 2x"),
            Line(f"{rows} AEs in one transaction, audit triggers on, per-statement context only", plain, off2,
                 "triggers off", "(before)")]


def explain_ward_query(ward: Any) -> str:
    """EXPLAIN (ANALYZE) of the ward's benchmark count query (the site-scoped path)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports import benchmark

    with CaptureQueriesContext(connection) as captured:
        benchmark.collect_inputs(ward)
    sql = next(q["sql"] for q in captured.captured_queries if "FROM \"ae_adverseevent\"" in q["sql"])
    plan = _fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, [])
    return "\n".join(row[0] for row in plan)


def table(lines: list[Line]) -> str:
    out = ["| what | pvtrack | baseline | ratio | goal | note |", "|---|---|---|---|---|---|"]
    for ln in lines:
        out.append(f"| {ln.what} | {ln.pvtrack:.4f} s | {ln.baseline_label}: {ln.baseline:.4f} s | "
                   f"{ln.ratio:.1f}x | {ln.goal} | {ln.note} |")
    return "\n".join(out)


def _concurrent(sites: list[Any], args: argparse.Namespace) -> list[Line]:
    from benchmarks.concurrent import measure_concurrent

    return list(measure_concurrent(sites, args.seconds, args.clients))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--reps", type=int, help="repetitions per median (default: 3)")
    parser.add_argument("--requests", type=int, help="web requests per p95")
    parser.add_argument("--only", choices=["benchmark", "export", "web", "bulk", "ward", "memory", "concurrent"],
                        action="append",
                        help="measure only these goals (repeatable)")
    parser.add_argument("--prefix", help="measure an existing registry with this site prefix (default: the size's own)")
    parser.add_argument("--seconds", type=float, default=20,
                        help="--only concurrent: seconds of POSTs and of trivial GETs in all (default 20)")
    parser.add_argument("--clients", type=int, default=16, help="--only concurrent: concurrent clients (default 16)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the ward's count query")
    args = parser.parse_args(argv)
    django_setup()
    size: dict[str, Any] = SIZES[args.size] | ({"prefix": args.prefix} if args.prefix else {})
    reps = args.reps or size["reps"]
    started = time.perf_counter()
    sites = ensure_registry(size)
    ward = pick_ward(sites)
    only = set(args.only or ["benchmark", "export", "web", "bulk"])
    lines: list[Line] = []
    steps: dict[str, Callable[[], list[Line]]] = {
        "benchmark": lambda: measure_benchmark(ward, sites, reps), "export": lambda: measure_export(ward, reps),
        "web": lambda: measure_web(ward, args.requests or size["requests"]),
        "bulk": lambda: measure_bulk(ward, size["bulk"], reps), "ward": lambda: measure_ward(ward, reps),
        "memory": lambda: measure_memory(args.size, reps), "concurrent": lambda: _concurrent(sites, args)}
    for name, step in steps.items():
        if name in only:
            t0 = time.perf_counter()
            lines += step()
            print(f"{name}: measured in {time.perf_counter() - t0:.0f} s")
    print(f"\nregistry {args.size}: {len(sites)} sites ({size['prefix']}-*), ward {ward.slug}; "
          f"medians of {reps}; {time.perf_counter() - started:.0f} s in all\n")
    print(table(lines))
    if args.explain:
        print("\n" + explain_ward_query(ward))


if __name__ == "__main__":
    main()
