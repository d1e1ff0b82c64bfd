"""Query parameters of the patient and treatment-cycle lists (django-filter; unknown parameters answer 400,
:class:`core.api.StrictFilterBackend`).

A record of a site the user holds no role on answers exactly like one that does not exist: the ``patient``
filter chooses only among the user's own patients, so both answer 400 "Select a valid choice".
"""

from __future__ import annotations

from typing import Any

import django_filters

from patients.models import Patient, TreatmentCycle
from patients.selectors import patients_for


def users_patients(request: Any) -> Any:
    """The patients the requesting user may read (none without a request, e.g. while the schema is built)."""
    if request is None:
        return Patient.objects.none()
    return patients_for(request.user)


class PatientFilter(django_filters.FilterSet):
    """``site__slug``, ``study_id`` (the ward's own patient number, exact), ``disease_status``."""

    study_id = django_filters.CharFilter(help_text="The site's study id of the patient (exact, case-sensitive).")

    class Meta:
        model = Patient
        fields = ["site__slug", "study_id", "disease_status"]


class TreatmentCycleFilter(django_filters.FilterSet):
    """``patient`` (one of the user's patients, else 400) and ``number``."""

    patient = django_filters.ModelChoiceFilter(queryset=users_patients)

    class Meta:
        model = TreatmentCycle
        fields = ["patient", "number"]
