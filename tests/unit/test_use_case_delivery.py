"""The delivery declaration: valid, its views point-in-time correct against a direct computation, its model
exported to ONNX within the declared tolerance, its metrics right on numbers worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.core.use_case import ViewInputs, load_use_case, validate
from pipelines.data.schema import UNTIL
from pipelines.registry.onnx_model import export_model, model_scores, open_session
from pipelines.training.evaluate import regression_metrics
from use_cases.delivery import USE_CASE
from use_cases.delivery.features import RESTAURANT_LOAD, ZONE_TRAFFIC
from use_cases.delivery.generator import DeliveryConfig, generate_feeds
from use_cases.delivery.model import DeliveryParams, predicted_minutes

END = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = pd.Timedelta(hours=1)


def test_it_is_valid_and_installed() -> None:
    assert validate(USE_CASE) == []
    assert load_use_case("delivery") is USE_CASE
    assert USE_CASE.model_input.numeric[:2] == ("distance_km", "basket_items")
    assert USE_CASE.model_input.categorical == ("vehicle",)


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    feeds = generate_feeds(DeliveryConfig(end=END, days=9, size=25, zones=6, seed=4))
    labels = feeds.base.labels
    spans = labels.assign(**{UNTIL: pd.NaT})  # one label per order: each holds from its arrival on
    return feeds.base.events, spans


def _rows(view_name: str, world: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    events, spans = world
    view = USE_CASE.view_of(view_name)
    start = END - timedelta(days=2)
    return view.compute(ViewInputs(events[list(view.event_columns)], spans, start, END, END))


def _known_before(events: pd.DataFrame, spans: pd.DataFrame, at: pd.Timestamp, window: pd.Timedelta) -> pd.DataFrame:
    """Orders in [at - window, at) whose minutes had arrived before `at`: what a row stamped `at` may know."""
    recent = events[(events["event_timestamp"] >= at - window) & (events["event_timestamp"] < at)]
    return recent.merge(spans[spans["label_timestamp"] < at], on="event_id")


def test_restaurant_rows_equal_a_direct_point_in_time_computation(world: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, spans = world
    rows = _rows(RESTAURANT_LOAD, world)
    assert len(rows) > 200 and rows["delivery_minutes_mean_7d"].gt(0).any()
    for row in rows.sample(60, random_state=1).itertuples():
        mine = events[events["restaurant_id"] == row.restaurant_id]
        at = row.event_timestamp
        last_hour = mine[(mine["event_timestamp"] >= at - HOUR) & (mine["event_timestamp"] < at)]
        last_day = mine[(mine["event_timestamp"] >= at - 24 * HOUR) & (mine["event_timestamp"] < at)]
        known = _known_before(mine, spans, at, pd.Timedelta(days=7))
        assert row.orders_1h == len(last_hour) and row.orders_24h == len(last_day)
        assert row.basket_mean_24h == pytest.approx(last_day["basket_items"].mean() if len(last_day) else 0, rel=1e-6)
        expected = known["delivery_minutes"].mean() if len(known) else 0.0
        assert row.delivery_minutes_mean_7d == pytest.approx(expected, rel=1e-5)


def test_zone_rows_equal_a_direct_point_in_time_computation(world: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, spans = world
    rows = _rows(ZONE_TRAFFIC, world)
    assert len(rows) > 100
    for row in rows.sample(60, random_state=2).itertuples():
        mine = events[events["zone_id"] == row.zone_id]
        at = row.event_timestamp
        last_day = mine[(mine["event_timestamp"] >= at - 24 * HOUR) & (mine["event_timestamp"] < at)]
        known = _known_before(mine, spans, at, pd.Timedelta(hours=24))
        assert row.distance_mean_24h == pytest.approx(last_day["distance_km"].mean() if len(last_day) else 0, rel=1e-5)
        minutes = known["delivery_minutes"].sum()
        assert row.delivery_minutes_mean_24h == pytest.approx(minutes / len(known) if len(known) else 0, rel=1e-5)
        assert row.minutes_per_km_24h == pytest.approx(
            minutes / known["distance_km"].sum() if len(known) else 0, rel=1e-5
        )


def test_a_superseded_label_stops_counting_where_the_correction_starts(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, spans = world
    first = spans.iloc[[0]]
    corrected_at = first["label_timestamp"].iloc[0] + pd.Timedelta(hours=5)
    spans = pd.concat(
        [first.assign(**{UNTIL: corrected_at}), first.assign(delivery_minutes=200.0, label_timestamp=corrected_at)]
    )
    order = events[events["event_id"] == first["event_id"].iloc[0]]
    view = USE_CASE.view_of(RESTAURANT_LOAD)
    inputs = ViewInputs(order[list(view.event_columns)], spans, order["event_timestamp"].iloc[0], END, END)
    means = view.compute(inputs).set_index("event_timestamp")["delivery_minutes_mean_7d"]
    assert means[means.index <= corrected_at].iloc[-1] == pytest.approx(first["delivery_minutes"].iloc[0], rel=1e-6)
    assert means[means.index > corrected_at].iloc[0] == pytest.approx(200.0)


def _model_input_frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Model input as the platform builds it: features are Feast's float32 values, distances have two decimals
    (the contract's data), baskets are whole; a tenth of the rows has an unknown entity."""
    rng = np.random.default_rng(seed)
    columns = USE_CASE.model_input
    frame = pd.DataFrame(
        {name: rng.gamma(2.0, 3.0, rows).astype(np.float32).astype(np.float64) for name in columns.numeric}
    )
    frame["distance_km"] = frame["distance_km"].round(2)
    frame["basket_items"] = rng.integers(1, 12, rows).astype(np.float64)
    frame.loc[rng.random(rows) < 0.1, list(columns.feature_columns)] = np.nan
    frame["vehicle"] = rng.choice(["bike", "scooter", "car", "drone"], rows)  # one the encoder never saw
    minutes = 10 + 4 * frame["distance_km"] + 3 * (frame["vehicle"] == "bike") + rng.normal(0, 2, rows)
    return frame, minutes.to_numpy()


