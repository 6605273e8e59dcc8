"""What an estimate of served quality is made from, read from the platform: the champion's calibration sample
(its holdout's scores and matured labels, logged at training), its served answers, the labels in so far, and
the labels' arrival curves.

The estimator (monitoring/estimated_quality.py) is pure; this module is the one that knows where its inputs
live, so the drift check (the retraining decision) and the quality job (the dashboards) estimate alike.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.calibration import Calibration, fit_calibration
from monitoring.estimated_quality import ArrivalOdds, CohortRows, Estimate, estimate_cohort
from monitoring.label_delay import HOUR_S, ArrivalCurve, DelayModel
from monitoring.policy import HarmSignal
from pipelines.core.use_case import EVENT_ID, Skip, UseCase
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, PREDICTION, ROLE, SERVED
from pipelines.registry.names import VersionTag, holdout_tag

logger = logging.getLogger(__name__)

CALIBRATION_RESAMPLES = 40  # maps fitted on resamples of the sample: the map's own uncertainty in the interval
SCORE, LABEL = "score", "label"  # the calibration sample's columns


def load_calibration_sample(client: Any, model_name: str, version: str, cache_dir: Path) -> pd.DataFrame | None:
    """The version's holdout scores and labels (cached per version); None for a version logged without one."""
    cached = cache_dir / f"{model_name}-v{version}-calibration.parquet"
    if not cached.exists():
        uri = client.get_model_version(model_name, version).tags.get(VersionTag.CALIBRATION_SAMPLE)
        if not uri:
            return None
        import mlflow  # lazy: seconds to import, and only a check with a champion needs it

        downloaded = mlflow.artifacts.download_artifacts(uri, tracking_uri=client.tracking_uri)
        cache_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(downloaded, cached)
    return pd.read_parquet(cached)


def reference_of(client: Any, model_name: str, version: str, metric: str) -> float | None:
    """The version's holdout value of `metric` (its registration's tag), None without one."""
    value = client.get_model_version(model_name, version).tags.get(holdout_tag(metric))
    return float(value) if value not in (None, "") else None


def calibration_of(sample: pd.DataFrame, seed: int) -> Calibration | None:
    """The isotonic calibration over a calibration sample, or None when it has too few of either class."""
    labels = sample[LABEL].to_numpy(np.float64)
    if labels.sum() < 5 or (1 - labels).sum() < 5:
        return None
    return fit_calibration(sample[SCORE].to_numpy(np.float64), labels, CALIBRATION_RESAMPLES, seed)


def arrival_odds(model: DelayModel, ages_h: np.ndarray) -> ArrivalOdds:
    """Each row's chance of its label being in by its age, per class (the overall curve for a class without
    its own)."""
    positive: ArrivalCurve = model.per_class.get(1, model.overall)
    negative: ArrivalCurve = model.per_class.get(0, model.overall)
    return ArrivalOdds(positive.arrived_within(ages_h), negative.arrived_within(ages_h))


def cohort_rows(served: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase, now: pd.Timestamp) -> CohortRows:
    """Served answers with their scores, ages, labels in so far (NaN while waiting), days and values."""
    label = use_case.label.name
    current = labels.drop_duplicates(EVENT_ID).set_index(EVENT_ID)[label]
    value_field = use_case.metric.value_field
    values = None
    if not isinstance(value_field, Skip) and value_field in served.columns:
        values = served[value_field].to_numpy(np.float64)
    return CohortRows(
        scores=served[PREDICTION].to_numpy(np.float64),
        ages_h=np.maximum((now - served[LOGGED_AT]).dt.total_seconds().to_numpy() / HOUR_S, 0.0),
        labels=served[EVENT_ID].map(current).to_numpy(np.float64),
        days=served[LOGGED_AT].dt.floor("D").to_numpy(),
        values=values,
    )


def served_answers(log: pd.DataFrame, version: str | None = None) -> pd.DataFrame:
    """The served answers with an event id (only those can be judged), of one version when given."""
    if log.empty or EVENT_ID not in log.columns:
        return log.iloc[0:0]
    served = log[(log[ROLE] == SERVED) & log[EVENT_ID].notna()]
    return served if version is None else served[served[MODEL_VERSION].astype(str) == str(version)]


@dataclass(frozen=True)
class EstimationSettings:
    """How estimates are made: the daily alert budget, draws, confidence, the seed."""

    budget: int
    draws: int
    confidence: float
    seed: int


def estimate_rows(
    rows: CohortRows, calibration: Calibration, delay: DelayModel, how: EstimationSettings
) -> dict[str, Estimate]:
    return estimate_cohort(
        rows, calibration, arrival_odds(delay, rows.ages_h), how.budget, how.draws, how.confidence, how.seed
    )


def harm_signal(
    estimates: dict[str, Estimate], use_case: UseCase, reference: float | None, arrived_share: float
) -> HarmSignal | None:
    """The primary metric's estimate beside the champion's reference, as the policy reads it."""
    primary = use_case.metric.primary
    if reference is None or primary not in estimates:
        return None
    estimate = estimates[primary]
    return HarmSignal(
        primary, estimate.value, estimate.low, estimate.high, reference, use_case.metric.higher_is_better,
        arrived_share,
    )  # fmt: skip


@dataclass(frozen=True)
class ChampionEstimate:
    """The champion's estimate over its recent answers: every metric, and the harm signal the policy reads."""

    estimates: dict[str, Estimate]
    harm: HarmSignal | None
    rows: int
    arrived_share: float
    start: str = ""  # the answers estimated: the version's, logged in [start, end) (ISO, UTC)
    end: str = ""
    budget: int = 0
    calibration: dict[str, float | int] | None = None  # the map's rows, positives and ECE before and after

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "budget": self.budget,
            "calibration": self.calibration,
            "rows": self.rows,
            "arrived_share": round(self.arrived_share, 4),
            "estimates": {name: estimate.as_dict() for name, estimate in self.estimates.items()},
            "reference": None if self.harm is None else self.harm.reference,
        }


def estimate_champion(
    served: pd.DataFrame,
    labels: pd.DataFrame,
    delay: DelayModel,
    sample: pd.DataFrame,
    reference: float | None,
    use_case: UseCase,
    how: EstimationSettings,
    now: pd.Timestamp,
) -> ChampionEstimate | None:
    """The estimate over the champion's served answers, or None when there is nothing to estimate from."""
    calibration = calibration_of(sample, how.seed)
    if calibration is None or served.empty:
        return None
    rows = cohort_rows(served, labels, use_case, now)
    estimates = estimate_rows(rows, calibration, delay, how)
    return ChampionEstimate(
        estimates, harm_signal(estimates, use_case, reference, rows.arrived_share), int(rows.scores.size),
        rows.arrived_share, served[LOGGED_AT].min().isoformat(), now.isoformat(), how.budget, calibration.summary(),
    )  # fmt: skip
