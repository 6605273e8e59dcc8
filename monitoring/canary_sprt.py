"""The canary's sequential test: is the challenger's loss on live traffic lower or higher than the champion's?

A mixture sequential probability ratio test (mSPRT; Johari, Pekelis and Walsh, "Always valid inference", 2017)
for the difference of two means, with a normal mixing distribution and a plug-in variance. Its p-value is
always valid: the monitor may look after every check, as often as it likes, and the chance that it ever declares
a difference between two equal models stays at most alpha. A fixed-sample test looked at every minute would
not: it would promote an equal challenger sooner or later. Pure numpy, so it is tested and benched without a
platform (bench/canary.py runs this very module).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

PROMOTE = "promote"  # the challenger's loss is lower: it becomes champion
ROLLBACK = "rollback"  # its loss is higher: it stops serving
CONTINUE = "continue"  # no difference shown yet: keep the canary running
EXPIRE = "expire"  # the horizon passed without a difference: it stops serving, the champion stays

LOG_LOSS_CLIP = 1e-6  # a served probability of exactly 0 or 1 would make one wrong row's loss infinite


def row_losses(label_kind: str, labels: NDArray[Any], predictions: NDArray[Any]) -> NDArray[np.float64]:
    """Each labelled answer's loss, from the use case's label kind: a classifier's log loss of the served
    probability (it separates models on rare positives where the Brier score barely moves: on the demo's drift,
    about 15 times fewer rows to the same z), a regression's absolute error."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    if label_kind == "binary":
        p = np.clip(p, LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP)
        return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
    if label_kind == "regression":
        return np.abs(p - y)
    raise ValueError(f"no canary loss for a {label_kind!r} label: give it one in monitoring/canary_test.py")


@dataclass(frozen=True)
class CanaryPlan:
    """How the canary decides.

    Attributes:
        alpha: the chance, at most, that two equal models are ever told apart, however often the test looks.
        min_rows: labelled rows each arm needs before any decision (the plug-in variance needs a few positives).
        horizon_rows: labelled rows per arm after which an undecided canary expires (the champion stays).
    """

    alpha: float
    min_rows: int
    horizon_rows: int


@dataclass(frozen=True)
class ArmLosses:
    """One arm's labelled answers: how many, their mean loss and its variance (sample, ddof 1)."""

    rows: int
    mean: float
    variance: float

    @classmethod
    def of(cls, losses: NDArray[Any]) -> ArmLosses:
        values = np.asarray(losses, dtype=np.float64)
        return cls.from_sums(len(values), float(values.sum()), float((values * values).sum()))

    @classmethod
    def from_sums(cls, rows: int, total: float, squares: float) -> ArmLosses:
        """From running sums, so a stream is judged at many looks without re-reading its rows."""
        if rows == 0:
            return cls(0, math.nan, math.nan)
        mean = total / rows
        variance = max(squares - rows * mean * mean, 0.0) / (rows - 1) if rows > 1 else math.nan
        return cls(rows, mean, variance)


@dataclass(frozen=True)
class CanaryVerdict:
    """One look's decision and what it weighed.

    Attributes:
        decision: PROMOTE, ROLLBACK, CONTINUE or EXPIRE.
        reason: the sentence a person reads in `monitor status`.
        statistic: the log of the mixture likelihood ratio (0 before the arms have their minimum rows).
        p_value: the always-valid p-value: the smallest 1 / ratio over every look so far.
        difference: the challenger's mean loss minus the champion's (negative: the challenger is better).
        champion: the champion arm's losses.
        challenger: the challenger arm's losses.
    """

    decision: str
    reason: str
    statistic: float
    p_value: float
    difference: float
    champion: ArmLosses
    challenger: ArmLosses

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mixture_log_ratio(difference: float, variance: float, mixing_variance: float) -> float:
    """log of the normal-mixture likelihood ratio of "the means differ" against "equal", for an estimated
    difference with `variance`: the ratio of N(0, V + tau^2) to N(0, V) at the difference."""
    total = variance + mixing_variance
    return 0.5 * math.log(variance / total) + difference * difference * mixing_variance / (2.0 * variance * total)


