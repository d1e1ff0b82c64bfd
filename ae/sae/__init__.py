"""Serious adverse event (SAE) cases: the case, its clocks, expectedness, narrative and frozen versions.

The frozen content of one case version is a :class:`ae.sae.snapshot.CaseSnapshot`; the reports that leave the
ward (CIOMS I, ICH E2B(R3), FHIR AdverseEvent, in ``reports/icsr/``) are written from a snapshot only.
"""
