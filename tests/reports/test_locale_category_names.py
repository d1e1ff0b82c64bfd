"""The benchmark categories' names in the reader's language (issue 15, item 4; ``reports.category_names``).

A category's name is pvtrack's label (``fixtures/benchmark_categories.yaml``), not a CTCAE term, so the pages show
it translated; a category whose name is exactly a CTCAE v5.0 term (Cytokine release syndrome, Seizure, Anemia,
Febrile neutropenia) keeps NCI's English, like the terms. Stored run results, flags' stored messages and the
exports keep the English names.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.utils import translation

from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
POLISH = {"Neurotoxicity": "Neurotoksyczność", "Neutropenia": "Neutropenia",
          "Thrombocytopenia": "Małopłytkowość",
          "Hepatotoxicity (ALT/AST increased)": "Hepatotoksyczność (zwiększona aktywność ALT/AST)",
          "Infusion interrupted for an AE": "Przerwanie wlewu z powodu zdarzenia niepożądanego",
          "Blinatumomab stopped for an AE": "Odstawienie blinatumomabu z powodu zdarzenia niepożądanego"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def _fixture_names() -> set[str]:
    return {c["name"] for c in yaml.safe_load((FIXTURES / "benchmark_categories.yaml").read_text())}


def _ctcae_terms() -> set[str]:
    with (FIXTURES / "ctcae" / "ctcae_v5_terms.csv").open(newline="") as f:
        return {row["ctcae_term"] for row in csv.DictReader(f)}


def test_every_category_is_marked_for_translation_unless_its_name_is_a_ctcae_term():
    """A new category fails here until its name is marked (and translated) or listed as a CTCAE term; a marked
    name no fixture defines any more is dropped from the list."""
    from reports.category_names import CATEGORY_NAMES, CTCAE_TERM_NAMES

    names, terms = _fixture_names(), _ctcae_terms()
    assert len(names) >= 10
    assert sorted(names - set(CATEGORY_NAMES) - set(CTCAE_TERM_NAMES)) == []
    assert sorted((set(CATEGORY_NAMES) | set(CTCAE_TERM_NAMES)) - names) == []
    assert sorted(set(CTCAE_TERM_NAMES) - terms) == []  # exactly a CTCAE v5.0 term: stays English
    assert sorted(set(CATEGORY_NAMES) & terms) == []  # pvtrack's own label: translated


def test_a_category_name_in_polish_and_a_ctcae_term_name_as_named():
    from reports.category_names import CATEGORY_NAMES, CTCAE_TERM_NAMES
    from reports.computed_text import category_name

    assert set(CATEGORY_NAMES) == set(POLISH)
    for name in CATEGORY_NAMES:
        with translation.override("en-gb"):
            assert category_name(name) == name
        with translation.override("pl"):
            assert category_name(name) == POLISH[name]
    with translation.override("pl"):
        for name in CTCAE_TERM_NAMES:
            assert category_name(name) == name
            assert translation.gettext(name) == name  # no other message of the catalogue shares the term
        assert category_name("Neurotoxicity (2024 definition)") == "Neurotoxicity (2024 definition)"


@pytest.fixture
def neuro_ward(ward):
    """10 patients on cycle 1, 8 with grade 3 encephalopathy (neurotoxicity flagged), one infusion interrupted."""
    cycles = [make_cycle(make_patient(ward, f"N-{i:02d}")) for i in range(10)]
    for cycle in cycles[:8]:
        make_event(cycle, "Encephalopathy", grade=3)
    make_event(cycles[9], "Tremor", grade=1, action_taken="DRUG INTERRUPTED")
    return cycles


def _client(ward, officer, language: str):
    ward.language = language
    ward.save()
    run = benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    return run, client


def test_the_polish_report_names_the_categories_in_polish(ward, neuro_ward, officer):
    run, client = _client(ward, officer, "pl")
    assert any(c["category_name"] == "Neurotoxicity" for c in run.results["cells"])  # stored in English
    page = _text(client.get(f"/sites/{ward.slug}/report/"))
    for english, polish in POLISH.items():
        assert polish in page, polish
        if english != polish:
            assert english not in page, english
    assert "Cytokine release syndrome" in page and "Febrile neutropenia" in page  # CTCAE terms, as named
    assert "8 z 10 pacjentów miało neurotoksyczność, stopnia ≥3 (wszystkie cykle)" in page  # the flag's reason
    assert "— Neurotoksyczność, " in page  # the flag's heading
    assert run.flags.get(kind="literature", category__slug="neurotoxicity", grade_band="ge3",
                         cycle_scope="all").message.startswith("8 of 10 patients had grade ≥3 neurotoxicity")


def test_the_polish_drilldown_plots_and_run_pages_name_the_category_in_polish(ward, neuro_ward, officer):
    run, client = _client(ward, officer, "pl")
    drilldown = _text(client.get(f"/sites/{ward.slug}/report/neurotoxicity/ge3/all/"))
    assert "Neurotoksyczność, stopnia ≥3" in drilldown and "Neurotoxicity" not in drilldown
    plots = client.get(f"/sites/{ward.slug}/report/neurotoxicity/ge3/all/plots/").content.decode()
    assert "Neurotoksyczność" in plots and "Neurotoxicity" not in plots
    detail = _text(client.get(f"/sites/{ward.slug}/runs/{run.pk}/"))
    assert "Neurotoksyczność" in detail and "Neurotoxicity" not in detail


def test_the_english_pages_keep_the_english_names(ward, neuro_ward, officer):
    _, client = _client(ward, officer, "en-gb")
    page = _text(client.get(f"/sites/{ward.slug}/report/"))
    assert "Neurotoxicity" in page and "Infusion interrupted for an AE" in page and "Neurotoksyczność" not in page
    drilldown = _text(client.get(f"/sites/{ward.slug}/report/neurotoxicity/ge3/all/"))
    assert "Neurotoxicity, grade ≥3" in drilldown


def test_the_polish_listing_offers_the_categories_in_polish(ward, polish_nurse):
    page = polish_nurse.get(f"/sites/{ward.slug}/events/").content.decode()
    assert '<option value="neurotoxicity">Neurotoksyczność</option>' in page
    assert '<option value="thrombocytopenia">Małopłytkowość</option>' in page
    assert '<option value="crs">Cytokine release syndrome</option>' in page
    assert ">Neurotoxicity<" not in page


def test_the_english_listing_offers_the_english_names(client, ward, nurse):
    client.force_login(nurse)
    page = client.get(f"/sites/{ward.slug}/events/").content.decode()
    assert '<option value="neurotoxicity">Neurotoxicity</option>' in page


def test_a_flag_notice_names_the_category_in_the_readers_language(ward, neuro_ward, officer):
    from patients.models import Notification
    from patients.notification_texts import render

    benchmark_run_now(site=ward)
    notices = {n.key.split(":", 2)[2]: n for n in Notification.objects.all()}
    literature, cusum = notices["neurotoxicity:ge3:all"], notices["cusum:neurotoxicity:ge3:all"]
    with translation.override("pl"):
        subject, body = render(literature.message, subject=literature.subject, body=literature.body)
        cusum_subject, _ = render(cusum.message, subject=cusum.subject, body=cusum.body)
    assert ": Neurotoksyczność, stopnia ≥3" in subject and "Neurotoxicity" not in subject + body
    assert "8 z 10 pacjentów miało neurotoksyczność" in body
    assert "Neurotoksyczność, w czasie (CUSUM)" in cusum_subject and "over time" not in cusum_subject
    with translation.override("en-gb"):
        subject, _ = render(literature.message, subject=literature.subject, body=literature.body)
        cusum_subject, _ = render(cusum.message, subject=cusum.subject, body=cusum.body)
    assert ": Neurotoxicity, grade ≥3" in subject and "Neurotoxicity, over time (CUSUM)" in cusum_subject


def test_the_exports_keep_the_english_names_under_a_polish_request(ward, neuro_ward):
    from reports.models import BenchmarkRun
    from reports.report import format_run_text

    with translation.override("pl"):
        run = benchmark_run_now(site=ward)
        text = format_run_text(BenchmarkRun.objects.get(pk=run.pk))
    assert "Neurotoxicity" in text and "Neurotoksyczność" not in text


def test_the_changes_between_runs_and_the_plots_drawn_for_a_polish_reader_name_the_category_in_polish():
    from reports.cells import cell_label
    from reports.network_plots import cusum_payload
    from reports.plot_language import translator
    from reports.plots import _title

    with translation.override("pl"):
        assert cell_label("Neurotoxicity", "ge3", "first", translation.gettext) == "Neurotoksyczność ≥3, cykl 1"
        assert cell_label("Seizure", "ge3", "all", translation.gettext) == "Seizure ≥3"
        assert cell_label("Neurotoxicity", "ge3", "all") == "Neurotoxicity ≥3"  # without translate: English
    cell = {"category_name": "Thrombocytopenia", "grade_band": "ge3", "cycle_scope": "all"}
    assert _title(cell, translator("pl")).startswith("Małopłytkowość, ")
    assert _title(cell).startswith("Thrombocytopenia, ")  # the English plots (and the XLSX's) as before
    chart = {"category_name": "Infusion interrupted for an AE", "grade_band": "any", "values": [], "signals": [],
             "h": 2.0, "outcomes": []}
    assert cusum_payload(chart)["title"] == "Infusion interrupted for an AE, any"
    assert cusum_payload(chart, "pl")["title"].startswith("Przerwanie wlewu z powodu zdarzenia niepożądanego, ")


def test_the_polish_network_section_names_the_categories_in_polish_and_the_xlsx_keeps_english(ward, officer):
    import html
    import io
    import zipfile

    from reports.exports import xlsx_bytes
    from tests.reports.test_exports import workbook_text
    from tests.reports.test_network import build_network

    build_network(ward)
    ward.language = "pl"
    ward.save()
    client = Client()
    client.force_login(officer)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    section = page[page.index('id="network"'):page.index('id="over-time"')]
    assert "Neurotoksyczność, dowolnego stopnia" in section and "Neurotoxicity" not in section
    with translation.override("pl"), zipfile.ZipFile(io.BytesIO(xlsx_bytes(ward))) as book:
        text = html.unescape(workbook_text(book))
    assert "Neurotoxicity, any grade" in text and "Neurotoksyczność" not in text


@pytest.mark.parametrize(("kind", "language", "expected"), [
    ("literature", "pl", "Neurotoksyczność"),
    ("network", "pl", "Neurotoksyczność (inne oddziały sieci)"),
    ("cusum", "pl", "Neurotoksyczność, w czasie (CUSUM)"),  # not "(w czasie (CUSUM))"
    ("network", "en-gb", "Neurotoxicity (other wards of the network)"),
    ("cusum", "en-gb", "Neurotoxicity, over time (CUSUM)"),
])
def test_a_flag_notice_names_its_kind_without_brackets_in_brackets(kind, language, expected):
    from reports.flag_notices import _category_in
    from reports.models import BenchmarkCategory, Flag

    assert _category_in(language, Flag(kind=kind, category=BenchmarkCategory(name="Neurotoxicity"))) == expected
