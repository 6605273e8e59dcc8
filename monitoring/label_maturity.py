"""How far each cohort of served answers is from being judged: the share of its labels arrived, and the share the
labels' arrival curve expects by now (monitoring/label_delay.py).

Realised quality is measured on whatever labels arrived; a cohort (model version, hour) with a tenth of them is
judged on the fast ones only. This job says, per cohort, how many labels came and how many were expected, and
fits the arrival curves on the event store's whole history (every event, labelled or still waiting): what an
estimate of quality before the labels arrive (issue 30) builds on. Written beside realised quality
(`label_maturity.csv`, `label_delay.json`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.label_delay import HOUR_S, DelayModel, fit_delay_model
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, UseCase
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, ROLE, SERVED

logger = logging.getLogger(__name__)

MATURITY_COLUMNS = [MODEL_VERSION, "hour", "answers", "labelled", "arrived_share", "expected_share"]


def delay_model_of(
    event_times: pd.Series, records: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase, now: pd.Timestamp
) -> DelayModel:
    """The arrival curves from every known event (`event_times`: id -> event_timestamp), its label records with
    their usable times (`usable_times`) and the current labels (`latest_labels`): an event's delay is its first
    usable label time minus its event time; a classifier's class is its current label. Events from the future
    (clock skew) count as age zero."""
    first = records.groupby(EVENT_ID)[LABEL_TIMESTAMP].min()
    current_class = labels.set_index(EVENT_ID)[use_case.label.name]
    frame = pd.DataFrame({EVENT_TIMESTAMP: event_times})
    ages = np.maximum((now - frame[EVENT_TIMESTAMP]).dt.total_seconds().to_numpy() / HOUR_S, 0.0)
    arrival = first.reindex(frame.index)
    delays = np.maximum((arrival - frame[EVENT_TIMESTAMP]).dt.total_seconds().to_numpy() / HOUR_S, 0.0)
    delays = np.where(arrival.notna().to_numpy(), np.minimum(delays, ages), np.nan)
    classes = None
    if use_case.label.kind == "binary":
        classes = current_class.reindex(frame.index).to_numpy(dtype=np.float64)
        classes = np.where(np.isnan(delays), np.nan, classes)
    return fit_delay_model(ages, delays, classes)


def cohort_maturity(log: pd.DataFrame, labels: pd.DataFrame, model: DelayModel, now: pd.Timestamp) -> pd.DataFrame:
    """Per (model version, hour) of served answers with an event id: answers, labelled, the share arrived and the
    share the arrival curve expects by now."""
    if log.empty or EVENT_ID not in log.columns:
        return pd.DataFrame(columns=MATURITY_COLUMNS)
    served = log[(log[ROLE] == SERVED) & log[EVENT_ID].notna()]
    served = served.assign(
        hour=served[LOGGED_AT].dt.floor("h"),
        labelled=served[EVENT_ID].isin(labels[EVENT_ID]),
        age_h=np.maximum((now - served[LOGGED_AT]).dt.total_seconds() / HOUR_S, 0.0),
    )
    rows = []
    for (version, hour), group in served.groupby([MODEL_VERSION, "hour"]):
        answered = len(group)
        labelled = int(group["labelled"].sum())
        rows.append({MODEL_VERSION: version, "hour": hour, "answers": answered, "labelled": labelled,
                     "arrived_share": labelled / answered,
                     "expected_share": model.expected_arrived(group["age_h"].to_numpy())})  # fmt: skip
    return pd.DataFrame(rows, columns=MATURITY_COLUMNS)


def delay_summary(model: DelayModel) -> dict[str, Any]:
    """What a person reads of the curves: medians in hours, class shares, how many events they came from."""
    return {
        "events": model.events,
        "arrived": model.arrived,
        "median_delay_h": _finite(model.overall.median_h),
        "median_delay_h_by_class": {str(k): _finite(curve.median_h) for k, curve in model.per_class.items()},
        "class_shares": {str(k): round(share, 6) for k, share in model.class_shares.items()},
    }


def save_label_maturity(folder: Path, model: DelayModel, maturity: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    maturity.to_csv(folder / "label_maturity.csv", index=False)
    (folder / "label_delay.json").write_text(json.dumps(delay_summary(model), indent=2) + "\n")


def load_delay_summary(folder: Path) -> dict[str, Any] | None:
    """The last saved `delay_summary` (None before the quality job first ran)."""
    path = folder / "label_delay.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 3)
