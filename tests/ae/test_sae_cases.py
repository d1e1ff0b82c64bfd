"""SAE cases (ae/services/sae.py): opened with the serious event in its transaction, grouped, assessed, signed and
frozen into versions; bad input refused with nothing half-saved; the database's own rules."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ae.models import AdverseEvent, CaseVersion, ReferenceSafetyInformation, RSIEntry, SAECase, SAECaseLink
from ae.sae.snapshot import CaseSnapshot
from ae.services import sae
from ae.services.events import adverse_event_create, adverse_event_update
from patients.treatment import DosingStep
from tests.conftest import PASSWORD, event_form_data, make_event, make_user, term

pytestmark = pytest.mark.django_db


def crs4(cycle, nurse):
    data = event_form_data(cycle, grade=4, serious=True, sae_life_threatening=True, outcome="RECOVERING/RESOLVING",
                           resolution_date=None)
    data |= {"cycle": cycle, "term": term("Cytokine release syndrome"), "patient": cycle.patient}
    data.pop("resolution_date", None)
    return adverse_event_create(acting_user=nurse, **data)


@pytest.fixture
def dosed(cycle):
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day", batch_number="1234A")
    DosingStep.objects.create(cycle=cycle, from_day=8, dose=Decimal("15"), unit="ug_m2_day")
    return cycle


@pytest.fixture
def rsi(db):
    version = ReferenceSafetyInformation.objects.create(document="BLINCYTO EU SmPC §4.8", version="test",
                                                        document_date=datetime.date(2020, 1, 1),
                                                        in_force_from=datetime.date(2020, 1, 1))
    RSIEntry.objects.create(rsi=version, ctcae_term=term("Cytokine release syndrome"), wording="Cytokine release "
                            "syndrome", max_grade=3)
    return version


def test_a_serious_event_opens_a_draft_case_in_the_same_transaction(dosed, nurse, officer):
    before = timezone.now()
    event = crs4(dosed, nurse)
    case = SAECase.objects.get(case_links__adverse_event=event)
    assert case.status == "draft" and case.patient == dosed.patient and case.reporter == nurse
    assert case.reporter_role == "ward_staff" and before <= case.awareness_at <= timezone.now()
    assert case.reference == f"PVT-WARD-A-{case.awareness_at.year}-0001"
    assert list(case.adverse_events.all()) == [event]


@pytest.mark.parametrize(("aeacn", "action"), [
    ("DRUG WITHDRAWN", "withdrawn"), ("DOSE REDUCED", "dose_reduced"), ("DOSE NOT CHANGED", "not_changed"),
    ("NOT APPLICABLE", "not_applicable"), ("UNKNOWN", "unknown"), ("DRUG INTERRUPTED", "unknown")])
def test_the_draft_case_takes_the_action_taken_the_ward_recorded(dosed, nurse, aeacn, action):
    """Found on the case page of a death recorded with "Blinatumomab permanently stopped": the case's action taken
    (E2B G.k.8) was "Unknown" until the officer chose again what the record already said. The draft now starts from
    the primary event's AEACN; an interruption has no G.k.8 code (it shows as dose periods and the dechallenge), so
    it stays "Unknown" for the officer to decide. A case opened by an import does the same."""
    data = event_form_data(dosed, grade=4, serious=True, sae_life_threatening=True, outcome="RECOVERING/RESOLVING",
                           resolution_date=None, action_taken=aeacn)
    data |= {"cycle": dosed, "term": term("Cytokine release syndrome"), "patient": dosed.patient}
    data.pop("resolution_date", None)
    event = adverse_event_create(acting_user=nurse, **data)
    assert SAECase.objects.get(case_links__adverse_event=event).action_taken == action
    imported = make_event(dosed, "Sepsis", grade=4, user=nurse, serious=True, sae_life_threatening=True,
                          action_taken=aeacn)
    imported.patient, imported.term = dosed.patient, term("Sepsis")
    (case,) = sae.cases_open_for_new_events(events=[imported], acting_user=nurse)
    assert SAECase.objects.get(pk=case.pk).action_taken == action


def test_a_failing_transaction_leaves_neither_event_nor_case(dosed, nurse):
    with pytest.raises(RuntimeError), transaction.atomic():
        crs4(dosed, nurse)
        raise RuntimeError("rolled back")
    assert not AdverseEvent.objects.exists() and not SAECase.objects.exists()


def test_an_event_that_becomes_serious_on_edit_opens_its_case_once(dosed, nurse):
    event = make_event(dosed, grade=3, user=nurse)
    assert not SAECase.objects.exists()
    event = adverse_event_update(event=event, acting_user=nurse, reason="Admitted to PICU overnight",
                                 expected_version=1, serious=True, sae_hospitalization=True)
    assert SAECase.objects.count() == 1
    adverse_event_update(event=event, acting_user=nurse, reason="Also life-threatening on review",
                         expected_version=2, sae_life_threatening=True)
    assert SAECase.objects.count() == 1


def test_an_event_is_in_at_most_one_case(dosed, nurse, patient):
    event = crs4(dosed, nurse)
    case = event.case_link.case
    with pytest.raises(ValidationError, match="already in case"):
        sae.case_create(patient=patient, events=[event], acting_user=nurse)
    with pytest.raises(IntegrityError), transaction.atomic():
        SAECaseLink.objects.create(case=case, adverse_event=event)


def test_a_case_groups_the_episode_of_one_patient(dosed, nurse, ward):
    event = crs4(dosed, nurse)
    case = event.case_link.case
    hypotension = make_event(dosed, "Hypotension", grade=3, user=nurse)
    sae.case_events_add(case=case, events=[hypotension], acting_user=nurse)
    assert set(case.adverse_events.all()) == {event, hypotension}
    from tests.conftest import make_cycle, make_patient
    other = make_event(make_cycle(make_patient(ward, "KRK-002")), "Hypoxia", grade=3, user=nurse)
    with pytest.raises(ValidationError, match="another patient"):
        sae.case_events_add(case=case, events=[other], acting_user=nurse)
    with pytest.raises(IntegrityError), transaction.atomic():
        SAECaseLink.objects.create(case=case, adverse_event=other)  # the trigger, whatever the code path


def test_a_case_by_hand_needs_a_serious_event(dosed, nurse, patient):
    event = make_event(dosed, grade=2, user=nurse)
    with pytest.raises(ValidationError, match="serious"):
        sae.case_create(patient=patient, events=[event], acting_user=nurse)
    assert not SAECase.objects.exists()


def test_awareness_changes_need_a_reviewer_and_a_reason_kept_in_the_audit(dosed, nurse, officer):
    case = crs4(dosed, nurse).case_link.case
    earlier = case.awareness_at - datetime.timedelta(hours=3)
    with pytest.raises(PermissionDenied):
        sae.case_awareness_change(case=case, acting_user=nurse, awareness_at=earlier, reason="phone call at 07:00")
    with pytest.raises(ValidationError):
        sae.case_awareness_change(case=case, acting_user=officer, awareness_at=earlier, reason="  ")
    sae.case_awareness_change(case=case, acting_user=officer, awareness_at=earlier,
                              reason="The night doctor phoned the ward at 07:00")
    case.refresh_from_db()
    assert case.awareness_at == earlier and case.awareness_reason == "The night doctor phoned the ward at 07:00"
    from core.audit import history_rows
    assert any(row["reason"] == "The night doctor phoned the ward at 07:00" for row in history_rows(case))


def test_expectedness_is_proposed_from_the_rsi_in_force_at_the_awareness_date(dosed, nurse, officer, rsi):
    case = crs4(dosed, nurse).case_link.case
    assert case.rsi == rsi and case.expectedness_proposed == "unexpected"  # grade 4 is above the entry's grade 3
    newer = ReferenceSafetyInformation.objects.create(document="BLINCYTO EU SmPC §4.8", version="newer",
                                                      document_date=datetime.date(2025, 6, 1),
                                                      in_force_from=case.awareness_at.date())
    RSIEntry.objects.create(rsi=newer, ctcae_term=term("Cytokine release syndrome"), wording="Cytokine release "
                            "syndrome")
    sae.case_awareness_change(case=case, acting_user=officer, awareness_at=case.awareness_at - datetime.timedelta(
        days=400), reason="Aware since the previous year's report")
    case.refresh_from_db()
    assert case.rsi == rsi and case.expectedness_proposed == "unexpected"
    sae.case_awareness_change(case=case, acting_user=officer, awareness_at=timezone.now(),
                              reason="Back to the real awareness time")
    case.refresh_from_db()
    assert case.rsi == newer and case.expectedness_proposed == "expected"


def submit_ready(case, officer, nurse):
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", expectedness="unexpected")
    sae.case_update(case=case, acting_user=nurse, narrative=sae.narrative_draft_text(case))


def test_the_reviewer_decides_causality_and_expectedness_and_a_susar_follows(dosed, nurse, officer):
    case = crs4(dosed, nurse).case_link.case
    with pytest.raises(PermissionDenied):
        sae.case_assess(case=case, acting_user=nurse, causality_investigator="probable")
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", expectedness="unexpected")
    case.refresh_from_db()
    assert case.expectedness_decided_by == officer and case.is_susar


def test_submission_freezes_a_signed_version_whose_snapshot_round_trips(dosed, nurse, officer):
    case = crs4(dosed, nurse).case_link.case
    submit_ready(case, officer, nurse)
    version = sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    case.refresh_from_db()
    assert case.status == "submitted" and version.number == 1 and version.report_type == "initial"
    snapshot = CaseSnapshot.from_dict(version.snapshot)
    assert snapshot.to_dict() == version.snapshot and snapshot.susar and snapshot.signed_by == "officer"
    suspect = snapshot.suspect
    assert [(p.dose_value, p.dose_unit, p.batch) for p in suspect.dose_periods] == [(5.0, "ug/m2/d", "1234A"),
                                                                                  (15.0, "ug/m2/d", "")]
    assert snapshot.reactions[0].grade == 4 and snapshot.reactions[0].seriousness.life_threatening
    assert snapshot.patient.age_group == "child" and snapshot.site_timezone == "Europe/Warsaw"
    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        CaseVersion.objects.filter(pk=version.pk).update(signer_name="someone else")  # append-only


def test_the_sites_country_is_the_reports_country_and_the_prefix_of_the_worldwide_case_id(dosed, nurse, officer):
    """ICH E2B(R3) C.2.r.3 / C.3.4.5 (country) and C.1.8.1 (worldwide unique case ID, country code first)."""
    from lxml import etree

    from reports.icsr import e2b

    site = dosed.patient.site
    site.country = "PL"
    site.full_clean()
    site.save()
    case = crs4(dosed, nurse).case_link.case
    submit_ready(case, officer, nurse)
    snapshot = CaseSnapshot.from_dict(sae.case_submit(case=case, acting_user=officer, password=PASSWORD).snapshot)
    assert snapshot.reporter.country == "PL"
    message = etree.fromstring(e2b.render(snapshot))
    assert f"PL-PVTRACK-{case.reference}".encode() in etree.tostring(message)
    site.country = "pl"
    with pytest.raises(ValidationError, match="ISO 3166-1"):
        site.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(site).objects.filter(pk=site.pk).update(country="pl")


def test_bad_submissions_are_refused_and_nothing_is_half_saved(cycle, nurse, officer):
    case = crs4(cycle, nurse).case_link.case  # no dosing recorded: no suspect drug exposure
    with pytest.raises(PermissionDenied):
        sae.case_submit(case=case, acting_user=nurse, password=PASSWORD)
    with pytest.raises(ValidationError) as missing:
        sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    assert {"suspect", "causality_investigator", "narrative"} <= set(missing.value.message_dict)
    submit_ready(case, officer, nurse)
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    with pytest.raises(ValidationError) as unsigned:
        sae.case_submit(case=case, acting_user=officer, password="")
    assert "password" in unsigned.value.message_dict
    with pytest.raises(ValidationError) as wrong:
        sae.case_submit(case=case, acting_user=officer, password="not-my-password")
    assert "password" in wrong.value.message_dict
    case.refresh_from_db()
    assert case.status == "draft" and not CaseVersion.objects.exists()


def test_a_follow_up_lists_what_changed_and_a_closed_case_takes_no_follow_up(dosed, nurse, officer):
    event = crs4(dosed, nurse)
    case = event.case_link.case
    submit_ready(case, officer, nurse)
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    with pytest.raises(sae.CaseStateError):
        sae.case_update(case=case, acting_user=nurse, dechallenge="yes")
    sae.case_follow_up_open(case=case, acting_user=nurse, reason="CRS resolved on day 6")
    adverse_event_update(event=event, acting_user=nurse, reason="Resolved", expected_version=event.version,
                         outcome="RECOVERED/RESOLVED", resolution_date=dosed.start_date + datetime.timedelta(days=5))
    sae.case_update(case=case, acting_user=nurse, dechallenge="yes")
    version = sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    assert version.number == 2 and version.report_type == "follow_up"
    assert f"reactions[Cytokine release syndrome (AE {event.pk})].outcome: recovering → recovered" in version.changes
    assert CaseSnapshot.from_dict(version.snapshot).changes_since_previous == tuple(version.changes)
    with pytest.raises(ValidationError, match="password"):
        sae.case_close(case=case, acting_user=officer, password="", reason="No more information expected")
    sae.case_close(case=case, acting_user=officer, password=PASSWORD, reason="No more information expected")
    with pytest.raises(sae.CaseStateError, match="closed"):
        sae.case_follow_up_open(case=case, acting_user=nurse, reason="one more thing")
    case.refresh_from_db()
    assert case.status == "closed" and case.versions.count() == 2


def test_the_database_allows_only_the_status_machine(dosed, nurse):
    case = crs4(dosed, nurse).case_link.case
    for bad in ("closed", "follow_up", "nonsense"):
        with pytest.raises(IntegrityError), transaction.atomic():
            SAECase.objects.filter(pk=case.pk).update(status=bad)
    with pytest.raises(DatabaseError, match="Cannot update or delete|Cannot delete"), transaction.atomic():
        SAECase.objects.filter(pk=case.pk).delete()


def test_another_sites_user_cannot_draft(dosed, nurse, outsider, patient):
    event = crs4(dosed, nurse)
    with pytest.raises(PermissionDenied):
        sae.case_update(case=event.case_link.case, acting_user=outsider, dechallenge="yes")
    other_officer = make_user("other-officer")
    with pytest.raises(PermissionDenied):
        sae.case_assess(case=event.case_link.case, acting_user=other_officer, causality_investigator="possible")


def test_the_snapshot_is_built_in_english_for_a_polish_user(dosed, nurse):
    """What is signed and sent (CIOMS, E2B, FHIR) does not depend on the user's interface language: a Polish request
    builds the same snapshot, analyte names and the course in English (they are translated on the pages)."""
    from django.utils import translation

    from ae.models import LabResult
    from ae.sae.build import case_course, case_snapshot

    event = crs4(dosed, nurse)
    LabResult.objects.create(patient=dosed.patient, cycle=dosed, adverse_event=event, analyte="platelets",
                             value=Decimal("20"), unit="10^9/L", lln=Decimal("150"), uln=Decimal("450"), grade=4,
                             collected_at=timezone.make_aware(datetime.datetime(2026, 1, 7, 8)),
                             ctcae_term="Platelet count decreased", rationale="Grade 4: < 25.0 x10^9/L.",
                             entered_by=nurse)
    case = event.case_link.case
    now = timezone.now()
    english = case_snapshot(case, version=0, report_type="initial", now=now)
    with translation.override("pl"):
        polish = case_snapshot(case, version=0, report_type="initial", now=now)
        course = case_course(case)
    assert polish == english
    assert [lab.name for lab in polish.labs] == [lab.name for lab in english.labs] == ["Platelet count"]
    assert any("Platelet count" in entry.text for entry in course)
