"""Generate a synthetic registry: sites, pseudonymous patients, blinatumomab cycles and CTCAE-graded AEs.

    python -m benchmarks.generate --sites 50 --patients 10000 --aes 200000 [--seed 12] [--prefix reg]

Loads through PostgreSQL COPY inside one transaction, with every constraint and trigger active (check
constraints, composite foreign keys, the date triggers, the pghistory audit triggers): nothing is disabled,
so every row is valid pvtrack data and fully audited. The audit context ({"source": "import", "reason":
"synthetic registry ..."}) is set with :func:`core.audit.bulk_audit_context`, which COPY needs (pghistory
injects its context per Django statement, and COPY is not one) and which keeps the triggers linear.

Shapes (deterministic for a given seed): site sizes are log-normal (a few large wards, many small);
each patient has 1-5 cycles (mean 3, 42 days apart, 28-day standard or 14-day short infusion); each AE
falls in a random cycle, on a CTCAE v5.0 term (60 % from the benchmark categories, the rest from the whole
catalogue), at an allowed grade (low grades commoner), with onset inside the cycle. Needs the reference
data (``manage.py load_reference_data``; loaded here if the catalogue is empty). Site slugs are
``<prefix>-001``...; the command refuses to run when such sites exist already (use a fresh prefix or database).
"""

from __future__ import annotations

import argparse
import datetime
import random
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from benchmarks._setup import django_setup

#: Share of AEs whose term comes from a benchmark category (CRS, neurotoxicity, febrile neutropenia, ...).
CATEGORY_SHARE = 0.6
#: Relative frequency of grades 1..5 before restricting to the term's allowed grades.
GRADE_WEIGHTS = {1: 40, 2: 30, 3: 20, 4: 8, 5: 0.5}
CYCLES_PER_PATIENT = ([1, 2, 3, 4, 5], [0.15, 0.2, 0.3, 0.2, 0.15])
CYCLE_GAP_DAYS = 42


def _columns(model: Any, now: datetime.datetime) -> dict[str, Any]:
    """Column -> default value for every concrete non-pk field (auto_now fields -> ``now``)."""
    out = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            out[f.column] = now
        else:
            out[f.column] = f.get_default()  # "" for text fields without a default, None for the rest
    return out


