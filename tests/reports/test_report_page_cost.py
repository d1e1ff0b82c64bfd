"""What the report page reads and renders (issue 12, registry scale): the figures it prints from a run's inputs
without decoding the rest of them, a run's results hashed only to check a sign-off, the staleness line from the runs
the page read, the stored texts matched once per language and the benchmark table rendered once per content and
language."""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.autoreload import file_changed

from patients.models import Site, UserProfile
from reports import computed_text, report_table
from reports.computed_text import cohort_labels, exclusion_reason
from reports.models import BenchmarkRun
from reports.runs import benchmark_run_now
from reports.selectors import benchmark_staleness, last_signed, report_run, runs_waiting, signoffs_with_validity
from reports.signatures import run_signoff
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode())))


def test_report_run_leaves_the_inputs_unread_but_the_figures_the_page_prints(ward, crs_ward):
    run = benchmark_run_now(site=ward)
    shown = report_run(ward)
    assert shown.pk == run.pk and shown.results == run.results
    assert "inputs" in shown.get_deferred_fields()
    assert shown.report_inputs == {"denominators": run.inputs["denominators"],
                                   "thresholds": run.inputs["thresholds"]}


def test_report_run_of_a_run_without_inputs(ward):
    BenchmarkRun.objects.create(site=ward, status=BenchmarkRun.Status.DONE, trigger="manual", inputs=None,
                                results={"cells": []}, finished_at="2026-11-30T10:00:00Z")
    assert report_run(ward).report_inputs == {"denominators": None, "thresholds": None}


def test_the_report_prints_the_denominators_and_thresholds_without_selecting_the_whole_inputs(client, ward,
                                                                                            crs_ward, officer):
    run = benchmark_run_now(site=ward)
    thresholds = run.inputs["thresholds"]
    client.force_login(officer)
    with CaptureQueriesContext(connection) as queries:
        page = _text(client.get(f"/sites/{ward.slug}/report/"))
    assert "10 patients treated (10 with a cycle 1)" in page
    assert (f"alarm p < {thresholds['ALARM_P']}, alert p < {thresholds['ALERT_P']}, watch p < "
            f"{thresholds['WATCH_P']}, possible under-reporting: lower p < {thresholds['LOW_P']}") in page
    assert f"Pocock-type boundary for {thresholds['N_MAX']} planned patients" in page
    assert "the same grading-scale family as the ward" in page  # SCALE_MISMATCH "exclude"
    # The run's inputs column is read only through its two keys (a bare column would decode all of it).
    assert not [q["sql"] for q in queries.captured_queries
                if re.search(r'"reports_benchmarkrun"\."inputs"(?!\s*->)', q["sql"])]


def test_the_run_detail_page_still_prints_them_from_the_whole_inputs(client, ward, crs_ward, officer):
    run = benchmark_run_now(site=ward)
    client.force_login(officer)
    page = _text(client.get(f"/sites/{ward.slug}/runs/{run.pk}/"))
    assert "10 patients treated (10 with a cycle 1)" in page
    assert f"Pocock-type boundary for {run.inputs['thresholds']['N_MAX']} planned patients" in page


def test_a_runs_results_are_hashed_only_to_check_its_sign_offs(ward, crs_ward, officer):
    run = benchmark_run_now(site=ward)
    with mock.patch("reports.selectors.canonical_sha256", wraps=lambda data: "") as hashed:
        assert signoffs_with_validity(run) == []
    assert hashed.call_count == 0
    signoff = run_signoff(run=run, acting_user=officer, comment="", password=PASSWORD)
    assert signoffs_with_validity(run) == [(signoff, True)]
    run.results = run.results | {"n_comparisons": -1}  # changed after signing
    assert signoffs_with_validity(run) == [(signoff, False)]


def _read(ward) -> tuple:
    """What the report view reads before the staleness line: its latest run and its runs still waiting."""
    return report_run(ward), list(runs_waiting(ward).defer("inputs", "results"))


