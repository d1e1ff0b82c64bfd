"""Disease status of a treatment cycle at its start, derived from marrow blasts and MRD (pure Python, no Django).

Definitions (the cohorts' and the label's; ``docs/treatment-data.md`` lists the readings and the choice):

* relapsed/refractory (R/R): marrow blasts ≥ 5 % (morphological disease) — the cohorts' definition
  (von Stackelberg et al., J Clin Oncol 2016; Xie et al., Front Pediatr 2023, §2.3: CR = marrow blasts < 5 %);
* MRD-positive complete remission: marrow blasts < 5 % and MRD ≥ 0.01 % (10⁻⁴) of nucleated cells — Xie et al.
  2023 §2.3 define MRD negativity as < 1 × 10⁻⁴ by flow cytometry; the BLINCYTO label's MRD indication uses
  ≥ 0.1 % (10⁻³), the stricter reading, recorded in the docs;
* MRD-negative complete remission: marrow blasts < 5 % and MRD < 0.01 %.

Chemotherapy-ineligible CR and an isolated extramedullary relapse (R/R with < 5 % marrow blasts) cannot be derived
from blasts and MRD: the ward enters them, and :func:`check` accepts them as long as the marrow does not
contradict them.
"""

from __future__ import annotations

from decimal import Decimal

#: Marrow blasts (%) at or above which a cycle starts in relapsed/refractory disease.
RR_BLASTS_PCT = Decimal("5")
#: MRD (% of nucleated cells) at or above which a remission is MRD-positive (10⁻⁴).
MRD_POSITIVE_PCT = Decimal("0.01")

RELAPSED_REFRACTORY = "relapsed_refractory"
MRD_POSITIVE_CR = "mrd_positive_cr"
MRD_NEGATIVE_CR = "mrd_negative_cr"
CHEMO_INELIGIBLE_CR = "chemo_ineligible_cr"
#: Statuses that are remissions (marrow blasts < 5 %).
REMISSIONS = (MRD_POSITIVE_CR, MRD_NEGATIVE_CR, CHEMO_INELIGIBLE_CR)


def derive(blasts_pct: Decimal | None, mrd_pct: Decimal | None) -> str | None:
    """The status the marrow shows: R/R for blasts ≥ 5 % (or, blasts not recorded, MRD ≥ 5 %); for blasts < 5 %
    MRD-positive or MRD-negative CR by MRD when MRD is recorded; None when neither says enough."""
    if blasts_pct is not None and blasts_pct >= RR_BLASTS_PCT:
        return RELAPSED_REFRACTORY
    if blasts_pct is None and mrd_pct is not None and mrd_pct >= RR_BLASTS_PCT:
        return RELAPSED_REFRACTORY
    if mrd_pct is None:
        return None
    return MRD_POSITIVE_CR if mrd_pct >= MRD_POSITIVE_PCT else MRD_NEGATIVE_CR


def check(status: str, blasts_pct: Decimal | None, mrd_pct: Decimal | None) -> str | None:
    """Why ``status`` contradicts the recorded marrow, or None when it does not.

    Contradictions: a remission with blasts ≥ 5 %; MRD-positive CR with MRD < 0.01 %; MRD-negative CR with
    MRD ≥ 0.01 %. R/R with < 5 % blasts is allowed (an extramedullary relapse or MRD ≥ 5 % by flow is R/R).
    """
    if status in REMISSIONS and blasts_pct is not None and blasts_pct >= RR_BLASTS_PCT:
        return f"Marrow blasts {blasts_pct}% are ≥ {RR_BLASTS_PCT}%: the cycle starts in relapsed/refractory disease."
    if status == MRD_POSITIVE_CR and mrd_pct is not None and mrd_pct < MRD_POSITIVE_PCT:
        return f"MRD {mrd_pct}% is below {MRD_POSITIVE_PCT}% (10⁻⁴): the remission is MRD-negative."
    if status == MRD_NEGATIVE_CR and mrd_pct is not None and mrd_pct >= MRD_POSITIVE_PCT:
        return f"MRD {mrd_pct}% is ≥ {MRD_POSITIVE_PCT}% (10⁻⁴): the remission is MRD-positive."
    return None
