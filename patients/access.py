"""The one place that decides who may see and do what, per site.

Every view, API endpoint, export and command that serves user-facing data gets its querysets from
here. A record of a site the user holds no membership of is simply absent (views answer 404).

Roles (``Membership.Role``): ward staff record and edit patients, cycles and adverse events; safety
officers read everything of their sites and review flags; administrators may do both.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from patients.models import Membership, Patient, Site, TreatmentCycle

Role = Membership.Role
RECORDERS = (Role.WARD_STAFF, Role.ADMINISTRATOR)
REVIEWERS = (Role.SAFETY_OFFICER, Role.ADMINISTRATOR)
ALL_ROLES = tuple(Role)

User = AbstractBaseUser | AnonymousUser


def sites_for(user: User, roles: Iterable[str] = ALL_ROLES) -> QuerySet[Site]:
    """Return the sites on which ``user`` holds one of ``roles`` (none for anonymous users)."""
    if not user.is_authenticated:
        return Site.objects.none()
    return Site.objects.filter(memberships__user=user, memberships__role__in=list(roles)).distinct()


def role_on(user: User, site: Site) -> str | None:
    """Return the user's role on ``site``, or None."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, site=site).values_list("role", flat=True).first()


def require_role(user: User, site: Site, roles: Iterable[str]) -> None:
    """Raise PermissionDenied unless ``user`` holds one of ``roles`` on ``site``."""
    if role_on(user, site) not in set(roles):
        raise PermissionDenied("Your role on this site does not allow this.")


def patients_for(user: User, roles: Iterable[str] = ALL_ROLES) -> QuerySet[Patient]:
    """Patients of the user's sites."""
    return Patient.objects.filter(site__in=sites_for(user, roles))


def cycles_for(user: User, roles: Iterable[str] = ALL_ROLES) -> QuerySet[TreatmentCycle]:
    """Treatment cycles of the user's sites."""
    return TreatmentCycle.objects.filter(patient__site__in=sites_for(user, roles))


def adverse_events_for(user: User, roles: Iterable[str] = ALL_ROLES):  # -> QuerySet[AdverseEvent]
    """Adverse events of the user's sites (imported lazily: ``ae`` depends on ``patients``)."""
    from ae.models import AdverseEvent

    return AdverseEvent.objects.filter(patient__site__in=sites_for(user, roles))
