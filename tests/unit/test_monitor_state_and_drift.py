"""The drift check's pure parts: the monitor's state files and one Evidently report on frames made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.state import MAX_REMEMBERED_WINDOWS, MonitorState, MonitorStore


def test_state_survives_a_round_trip_and_keeps_only_the_recent_windows(tmp_path: Path) -> None:
    store = MonitorStore(tmp_path / "monitor")
    assert store.load() == MonitorState(), "no file yet: an empty state, not an error"
    windows = [f"v1:{index}" for index in range(MAX_REMEMBERED_WINDOWS + 20)]
    store.save(
        MonitorState(last_trigger_at="2026-11-26T10:00:00+00:00", run_in_flight="kfp:run-7", handled_windows=windows)
    )
    loaded = store.load()
    assert loaded.run_in_flight == "kfp:run-7" and loaded.last_trigger_time is not None
    assert loaded.handled_windows == windows[-MAX_REMEMBERED_WINDOWS:]
    assert [path.name for path in store.folder.iterdir()] == ["state.json"], "no temporary file left behind"


def test_decisions_are_appended_and_read_back_last_first_n(tmp_path: Path) -> None:
    store = MonitorStore(tmp_path / "monitor")
    assert store.decisions() == []
    for index in range(5):
        store.record({"action": "no_trigger", "index": index, "at": pd.Timestamp("2026-11-26", tz="UTC")})
    assert [d["index"] for d in store.decisions()] == [0, 1, 2, 3, 4]
    assert [d["index"] for d in store.decisions(last=2)] == [3, 4]
    assert store.decisions()[0]["at"].startswith("2026-11-26"), "timestamps are written as text"


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.5 + shift, 0.8, rows),
            "prediction": rng.beta(1, 30 - 20 * min(shift, 1.0), rows),
            "channel": rng.choice(
                ["online", "in_store", "contactless"], rows, p=[0.4, 0.4, 0.2] if not shift else [0.1, 0.1, 0.8]
            ),
        }
    )


def test_the_report_calls_same_data_quiet_and_shifted_data_drifted() -> None:
    from monitoring.drift import MonitoredColumns, run_drift_report

    reference = _frame(3000, seed=1)
    columns = MonitoredColumns(("amount", "prediction"), ("channel",))
    same = run_drift_report(reference, _frame(1000, seed=2), columns)
    shifted = run_drift_report(reference, _frame(1000, seed=3, shift=1.0), columns)
    assert same.rows == 1000 and same.drift_share == 0.0 and same.drifted_columns == []
    assert shifted.drift_share == 1.0 and sorted(shifted.drifted_columns) == ["amount", "channel", "prediction"]
    assert set(shifted.column_scores) == {"amount", "prediction", "channel"}


def test_the_report_holds_what_the_drift_panels_read_and_each_columns_missing_values() -> None:
    """The dashboard's drift panels read rows, drifted columns, each column's drift and the mean score from every
    drift snapshot (monitoring.dashboard); the report's data quality is the missing values of each column."""
    from monitoring.drift import MonitoredColumns, run_drift_report

    frame = _frame(500, seed=4)
    frame.loc[:9, "amount"] = None
    result = run_drift_report(_frame(1000, seed=1), frame, MonitoredColumns(("amount", "prediction"), ("channel",)))
    held: dict[tuple[str, str | None], object] = {}
    for metric in result.snapshot.dict()["metrics"]:
        config = metric["config"]
        held[(str(config["type"]).rsplit(":", 1)[-1].rsplit(".", 1)[-1], config.get("column"))] = metric["value"]
    assert {("RowCount", None), ("DriftedColumnsCount", None), ("MeanValue", "prediction")} <= set(held)
    assert {("ValueDrift", column) for column in ("amount", "prediction", "channel")} <= set(held)
    assert held[("MissingValueCount", "amount")]["count"] == 10  # type: ignore[index]
    assert held[("MissingValueCount", "channel")]["count"] == 0  # type: ignore[index]
