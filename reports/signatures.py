"""Electronic signatures of a safety officer: a flag review and a run sign-off (21 CFR 11.50 / 11.200).

Each re-authenticates the signer, records printed name, meaning and time, and binds the signature to the
sha256 of the run's stored results (a later change of the results shows the signature as invalid).
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from patients.access import REVIEWERS, require_role
from reports.carry import carry_forward
from reports.cells import canonical_sha256
from reports.models import BenchmarkRun, Flag, RunSignoff

FLAG_REVIEW_MEANING = ("Reviewed: I have reviewed this flag, the events behind it and the benchmark run it "
                       "belongs to, and my comment records my conclusion.")
RUN_SIGNOFF_MEANING = ("Approved: I have reviewed this benchmark run (its inputs, results and flags) and "
                       "approve it as the site's safety benchmark for this period.")


def results_sha256(run: BenchmarkRun) -> str:
    """Hex sha256 of the run's stored results (canonical JSON): what a signature is bound to."""
    return canonical_sha256(run.results)


def _verify_signer(*, acting_user: User, password: str, request: HttpRequest | None) -> str:
    """Re-authenticate the signer (21 CFR 11.200: ID plus password); returns the printed name.

    Goes through ``authenticate`` so failed attempts count toward the login lockout. Raises ValidationError
    if the password is wrong.
    """
    # The lockout backend needs a request; a command-line caller has none.
    user = authenticate(request or HttpRequest(), username=acting_user.get_username(), password=password)
    if user is None or user.pk != acting_user.pk:
        raise ValidationError({"password": "The password is not correct: nothing was signed."})
    return acting_user.get_full_name() or acting_user.get_username()


def _refuse_reviewed(flag: Flag) -> None:
    """Raise ValidationError (non-field) if ``flag`` is reviewed already: signed itself, or carrying a review."""
    if flag.reviewed_at is not None:
        raise ValidationError(f"This flag was already reviewed by {flag.signer_name} ({flag.reviewed_by}) on "
                              f"{timezone.localtime(flag.reviewed_at):%d %b %Y %H:%M}.")
    original = flag.carried_review
    if original is not None and original.reviewed_at is not None:
        raise ValidationError(f"This flag is already reviewed: the review by {original.signer_name} "
                              f"({original.reviewed_by}) on {timezone.localtime(original.reviewed_at):%d %b %Y %H:%M} "
                              f"in run {original.run_id} carries over (the comparison has not changed since).")


@transaction.atomic
def flag_review(*, flag: Flag, acting_user: User, comment: str, password: str,
                request: HttpRequest | None = None) -> Flag:
    """Sign a flag's review: comment, re-entered password, printed name, meaning, time, run content hash.

    The review then carries over to the flags of the same cell in later runs already stored, while the cell
    is unchanged (``reports.carry.carry_forward``). Raises PermissionDenied unless the user is a safety officer
    (or administrator) of the flag's site, ValidationError (nothing saved) if the comment is blank, the
    password wrong or the flag already reviewed (signed, or carrying an earlier review).
    """
    require_role(acting_user, flag.run.site, REVIEWERS)
    flag = Flag.objects.select_for_update().select_related("run").get(pk=flag.pk)
    _refuse_reviewed(flag)
    if not comment.strip():
        raise ValidationError({"comment": "Write what you concluded (it is kept with the flag)."})
    flag.signer_name = _verify_signer(acting_user=acting_user, password=password, request=request)
    flag.reviewed_by, flag.reviewed_at, flag.review_comment = acting_user, timezone.now(), comment.strip()
    flag.signature_meaning, flag.signed_results_sha256 = FLAG_REVIEW_MEANING, results_sha256(flag.run)
    flag.save(update_fields=["reviewed_by", "reviewed_at", "review_comment", "signer_name", "signature_meaning",
                             "signed_results_sha256"])
    carry_forward(flag)
    return flag


@transaction.atomic
def run_signoff(*, run: BenchmarkRun, acting_user: User, password: str, comment: str = "",
                request: HttpRequest | None = None) -> RunSignoff:
    """Sign a finished benchmark run as a whole (see ``RunSignoff``); returns the signature.

    Raises PermissionDenied unless the user reviews for the run's site, ValidationError (nothing saved) if the
    run is not finished, the password is wrong, or this user signed it already.
    """
    require_role(acting_user, run.site, REVIEWERS)
    if run.status != BenchmarkRun.Status.DONE:
        raise ValidationError("Only a finished benchmark run can be signed.")
    if run.signoffs.filter(signed_by=acting_user).exists():
        raise ValidationError("You have already signed this run.")
    name = _verify_signer(acting_user=acting_user, password=password, request=request)
    return RunSignoff.objects.create(run=run, signed_by=acting_user, signer_name=name, signed_at=timezone.now(),
                                     meaning=RUN_SIGNOFF_MEANING, comment=comment.strip(),
                                     signed_results_sha256=results_sha256(run))
