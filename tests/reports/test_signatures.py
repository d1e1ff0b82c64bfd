"""Electronic signatures (21 CFR 11.50/11.200): password re-entered, printed name, meaning, time, exact run."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied, ValidationError

from reports.models import RunSignoff
from reports.runs import benchmark_run_now
from reports.signatures import FLAG_REVIEW_MEANING, flag_review, results_sha256, run_signoff
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged_run(ward):
    for i in range(8):  # 8 of 8 patients with grade 3 CRS: far above every published cohort
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    return run


def test_a_flag_review_with_a_wrong_password_signs_nothing(flagged_run, officer):
    flag = flagged_run.flags.first()
    with pytest.raises(ValidationError, match="password is not correct"):
        flag_review(flag=flag, acting_user=officer, comment="Checked.", password="not-my-password")
    flag.refresh_from_db()
    assert flag.reviewed_at is None and flag.signer_name == ""


def test_a_signed_review_records_name_meaning_time_and_the_exact_run(flagged_run, officer):
    officer.first_name, officer.last_name = "Anna", "Nowak"
    officer.save()
    flag = flag_review(flag=flagged_run.flags.first(), acting_user=officer, comment="Checked.", password=PASSWORD)
    assert (flag.signer_name, flag.signature_meaning) == ("Anna Nowak", FLAG_REVIEW_MEANING)
    assert flag.reviewed_at is not None
    assert flag.signed_results_sha256 == results_sha256(flagged_run) and len(flag.signed_results_sha256) == 64


def test_a_run_signoff_is_bound_to_the_results_signed(client, flagged_run, officer, nurse):
    with pytest.raises(PermissionDenied):
        run_signoff(run=flagged_run, acting_user=nurse, password=PASSWORD)
    with pytest.raises(ValidationError, match="password"):
        run_signoff(run=flagged_run, acting_user=officer, password="wrong")
    assert not RunSignoff.objects.exists()
    client.force_login(officer)
    response = client.post(f"/benchmark-runs/{flagged_run.pk}/sign/", {"password": PASSWORD, "comment": "ok"})
    assert response.status_code == 302
    signoff = RunSignoff.objects.get()
    assert signoff.signed_results_sha256 == results_sha256(flagged_run)
    page = client.get("/sites/ward-a/report/").content.decode()
    assert "Signed by officer" in page and "INVALID" not in page
    with pytest.raises(ValidationError, match="already signed"):
        run_signoff(run=flagged_run, acting_user=officer, password=PASSWORD)
    # Tampering with the stored results after signing shows the signature as invalid.
    flagged_run.results["n_comparisons"] += 1
    flagged_run.save(update_fields=["results"])
    page = client.get("/sites/ward-a/report/").content.decode()
    assert "INVALID: the run's results changed after signing" in page


def test_the_outsider_cannot_sign_another_wards_run(client, flagged_run, outsider):
    client.force_login(outsider)
    assert client.post(f"/benchmark-runs/{flagged_run.pk}/sign/", {"password": PASSWORD}).status_code == 404
    assert not RunSignoff.objects.exists()


def test_wrong_signature_passwords_count_toward_the_login_lockout(client, flagged_run, officer, settings):
    """Re-entering the password to sign is a login: guessing it there locks the signer out like the login page."""
    flag = flagged_run.flags.first()
    client.force_login(officer)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked.", "password": "guess"})
    assert AccessAttempt.objects.get(username="officer").failures_since_start == settings.AXES_FAILURE_LIMIT - 1
    client.post(f"/benchmark-runs/{flagged_run.pk}/sign/", {"password": "guess"})
    # locked out: even the right password signs nothing now
    response = client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked.", "password": PASSWORD})
    assert response.status_code == 429
    flag.refresh_from_db()
    assert flag.reviewed_at is None and not RunSignoff.objects.exists()


def test_after_logging_in_again_the_signing_addresses_lead_to_the_page_of_the_form(client, flagged_run, officer,
                                                                                   outsider):
    """Found using it as an officer does: the session ended while she wrote a review; Sign sent her to the login
    page, which after logging in opened the review's address with GET — a bare "405 Method Not Allowed". Now GET
    leads to the report, where the form is (and where static/forms.js puts her comment back); nothing is signed."""
    flag = flagged_run.flags.first()
    event = flagged_run.site.patients.first().cycles.first().adverse_events.first()
    addresses = {f"/flags/{flag.pk}/review/": "/sites/ward-a/report/",
                 f"/benchmark-runs/{flagged_run.pk}/sign/": "/sites/ward-a/report/",
                 f"/events/{event.pk}/discrepancy/resolve/": f"/events/{event.pk}/history/"}
    for address in addresses:
        response = client.post(address, {"comment": "Checked.", "password": PASSWORD})
        assert response.status_code == 302 and response["Location"].startswith(f"/login/?next={address}")
    client.force_login(officer)
    for address, page in addresses.items():
        response = client.get(address)
        assert (response.status_code, response["Location"]) == (302, page)
        assert client.put(address).status_code == 405
    flag.refresh_from_db()
    assert flag.reviewed_at is None and not RunSignoff.objects.exists()
    client.force_login(outsider)  # another ward's officer learns nothing: the same 404 as any unknown address
    for address in addresses:
        assert client.get(address).status_code == 404