def test_the_regressor_exports_to_onnx_within_the_declared_tolerance() -> None:
    frame, minutes = _model_input_frame(3000, seed=1)
    spec, columns = USE_CASE.model.onnx, USE_CASE.model_input
    model = USE_CASE.model.build(DeliveryParams(max_iter=80), 1, columns).fit(frame[list(columns.columns)], minutes)
    holdout, _ = _model_input_frame(2000, seed=2)
    session = open_session(export_model(model, spec, columns), threads=1)
    arrays = {name: holdout[name].to_numpy() for name in columns.columns}
    gap = np.abs(predicted_minutes(model, holdout) - model_scores(session, arrays, spec, columns))
    assert gap.max() <= spec.parity_tolerance
    other = USE_CASE.model.build(DeliveryParams(max_iter=5), 1, columns).fit(frame[list(columns.columns)], minutes)
    wrong = open_session(export_model(other, spec, columns), threads=1)
    assert np.abs(predicted_minutes(model, holdout) - model_scores(wrong, arrays, spec, columns)).max() > 1.0


def test_regression_metrics_on_numbers_worked_by_hand() -> None:
    metrics = regression_metrics(np.array([10.0, 20.0, 30.0, 40.0]), np.array([12.0, 18.0, 30.0, 48.0]))
    assert metrics["mae"] == pytest.approx(3.0) and metrics["bias"] == pytest.approx(2.0)
    assert metrics["rmse"] == pytest.approx(np.sqrt((4 + 4 + 0 + 64) / 4))
    assert metrics["rows"] == 4 and metrics["label_mean"] == 25.0
    assert np.isnan(regression_metrics(np.array([]), np.array([]))["mae"])


def test_a_regression_set_is_frozen_with_its_label_mean(clean_env: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pipelines.core.settings import Settings
    from pipelines.training.evaluation_set import current_set, freeze

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    settings = Settings()
    rows = pd.DataFrame({"event_id": ["a", "b", "c"], "delivery_minutes": [20.0, 30.0, 40.0]})
    record = freeze(settings, rows, "test", replace=False, label=USE_CASE.label)
    assert record is not None and (record.positives, record.label_mean) == (0, 30.0)
    assert record.describe(USE_CASE.label) == "3 rows, mean delivery_minutes 30.00 minutes"
    assert freeze(settings, rows.head(1), "again", replace=False, label=USE_CASE.label) is None, "frozen once"
    found = current_set(settings)
    assert found is not None and found[0] == record
