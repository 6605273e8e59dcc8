"""Realised model quality: once labels arrive, how good were the predictions we actually served?

Requests may carry an `event_id` (the transaction id the labels refer to); it is logged with the
prediction, and here joined to the labels. The result, ROC AUC per model version and hour, is saved
beside the drift checks and exported as a gauge, so a dashboard shows quality next to drift.
"""

from __future__ import annotations

import logging

import pandas as pd

from driftloop.settings import Settings
from monitoring import metrics
from pipelines.prediction_log_format import LOGGED_AT, ROLE, read_prediction_log
from pipelines.schema import EVENT_ID, IS_FRAUD

logger = logging.getLogger(__name__)


def realised_quality(log: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC of served predictions per model version and hour, where both classes are present."""
    from sklearn.metrics import roc_auc_score

    if log.empty or EVENT_ID not in log.columns:
        return pd.DataFrame(columns=["model_version", "hour", "rows", "roc_auc"])
    served = log[(log[ROLE] == "served") & log[EVENT_ID].notna()]
    joined = served.merge(labels[[EVENT_ID, IS_FRAUD]], on=EVENT_ID, how="inner")
    rows = []
    for (version, hour), group in joined.groupby(["model_version", joined[LOGGED_AT].dt.floor("h")]):
        if group[IS_FRAUD].nunique() == 2:
            auc = float(roc_auc_score(group[IS_FRAUD], group["prediction"]))
            rows.append({"model_version": version, "hour": hour, "rows": len(group), "roc_auc": auc})
    return pd.DataFrame(rows, columns=["model_version", "hour", "rows", "roc_auc"])


def record_realised_quality(settings: Settings) -> pd.DataFrame:
    """Realised quality from the prediction log and the event store's labels; saved and exported."""
    from pipelines.event_store import event_store_for

    labels = event_store_for(settings).labels()
    quality = realised_quality(read_prediction_log(settings.prediction_log_path), labels)
    folder = settings.state_dir / "monitor"
    folder.mkdir(parents=True, exist_ok=True)
    quality.to_csv(folder / "realised_quality.csv", index=False)
    for version, group in quality.groupby("model_version"):
        metrics.REALISED_QUALITY.labels(str(version)).set(float(group.iloc[-1]["roc_auc"]))
    logger.info("realised quality: %d (version, hour) windows", len(quality))
    return quality
