"""The AE form shows the grade a lab term gets from the patient's lab values as the nurse types (Playwright driving
Debian's Chromium), before saving: the worst computed grade of the term's values from the onset day to the
resolution day, with the value, unit, sample time and range; none in those days says no reason is needed.

Rule text: NCI CTCAE v5.0 "Platelet count decreased" grade 2 "<75.0 - 50.0 x 10e9 /L".
"""

from __future__ import annotations

import datetime
import os
from zoneinfo import ZoneInfo

import pytest

from ae.services.labs import lab_result_record
from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TZ = ZoneInfo("Europe/Warsaw")


def _platelets_of(ward):
    """A patient of ``ward`` with a baseline platelet count of 40 on 5 Jan 2026 and 60 on 8 Jan (07:00 Warsaw)."""
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-047")
    cycle = make_cycle(patient, start=datetime.date(2026, 1, 5))
    for day, value, baseline in ((5, 40, True), (8, 60, False)):  # 60 is no worse than the baseline: no episode
        lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150, "baseline": baseline,
            "cycle": cycle if baseline else None, "collected_at": datetime.datetime(2026, 1, day, 7, tzinfo=TZ)})
    return nurse, patient


def _platelet_count_decreased_on_8_jan(live_server, page, ward):
    """The ward's nurse starts an AE "Platelet count decreased" with onset 8 Jan 2026 on the AE form, where the
    patient's platelet count of that morning is: the lab proposal's box."""
    nurse, patient = _platelets_of(ward)
    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")
    page.fill("#id_term", "Platelet count decreased")
    page.fill("#id_onset_date", "2026-01-08")
    return page.locator("#lab-proposal")


def test_the_ae_form_proposes_the_lab_grade_as_the_nurse_types(live_server, page, ward):
    proposal = _platelet_count_decreased_on_8_jan(live_server, page, ward)
    proposal.get_by_text("Computed grade 2 from the lab values").wait_for()
    assert "Platelet count 60 ×10⁹/L of 08 Jan 2026 07:00 (LLN 150 ×10⁹/L)" in proposal.inner_text()
    page.fill("#id_onset_date", "2026-01-09")  # after the last value: nothing to propose
    proposal.get_by_text("No computed grade").wait_for()
    assert "needs no reason" in proposal.inner_text()


def test_the_lab_proposal_is_in_the_readers_language(live_server, page, ward):
    """A Polish ward's nurse reads the value, its sample time and its rationale in Polish (issue 15, item 4): the
    analyte's name, the month and the CTCAE rationale the server rebuilt; the CTCAE term stays NCI's English."""
    ward.language = "pl"
    ward.save()
    proposal = _platelet_count_decreased_on_8_jan(live_server, page, ward)
    proposal.get_by_text("Stopień 2 obliczony z wyników laboratoryjnych").wait_for()
    text = proposal.inner_text()
    assert ("Liczba płytek krwi 60 ×10⁹/L z 08 Sty 2026 07:00 (LLN 150 ×10⁹/L): Stopień 2: 60 ×10⁹/L < 75 ×10⁹/L."
            in text), text
    assert "Platelet count 60" not in text and "Grade 2" not in text