def test_the_staleness_from_the_runs_the_report_read_is_the_same_in_one_query(ward, settings,
                                                                             django_assert_num_queries):
    def same() -> dict:
        read = _read(ward)
        with mock.patch("django.utils.timezone.now", return_value=timezone.now()):  # the same waiting_s both ways
            with django_assert_num_queries(1):
                given = benchmark_staleness(ward, read)
            assert given == benchmark_staleness(ward)
        return given

    assert same()["message"] == "No benchmark has finished yet."
    pending = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    assert same()["message"] == "No benchmark has finished yet. One is queued."
    BenchmarkRun.objects.filter(pk=pending.pk).update(status=BenchmarkRun.Status.RUNNING, started_at=timezone.now(),
                                                      requested_at=_ago(3600))
    BenchmarkRun.objects.create(site=ward, trigger="ae_change")  # a pending one beside the running one
    assert same()["waiting_since"] == BenchmarkRun.objects.get(pk=pending.pk).requested_at
    BenchmarkRun.objects.filter(site=ward).delete()
    done = benchmark_run_now(site=ward)
    assert same()["latest_done_run"] == done.pk
    limit = settings.PVTRACK_OUTBOX["STALE_AFTER_S"]
    BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    BenchmarkRun.objects.filter(status="pending").update(requested_at=_ago(limit + 120))
    assert same()["stale"] is True
    BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="failed", attempts=3,
                                finished_at=timezone.now() + datetime.timedelta(seconds=1), error="X: synthetic")
    assert same()["last_failure"]["error"] == "X: synthetic"


def _ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def test_last_signed_decodes_the_signed_runs_results_only_when_it_is_not_the_latest(ward, crs_ward, officer):
    first = benchmark_run_now(site=ward)
    run_signoff(run=first, acting_user=officer, comment="", password=PASSWORD)
    latest = report_run(ward)
    with CaptureQueriesContext(connection) as queries:
        signed = last_signed(ward, latest)
    assert signed.is_latest and signed.run is latest and [valid for _, valid in signed.signoffs] == [True]
    assert not [q for q in queries.captured_queries if '"reports_benchmarkrun"."results"' in q["sql"]]

    benchmark_run_now(site=ward)  # a newer run, not signed
    signed = last_signed(ward, report_run(ward))
    assert not signed.is_latest and signed.run.pk == first.pk and signed.run.results == first.results
    assert [valid for _, valid in signed.signoffs] == [True]  # hashed from its own results, read here


def test_a_stored_text_is_matched_once_per_language_then_remembered():
    stored = "counts events, not patients"
    computed_text.forget_remembered_texts()  # (another test may have shown it)
    with mock.patch("reports.computed_text._translated", wraps=computed_text._translated) as matched:
        for _ in range(2):
            with translation.override("en-gb"):
                assert exclusion_reason(stored) == stored
            with translation.override("pl"):
                assert exclusion_reason(stored) == "liczy zdarzenia, a nie pacjentów"
                assert cohort_labels([stored, "not a stored text"]) == [stored, "not a stored text"]
    # once in English, once in Polish for the reason; the two labels once each (in Polish only)
    assert matched.call_count == 4


def test_the_remembered_texts_are_forgotten_when_the_translation_settings_change(settings):
    with translation.override("pl"):
        assert exclusion_reason("counts events, not patients") == "liczy zdarzenia, a nie pacjentów"
        with mock.patch("reports.computed_text._translated", return_value="changed") as matched:
            settings.LOCALE_PATHS = [*settings.LOCALE_PATHS]  # any change of the setting: the memo is emptied
            assert exclusion_reason("counts events, not patients") == "changed"
    assert matched.call_count == 1


def _table_renders(response) -> int:
    return sum(t.name == "reports/_table.html" for t in response.templates)