def mixing_variance(champion: ArmLosses, challenger: ArmLosses, min_rows: int) -> float:
    """tau^2: the variance the difference of means has at the first allowed look (min_rows per arm). The mixture
    then weighs the effects that look could just see; a smaller effect costs rows, never validity."""
    pooled = ((champion.rows - 1) * champion.variance + (challenger.rows - 1) * challenger.variance) / (
        champion.rows + challenger.rows - 2
    )
    return 2.0 * pooled / min_rows


def judge(plan: CanaryPlan, champion: ArmLosses, challenger: ArmLosses, previous_p: float = 1.0) -> CanaryVerdict:
    """One look: promote or roll back when the always-valid test rejects equality (by the difference's sign),
    expire at the horizon, continue otherwise. `previous_p` carries the p-value of the looks before."""
    seen = f"{challenger.rows} challenger / {champion.rows} champion labelled rows"
    if min(champion.rows, challenger.rows) < max(plan.min_rows, 2):
        return CanaryVerdict(
            CONTINUE, f"waiting for rows: {seen}, {plan.min_rows} per arm before any decision",
            0.0, previous_p, _difference(champion, challenger), champion, challenger,
        )  # fmt: skip
    difference = challenger.mean - champion.mean
    variance = champion.variance / champion.rows + challenger.variance / challenger.rows
    if not variance > 0.0:  # every loss equal in both arms: nothing tells them apart
        statistic = 0.0
    else:
        statistic = mixture_log_ratio(difference, variance, mixing_variance(champion, challenger, plan.min_rows))
    p_value = min(previous_p, 1.0, math.exp(-statistic))
    losses = f"mean loss {challenger.mean:.5f} vs {champion.mean:.5f} ({difference:+.5f})"
    words = f"{losses} over {seen}; always-valid p {p_value:.4f} (alpha {plan.alpha})"
    if statistic >= math.log(1.0 / plan.alpha):
        decision = PROMOTE if difference < 0 else ROLLBACK
        verdict = "lower: promote" if difference < 0 else "higher: roll back"
        return CanaryVerdict(
            decision, f"challenger's loss {verdict}; {words}", statistic, p_value, difference, champion, challenger
        )
    if min(champion.rows, challenger.rows) >= plan.horizon_rows:
        return CanaryVerdict(
            EXPIRE, f"no difference within the horizon ({plan.horizon_rows} rows per arm): {words}",
            statistic, p_value, difference, champion, challenger,
        )  # fmt: skip
    return CanaryVerdict(CONTINUE, f"no difference yet: {words}", statistic, p_value, difference, champion, challenger)


def _difference(champion: ArmLosses, challenger: ArmLosses) -> float:
    return challenger.mean - champion.mean if champion.rows and challenger.rows else math.nan


def run_stream(
    plan: CanaryPlan, to_challenger: NDArray[np.bool_], losses: NDArray[Any], look_every: int
) -> tuple[CanaryVerdict, int]:
    """Judge a stream of labelled rows in arrival order (True: answered by the challenger) at a look every
    `look_every` rows, as the monitor would, until a decision other than CONTINUE: (that verdict, rows read).
    A stream that ends undecided returns its last look's verdict."""
    arm = np.asarray(to_challenger, dtype=bool)
    values = np.asarray(losses, dtype=np.float64)
    counts = {side: np.cumsum(arm == side) for side in (False, True)}
    totals = {side: np.cumsum(np.where(arm == side, values, 0.0)) for side in (False, True)}
    squares = {side: np.cumsum(np.where(arm == side, values * values, 0.0)) for side in (False, True)}
    p_value, verdict, read = 1.0, None, 0
    looks = list(range(look_every, len(values) + 1, look_every)) or [len(values)]
    for end in looks:
        at = end - 1
        champion, challenger = (
            ArmLosses.from_sums(int(counts[side][at]), float(totals[side][at]), float(squares[side][at]))
            for side in (False, True)
        )
        verdict, read = judge(plan, champion, challenger, p_value), end
        p_value = verdict.p_value
        if verdict.decision != CONTINUE:
            break
    assert verdict is not None
    return verdict, read