def copy_rows(model: Any, rows: Iterable[dict[str, Any]], now: datetime.datetime) -> int:
    """COPY ``rows`` (column -> value, missing columns take the field default) into ``model``'s table."""
    from django.db import connection

    defaults = _columns(model, now)
    cols = list(defaults)
    n = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor
        quoted = ", ".join(f'"{c}"' for c in cols)
        with raw.copy(f'COPY "{model._meta.db_table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                values = defaults | row
                copy.write_row([values[c] for c in cols])
                n += 1
    return n


def _site_sizes(rng: random.Random, sites: int, patients: int) -> list[int]:
    weights = [rng.lognormvariate(0, 0.8) for _ in range(sites)]
    total = sum(weights)
    sizes = [max(1, int(patients * w / total)) for w in weights]
    sizes[sizes.index(max(sizes))] += patients - sum(sizes)  # the largest ward takes the rounding
    return sizes


def _grade(rng: random.Random, allowed: Sequence[int]) -> int:
    return rng.choices(list(allowed), weights=[GRADE_WEIGHTS[g] for g in allowed])[0]


def generate(*, sites: int, patients: int, aes: int, seed: int = 12, prefix: str = "reg",
             log: Any = print) -> dict[str, int]:
    """Create the registry in one transaction; return the row counts {"sites", "patients", "cycles", "aes"}.

    Raises ValueError if sites with this prefix exist already or a size is not positive.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from ae.models import AdverseEvent, CTCAEGrade, CTCAETerm
    from core.audit import bulk_audit_context
    from patients.models import Patient, Site, TreatmentCycle
    from reports.models import BenchmarkCategory

    if min(sites, patients, aes) < 1 or patients < sites:
        raise ValueError("sizes must be positive, with at least one patient per site")
    if Site.objects.filter(slug__startswith=f"{prefix}-").exists():
        raise ValueError(f"sites {prefix}-* exist already: use another --prefix or a fresh database")
    if not CTCAETerm.objects.exists():
        from django.core.management import call_command

        call_command("load_reference_data")
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    allowed: dict[int, list[int]] = {}
    for term_id, grade in CTCAEGrade.objects.values_list("term_id", "grade").order_by("term_id", "grade"):
        allowed.setdefault(term_id, []).append(grade)
    category_terms = sorted({t.id for c in BenchmarkCategory.objects.prefetch_related("terms") for t in c.terms.all()})
    all_terms = sorted(allowed)
    crs_ids = set(CTCAETerm.objects.filter(term="Cytokine release syndrome").values_list("id", flat=True))
    user, _ = get_user_model().objects.get_or_create(username="registry-loader",
                                                     defaults={"is_active": False})
    counts = {}
    started = time.perf_counter()
    with transaction.atomic(), bulk_audit_context(source="import",
                                                  reason=f"synthetic registry (benchmarks.generate seed {seed})"):
        slugs = [f"{prefix}-{i:03d}" for i in range(1, sites + 1)]
        counts["sites"] = copy_rows(Site, ({"slug": s, "name": f"Synthetic ward {s}"} for s in slugs), now)
        site_ids = dict(Site.objects.filter(slug__in=slugs).values_list("slug", "id"))

        births: list[datetime.date] = []
        firsts: list[datetime.date] = []

        def patient_rows() -> Iterable[dict[str, Any]]:
            k = 0
            for slug, size in zip(slugs, _site_sizes(rng, sites, patients), strict=True):
                for _ in range(size):
                    k += 1
                    first = today - datetime.timedelta(days=rng.randint(400, 3650))
                    years = rng.randint(1, 17)
                    born = datetime.date(first.year - years, rng.randint(1, 12), 1)
                    births.append(born)
                    firsts.append(first)
                    yield {"site_id": site_ids[slug], "study_id": f"P{k:06d}", "sex": rng.choice("MF"),
                           "birth_month": born, "disease_status": rng.choice(
                               ["first_relapse", "second_relapse", "primary_refractory", "mrd_positive_cr"]),
                           "prior_hsct": rng.random() < 0.2}

        counts["patients"] = copy_rows(Patient, patient_rows(), now)
        patient_ids = list(Patient.objects.filter(site_id__in=site_ids.values()).order_by("id")
                           .values_list("id", flat=True))
        cycle_plan: list[tuple[int, int, datetime.date, datetime.date]] = []  # patient, number, start, end

        def cycle_rows() -> Iterable[dict[str, Any]]:
            for pid, first in zip(patient_ids, firsts, strict=True):
                schedule = "short_14d" if rng.random() < 0.15 else "standard_28d"
                for number in range(1, rng.choices(*CYCLES_PER_PATIENT)[0] + 1):
                    start = first + datetime.timedelta(days=CYCLE_GAP_DAYS * (number - 1))
                    end = start + datetime.timedelta(days=13 if schedule == "short_14d" else 27)
                    cycle_plan.append((pid, number, start, end))
                    blasts = (Decimal(f"{rng.uniform(0, 90):.2f}") if number == 1 and rng.random() < 0.7 else None)
                    yield {"patient_id": pid, "number": number, "schedule": schedule, "start_date": start,
                           "end_date": end, "weight_kg": Decimal("20"), "marrow_blasts_pct": blasts}

        counts["cycles"] = copy_rows(TreatmentCycle, cycle_rows(), now)
        cycle_ids = {(p, n): c for c, p, n in TreatmentCycle.objects.filter(patient_id__in=patient_ids)
                     .values_list("id", "patient_id", "number")}

        # A death is the last day of a patient's record (trigger ae_death_is_last): a grade 5 event is dated in
        # the patient's last cycle, 14 days after its end — after every other event's onset and resolution.
        last_cycle = {pid: (number, end) for pid, number, _start, end in cycle_plan}  # cycles in number order

        def ae_rows() -> Iterable[dict[str, Any]]:
            for _ in range(aes):
                pid, number, start, end = cycle_plan[rng.randrange(len(cycle_plan))]
                term = rng.choice(category_terms if rng.random() < CATEGORY_SHARE else all_terms)
                grade = _grade(rng, allowed[term])
                if grade == 5:
                    number, end = last_cycle[pid]
                    start = end + datetime.timedelta(days=14)  # the day of death, also the onset below
                pre = grade != 5 and rng.random() < 0.02
                onset = (start if grade == 5 else start - datetime.timedelta(days=rng.randint(0, 10)) if pre
                         else start + datetime.timedelta(days=rng.randint(0, (end - start).days)))
                resolved = onset + datetime.timedelta(days=rng.randint(0, 14)) if rng.random() < 0.8 else None
                row: dict[str, Any] = {
                    "patient_id": pid, "cycle_id": cycle_ids[(pid, number)], "term_id": term, "grade": grade,
                    "entered_grade": grade, "onset_date": onset, "resolution_date": resolved,
                    "grading_scale": "astct_2019" if term in crs_ids and rng.random() < 0.3 else "ctcae_v5_0",
                    "present_before_cycle": pre, "grade_at_cycle_start": allowed[term][0] if pre else None,
                    "relatedness": rng.choice(["not_related", "unlikely", "possible", "probable", "definite"]),
                    "action_taken": rng.choice(["DOSE NOT CHANGED", "DRUG INTERRUPTED", "NOT APPLICABLE"]),
                    "outcome": "RECOVERED/RESOLVED" if resolved else "NOT RECOVERED/NOT RESOLVED",
                    "created_by_id": user.pk, "verbatim_term": "synthetic",
                }
                if grade == 5:
                    row |= {"outcome": "FATAL", "resolution_date": None, "serious": True, "sae_death": True}
                elif grade >= 3 and rng.random() < 0.5:
                    row |= {"serious": True, "sae_hospitalization": True}
                yield row

        counts["aes"] = copy_rows(AdverseEvent, ae_rows(), now)
    # Statistics for the planner; outside a transaction also the visibility map, so that the site-scope
    # indexes answer without visiting the table (index-only scans), as autovacuum would do later.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in ("patients_site", "patients_patient", "patients_treatmentcycle", "ae_adverseevent"):
            cursor.execute(f"{command} {table}")
    log(f"generated {counts} in {time.perf_counter() - started:.1f} s")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--aes", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--prefix", default="reg", help="site slug prefix (default reg: reg-001, reg-002, ...)")
    args = parser.parse_args(argv)
    django_setup()
    generate(sites=args.sites, patients=args.patients, aes=args.aes, seed=args.seed, prefix=args.prefix)


if __name__ == "__main__":
    main()
