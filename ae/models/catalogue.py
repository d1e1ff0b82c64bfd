"""The NCI CTCAE v5.0 catalogue: terms (MedDRA LLT), the grades each defines, and ward synonyms."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Trim, Upper
from django.utils.translation import gettext_lazy as _

CTCAE_VERSION = "5.0"
#: How CTCAE v5.0 names each SOC's catch-all term: "Nervous system disorders - Other, specify".
OTHER_SPECIFY_SUFFIX = " - Other, specify"


class CTCAETerm(models.Model):
    """One NCI CTCAE v5.0 term (MedDRA LLT) with its SOC; source: NCI CTCAE v5.0 workbook, Clean Copy."""

    meddra_code = models.PositiveIntegerField("MedDRA LLT code", unique=True)
    term = models.CharField("CTCAE term", max_length=200, unique=True)
    soc = models.CharField("MedDRA SOC", max_length=200)
    definition = models.TextField(blank=True)
    navigational_note = models.TextField(blank=True)

    class Meta:
        ordering = ["term"]
        verbose_name = "CTCAE term"

    def __str__(self) -> str:
        return self.term

    @property
    def is_other_specify(self) -> bool:
        """One of CTCAE v5.0's 26 SOC "… - Other, specify" terms, for an event the catalogue has no term of its own
        for: an adverse event under it names the event in its reported term (verbatim)."""
        return self.term.endswith(OTHER_SPECIFY_SUFFIX)

    @property
    def allowed_grades(self) -> list[int]:
        """Grades (1–5) defined for this term, ascending (from ``grades_defined`` when the query that read the term
        aggregated them, as the AE form's term field does: one query instead of two)."""
        defined = getattr(self, "grades_defined", None)
        if defined is not None:
            return [g for g in defined if g is not None]
        return [g.grade for g in self.grades.all()]


class CTCAEGrade(models.Model):
    """A grade that exists for a term, with its CTCAE v5.0 definition (absent grades have no row)."""

    term = models.ForeignKey(CTCAETerm, on_delete=models.CASCADE, related_name="grades")
    grade = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    description = models.TextField()

    class Meta:
        ordering = ["term", "grade"]
        constraints = [
            models.UniqueConstraint(fields=["term", "grade"], name="ctcaegrade_term_grade_unique"),
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ctcaegrade_grade_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.term} grade {self.grade}"


class CTCAESynonym(models.Model):
    """A word ward staff type for a CTCAE v5.0 term (abbreviation, synonym, British spelling).

    Reference data from ``fixtures/ctcae/synonyms.csv`` (loaded by :func:`ae.synonyms.ctcae_synonyms_load`).
    One synonym may map to several terms (``neutropenia``: Neutrophil count decreased and Febrile neutropenia);
    a synonym is stored once per term whatever its case. Lookups are case-insensitive: ``synonym__iexact``
    compares ``UPPER(synonym)``, which the unique index covers.
    """

    term = models.ForeignKey(CTCAETerm, on_delete=models.CASCADE, related_name="synonyms")
    synonym = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True,
                              help_text="Where the word comes from (ward usage, British spelling, ASTCT 2019, ...).")
    note = models.TextField(blank=True, help_text="Shown to the nurse when she types the synonym.")

    class Meta:
        ordering = ["synonym", "term"]
        verbose_name = "CTCAE synonym"
        constraints = [
            models.UniqueConstraint(Upper("synonym"), "term", name="ctcaesynonym_synonym_term_unique",
                                    violation_error_message=_("This synonym already maps to this term.")),
            models.CheckConstraint(condition=~Q(synonym="") & Q(synonym=Trim("synonym")),
                                   name="ctcaesynonym_synonym_trimmed",
                                   violation_error_message=_("A synonym is a non-empty word without outer spaces.")),
        ]

    def __str__(self) -> str:
        return f"{self.synonym} → {self.term}"
