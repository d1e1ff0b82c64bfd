"""Issue 11 finding 2: the signature password could be guessed without limit (20 wrong passwords on
``POST /flags/<id>/review/`` all answered "not correct", no lockout record, the 21st, correct, signed).

Now a signature re-authentication is a login attempt under the same throttle (``core.lockout``): its failures are
committed whatever happens to the signature, and a locked-out signer is told why on the report page.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from reports.models import RunSignoff
from reports.runs import benchmark_run_now
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient


@pytest.fixture
def flagged_run(committed_reference_data, ward):
    for i in range(8):
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    return run


@pytest.mark.concurrency  # commits: runs with the other committing tests, last
@pytest.mark.django_db(transaction=True)
def test_twenty_guessed_signature_passwords_lock_the_signer_and_the_21st_signs_nothing(client, flagged_run, officer):
    """The issue's attack, on committed data: 4 guesses answer 400 "not correct", the 5th locks (429) and says why;
    the rest and the correct password answer 429 and sign nothing. 5 failures are committed (refused ones are not
    counted) and the lock holds for the login page too."""
    flag = flagged_run.flags.first()
    client.force_login(officer)
    responses = [client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked.", "password": f"guess-{i}"})
                 for i in range(20)]
    assert [r.status_code for r in responses[:4]] == [400] * 4
    assert all("password is not correct" in r.text for r in responses[:4])
    assert {r.status_code for r in responses[4:]} == {429}
    response = client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked.", "password": PASSWORD})
    assert response.status_code == 429
    flag.refresh_from_db()
    assert flag.reviewed_at is None
    assert AccessAttempt.objects.get(username="officer").failures_since_start == 5
    assert client.post("/login/", {"username": "officer", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_a_locked_out_signer_sees_why_on_the_report_with_the_comment_kept(client, flagged_run, officer):
    flag = flagged_run.flags.first()
    client.force_login(officer)
    for i in range(5):
        client.post(f"/benchmark-runs/{flagged_run.pk}/sign/", {"password": f"guess-{i}", "comment": "ok"})
    response = client.post(f"/flags/{flag.pk}/review/", {"comment": "My careful conclusion.", "password": PASSWORD})
    assert response.status_code == 429
    page = response.text
    assert "Too many failed login attempts for this username from this computer" in page
    assert "15 minutes" in page
    assert "My careful conclusion." in page and "Your password (electronic signature)" in page  # report
    assert "password is not correct" not in page
    response = client.post(f"/benchmark-runs/{flagged_run.pk}/sign/", {"password": PASSWORD})
    assert response.status_code == 429 and "Too many failed login attempts" in response.text
    assert not RunSignoff.objects.exists()
