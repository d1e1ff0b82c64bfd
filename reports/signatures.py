"""Electronic signatures of a safety officer: a flag review and a run sign-off (21 CFR 11.50 / 11.200).

Each re-authenticates the signer, records printed name, meaning and time, and binds the signature to the
sha256 of the run's stored results (a later change of the results shows the signature as invalid).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.text import MAX_REASON_CHARS, clean_reason, visible
from patients.access import REVIEWERS, require_role
from patients.signing import is_locked_out, signing_needs_code  # noqa: F401 - re-exported for the report views
from patients.signing import verify_signer as _verify_signer
from reports.carry import carry_forward
from reports.cells import canonical_sha256
from reports.models import BenchmarkRun, Flag, RunSignoff

#: What a signature means (21 CFR 11.50(a)(3)), shown above the form and stored with the signature in the signer's
#: language (the active one: what the form showed is what is signed); English without a translation.
FLAG_REVIEW_MEANING = gettext_noop("Reviewed: I have reviewed this flag, the events behind it and the benchmark run "
                                   "it belongs to, and my comment records my conclusion.")
RUN_SIGNOFF_MEANING = gettext_noop("Approved: I have reviewed this benchmark run (its inputs, results and flags) and "
                                   "approve it as the site's safety benchmark for this period.")


def results_sha256(run: BenchmarkRun) -> str:
    """Hex sha256 of the run's stored results (canonical JSON): what a signature is bound to."""
    return canonical_sha256(run.results)


def _refuse_reviewed(flag: Flag) -> None:
    """Raise ValidationError (non-field) if ``flag`` is reviewed already: signed itself, or carrying a review."""
    if flag.reviewed_at is not None:
        raise ValidationError(_("This flag was already reviewed by %(name)s (%(user)s) on %(at)s.") % {
            "name": flag.signer_name, "user": flag.reviewed_by,
            "at": date_format(timezone.localtime(flag.reviewed_at), "d M Y H:i")})
    original = flag.carried_review
    if original is not None and original.reviewed_at is not None:
        raise ValidationError(_("This flag is already reviewed: the review by %(name)s (%(user)s) on %(at)s in run "
                                "%(run)s carries over (the comparison has not changed since).") % {
            "name": original.signer_name, "user": original.reviewed_by,
            "at": date_format(timezone.localtime(original.reviewed_at), "d M Y H:i"), "run": original.run_id})


def flag_review(*, flag: Flag, acting_user: User, comment: str, password: str, otp_code: str = "",
                request: HttpRequest | None = None) -> Flag:
    """Sign a flag's review: comment, re-entered password, printed name, meaning, time, run content hash.

    The review then carries over to the flags of the same cell in later runs already stored, while the cell
    is unchanged (``reports.carry.carry_forward``). Raises PermissionDenied unless the user is a safety officer
    (or administrator) of the flag's site; ValidationError (nothing saved) keyed "comment" if the comment is
    blank, "password" if the password is wrong, or non-field if the flag is reviewed already (signed, or
    carrying an earlier review) — also when another officer's signature of it won a concurrent race.
    """
    require_role(acting_user, flag.run.site, REVIEWERS)
    _refuse_reviewed(Flag.objects.select_related("reviewed_by", "carried_review__reviewed_by").get(pk=flag.pk))
    comment = clean_reason(comment, field="comment", what=_("what you concluded"))
    signer_name = _verify_signer(acting_user=acting_user, password=password, otp_code=otp_code, request=request)
    with transaction.atomic():
        flag = Flag.objects.select_for_update(of=("self",)).select_related("run").get(pk=flag.pk)
        _refuse_reviewed(flag)  # a concurrent signature committed while the password was being checked
        flag.signer_name = signer_name
        flag.reviewed_by, flag.reviewed_at, flag.review_comment = acting_user, timezone.now(), comment
        flag.signature_meaning, flag.signed_results_sha256 = _(FLAG_REVIEW_MEANING), results_sha256(flag.run)
        flag.save(update_fields=["reviewed_by", "reviewed_at", "review_comment", "signer_name",
                                 "signature_meaning", "signed_results_sha256"])
        carry_forward(flag)
    return flag


def _already_signed(signoff: RunSignoff) -> ValidationError:
    return ValidationError(_("You have already signed this run (on %(at)s).") % {
        "at": date_format(timezone.localtime(signoff.signed_at), "d M Y H:i")})


def run_signoff(*, run: BenchmarkRun, acting_user: User, password: str, comment: str = "", otp_code: str = "",
                request: HttpRequest | None = None) -> RunSignoff:
    """Sign a finished benchmark run as a whole (see ``RunSignoff``); returns the signature.

    Raises PermissionDenied unless the user reviews for the run's site; ValidationError (nothing saved) if the
    run is not finished, the password is wrong (keyed "password"), or this user signed it already (non-field)
    — also when the same user's concurrent sign-off of the run won the race (never an IntegrityError).
    """
    require_role(acting_user, run.site, REVIEWERS)
    comment = visible(comment or "")  # optional, but never invisible characters or a pasted document
    if len(comment) > MAX_REASON_CHARS:
        raise ValidationError({"comment": _("Keep the comment to %(max)s characters.") % {"max": MAX_REASON_CHARS}})
    if run.status != BenchmarkRun.Status.DONE:
        raise ValidationError(_("Only a finished benchmark run can be signed."))
    if (existing := run.signoffs.filter(signed_by=acting_user).first()) is not None:
        raise _already_signed(existing)
    name = _verify_signer(acting_user=acting_user, password=password, otp_code=otp_code, request=request)
    with transaction.atomic():
        # Sign-offs of one run queue on its row; FOR NO KEY UPDATE still lets flags and sign-offs reference it.
        locked = BenchmarkRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.status != BenchmarkRun.Status.DONE:
            raise ValidationError(_("Only a finished benchmark run can be signed."))
        if (existing := locked.signoffs.filter(signed_by=acting_user).first()) is not None:
            raise _already_signed(existing)
        try:
            with transaction.atomic():
                return RunSignoff.objects.create(run=locked, signed_by=acting_user, signer_name=name,
                                                 signed_at=timezone.now(), meaning=_(RUN_SIGNOFF_MEANING),
                                                 comment=comment, signed_results_sha256=results_sha256(locked))
        except IntegrityError as exc:  # runsignoff_once_per_signer, from a writer that did not take the lock
            existing = locked.signoffs.filter(signed_by=acting_user).first()
            if existing is None:
                raise
            raise _already_signed(existing) from exc
