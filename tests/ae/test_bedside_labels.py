"""The bedside CRS and ICANS criteria in the reader's language (issue 15, item 4): the forms' choices and the event
history name them in words (ae/bedside_labels.py), never by their stored codes; the codes, the API and the grading
rationales stay as they were."""

from __future__ import annotations

import datetime
import html

import pytest
from django.utils import translation

from ae import bedside_labels, grading
from ae.forms import CRSAssessmentForm, ICANSAssessmentForm
from ae.models import CRSAssessment, ICANSAssessment
from tests.conftest import make_cycle, make_patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("labels", "codes"),
    [
        (bedside_labels.VASOPRESSOR_LABELS, grading.VASOPRESSORS),
        (bedside_labels.OXYGEN_DEVICE_LABELS, grading.OXYGEN_DEVICES),
        (bedside_labels.CRS_FINDING_LABELS, grading.CRS_FINDINGS),
        (bedside_labels.CONSCIOUSNESS_LABELS, grading.CONSCIOUSNESS_LEVELS),
        (bedside_labels.SEIZURE_LABELS, grading.SEIZURE_LEVELS),
        (bedside_labels.MOTOR_LABELS, grading.MOTOR_LEVELS),
        (bedside_labels.CEREBRAL_EDEMA_LABELS, grading.CEREBRAL_EDEMA_LEVELS),
        (bedside_labels.ICANS_DOMAIN_LABELS, grading.ICANS_DOMAINS),
    ],
)
def test_every_code_of_the_rules_has_its_words_and_no_more(labels, codes):
    assert set(labels) == set(codes)
    with translation.override("pl"):
        assert all(str(text) != code for code, text in labels.items())  # words, not codes, in Polish too


def test_the_english_consciousness_levels_are_the_rules_own():
    with translation.override("en-gb"):
        assert {k: str(v) for k, v in bedside_labels.CONSCIOUSNESS_LABELS.items()} == grading.CONSCIOUSNESS_LABELS


def test_the_bedside_forms_choices_are_words_in_the_readers_language():
    with translation.override("pl"):
        crs = CRSAssessmentForm.base_fields
        assert dict(crs["vasopressors"].choices)["norepinephrine"] == "Noradrenalina (norepinefryna)"
        assert dict(crs["oxygen_device"].choices)["high_flow_nasal_cannula"] == "Kaniula donosowa wysokoprzepływowa"
        assert dict(crs["other_cause_findings"].choices)["hypoxia"] == "Hipoksja"
        assert str(crs["hypotension"].label) == "Hipotensja"
        icans = ICANSAssessmentForm.base_fields
        assert dict(icans["consciousness"].choices)["awakens_to_voice"] == "Budzi się na głos"
        assert dict(icans["seizure"].choices)["none"] == "Brak"
        assert str(icans["seizure"].label) == "Drgawki"
        assert dict(icans["other_cause_domains"].choices)["encephalopathy_score"] == "Wynik ICE lub CAPD"
    with translation.override("en-gb"):
        assert dict(CRSAssessmentForm.base_fields["oxygen_device"].choices)["cpap"] == "CPAP"  # was "Cpap"
        assert dict(ICANSAssessmentForm.base_fields["cerebral_edema"].choices)["focal"] == (
            "Focal or local edema on neuroimaging"
        )


def test_the_event_history_names_the_bedside_criteria_in_polish(polish_nurse, ward, patient, cycle):
    crs = {
        "episode": "", "cycle": cycle.pk, "assessed_at": "2026-01-06T08:00", "temperature_c": "38.5",
        "hypotension": "on", "vasopressors": ["norepinephrine"], "oxygen_device": "nasal_cannula",
        "oxygen_flow_l_min": "2", "other_cause_findings": ["hypoxia"], "other_cause": "zapalenie płuc",
        "relatedness": "probable", "action_taken": "DRUG INTERRUPTED",
    }
    saved = polish_nurse.post(f"/patients/{patient.pk}/crs/new/", crs)
    assert saved.status_code == 302, saved.context["form"].errors
    stored = CRSAssessment.objects.get()
    assert (stored.vasopressors, stored.oxygen_device, stored.other_cause_findings) == (
        ["norepinephrine"], "nasal_cannula", ["hypoxia"])  # the codes are stored
    page = html.unescape(polish_nurse.get(saved.url).content.decode())
    table = page.split("<h2>Oceny CRS tego epizodu</h2>")[1].split("</table>")[0]  # the assessments' criteria
    assert "; Noradrenalina (norepinefryna); Kaniula donosowa 2" in table
    assert "zapalenie płuc): hipoksja" in table
    assert "; norepinephrine" not in table and "Nasal cannula" not in table

    child = make_patient(ward, "KRK-008", birth_month=datetime.date(2018, 5, 1))
    icans = {
        "episode": "", "cycle": make_cycle(child).pk, "assessed_at": "2026-01-06T09:30", "tool": "CAPD",
        "score": "12", "consciousness": "awakens_to_voice", "seizure": "rapid_resolving_or_eeg_treated",
        "motor": "none", "cerebral_edema": "focal", "relatedness": "probable", "action_taken": "DRUG INTERRUPTED",
    }
    saved = polish_nurse.post(f"/patients/{child.pk}/icans/new/", icans)
    assert saved.status_code == 302, saved.context["form"].errors
    assert ICANSAssessment.objects.get().seizure == "rapid_resolving_or_eeg_treated"
    page = html.unescape(polish_nurse.get(saved.url).content.decode())
    page = page.split("<h2>", 1)[1]  # from the assessments' tables on
    assert "Budzi się na głos" in page
    assert "Szybko ustępujące lub niedrgawkowe w EEG, ustępujące po interwencji" in page
    assert "Ogniskowy lub miejscowy obrzęk w badaniu obrazowym" in page
    assert "Rapid resolving" not in page and "Awakens to voice" not in page
