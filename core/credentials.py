"""API tokens die with the credentials they were issued for (issue 11 finding 3).

Every way a user's password or active flag changes — ``set_password`` + ``save``, the admin's password and user
forms, ``manage.py changepassword``, the password-change view — ends in ``User.save()``. A ``pre_save`` receiver
on the user model is the one place all of them pass, so it deletes all the user's django-rest-knox tokens when the
stored password hash differs from the one in the database or ``is_active`` goes from true to false. Django itself
ends the user's web sessions on a password change (the session's auth hash no longer matches) and refuses an
inactive user's session. Rationale: OWASP ASVS 5.0 V7.4.3 (terminate all active sessions after a successful change
or removal of an authentication factor) and V7.4.2 (terminate sessions when an account is disabled).

Not covered: a raw ``QuerySet.update(password=…)`` or SQL, which bypass ``save()``; do not change credentials that
way (``docs/operations.md``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models.signals import pre_save


def revoke_tokens_on_credential_change(sender: Any, instance: AbstractBaseUser,
                                       **kwargs: Any) -> None:
    """``pre_save`` of the user model: delete every knox token of ``instance`` if its password hash changed or it
    is being deactivated. New users (no primary key yet) have no tokens."""
    from knox.models import AuthToken

    if instance.pk is None or kwargs.get("raw"):
        return
    stored = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is None:
        return
    update_fields = kwargs.get("update_fields")
    password_changed = ((update_fields is None or "password" in update_fields)
                        and stored["password"] != instance.password)
    deactivated = ((update_fields is None or "is_active" in update_fields)
                   and stored["is_active"] and not getattr(instance, "is_active", True))
    if password_changed or deactivated:
        AuthToken.objects.filter(user_id=instance.pk).delete()


def connect() -> None:
    """Connect the receiver (``CoreConfig.ready``)."""
    pre_save.connect(revoke_tokens_on_credential_change, sender=get_user_model(),
                     dispatch_uid="pvtrack-revoke-tokens-on-credential-change")
