"""Read and check the curated published-cohort fixtures (``fixtures/cohorts/*.yaml``).

Plain Python (no Django) so curators can run it directly::

    python -m reports.cohort_data fixtures/cohorts/xie2023_suzhou.yaml

Each file follows ``fixtures/cohorts/schema.json``. Beyond the schema, this module checks
what a schema cannot: every quote occurs in its source text (``fixtures/sources/``, the
seed articles, compared with whitespace and case folded), every numerator is at most its
denominator, and every printed percentage matches numerator/denominator to the printed
precision unless the figure says why it does not (``percent_mismatch_why``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
COHORTS_DIR = FIXTURES_DIR / "cohorts"
SOURCES_DIR = FIXTURES_DIR / "sources"
SCHEMA_PATH = COHORTS_DIR / "schema.json"


@dataclass(frozen=True)
class Problem:
    """One integrity problem found in a cohort file."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def normalise(text: str) -> str:
    """Fold whitespace runs to one space, case to lower, and typographic quotes/dashes to ASCII."""
    table = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                           "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " "})
    return re.sub(r"\s+", " ", text.translate(table)).strip().lower()


@cache
def source_text(seed: str) -> str:
    """Return the normalised text of one seed article; raises FileNotFoundError if absent."""
    return normalise((SOURCES_DIR / seed).read_text(encoding="utf-8"))


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def cohort_files(directory: Path = COHORTS_DIR) -> list[Path]:
    """Return the cohort YAML files, sorted by name."""
    return sorted(directory.glob("*.yaml"))


def load_cohort(path: Path) -> dict[str, Any]:
    """Parse one cohort file; raises yaml.YAMLError on malformed YAML."""
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _provenances(cohort: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if "n_patients_provenance" in cohort:
        yield "n_patients_provenance", cohort["n_patients_provenance"]
    if "schedule_provenance" in cohort:
        yield "schedule_provenance", cohort["schedule_provenance"]
    for i, prov in enumerate(cohort.get("grading", {}).get("provenance", [])):
        yield f"grading.provenance[{i}]", prov
    for i, prov in enumerate(cohort.get("blast_burden", {}).get("provenance", [])):
        yield f"blast_burden.provenance[{i}]", prov
    for key in ("premedication", "dosing"):
        for i, prov in enumerate((cohort.get(key) or {}).get("provenance", [])):
            yield f"{key}.provenance[{i}]", prov
    for i, fig in enumerate(cohort.get("figures", [])):
        yield f"figures[{i}] ({fig.get('reported_term')}, {fig.get('grade_band')})", fig["provenance"]
        for j, prov in enumerate((fig.get("derived") or {}).get("sources", [])):
            yield f"figures[{i}].derived.sources[{j}]", prov
    for i, conflict in enumerate(cohort.get("conflicts", [])):
        for j, prov in enumerate(conflict.get("sources", [])):
            yield f"conflicts[{i}].sources[{j}]", prov


def percent_matches(numerator: int, denominator: int, printed: float) -> bool:
    """True if ``printed`` equals 100*numerator/denominator rounded or truncated to its precision.

    Precision is inferred from the printed value: an integer allows ±0.5 (plus truncation),
    one decimal ±0.05 (plus truncation). Articles round and truncate inconsistently, so both
    are accepted; anything else is a conflict for the curator to explain.
    """
    exact = 100.0 * numerator / denominator
    step = 1.0 if float(printed).is_integer() else 0.1
    return abs(exact - printed) <= step / 2 + 1e-9 or 0 <= exact - printed < step + 1e-9


def check_cohort(cohort: dict[str, Any], name: str) -> list[Problem]:
    """Return every integrity problem of one parsed cohort (empty list if it is clean)."""
    problems: list[Problem] = []
    validator = jsonschema.Draft202012Validator(_schema())
    for err in validator.iter_errors(cohort):
        problems.append(Problem(name, "/".join(map(str, err.absolute_path)) or "(root)", err.message))
    if problems:
        return problems
    for where, prov in _provenances(cohort):
        try:
            text = source_text(prov["seed"])
        except FileNotFoundError:
            problems.append(Problem(name, where, f"unknown seed file {prov['seed']!r}"))
            continue
        if normalise(prov["quote"]) not in text:
            problems.append(Problem(name, where, f"quote not found in {prov['seed']}: {prov['quote']!r}"))
    for i, fig in enumerate(cohort["figures"]):
        where = f"figures[{i}] ({fig['reported_term']}, {fig['grade_band']})"
        num, den, pct = fig["numerator"], fig["denominator"], fig.get("percent_printed")
        if num is None and pct is None:
            problems.append(Problem(name, where, "neither numerator nor percent_printed given"))
        if num is not None and den is not None and num > den:
            problems.append(Problem(name, where, f"numerator {num} > denominator {den}"))
        if (num is not None and den is not None and pct is not None
                and not percent_matches(num, den, pct) and not fig.get("percent_mismatch_why")):
            problems.append(Problem(
                name, where,
                f"printed {pct}% != {num}/{den} = {100 * num / den:.2f}% and no percent_mismatch_why"))
        if fig["unit"] == "patients" and den is not None and cohort["n_patients"] is not None \
                and den > cohort["n_patients"]:
            problems.append(Problem(name, where, f"patient denominator {den} > cohort n {cohort['n_patients']}"))
    return problems


def check_all(paths: Iterable[Path] | None = None) -> list[Problem]:
    """Check every cohort file (default: all in ``fixtures/cohorts``) plus slug uniqueness."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths if paths is not None else cohort_files():
        cohort = load_cohort(path)
        problems.extend(check_cohort(cohort, path.name))
        slug = cohort.get("slug")
        if slug in seen:
            problems.append(Problem(path.name, "slug", f"duplicate slug {slug!r} (also in {seen[slug]})"))
        seen[str(slug)] = path.name
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or None
    problems = check_all(paths)
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
