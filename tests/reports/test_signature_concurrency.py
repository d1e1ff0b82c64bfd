"""Two signatures of the same thing at the same moment (issue 10 item 9): one signs, the other is told why not.

Each test runs two threads, each with its own database connection, on committed data (transactional tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.test import Client

from patients.models import Membership
from reports import signatures
from reports.models import RunSignoff
from reports.runs import benchmark_run_now
from reports.signatures import flag_review, run_signoff
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flagged_run(committed_reference_data, ward):
    for i in range(8):
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    return run


def concurrently(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run ``calls`` in threads started together; [("ok", result) | ("error", exception)] in call order."""
    start = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object]] = [("error", TimeoutError("thread did not finish"))] * len(calls)

    def work(i: int, call: Callable[[], object]) -> None:
        try:
            start.wait(timeout=10)
            outcomes[i] = ("ok", call())
        except Exception as exc:  # the outcome under test
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def both_verified(monkeypatch, parties: int = 2) -> None:
    """Make each signer wait, password checked, until all have checked theirs: the race happens every time."""
    verified = threading.Barrier(parties)
    real = signatures._verify_signer

    def verify(**kwargs):
        name = real(**kwargs)
        verified.wait(timeout=10)
        return name

    monkeypatch.setattr(signatures, "_verify_signer", verify)


def test_two_concurrent_signoffs_of_a_run_by_the_same_officer_sign_once(flagged_run, officer, monkeypatch):
    both_verified(monkeypatch)
    outcomes = concurrently(*[lambda: run_signoff(run=flagged_run, acting_user=officer, password=PASSWORD)] * 2)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ValidationError) and "You have already signed this run" in error.messages[0]
    assert RunSignoff.objects.filter(run=flagged_run).count() == 1


def test_two_officers_reviewing_one_flag_at_once_sign_it_once(flagged_run, ward, officer, monkeypatch):
    colleague = make_user("officer2", ward, Membership.Role.SAFETY_OFFICER)
    flag = flagged_run.flags.first()
    both_verified(monkeypatch)
    outcomes = concurrently(
        lambda: flag_review(flag=flag, acting_user=officer, comment="mine", password=PASSWORD),
        lambda: flag_review(flag=flag, acting_user=colleague, comment="mine too", password=PASSWORD))
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
    winner = next(value for kind, value in outcomes if kind == "ok")
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ValidationError)
    assert f"already reviewed by {winner.signer_name} ({winner.reviewed_by})" in error.messages[0]
    flag.refresh_from_db()
    assert flag.reviewed_by == winner.reviewed_by and flag.review_comment == winner.review_comment


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)  # a server error is an answer (500), as a browser would see it
    client.force_login(user)
    return client


def test_two_concurrent_signoff_posts_answer_one_redirect_and_one_form_error_never_500(flagged_run, officer,
                                                                                     monkeypatch):
    both_verified(monkeypatch)
    clients = [logged_in(officer), logged_in(officer)]
    url = f"/benchmark-runs/{flagged_run.pk}/sign/"
    outcomes = concurrently(*[lambda c=c: c.post(url, {"password": PASSWORD, "comment": "ok"}) for c in clients])
    responses = sorted((value for _, value in outcomes), key=lambda r: r.status_code)
    assert [r.status_code for r in responses] == [302, 400], outcomes
    assert "You have already signed this run" in responses[1].content.decode()
    assert RunSignoff.objects.filter(run=flagged_run).count() == 1


def test_two_concurrent_review_posts_answer_one_redirect_and_who_reviewed_it(flagged_run, ward, officer,
                                                                            monkeypatch):
    colleague = make_user("officer2", ward, Membership.Role.SAFETY_OFFICER)
    flag = flagged_run.flags.first()
    both_verified(monkeypatch)
    url = f"/flags/{flag.pk}/review/"
    clients = [logged_in(officer), logged_in(colleague)]
    outcomes = concurrently(*[lambda c=c: c.post(url, {"password": PASSWORD, "comment": "seen"}) for c in clients])
    responses = sorted((value for _, value in outcomes), key=lambda r: r.status_code)
    assert [r.status_code for r in responses] == [302, 400], outcomes
    flag.refresh_from_db()
    assert f"already reviewed by {flag.signer_name} ({flag.reviewed_by})" in responses[1].content.decode()
