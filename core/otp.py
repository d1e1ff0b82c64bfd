"""Second factor (TOTP, RFC 6238) and recovery codes through django-otp: verification and enrolment helpers.

A user has two factor authentication when they hold a *confirmed* ``TOTPDevice`` (an authenticator app: 6 digits
every 30 s). Recovery codes are a ``StaticDevice`` named "recovery" with ``RECOVERY_CODES`` single-use codes
(10 base32 characters each; ``StaticToken.random_token``). Failed codes are throttled by django-otp per device
(``ThrottlingMixin``: after a failure, further attempts wait 2**(n-1) seconds; ``OTP_TOTP_THROTTLE_FACTOR``).
Sources: RFC 6238 (TOTP), RFC 4226 (HOTP), NIST SP 800-63B §5.1.4.1 (single-factor OTP device), §5.1.2 (look-up
secrets as recovery codes).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
#: Session key: the second-factor step this login still needs — "two-factor-verify", "two-factor-setup" or ""
#: (none) — decided once at login (``pvtrack.twofactor``), so pages cost no query for it.
SESSION_STEP_KEY = "pvtrack_second_factor_step"
RECOVERY_DEVICE = "recovery"
AUTHENTICATOR_DEVICE = "authenticator"


def has_two_factor(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator (TOTP) device."""
    return bool(user.is_authenticated and TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def verify_code(user: Any, code: str) -> Device | None:
    """The confirmed device of ``user`` that accepts ``code``, or None.

    Six digits are tried against the authenticator; anything else against the recovery codes (a used recovery
    code is deleted). Spaces and dashes are ignored. Each device counts its own failures (django-otp throttle)."""
    code = "".join((code or "").split()).replace("-", "").lower()
    if not code or len(code) > 16:
        return None
    kind = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    with transaction.atomic():  # django-otp's own advice: the throttle counters are updated consistently
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if isinstance(device, kind) and device.verify_token(code):
                return device
    return None


def authenticator_start(user: Any) -> TOTPDevice:
    """The user's unconfirmed authenticator, created (with a fresh random key) if there is none; confirmed
    devices are left alone."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_DEVICE, confirmed=False)


def authenticator_confirm(*, user: Any, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm ``device`` with a first code from the app; returns new recovery codes (shown once), or None if
    the code is wrong. Any other authenticator of the user is removed (one phone at a time)."""
    if device.user_id != user.pk or not device.verify_token("".join((code or "").split())):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_renew(user)


def recovery_codes_renew(user: Any) -> list[str]:
    """Replace the user's recovery codes by ``RECOVERY_CODES`` new ones and return them (to be shown once)."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE,
                                                        defaults={"confirmed": True})
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
        return codes


def two_factor_remove(user: Any) -> int:
    """Delete every OTP device of ``user`` (lost phone; done by an administrator); returns how many."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    return int(removed + StaticDevice.objects.filter(user=user).delete()[0])
