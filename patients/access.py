"""The access core: which sites a user holds a role on, and what each role may do.

Every app reads through its own ``selectors.py``, whose user-facing querysets are built on
:func:`sites_for`; write services call :func:`require_role`. A record of a site the user holds no
membership of is simply absent (views answer 404).

Roles (``Membership.Role``): ward staff record and edit patients, cycles and adverse events; safety
officers read everything of their sites and review flags; administrators may do both. A network coordinator
sees every ward of the installation in the network comparison (ward names included) but no ward's patients,
events or reports through that role: :func:`named_sites` is the one place the
network scoping is decided; everyone else sees their own wards named and the others anonymous.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext

from core.types import AnyUser
from patients.models import Membership, Site

Role = Membership.Role
RECORDERS = (Role.WARD_STAFF, Role.ADMINISTRATOR)
REVIEWERS = (Role.SAFETY_OFFICER, Role.ADMINISTRATOR)
#: The roles that log in with a second factor by default: those that sign, and the network coordinator, who sees
#: every ward of the network by name (``settings.PVTRACK_TWO_FACTOR_ROLES`` overrides).
TWO_FACTOR_ROLES = (*REVIEWERS, Role.NETWORK_COORDINATOR)
#: The roles that see a ward's own data (patients, events, reports). Not the network coordinator.
WARD_ROLES = (Role.WARD_STAFF, Role.SAFETY_OFFICER, Role.ADMINISTRATOR)
ALL_ROLES = WARD_ROLES



def sites_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[Site]:
    """Return the sites on which ``user`` holds one of ``roles`` (none for anonymous users)."""
    if not user.is_authenticated:
        return Site.objects.none()
    return Site.objects.filter(memberships__user=user, memberships__role__in=list(roles)).distinct()


def role_on(user: AnyUser, site: Site) -> str | None:
    """Return the user's role on ``site``, or None."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, site=site).values_list("role", flat=True).first()


def require_role(user: AnyUser, site: Site, roles: Iterable[str]) -> None:
    """Raise PermissionDenied unless ``user`` holds one of ``roles`` on ``site``."""
    if role_on(user, site) not in set(roles):
        raise PermissionDenied(gettext("Your role on this site does not allow this."))


def two_factor_required(user: AnyUser) -> bool:
    """Whether ``user`` must log in with a second factor (TOTP): anyone holding one of
    ``settings.PVTRACK_TWO_FACTOR_ROLES`` on any site (by default :data:`TWO_FACTOR_ROLES`: safety officers and
    administrators, who sign, and network coordinators, who see every ward by name), and Django staff (the admin
    site). Ward staff may enrol but need not (docs/operations.md, "Two-factor")."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = list(getattr(settings, "PVTRACK_TWO_FACTOR_ROLES", TWO_FACTOR_ROLES))
    return bool(roles) and Membership.objects.filter(user_id=user.pk, role__in=roles).exists()


def can_record(user: AnyUser, site: Site) -> bool:
    """Whether ``user`` may record and edit ward data on ``site`` (ward staff, administrators)."""
    return role_on(user, site) in RECORDERS


def can_review(user: AnyUser, site: Site) -> bool:
    """Whether ``user`` may review and sign for ``site`` (safety officers, administrators)."""
    return role_on(user, site) in REVIEWERS


def named_sites(user: AnyUser) -> set[int] | None:
    """The ids of the sites ``user`` may see by name in the network comparison: None means every site (a network
    coordinator); otherwise the sites the user holds a ward role on (the others are shown anonymously)."""
    if not user.is_authenticated:
        return set()
    memberships = list(Membership.objects.filter(user_id=user.pk).values_list("site_id", "role"))  # one query
    if any(role == Role.NETWORK_COORDINATOR for _, role in memberships):
        return None
    return {site_id for site_id, role in memberships if role in WARD_ROLES}
