"""The SAE case flow in a real browser (issue 13 "done when", the case side): a nurse records a grade 4 CRS with
an SAE criterion → a draft case with its 24-hour clock → the safety officer completes causality and expectedness →
the case is a SUSAR with a 7-day clock → signs and submits → a follow-up records the resolution and shows what
changed. (The CIOMS I / E2B / FHIR downloads are tested with their writers, issue 13 second part.)"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

import pytest
from django.utils import timezone

from ae.models import SAECase
from patients.models import Membership
from patients.treatment import DosingStep
from tests.conftest import PASSWORD, log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_grade_4_crs_becomes_a_signed_susar_case_and_a_follow_up_shows_what_changed(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    patient = make_patient(ward, "KRK-013")
    today = datetime.date.today()
    cycle = make_cycle(patient, start=today - datetime.timedelta(days=4))
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day", batch_number="1140123")
    url = live_server.url

    # The nurse records a grade 4 CRS, life-threatening.
    log_in(page, url, nurse.username)
    page.goto(f"{url}/patients/{patient.pk}/events/new/")
    page.fill("#id_term", "CRS")
    page.locator("#field-grade").get_by_text("Grade 4", exact=False).first.wait_for()
    page.check("input[name=grade][value='4']")
    page.fill("#id_onset_date", (today - datetime.timedelta(days=2)).isoformat())
    page.select_option("#id_relatedness", "probable")
    page.select_option("#id_action_taken", "DRUG INTERRUPTED")
    page.select_option("#id_outcome", "RECOVERING/RESOLVING")
    page.check("#id_serious")
    page.check("#id_sae_life_threatening")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{url}/patients/{patient.pk}/")
    case = SAECase.objects.get(patient=patient)
    assert case.status == "draft"

    # A draft case with its 24-hour clock, linked from the patient page.
    page.click(f'a[href="/cases/{case.pk}/"]')
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    sponsor = page.locator('#clocks tr[data-clock="sponsor"]').inner_text()
    due = timezone.localtime(case.awareness_at + datetime.timedelta(hours=24))
    assert f"{due:%d %b %Y %H:%M}" in sponsor and "running" in sponsor
    assert page.locator('#clocks tr[data-clock="authority_initial"]').count() == 0

    # The safety officer completes causality and expectedness: a SUSAR with a 7-day clock.
    page.context.clear_cookies()
    log_in(page, url, "officer")
    page.goto(f"{url}/cases/{case.pk}/")
    page.select_option("#id_causality_investigator", "probable")
    page.select_option("#id_expectedness", "unexpected")
    page.get_by_role("button", name="Save assessment").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    assert page.locator("#case-susar").inner_text() == "SUSAR"
    assert "7 days" in page.locator('#clocks tr[data-clock="authority_initial"]').inner_text()
    page.get_by_role("button", name="Draft the narrative from the record").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    assert "Cytokine release syndrome" in page.input_value("#id_narrative")

    # Signs and submits (a wrong password signs nothing).
    page.fill("#id_submit_password", "wrong-password")
    page.get_by_role("button", name="Sign and submit").click()
    assert "not correct" in page.inner_text("#case-error")
    page.fill("#id_submit_password", PASSWORD)
    page.get_by_role("button", name="Sign and submit").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    assert page.inner_text("#case-status") == "Submitted"
    assert "1 (Initial) SUSAR" in page.inner_text("#versions")
    assert page.locator(f'a[href="/cases/{case.pk}/versions/1/e2b.xml"]').count() == 1
    # The three reports of version 1 download, each valid (reports/icsr; docs/icsr.md).
    _check_downloads(page, f"{url}/cases/{case.pk}/versions/1/", case)

    # Follow-up: the CRS resolved (recorded on the event); version 2 shows what changed.
    page.fill("#id_follow_up_reason", "CRS resolved after tocilizumab")
    page.get_by_role("button", name="Open a follow-up").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    page.context.clear_cookies()
    log_in(page, url, nurse.username)
    event = case.adverse_events.get()
    page.goto(f"{url}/events/{event.pk}/edit/")
    page.fill("#id_resolution_date", today.isoformat())
    page.select_option("#id_outcome", "RECOVERED/RESOLVED")
    page.fill("#id_reason", "CRS resolved after tocilizumab")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert page.url == f"{url}/patients/{patient.pk}/", page.locator(".errorlist, [role=alert]").all_inner_texts()
    page.context.clear_cookies()
    log_in(page, url, "officer")
    page.goto(f"{url}/cases/{case.pk}/")
    page.fill("#id_submit_password", PASSWORD)
    page.get_by_role("button", name="Sign and submit").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    changes = page.inner_text("#versions .changes")  # worded for the reader (ae.sae.change_words)
    reaction = f"Reaction Cytokine release syndrome (AE {event.pk})"
    assert f"{reaction} · Outcome: Recovering/resolving → Recovered/resolved" in changes
    assert f"{reaction} · Resolution date: — → {today:%d %b %Y}" in changes
    versions = SAECase.objects.get(pk=case.pk).versions.order_by("number")
    assert versions.count() == 2  # the signed version keeps the English lines the reports carry
    assert f"reactions[Cytokine release syndrome (AE {event.pk})].end: — → {today.isoformat()}" in versions[1].changes


def _check_downloads(page, base: str, case) -> None:
    """CIOMS I PDF read back by pypdf, E2B(R3) XML parsed by lxml, FHIR JSON validated by fhir.resources R4B."""
    import io
    import json

    from fhir.resources.R4B.bundle import Bundle
    from lxml import etree
    from pypdf import PdfReader

    pdf = page.request.get(base + "cioms.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "CIOMS FORM" in text.upper() and "Cytokine release syndrome" in text

    xml = page.request.get(base + "e2b.xml")
    assert xml.status == 200
    root = etree.fromstring(xml.body())
    assert etree.QName(root).localname == "MCCI_IN200100UV01"
    assert root.xpath("//*[local-name()='reaction' or local-name()='observation']")

    fhir = page.request.get(base + "fhir.json")
    assert fhir.status == 200
    bundle = Bundle.model_validate(json.loads(fhir.body()))
    assert any(e.resource.get_resource_type() == "AdverseEvent" for e in bundle.entry)


def test_a_polish_wards_officer_reads_the_case_page_in_polish_and_signs_the_polish_statement(live_server, page, ward):
    """Issue 15 item 4, as seen in Chromium: the labels, the dechallenge choices and help, the event's cycle and the
    RSI's date in Polish, and the statement above "Podpisz i wyślij" is the one the version stores."""
    from django.db import transaction

    from ae.services import sae
    from tests.conftest import make_event

    ward.language, ward.time_zone = "pl", "Europe/Warsaw"
    ward.save()
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    cycle = make_cycle(make_patient(ward, "KRK-015"), start=datetime.date.today() - datetime.timedelta(days=4))
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    with transaction.atomic():  # the service locks the event, as the AE form's save does
        case = sae.case_open_for_event(event=event, acting_user=nurse)
    url = live_server.url
    log_in(page, url, "officer")
    page.goto(f"{url}/cases/{case.pk}/")
    shown = page.inner_text("main")
    for polish in ("Odstawienie leku (dechallenge)", "Czy reakcja ustąpiła po przerwaniu lub zakończeniu wlewu?",
                   "Związek przyczynowy wg badacza", "Oczekiwalność (ustalona)", "(cykl 1)",
                   "obowiązuje od 03 Gru 2014"):
        assert polish in shown, polish
    for english in ("Dechallenge", "Did the reaction abate", "Investigator's causality", "(cycle 1)",
                    "in force from", "Submitted: I have reviewed"):
        assert english not in shown, english
    assert [o.strip() for o in page.locator("#id_dechallenge option").all_inner_texts()] == [
        "Tak", "Nie", "Nieznane", "Nie dotyczy"]
    statement = page.inner_text("#submission-meaning")
    assert statement.startswith("Wysłano: przejrzałem(-am) to zgłoszenie")
    page.select_option("#id_causality_investigator", "probable")
    page.select_option("#id_expectedness", "unexpected")
    page.get_by_role("button", name="Zapisz ocenę").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    page.get_by_role("button", name="Przygotuj opis przypadku z dokumentacji").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    page.fill("#id_submit_password", PASSWORD)
    page.get_by_role("button", name="Podpisz i wyślij").click()
    page.wait_for_url(f"{url}/cases/{case.pk}/")
    assert "1 (Zgłoszenie wstępne) SUSAR" in page.inner_text("#versions")
    assert SAECase.objects.get(pk=case.pk).versions.get().signature_meaning == statement
