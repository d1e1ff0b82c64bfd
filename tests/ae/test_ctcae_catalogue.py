"""The CTCAE v5.0 catalogue: the fixture is the one documented, every term and grade is loaded, reloads are safe."""

from __future__ import annotations

import csv
import hashlib
import re

import pytest

from ae.catalogue import CTCAE_CSV, ctcae_catalogue_load
from ae.models import CTCAEGrade, CTCAETerm
from tests.conftest import term

pytestmark = pytest.mark.django_db

#: sha256 stated in fixtures/ctcae/README.md (the provenance record of the fixture).
DOCUMENTED_SHA256 = "6734421408501cd9f9b9bc5b3f50eab183e95822a5f955839296ac401bc0582b"
#: NCI CTCAE v5.0 (27 Nov 2017) has 837 terms.
CTCAE_V5_TERM_COUNT = 837


def csv_rows() -> list[dict[str, str]]:
    with CTCAE_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_fixture_is_byte_for_byte_the_documented_file():
    digest = hashlib.sha256(CTCAE_CSV.read_bytes()).hexdigest()
    readme = (CTCAE_CSV.parent / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"This file's sha256: `([0-9a-f]{64})`", readme).group(1)
    assert documented == DOCUMENTED_SHA256
    assert digest == DOCUMENTED_SHA256


def test_the_fixture_has_837_distinct_terms_and_codes():
    rows = csv_rows()
    assert len(rows) == CTCAE_V5_TERM_COUNT
    assert len({r["ctcae_term"] for r in rows}) == CTCAE_V5_TERM_COUNT
    assert len({r["meddra_code"] for r in rows}) == CTCAE_V5_TERM_COUNT


def test_every_term_and_every_defined_grade_is_in_the_database():
    assert CTCAETerm.objects.count() == CTCAE_V5_TERM_COUNT
    # one grade row per non-empty grade cell of the fixture
    expected_grades = sum(1 for r in csv_rows() for g in range(1, 6) if r[f"grade_{g}"].strip())
    assert CTCAEGrade.objects.count() == expected_grades
    assert not CTCAETerm.objects.filter(grades__isnull=True).exists()


@pytest.mark.parametrize(("name", "allowed"), [
    ("Tremor", [1, 2, 3]),                          # no life-threatening or fatal tremor
    ("Febrile neutropenia", [3, 4, 5]),             # FN is grade 3 by definition
    ("Neutrophil count decreased", [1, 2, 3, 4]),   # lab value: no grade 5
    ("Hypoxia", [2, 3, 4, 5]),                      # no grade 1
    ("Cytokine release syndrome", [1, 2, 3, 4, 5]),
])
def test_it_knows_which_grades_each_term_has(name, allowed):
    assert term(name).allowed_grades == allowed


def test_cytokine_release_syndrome_has_its_meddra_code_and_soc():
    crs = term("Cytokine release syndrome")
    assert crs.meddra_code == 10052015
    assert crs.soc == "Immune system disorders"
    assert crs.grades.get(grade=1).description == "Fever with or without constitutional symptoms"


def test_loading_twice_changes_nothing():
    before_terms = dict(CTCAETerm.objects.values_list("meddra_code", "pk"))
    before_grades = set(CTCAEGrade.objects.values_list("pk", "term_id", "grade"))
    assert ctcae_catalogue_load() == CTCAE_V5_TERM_COUNT
    assert ctcae_catalogue_load() == CTCAE_V5_TERM_COUNT
    assert dict(CTCAETerm.objects.values_list("meddra_code", "pk")) == before_terms
    assert set(CTCAEGrade.objects.values_list("pk", "term_id", "grade")) == before_grades


def test_reloading_restores_an_edited_term_and_a_deleted_grade():
    tremor = term("Tremor")
    CTCAETerm.objects.filter(pk=tremor.pk).update(soc="Wrong SOC")
    CTCAEGrade.objects.filter(term=tremor, grade=3).delete()
    ctcae_catalogue_load()
    tremor.refresh_from_db()
    assert tremor.soc == "Nervous system disorders"
    assert tremor.allowed_grades == [1, 2, 3]


def test_a_broken_catalogue_is_refused_and_loads_nothing(tmp_path):
    """A row without any grade aborts the load; the rows before it are rolled back too."""
    header = ("meddra_code,meddra_soc,ctcae_term,grade_1,grade_2,grade_3,grade_4,grade_5,allowed_grades,"
              "definition,navigational_note,ctcae_v5_change\n")
    path = tmp_path / "broken.csv"
    path.write_text(header + "99999901,Test SOC,Valid new term,Mild,,,,,1,,,\n"
                    "99999902,Test SOC,Term without grades,,,,,,,,,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Term without grades"):
        ctcae_catalogue_load(path)
    assert not CTCAETerm.objects.filter(meddra_code__in=[99999901, 99999902]).exists()
    assert CTCAETerm.objects.count() == CTCAE_V5_TERM_COUNT
