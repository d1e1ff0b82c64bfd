"""Accessibility measured (issue 15 item 1): axe-core (tests/axe.py) finds no serious or critical WCAG 2.2 A/AA
violation on the pages a user reaches, and touch targets are at least 24 x 24 CSS px (WCAG 2.2 SC 2.5.8).

The counts per page are written to test-artifacts/axe-counts.json (gitignored) for the record."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership
from tests.ae.test_import_sources import redcap_csv
from tests.axe import axe_violations, blocking
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _pages(live_server, page, ward):
    """Visit each page a user reaches, yielding (name, url) once the page is showing what is to be checked."""
    from reports.runs import benchmark_run_now

    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patients = []
    for i in range(8):  # 8 of 8 patients with grade 3 CRS: flagged, so the report has flags and sign-off
        cycle = make_cycle(make_patient(ward, f"P-{i:02d}"), start=datetime.date(2026, 1, 5))
        patients.append(cycle.patient)
        AdverseEvent.objects.create(patient=cycle.patient, cycle=cycle, term=CTCAETerm.objects.get(
            term="Cytokine release syndrome"), grade=3, onset_date=cycle.start_date, relatedness="probable",
            action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED", created_by=officer)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    patient, event = patients[0], AdverseEvent.objects.filter(patient=patients[0]).get()
    url = live_server.url

    page.goto(f"{url}/login/")
    yield "login", page.url
    log_in(page, url, nurse.username)
    page.goto(f"{url}/sites/{ward.slug}/patients/")
    yield "patient list", page.url
    page.goto(f"{url}/patients/{patient.pk}/")
    yield "patient page", page.url
    page.goto(f"{url}/patients/{patient.pk}/events/new/")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator(".field.has-error").first.wait_for()
    yield "AE form with errors", page.url
    for kind in ("crs", "icans"):
        page.goto(f"{url}/patients/{patient.pk}/{kind}/new/")
        yield f"{kind.upper()} assessment form", page.url
    page.goto(f"{url}/patients/{patient.pk}/labs/new/")
    yield "lab form", page.url
    page.goto(f"{url}/sites/{ward.slug}/ae-imports/")
    page.set_input_files("#id_file", files=[{"name": "export.csv", "mimeType": "text/csv",
                                             "buffer": redcap_csv(bad=False)}])
    page.select_option("#id_file_source", "redcap_csv")
    page.get_by_role("button", name="Map this file's columns").click()
    page.locator("#id_pick_grade").select_option("")  # a required column left out: its error is shown too
    page.get_by_role("button", name="Save mapping").first.click()
    page.locator("#field-pick_grade.has-error").wait_for()
    yield "import column picker with errors", page.url
    page.context.clear_cookies()
    log_in(page, url, officer.username)
    page.goto(f"{url}/sites/{ward.slug}/report/")
    page.locator("#signoff-form").wait_for()
    yield "report with flags and sign-off", page.url
    page.locator("a[href*='/plots/']").first.click()
    page.wait_for_url(lambda u: u.endswith("/plots/"))
    yield "plots", page.url
    page.goto(f"{url}/sites/{ward.slug}/events/")
    yield "AE listing", page.url
    page.goto(f"{url}/events/{event.pk}/history/")
    yield "AE history", page.url
    page.goto(f"{url}/history/adverse-event/{event.pk}/")
    yield "record history", page.url
    page.goto(f"{url}/sites/{ward.slug}/runs/")
    yield "run history", page.url


def _small_targets(page) -> list[str]:
    """Interactive elements smaller than 24 x 24 CSS px that are not inline links in text (SC 2.5.8 exception)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
            'input:not([type=hidden]), select, textarea, button, summary, a.button, nav a'))
        .filter(el => el.offsetParent !== null)
        .filter(el => { const r = el.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
        .map(el => `${el.tagName.toLowerCase()}#${el.id || el.name || el.textContent.trim().slice(0, 20)}`)""")


def test_no_serious_or_critical_violation_and_large_enough_targets(live_server, page, ward):
    counts, found, small = {}, {}, {}
    for name, _ in _pages(live_server, page, ward):
        violations = axe_violations(page)
        counts[name] = {impact: sum(len(v["nodes"]) for v in violations if v["impact"] == impact)
                        for impact in ("critical", "serious", "moderate", "minor")}
        if blocking(violations):
            found[name] = blocking(violations)
        if targets := _small_targets(page):
            small[name] = targets
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-counts.json").write_text(json.dumps(counts, indent=2))
    assert len(counts) == 14
    assert found == {}, json.dumps(found, indent=1)
    assert small == {}


def test_axe_finds_what_it_should(page):
    """The check can fail: a page with an unlabelled field and an image without text has serious or critical
    violations."""
    page.set_content('<html lang="en"><title>t</title><main><img src="x.png"><input type="text"></main></html>')
    found = {v["id"] for v in blocking(axe_violations(page))}
    assert {"image-alt", "label"} <= found
