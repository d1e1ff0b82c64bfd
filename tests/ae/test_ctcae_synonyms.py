"""Ward synonyms of CTCAE v5.0 terms: the list is valid data, it is stored as listed, reloads are safe."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from django.db import IntegrityError, transaction

from ae.catalogue import CTCAE_CSV
from ae.models import CTCAESynonym
from ae.synonyms import SYNONYM_COLUMNS, SYNONYMS_CSV, ctcae_synonyms_load, terms_for_synonym
from tests.conftest import term


def synonym_rows() -> list[dict[str, str]]:
    with SYNONYMS_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def ctcae_names() -> set[str]:
    with CTCAE_CSV.open(encoding="utf-8", newline="") as fh:
        return {row["ctcae_term"] for row in csv.DictReader(fh)}


def mapped(synonym: str) -> set[str]:
    return {r["ctcae_term"] for r in synonym_rows() if r["synonym"].casefold() == synonym.casefold()}


# --- the data file ----------------------------------------------------------------------------------------------


def test_the_file_has_the_documented_columns():
    with SYNONYMS_CSV.open(encoding="utf-8", newline="") as fh:
        assert tuple(csv.DictReader(fh).fieldnames) == SYNONYM_COLUMNS == ("synonym", "ctcae_term", "source", "note")
    readme = (SYNONYMS_CSV.parent / "README.md").read_text(encoding="utf-8")
    assert "synonyms.csv" in readme
    assert all(f"`{column}`" in readme for column in SYNONYM_COLUMNS)


def test_every_synonym_maps_to_a_term_of_the_ctcae_v5_catalogue():
    names = ctcae_names()
    unknown = [(r["synonym"], r["ctcae_term"]) for r in synonym_rows() if r["ctcae_term"] not in names]
    assert unknown == []


def test_no_synonym_to_term_pair_is_listed_twice_in_any_case():
    pairs = Counter((r["synonym"].casefold(), r["ctcae_term"]) for r in synonym_rows())
    assert [pair for pair, n in pairs.items() if n > 1] == []


def test_synonyms_are_trimmed_words_not_ctcae_term_names_and_say_where_they_come_from():
    names = {n.casefold() for n in ctcae_names()}
    rows = synonym_rows()
    assert all(r["synonym"] and r["synonym"] == r["synonym"].strip() for r in rows)
    assert [r["synonym"] for r in rows if r["synonym"].casefold() in names] == []
    assert [r["synonym"] for r in rows if not r["source"].strip()] == []


def test_the_list_is_a_ward_sized_vocabulary():
    rows = synonym_rows()
    assert 40 <= len({r["synonym"].casefold() for r in rows}) <= 100
    assert len(rows) == len({(r["synonym"].casefold(), r["ctcae_term"]) for r in rows})


@pytest.mark.parametrize(("synonym", "terms"), [
    ("CRS", {"Cytokine release syndrome"}),
    ("ICANS", {"Encephalopathy"}),
    ("thrombocytopenia", {"Platelet count decreased"}),
    ("plt", {"Platelet count decreased"}),
    ("platelets", {"Platelet count decreased"}),
    ("neutropenia", {"Neutrophil count decreased", "Febrile neutropenia"}),
    ("ANC", {"Neutrophil count decreased"}),
    ("FN", {"Febrile neutropenia"}),
    ("Hb", {"Anemia"}),
    ("anaemia", {"Anemia"}),
    ("TLS", {"Tumor lysis syndrome"}),
    ("WBC", {"White blood cell decreased"}),
    ("leukopenia", {"White blood cell decreased"}),
    ("lymphopenia", {"Lymphocyte count decreased"}),
    ("ALT", {"Alanine aminotransferase increased"}),
    ("AST", {"Aspartate aminotransferase increased"}),
    ("hypokalaemia", {"Hypokalemia"}),
    ("pyrexia", {"Fever"}),
    ("convulsion", {"Seizure"}),
    ("hypoxaemia", {"Hypoxia"}),
    ("low BP", {"Hypotension"}),
])
def test_the_words_ward_staff_reported_are_listed(synonym, terms):
    assert mapped(synonym) == terms


def test_neurotoxicity_maps_to_each_of_its_manifestations():
    expected = {"Encephalopathy", "Seizure", "Tremor", "Dysphasia", "Confusion", "Depressed level of consciousness"}
    assert mapped("neurotoxicity") == mapped("neurotox") == expected


def test_the_icans_hint_names_encephalopathy_the_verbatim_term_and_the_bedside_assessment():
    (row,) = [r for r in synonym_rows() if r["synonym"] == "ICANS"]
    assert "Encephalopathy" in row["note"]
    assert 'verbatim term "ICANS"' in row["note"]
    assert "ICANS bedside assessment" in row["note"]


# --- the database ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_row_is_stored_with_its_term_source_and_note():
    rows = synonym_rows()
    stored = set(CTCAESynonym.objects.values_list("synonym", "term__term", "source", "note"))
    assert stored == {(r["synonym"], r["ctcae_term"], r["source"], r["note"]) for r in rows}


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["plt", "PLT", "Plt", "  plt "])
def test_an_exact_synonym_finds_its_term_in_any_case(typed):
    assert terms_for_synonym(typed) == [term("Platelet count decreased")]


@pytest.mark.django_db
def test_a_synonym_of_two_terms_finds_both_and_a_partial_word_finds_none():
    assert [t.term for t in terms_for_synonym("neutropenia")] == ["Febrile neutropenia", "Neutrophil count decreased"]
    assert terms_for_synonym("pl") == []
    assert terms_for_synonym("") == []


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    before = set(CTCAESynonym.objects.values_list("pk", "synonym", "term_id", "source", "note"))
    assert ctcae_synonyms_load() == len(synonym_rows())
    assert ctcae_synonyms_load() == len(synonym_rows())
    assert set(CTCAESynonym.objects.values_list("pk", "synonym", "term_id", "source", "note")) == before


@pytest.mark.django_db
def test_reloading_restores_edited_and_deleted_rows_and_drops_rows_no_longer_listed():
    plt = CTCAESynonym.objects.get(synonym="plt")
    CTCAESynonym.objects.filter(pk=plt.pk).update(synonym="PLT", note="edited")
    CTCAESynonym.objects.filter(synonym="CRS").delete()
    CTCAESynonym.objects.create(term=term("Tremor"), synonym="wobbly", source="test")
    ctcae_synonyms_load()
    plt.refresh_from_db()
    assert (plt.synonym, plt.note) == ("plt", "")
    assert terms_for_synonym("CRS") == [term("Cytokine release syndrome")]
    assert not CTCAESynonym.objects.filter(synonym="wobbly").exists()


@pytest.mark.django_db
def test_the_database_refuses_the_same_synonym_for_the_same_term_in_another_case():
    with pytest.raises(IntegrityError), transaction.atomic():
        CTCAESynonym.objects.create(term=term("Platelet count decreased"), synonym="PLT")
    # the same word for another term is allowed (a synonym may map to several terms)
    CTCAESynonym.objects.create(term=term("Lipase increased"), synonym="PLT")


@pytest.mark.django_db
@pytest.mark.parametrize("synonym", ["", " plt", "plt "])
def test_the_database_refuses_an_empty_or_padded_synonym(synonym):
    with pytest.raises(IntegrityError), transaction.atomic():
        CTCAESynonym.objects.create(term=term("Tremor"), synonym=synonym)


HEADER = "synonym,ctcae_term,source,note\n"


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "message"), [
    ("wobbly,Tremor,test,\nsquiggles,Tremors,test,\n", "'Tremors' is not a CTCAE v5.0 term"),
    ("wobbly,Tremor,test,\nWOBBLY,Tremor,test,\n", "listed twice"),
    ("wobbly,Tremor,test,\nfever,Fever,test,\n", "'fever' is a CTCAE term name"),
    ("wobbly,Tremor,test,\n wobbly2,Tremor,test,\n", "empty or padded synonym"),
])
def test_a_broken_list_is_refused_and_changes_nothing(tmp_path, body, message):
    before = set(CTCAESynonym.objects.values_list("pk", "synonym", "term_id", "note"))
    path = tmp_path / "synonyms.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        ctcae_synonyms_load(path)
    assert set(CTCAESynonym.objects.values_list("pk", "synonym", "term_id", "note")) == before


@pytest.mark.django_db
def test_a_file_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "synonyms.csv"
    path.write_text("synonym,term\nwobbly,Tremor\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns must be synonym, ctcae_term, source, note"):
        ctcae_synonyms_load(path)
