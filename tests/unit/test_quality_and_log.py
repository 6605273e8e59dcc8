"""Realised quality from late labels, and the prediction log's partitioning and final flush."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.quality import realised_quality
from serving.prediction_log import PredictionLog, read_prediction_log


def _rows(n: int, hour: str, version: str, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"{hour}-{i}" for i in range(n)],
            "prediction": rng.random(n),
            "model_version": version,
            "role": "served",
            "logged_at": pd.Timestamp(hour, tz="UTC") + pd.to_timedelta(rng.integers(0, 3600, n), unit="s"),
        }
    )


def test_log_partitions_by_hour_and_close_flushes_everything(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    log = PredictionLog(tmp_path, flush_s=3600).start()  # no timed flush during the test
    log.append(_rows(10, "2026-11-24 10:00", "1", rng))
    log.append(_rows(5, "2026-11-24 11:00", "1", rng))
    log.close()
    assert sorted(p.parent.name for p in tmp_path.rglob("part-*.parquet")) == ["hour=10", "hour=11"]
    assert len(read_prediction_log(tmp_path)) == 15
    assert len(read_prediction_log(tmp_path, since=pd.Timestamp("2026-11-24 11:00", tz="UTC"))) == 5
    log.close()  # idempotent
    assert not list(tmp_path.rglob("*.tmp"))


def test_realised_quality_joins_labels_per_version_and_hour() -> None:
    rng = np.random.default_rng(1)
    log = pd.concat([_rows(200, "2026-11-24 10:00", "1", rng), _rows(200, "2026-11-24 11:00", "2", rng)])
    labels = pd.DataFrame({"event_id": log["event_id"], "is_fraud": (log["prediction"] > 0.8).astype(int)})
    quality = realised_quality(log, labels.iloc[:300])  # the newest labels have not arrived
    assert list(quality["model_version"]) == ["1", "2"]
    assert list(quality["rows"]) == [200, 100]
    assert (quality["roc_auc"] == 1.0).all()
    assert realised_quality(log.drop(columns="event_id"), labels).empty
