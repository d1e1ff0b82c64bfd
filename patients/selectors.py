"""Reads of the patients app, scoped to the sites a user holds a role on (:mod:`patients.access`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import QuerySet

from core.types import AnyUser
from patients.access import ALL_ROLES, sites_for
from patients.models import Patient, TreatmentCycle
from patients.treatment import DosingStep, HospitalStay, InfusionInterruption, NextTherapy

TreatmentRecordT = TypeVar("TreatmentRecordT", DosingStep, InfusionInterruption, HospitalStay, NextTherapy)


def patients_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[Patient]:
    """Patients of the sites on which ``user`` holds one of ``roles``."""
    return Patient.objects.filter(site__in=sites_for(user, roles))


def cycles_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[TreatmentCycle]:
    """Treatment cycles of the sites on which ``user`` holds one of ``roles``."""
    return TreatmentCycle.objects.filter(patient__site__in=sites_for(user, roles))


def treatment_records_for(user: AnyUser, model: type[TreatmentRecordT],
                          roles: Iterable[str] = ALL_ROLES) -> QuerySet[TreatmentRecordT]:
    """Dosing steps, interruptions, stays (per cycle) or next therapies (per patient) of the user's sites."""
    lookup = "patient__site__in" if model is NextTherapy else "cycle__patient__site__in"
    return model.objects.filter(**{lookup: sites_for(user, roles)})
