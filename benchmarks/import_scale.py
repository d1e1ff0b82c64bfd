"""Measure the AE import at scale: queries and seconds for N template rows (docs/import.md, "Scale").

    python -m benchmarks.import_scale 500 10000      # on an EMPTY scratch database (DATABASE_URL); it rolls back

Creates a throw-away ward (patients, one cycle each, a user) inside one transaction, imports N rows of the CSV
template (dry run, then for real), prints rows, queries and seconds, then rolls everything back.
"""

from __future__ import annotations

import datetime
import io
import sys
import time
from decimal import Decimal

from benchmarks._setup import django_setup


def _file(n: int, patients: int) -> bytes:
    terms = ["Anemia", "Fever", "Nausea", "Headache", "Vomiting", "Diarrhea", "Fatigue", "Cough", "Rash acneiform",
             "Hypokalemia"]
    lines = ["study_id,cycle,ctcae_term,grade,onset_date,resolution_date,relatedness,action_taken,outcome"]
    start = datetime.date(2025, 1, 1)
    for i in range(n):
        onset = start + datetime.timedelta(days=(i // patients) // len(terms))
        lines.append(f"SCALE-{i % patients:04d},1,{terms[(i // patients) % len(terms)]},1,{onset},{onset},possible,"
                     "DOSE NOT CHANGED,RECOVERED/RESOLVED")
    return ("\n".join(lines) + "\n").encode()


def main(sizes: list[int]) -> None:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from ae.services.imports import adverse_events_import
    from patients.models import Membership, Patient, Site, TreatmentCycle

    for n in sizes:
        patients = max(1, n // 100)
        with transaction.atomic():
            site = Site.objects.create(slug=f"scale-{n}", name=f"Scale {n}")
            user = User.objects.create(username=f"scale-{n}")
            Membership.objects.create(user=user, site=site, role=Membership.Role.WARD_STAFF)
            for p in range(patients):
                patient = Patient.objects.create(site=site, study_id=f"SCALE-{p:04d}", sex="F",
                                                 birth_month=datetime.date(2015, 1, 1),
                                                 disease_status=Patient.DiseaseStatus.FIRST_RELAPSE)
                TreatmentCycle.objects.create(patient=patient, number=1, start_date=datetime.date(2025, 1, 1),
                                              schedule=TreatmentCycle.Schedule.STANDARD_28D, weight_kg=Decimal("20"),
                                              marrow_blasts_pct=Decimal("30"))
            body = _file(n, patients)
            for dry_run in (True, False):
                queries: list[str] = []

                def count(execute, sql, params, many, context, queries=queries):
                    queries.append(sql)
                    return execute(sql, params, many, context)

                with connection.execute_wrapper(count):
                    began = time.perf_counter()
                    report = adverse_events_import(site=site, raw=io.BytesIO(body), file_name="scale.csv",
                                                   dry_run=dry_run, acting_user=user)
                    seconds = time.perf_counter() - began
                print(f"rows={n} dry_run={dry_run} created={report.count('created')} "
                      f"errors={report.count('error')} queries={len(queries)} seconds={seconds:.2f}", flush=True)
            transaction.set_rollback(True)


if __name__ == "__main__":
    django_setup()
    main([int(a) for a in sys.argv[1:]] or [500])
