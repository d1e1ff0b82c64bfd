"""Reads of the patients app, scoped to the sites a user holds a role on (:mod:`patients.access`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import Count, F, QuerySet

from core.types import AnyUser
from patients.access import ALL_ROLES, sites_for
from patients.models import Notification, Patient, Site, TreatmentCycle
from patients.treatment import DoseUnit, DosingStep, HospitalStay, InfusionInterruption, NextTherapy, Recorded

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


def treatment_mix(site: Site) -> dict[str, dict[str, int]]:
    """The ward's treatment case mix over its first cycles (the cycle the cohorts describe), for the benchmark's
    case mix or like-with-like where cohorts report premedication and step-up dosing (3 queries).

    Shape: {"premedication": {"yes": n, "no": n, "not_recorded": n}, "dosing": {"step_up": n, "flat": n,
    "not_recorded": n}, "units": {"bsa": n, "fixed": n}} — counts of first cycles; "step_up" = more than one
    dosing step, "flat" = one step, "not_recorded" = none; "fixed" = any step in µg/day.
    """
    first = TreatmentCycle.objects.filter(patient__site=site, number=1)
    premedication = dict.fromkeys(Recorded.values, 0)
    for value, n in first.values_list("dexamethasone_premedication").annotate(n=Count("id")):
        premedication[value] = n
    steps = dict(first.annotate(n=Count("dosing_steps")).values_list("id", "n"))
    dosing = {"step_up": sum(1 for n in steps.values() if n > 1), "flat": sum(1 for n in steps.values() if n == 1),
              "not_recorded": sum(1 for n in steps.values() if n == 0)}
    fixed = DosingStep.objects.filter(cycle__in=first, unit=DoseUnit.UG_DAY).values("cycle").distinct().count()
    with_steps = dosing["step_up"] + dosing["flat"]
    return {"premedication": premedication, "dosing": dosing, "units": {"bsa": with_steps - fixed, "fixed": fixed}}


def notifications_for(user: AnyUser) -> QuerySet[Notification]:
    """The user's own notifications on the sites the user still holds a role on, unread first, newest first
    (site isolation: a notice of a site the user left is no longer shown)."""
    return (Notification.objects.filter(recipient_id=user.pk, site__in=sites_for(user))
            .select_related("site").order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id"))


def notifications_unread_count(user: AnyUser) -> int:
    """How many of :func:`notifications_for` are unread (one query: the header's count on every page)."""
    return notifications_for(user).filter(read_at__isnull=True).count()
