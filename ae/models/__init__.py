"""Models of the adverse-event app, one module per concept.

- :mod:`ae.models.catalogue`: the CTCAE v5.0 catalogue (terms, grades, ward synonyms);
- :mod:`ae.models.events`: adverse events and their revisions (the rules the database enforces are listed there);
- :mod:`ae.models.assessments`: bedside CRS and ICANS assessments of an episode;
- :mod:`ae.models.labs`: lab results graded by CTCAE v5.0;
- :mod:`ae.models.imports`: saved column mappings of import sources (CSV, REDCap, ODM);
- :mod:`ae.models.treatments`: treatments given for an event (tocilizumab, corticosteroids…, dose and time);
- :mod:`ae.models.reference_ranges`: the site laboratory's reference ranges (LLN/ULN per analyte, sex, age band);
- :mod:`ae.models.sae`: SAE cases, their signed frozen versions and reminders, reference safety information.
(Notices of deaths and serious AEs are notifications: :mod:`patients.models.notifications`.)
"""

from ae.models.assessments import CRSAssessment, ICANSAssessment
from ae.models.catalogue import CTCAE_VERSION, CTCAEGrade, CTCAESynonym, CTCAETerm
from ae.models.events import AdverseEvent, AdverseEventRevision
from ae.models.imports import ImportMapping
from ae.models.labs import LabResult
from ae.models.reference_ranges import ReferenceRange
from ae.models.sae import CaseReminder, CaseVersion, ReferenceSafetyInformation, RSIEntry, SAECase, SAECaseLink
from ae.models.treatments import EventTreatment

__all__ = ["CTCAE_VERSION", "AdverseEvent", "AdverseEventRevision", "CRSAssessment", "CTCAEGrade", "CTCAESynonym",
           "CTCAETerm", "CaseReminder", "CaseVersion", "EventTreatment", "ICANSAssessment", "ImportMapping",
           "LabResult", "RSIEntry", "ReferenceRange", "ReferenceSafetyInformation", "SAECase", "SAECaseLink"]
