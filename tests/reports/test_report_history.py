"""The officer's report keeps a record the ward can trust (issue 10): carried-over reviews labelled as such, what
changed since a review or the last signed run, errors of a refused signature at their field with the typed
comment kept, and a history of runs with each run's own page."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from patients.models import Membership
from reports.models import BenchmarkRun, RunSignoff
from reports.runs import benchmark_run_now
from reports.signatures import flag_review, run_signoff
from tests.conftest import PASSWORD, make_event, make_user
from tests.reports.conftest import crs_flag

pytestmark = pytest.mark.django_db

REPORT = "/sites/ward-a/report/"




def text(response) -> str:
    """The page's text with tags removed and white space collapsed (what a reader reads)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


@pytest.fixture
def officer_client(client, officer):
    officer.first_name, officer.last_name = "Anna", "Nowak"
    officer.save()
    client.force_login(officer)
    return client


# --- carried-over reviews and changes since a review -----------------------------------------------------------

def test_the_report_shows_a_carried_review_as_the_original_signature_of_an_earlier_run(officer_client, ward,
                                                                                          crs_ward, officer):
    first = benchmark_run_now(site=ward)
    signed = flag_review(flag=crs_flag(first), acting_user=officer, comment="True CRS, reported to PV.",
                         password=PASSWORD)
    make_event(crs_ward[0], "Anemia", grade=1)  # another category: the CRS cells are unchanged
    second = benchmark_run_now(site=ward)
    carried = crs_flag(second)
    response = officer_client.get(REPORT)
    html, page = response.content.decode(), text(response)
    when = timezone.localtime(signed.reviewed_at).strftime("%d %b %Y %H:%M")
    assert (f"Reviewed — review carried over from run {first.pk} (signed by Anna Nowak (officer), on {when})"
            in page)
    assert f'href="/sites/ward-a/runs/{first.pk}/#flag-{signed.pk}"' in html  # to the original signature
    assert "Comment: True CRS, reported to PV." in page
    assert f'action="/flags/{carried.pk}/review/' not in html  # nothing left to sign for it
    assert f'action="/flags/{crs_flag(second, "any").pk}/review/' in html  # the unreviewed one still asks
    # the original run's page shows the signature itself
    original = text(officer_client.get(f"/sites/ward-a/runs/{first.pk}/"))
    assert f"Signed by Anna Nowak (officer) on {when}" in original


def test_a_changed_cell_says_what_changed_since_the_review_and_asks_for_a_new_signature(client, ward, crs_ward,
                                                                                        officer):
    first = benchmark_run_now(site=ward)
    signed = flag_review(flag=crs_flag(first), acting_user=officer, comment="Checked.", password=PASSWORD)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)  # 8/10 -> 9/10
    second = benchmark_run_now(site=ward)
    now = crs_flag(second)
    client.force_login(officer)
    response = client.get(REPORT)
    page = text(response)
    reviewed, current = signed.cell_values, now.cell_values
    assert (f"Changed since your review: reviewed in run {first.pk} (signed by officer (officer), on "
            in page)
    assert (f"when the ward was 8/10 (benchmark {reviewed['benchmark']['median_pct']:.1f}%, alarm); now 9/10 "
            f"(benchmark {current['benchmark']['median_pct']:.1f}%, alarm). This flag needs a new signature."
            in page)
    assert f'action="/flags/{now.pk}/review/"' in response.content.decode()
    colleague = make_user("officer2", ward, Membership.Role.SAFETY_OFFICER)
    client.force_login(colleague)
    assert "Changed since the review by officer: reviewed in run" in text(client.get(REPORT))


# --- last signed run and what changed since ---------------------------------------------------------------------

def test_the_report_says_which_run_was_last_signed_and_what_changed_since(officer_client, ward, crs_ward, officer):
    first = benchmark_run_now(site=ward)
    assert "Not signed yet: no benchmark run of this site has been signed." in text(officer_client.get(REPORT))
    signoff = run_signoff(run=first, acting_user=officer, password=PASSWORD)
    day = timezone.localtime(signoff.signed_at).strftime("%d %b %Y")
    assert f"Last signed: this run ({first.pk}) by Anna Nowak on {day}." in text(officer_client.get(REPORT))
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    benchmark_run_now(site=ward)
    page = text(officer_client.get(REPORT))
    assert "Not signed yet" not in page
    assert f"Last signed: run {first.pk} by Anna Nowak on {day} — since then: " in page
    assert "Cytokine release syndrome any 8/10 → 9/10; " in page and "Cytokine release syndrome ≥3 8/10 → 9/10" in page
    assert "This run has no sign-off." in page
    # a signature whose run's results changed afterwards is flagged where it is quoted
    BenchmarkRun.objects.filter(pk=first.pk).update(results=first.results | {"n_comparisons": 0})
    assert "(INVALID: its results changed after signing)" in text(officer_client.get(REPORT))


