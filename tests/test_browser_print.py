"""Printing on A4 (issue 15 item 3), in Debian's Chromium: the report, the patient page, the patient's timeline and an
adverse event's page are rendered to PDF (``page.pdf(format="A4")``, print media), read back with pypdf, and each
page of each PDF carries the site, the run and the time of printing, and none of the navigation."""

from __future__ import annotations

import datetime
import io
import os
import re
import unicodedata
from pathlib import Path

import pytest

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership
from reports.runs import benchmark_run_now
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "print"
NAV_TEXT = ("Skip to content", "Log out", "Two-factor", "Notifications")


def pdf_pages(page, name: str) -> list[str]:
    from pypdf import PdfReader

    pdf = page.pdf(format="A4")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_report_patient_timeline_and_ae_print_with_site_run_and_time_on_each_page(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    fn = CTCAETerm.objects.get(term="Febrile neutropenia")
    events = []
    for i in range(8):  # 8 of 9 patients with febrile neutropenia: flags, plots, several sections
        cycle = make_cycle(make_patient(ward, f"P-{i:02d}"), start=datetime.date(2026, 1, 5))
        events.append(AdverseEvent.objects.create(
            patient=cycle.patient, cycle=cycle, term=fn, grade=3, onset_date=cycle.start_date,
            relatedness="probable", action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED",
            created_by=nurse))
    make_cycle(make_patient(ward, "P-08"), start=datetime.date(2026, 1, 5))
    patient = events[0].patient
    make_cycle(patient, number=2, start=datetime.date(2026, 3, 2))  # two cycles: two sections on the patient page
    run = benchmark_run_now(site=ward)
    log_in(page, live_server.url, officer.username)

    pages = {
        "report": (f"/sites/{ward.slug}/report/", f"benchmark run {run.pk}, finished"),
        "patient": (f"/patients/{patient.pk}/", f"latest benchmark run {run.pk}, finished"),
        "timeline": (f"/patients/{patient.pk}/timeline/", f"latest benchmark run {run.pk}, finished"),
        "adverse-event": (f"/events/{events[0].pk}/history/", f"latest benchmark run {run.pk}, finished"),
    }
    counts = {}
    for name, (path, run_text) in pages.items():
        page.goto(f"{live_server.url}{path}")
        texts = pdf_pages(page, name)
        counts[name] = len(texts)
        assert texts, f"{name}: the PDF has no page"
        for number, text in enumerate(texts, 1):
            flat = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))  # the PDF's "ﬁ" ligature → "fi"
            assert "pvtrack · Ward A · " in flat and run_text in flat and "printed " in flat, (name, number, flat[:300])
            for nav in NAV_TEXT:
                assert nav not in flat, f"{name} page {number} prints the navigation ({nav!r})"
    assert counts["report"] >= 3  # flags, plots, sign-off, table…: a new page per section
    assert counts["patient"] >= 2  # a page per cycle
    (ARTIFACTS / "pages.txt").write_text("".join(f"{k}: {v} A4 pages\n" for k, v in counts.items()))
