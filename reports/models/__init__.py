"""Models of the reports app, one module per concept.

- :mod:`reports.models.cohorts`: published cohorts, their figures, benchmark categories (reference data);
- :mod:`reports.models.runs`: benchmark runs, flags (with their reviews and carried reviews), run sign-offs.
"""

from reports.models.cohorts import BenchmarkCategory, Cohort, CohortFigure
from reports.models.runs import BenchmarkRun, Flag, RunSignoff

__all__ = ["BenchmarkCategory", "BenchmarkRun", "Cohort", "CohortFigure", "Flag", "RunSignoff"]