# --- a refused signature: the report again, comment kept, error at its field ---------------------------------

def test_a_wrong_password_keeps_the_comment_and_shows_the_error_at_the_password(officer_client, ward, crs_ward):
    flag = crs_flag(benchmark_run_now(site=ward))
    response = officer_client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked <all> the charts.",
                                                                 "password": "not-it"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="messages"' not in html  # not a banner at the top of the page
    textarea = re.search(rf'<textarea id="comment-{flag.pk}"[^>]*>\n(.*?)</textarea>', html, re.S)
    assert textarea and textarea.group(1) == "Checked &lt;all&gt; the charts."
    password = re.search(rf'<input type="password" id="password-{flag.pk}"[^>]*>', html).group(0)
    assert f'aria-describedby="password-{flag.pk}-error"' in password and 'aria-invalid="true"' in password
    assert "autofocus" in password
    assert re.search(rf'<p class="error" id="password-{flag.pk}-error">The password is not correct: nothing was '
                     r"signed.</p>", html)
    assert f'action="/flags/{flag.pk}/review/"' in html and f'id="flag-{flag.pk}"' in html
    assert html.count('aria-invalid="true"') == 1 and html.count("autofocus") == 1
    flag.refresh_from_db()
    assert flag.reviewed_at is None
    # the right password: signed, and back to the report (POST/redirect/GET)
    response = officer_client.post(f"/flags/{flag.pk}/review/", {"comment": "Checked.", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == REPORT


def test_a_blank_comment_is_refused_at_the_comment(officer_client, ward, crs_ward):
    flag = crs_flag(benchmark_run_now(site=ward))
    response = officer_client.post(f"/flags/{flag.pk}/review/", {"comment": "   ", "password": PASSWORD})
    assert response.status_code == 400
    html = response.content.decode()
    textarea = re.search(rf'<textarea id="comment-{flag.pk}"[^>]*>', html).group(0)
    assert f'aria-describedby="comment-{flag.pk}-error"' in textarea and "autofocus" in textarea
    assert f'<p class="error" id="comment-{flag.pk}-error">Give what you concluded in words' in html


def test_a_review_refused_on_a_page_opened_before_a_newer_run_is_shown_at_that_run(officer_client, ward, crs_ward):
    old = crs_flag(benchmark_run_now(site=ward))
    make_event(crs_ward[0], "Anemia", grade=1)
    new = crs_flag(benchmark_run_now(site=ward))
    response = officer_client.post(f"/flags/{old.pk}/review/", {"comment": "Seen.", "password": "wrong"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'<textarea id="comment-{new.pk}"[^>]*>\nSeen.</textarea>', html)
    assert f'id="password-{new.pk}-error"' in html
    assert f"this is that comparison in run {new.run_id}" in html


def test_a_wrong_signoff_password_keeps_the_comment_and_shows_the_error_at_the_password(officer_client, ward,
                                                                                        crs_ward):
    run = benchmark_run_now(site=ward)
    response = officer_client.post(f"/benchmark-runs/{run.pk}/sign/", {"comment": "Approved for May.",
                                                                       "password": "nope"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'<textarea id="signoff-comment"[^>]*>\nApproved for May.</textarea>', html)
    password = re.search(r'<input type="password" id="signoff-password"[^>]*>', html).group(0)
    assert 'aria-describedby="signoff-password-error"' in password and 'aria-invalid="true"' in password
    assert f'action="/benchmark-runs/{run.pk}/sign/"' in html
    assert not RunSignoff.objects.exists()
    ok = officer_client.post(f"/benchmark-runs/{run.pk}/sign/", {"comment": "Approved.", "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == REPORT
    again = officer_client.post(f"/benchmark-runs/{run.pk}/sign/", {"comment": "Twice?", "password": PASSWORD})
    assert again.status_code == 400 and "You have already signed this run" in again.content.decode()


# --- history of runs and each run's page --------------------------------------------------------------------

def test_the_history_lists_runs_newest_first_with_flags_and_signoffs(officer_client, ward, crs_ward, officer):
    first = benchmark_run_now(site=ward)
    flag_review(flag=crs_flag(first), acting_user=officer, comment="Checked.", password=PASSWORD)
    run_signoff(run=first, acting_user=officer, password=PASSWORD)
    make_event(crs_ward[0], "Anemia", grade=1)
    second = benchmark_run_now(site=ward)
    failed = BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="failed", attempts=3,
                                         finished_at=timezone.now(), error="Traceback\nValueError: boom")
    BenchmarkRun.objects.filter(pk=first.pk).update(results=first.results | {"n_comparisons": 0})  # tampered
    response = officer_client.get("/sites/ward-a/runs/")
    assert response.status_code == 200
    runs = [r for r, _ in response.context["rows"]]
    assert [r.pk for r in runs] == [failed.pk, second.pk, first.pk]
    by_pk = {r.pk: (r.n_flags, r.n_signed, r.n_carried, r.n_open, r.n_signoffs) for r in runs}
    n1, n2 = first.flags.count(), second.flags.count()
    assert by_pk[first.pk] == (n1, 1, 0, n1 - 1, 1)
    assert by_pk[second.pk] == (n2, 0, 1, n2 - 1, 0)
    assert by_pk[failed.pk] == (0, 0, 0, 0, 0)
    page = text(response)
    assert f"Run {second.pk} (current)" in page and "Failed after 3 attempt(s)" in page
    assert "INVALID" in page  # run 1's sign-off no longer matches its results
    assert 'href="/sites/ward-a/runs/"' in officer_client.get(REPORT).content.decode()  # linked from the report

    old = officer_client.get(f"/sites/ward-a/runs/{first.pk}/")
    old_html = old.content.decode()
    assert f"Current report (run {second.pk}). This page shows run {first.pk} as it was stored." in text(old)
    assert "<form" not in old_html.split("<main", 1)[1]  # a record: nothing to sign there
    assert "Signed by Anna Nowak (officer)" in text(old)  # the flag review signed in that run
    assert "INVALID: the run's results changed after signing." in text(old)
    assert "ValueError: boom" in text(officer_client.get(f"/sites/ward-a/runs/{failed.pk}/"))


def test_the_history_is_paginated_and_its_queries_do_not_grow_with_the_runs(officer_client, ward, officer,
                                                                           django_assert_max_num_queries):
    def add_runs(n: int) -> None:
        for i in range(n):
            BenchmarkRun.objects.create(site=ward, trigger="nightly", status="done", results={"cells": [], "i": i},
                                        finished_at=timezone.now() - datetime.timedelta(minutes=i))

    def sign_newest() -> None:
        RunSignoff.objects.create(run=BenchmarkRun.objects.first(), signed_by=officer, signer_name="Anna Nowak",
                                  signed_at=timezone.now(), meaning="Approved", signed_results_sha256="0" * 64)

    add_runs(2)
    sign_newest()
    with django_assert_max_num_queries(12) as small:  # 3 save the session, 1 counts the officer's unread notices
        officer_client.get("/sites/ward-a/runs/")
    add_runs(40)
    sign_newest()
    with django_assert_max_num_queries(12) as large:
        response = officer_client.get("/sites/ward-a/runs/")
    assert len(large) == len(small)
    assert len(response.context["rows"]) == 20 and "page 1 of 3" in text(response)
    last = officer_client.get("/sites/ward-a/runs/?page=3")
    assert len(last.context["rows"]) == 2 and 'rel="prev"' in last.content.decode()
    assert officer_client.get("/sites/ward-a/runs/?page=99").context["page"].number == 3


def test_the_report_and_run_pages_have_a_bounded_number_of_queries(officer_client, ward, crs_ward, officer,
                                                                   django_assert_max_num_queries):
    first = benchmark_run_now(site=ward)
    flag_review(flag=crs_flag(first), acting_user=officer, comment="Checked.", password=PASSWORD)
    run_signoff(run=first, acting_user=officer, password=PASSWORD)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    second = benchmark_run_now(site=ward)
    make_event(crs_ward[9], "Anemia", grade=1)
    benchmark_run_now(site=ward)
    # 15 before carried reviews and the last signed run; 3 of these are the session's save on each request
    # + unread notifications (menu), the ward's serious events, the plots; + 2 for each flag's "since" and trend over
    # the last runs (issue 17 item 5: the runs, their flags; not per flag); + every ward's latest run (the network
    # comparison) and the CUSUM charts' plots (issue 17); + overdue SAE cases (issue 13)
    with django_assert_max_num_queries(27):
        assert officer_client.get(REPORT).status_code == 200
    with django_assert_max_num_queries(14):
        assert officer_client.get(f"/sites/ward-a/runs/{second.pk}/").status_code == 200