def test_the_benchmark_table_is_rendered_once_per_content_and_language_and_is_the_same_table(client, ward,
                                                                                            crs_ward, officer):
    report_table.forget_tables()
    run = benchmark_run_now(site=ward)
    client.force_login(officer)
    url = f"/sites/{ward.slug}/report/"
    first, again = client.get(url), client.get(url)
    assert (_table_renders(first), _table_renders(again)) == (1, 0)
    context = {"site": ward, "run": run, "run_inputs": report_run(ward).report_inputs,
               "cells": run.results["cells"], "editable": True}
    with translation.override("en-gb"):
        fresh = render_to_string("reports/_table.html", context)
    assert "Cytokine release syndrome" in fresh and f"/sites/{ward.slug}/report/crs/ge3/all/plots/" in fresh
    assert fresh in first.content.decode() and fresh in again.content.decode()

    UserProfile.objects.update_or_create(user=officer, defaults={"language": "pl"})
    client.force_login(officer)  # the language is remembered at log-in
    polish = client.get(url)
    assert _table_renders(polish) == 1
    with translation.override("pl"):
        assert render_to_string("reports/_table.html", context) in polish.content.decode()

    # The stored results changed (same run): rendered again, with the change.
    cells = run.results["cells"]
    cells[0]["category_name"] = "Renamed category"
    BenchmarkRun.objects.filter(pk=run.pk).update(results=run.results | {"cells": cells})
    changed = client.get(url)
    assert _table_renders(changed) == 1 and "<td>Renamed category</td>" in changed.content.decode()


def test_at_most_so_many_tables_are_kept(monkeypatch):
    report_table.forget_tables()
    monkeypatch.setattr(report_table._RENDERED, "size", 2)  # TABLES_KEPT, the memo's size
    monkeypatch.setattr(report_table, "render_to_string", lambda name, context: str(context["cells"]))
    site, run = Site(slug="s"), BenchmarkRun(results={})

    def table(n: int) -> str:
        return report_table.benchmark_table_html(site=site, run=run, run_inputs={}, cells=[n], editable=True)

    assert [table(1), table(2), table(1), table(3)] == ["[1]", "[2]", "[1]", "[3]"]
    assert len(report_table._RENDERED) == 2  # 2 dropped (used least recently), 1 kept
    monkeypatch.setattr(report_table, "render_to_string", lambda name, context: "rendered again")
    assert (table(1), table(2)) == ("[1]", "rendered again")


def test_a_template_or_catalogue_changed_under_the_development_server_is_shown(monkeypatch):
    """The autoreloader reads changed templates and catalogues again without a restart: nothing remembered of them
    outlives the change."""
    monkeypatch.setattr(report_table, "render_to_string", lambda name, context: "first")
    site, run = Site(slug="s"), BenchmarkRun(results={})
    assert report_table.benchmark_table_html(site=site, run=run, run_inputs={}, cells=[], editable=True) == "first"
    with translation.override("pl"):
        assert exclusion_reason("counts events, not patients") == "liczy zdarzenia, a nie pacjentów"
    monkeypatch.setattr(report_table, "render_to_string", lambda name, context: "edited")
    file_changed.send(sender=None, file_path=Path("/x/templates/reports/_table.html"))
    assert report_table.benchmark_table_html(site=site, run=run, run_inputs={}, cells=[], editable=True) == "edited"
    with mock.patch("reports.computed_text._translated", return_value="recompiled"), translation.override("pl"):
        file_changed.send(sender=None, file_path=Path("/x/locale/pl/LC_MESSAGES/django.py"))  # not a catalogue
        assert exclusion_reason("counts events, not patients") == "liczy zdarzenia, a nie pacjentów"
        file_changed.send(sender=None, file_path=Path("/x/locale/pl/LC_MESSAGES/django.mo"))
        assert exclusion_reason("counts events, not patients") == "recompiled"
    computed_text.forget_remembered_texts()
    report_table.forget_tables()
