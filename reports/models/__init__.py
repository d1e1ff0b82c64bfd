"""Models of the reports app, one module per concept.

- :mod:`reports.models.cohorts`: published cohorts, their figures, benchmark categories (reference data);
- :mod:`reports.models.runs`: benchmark runs, flags (with their reviews and carried reviews), run sign-offs;
- :mod:`reports.models.plots`: the drawn plots of benchmark cells, shared by every process.
"""

from reports.models.cohorts import BenchmarkCategory, Cohort, CohortFigure
from reports.models.plots import CellPlot
from reports.models.runs import BenchmarkRun, Flag, RunSignoff

__all__ = ["BenchmarkCategory", "BenchmarkRun", "CellPlot", "Cohort", "CohortFigure", "Flag", "RunSignoff"]
