"""The data layer runs a use case it has never seen: a tiny regression declared here (how many minutes an order
takes), one entity, float labels. Landing, label history, the event index, the data contract and the prediction
log read the declaration, so nothing of another use case's columns is needed (issue 29, step 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.core.use_case import (
    DataGenerator,
    DemoPlan,
    Entity,
    Feature,
    FeatureView,
    Feeds,
    Field,
    GateThresholds,
    GeneratorConfig,
    Label,
    MeanShift,
    Metric,
    ModelSpec,
    OnnxSpec,
    Skip,
    UseCase,
    ViewInputs,
    validate,
)
from pipelines.data.contract import validate_raw_data
from pipelines.data.event_index import EventIndex
from pipelines.data.event_store import EventStore
from pipelines.data.label_history import label_spans
from pipelines.data.landing import REASON, land_events, land_labels
from pipelines.data.prediction_log_format import Events, PendingRows, read_prediction_log
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, UNTIL
from serving.event_stamp import stamp_events
from serving.prediction_log import PredictionLog

NOW = pd.Timestamp("2027-03-01T12:00", tz="UTC")
ACCOUNT_ID, DISTANCE, WEATHER, MINUTES = "account_id", "distance_km", "weather", "minutes"


@dataclass(frozen=True)
class OrderParams:
    depth: int = 2


def no_rows(inputs: ViewInputs) -> Any:
    raise NotImplementedError("the data layer computes no features")


def no_feeds(config: GeneratorConfig) -> Feeds:
    raise NotImplementedError("the data layer generates no data")


ORDERS = UseCase(
    name="orders",
    description="Minutes from order to door.",
    model_name="order-minutes",
    feast_project="orders",
    experiment="orders-training",
    entities=(Entity("account", ACCOUNT_ID, "Who ordered."),),
    fields=(
        Field(DISTANCE, "number", "How far the order travels.", minimum=0, open_minimum=True, maximum=30),
        Field(WEATHER, "category", "The weather at the door.", allowed=("dry", "rain")),
    ),
    label=Label(MINUTES, "regression", "Minutes from order to door.", minimum=0, maximum=240, unit="minutes"),
    views=(
        FeatureView(
            name="account_orders",
            entity="account",
            features=(Feature("orders_7d", "int64", "Orders of the last 7 days."),),
            ttl=timedelta(days=7),
            lookback=timedelta(days=7),
            event_columns=(ACCOUNT_ID, EVENT_TIMESTAMP),
            uses_labels=False,
            compute=no_rows,
            description="An account's recent orders.",
        ),
    ),
    model=ModelSpec(
        params=OrderParams,
        build=lambda params, seed, model_input: None,
        score=lambda model, frame: model.predict(frame),
        pyfunc_predict_fn="predict",
        onnx=OnnxSpec("variable", None, {}, {"": 18, "ai.onnx.ml": 3}, 1e-4),
        score_name="minutes_estimate",
        score_buckets=(10.0, 30.0, 60.0, 120.0),
    ),
    metric=Metric(
        primary="mae",
        higher_is_better=False,
        compute=lambda labels, scores: {},
        realised=lambda labels, scores: None,
        realised_min_rows=20,
        evidently="regression",
        calibration=Skip("a regression has no probabilities"),
    ),
    gate=GateThresholds(
        floor=30.0,
        margin=0.0,
        min_holdout_rows=50,
        min_holdout_positives=Skip("no positive class"),
        frozen_tolerance=2.0,
        label_guard=MeanShift(1.5),
        realised_alert=40.0,
    ),
    generator=DataGenerator(
        config=GeneratorConfig,
        generate_feeds=no_feeds,
        demo=DemoPlan(
            size=10,
            drift_start_day=5,
            knobs={},
            traffic_rows=20,
            live_hours=1,
            drifted_feed="rainy week",
            v1_primary=(0.0, 30.0),
            healthy_drift_share_max=0.1,
            drifted_drift_share_min=0.5,
        ),
    ),
    example_request={ACCOUNT_ID: 7, DISTANCE: 2.5, WEATHER: "dry"},
)


def orders(count: int = 6) -> pd.DataFrame:
    """`count` orders of three accounts over the last hours, in the declared columns and dtypes."""
    frame = pd.DataFrame(
        {
            EVENT_ID: [f"order-{i}" for i in range(count)],
            EVENT_TIMESTAMP: [NOW - timedelta(hours=count - i) for i in range(count)],
            ACCOUNT_ID: [i % 3 for i in range(count)],
            DISTANCE: [1.5 + i for i in range(count)],
            WEATHER: ["dry" if i % 2 else "rain" for i in range(count)],
        }
    )
    return frame.astype(dict(ORDERS.event_columns))


def minutes(values: dict[str, float], at: pd.Timestamp) -> pd.DataFrame:
    """Labels: each order's minutes, known at `at`."""
    frame = pd.DataFrame({EVENT_ID: list(values), MINUTES: list(values.values()), LABEL_TIMESTAMP: at})
    return frame.astype(dict(ORDERS.label_columns))


def inputs(*distances: float) -> dict[str, np.ndarray]:
    """The model input of requests at these distances, in the declared model input order."""
    rows = len(distances)
    return {
        DISTANCE: np.array(distances),
        "account_orders__orders_7d": np.zeros(rows),
        WEATHER: np.array(["dry"] * rows),
    }


def answered(model_input: dict[str, np.ndarray], events: Events | None, request_id: str) -> PendingRows:
    """The rows a served answer leaves for the prediction log (a score of 20 minutes each)."""
    scores = np.full(len(model_input[DISTANCE]), 20.0)
    return PendingRows(
        model_input, events, scores, "1", "champion", "served", request_id, NOW.timestamp(), ORDERS.entity_keys
    )


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events", tmp_path / "predictions", ORDERS)


def test_the_declaration_is_valid() -> None:
    assert validate(ORDERS) == []
    assert ORDERS.label_columns[MINUTES] == "float64"


def test_events_and_float_labels_land_and_a_different_float_is_a_new_label(store: EventStore) -> None:
    events = orders()
    assert land_events(store, events, "orders.parquet", NOW).landed == 6
    assert land_events(store, events, "orders.parquet", NOW).already_present == 6
    pd.testing.assert_frame_equal(store.events(), events)

    first = land_labels(store, minutes({"order-0": 12.5, "order-1": 37.25}, NOW), "minutes.parquet", NOW)
    assert (first.landed, first.quarantined) == (2, 0)
    later = NOW + timedelta(minutes=5)
    again = land_labels(store, minutes({"order-0": 12.5}, later), "resent.parquet", later)
    assert (again.landed, again.already_present) == (0, 1), "the same float, re-stamped, is no change"
    changed = land_labels(store, minutes({"order-0": 12.75}, later), "corrected.parquet", later)
    assert (changed.landed, changed.already_present) == (1, 0), "12.75 is not 12.5 (nor 12 after a cast)"
    current = store.labels().set_index(EVENT_ID)[MINUTES]
    assert current.to_dict() == {"order-0": 12.75, "order-1": 37.25} and current.dtype == np.float64
    assert len(store.label_records()) == 3

    index = EventIndex(store)
    index.catch_up()
    asked = pd.Series(["order-0", "order-1", "order-2"])
    verdicts = index.current_verdicts(asked)
    assert str(verdicts.dtype) == "Float64" and verdicts.iloc[:2].tolist() == [12.75, 37.25] and pd.isna(verdicts[2])
    records = store.label_records()[[EVENT_ID, MINUTES, LABEL_TIMESTAMP]]
    assert index.recorded(records).all()
    assert not index.recorded(records.assign(**{MINUTES: records[MINUTES] + 1e-9})).any(), "bit-exact identities"


def test_an_event_id_reused_for_another_order_is_quarantined(store: EventStore) -> None:
    """Identity columns: the account and the category exactly, the distance within 1e-6."""
    events = orders(3)
    land_events(store, events, "orders.parquet", NOW)
    again = events.copy()
    again.loc[0, DISTANCE] += 1e-9  # the same order, its float read back from text
    again.loc[1, WEATHER] = "dry" if again.loc[1, WEATHER] == "rain" else "rain"
    again.loc[2, ACCOUNT_ID] = 99
    result = land_events(store, again, "again.parquet", NOW + timedelta(minutes=1))
    assert (result.already_present, result.quarantined) == (1, 2)
    assert result.reasons == {"events.event_id.collision": 2}


def test_label_spans_of_a_float_label_change_with_every_new_value(store: EventStore) -> None:
    land_events(store, orders(3), "orders.parquet", NOW)
    for step, value in enumerate([30.5, 30.5, 42.25, 30.5]):
        at = NOW + timedelta(minutes=step)
        land_labels(store, minutes({"order-0": value}, at), f"minutes-{step}.parquet", at)
    spans = store.label_spans(known_at=NOW + timedelta(hours=1))
    assert spans[MINUTES].tolist() == [30.5, 42.25, 30.5], "a repeated value starts no span (and is not landed)"
    assert spans[LABEL_TIMESTAMP].tolist() == [NOW, NOW + timedelta(minutes=2), NOW + timedelta(minutes=3)]
    assert spans[UNTIL].tolist()[:2] == [NOW + timedelta(minutes=2), NOW + timedelta(minutes=3)]
    assert pd.isna(spans[UNTIL].iloc[2])
    pure = label_spans(store.label_records(), MINUTES)
    pd.testing.assert_frame_equal(pure, store.label_spans(known_at=NOW + timedelta(hours=1)))
    assert store.label_spans(known_at=NOW + timedelta(minutes=1))[MINUTES].tolist() == [30.5], "as known then"


def test_the_contract_refuses_a_label_out_of_its_range_and_an_unknown_category(store: EventStore) -> None:
    events = orders()
    labels = minutes({"order-0": 12.5, "order-1": 240.0, "order-2": 0.0}, NOW)
    assert validate_raw_data(events, labels, ORDERS, as_of=NOW).passed
    bad_events = events.assign(**{WEATHER: events[WEATHER].where(events.index != 1, "snow")})
    bad_events.loc[2, DISTANCE] = 0.0
    bad_events.loc[3, ACCOUNT_ID] = -4
    bad_labels = minutes({"order-0": 240.5, "order-1": -1.0, "order-2": np.inf, "order-3": 60.0}, NOW)
    report = validate_raw_data(bad_events, bad_labels, ORDERS, as_of=NOW)
    failures = {check.name: check for check in report.failures}
    assert set(failures) == {
        "events.weather.domain",
        "events.distance_km.range",
        "events.account_id.range",
        "labels.minutes.domain",
    }
    assert failures["labels.minutes.domain"].offending_count == 3
    assert failures["labels.minutes.domain"].offending_sample == ["order-0", "order-1", "order-2"]
    assert "[0, 240]" in failures["labels.minutes.domain"].message
    assert failures["events.weather.domain"].offending_sample == ["order-1"]

    land_events(store, events, "orders.parquet", NOW)
    landed = land_labels(store, bad_labels, "bad-minutes.parquet", NOW)
    assert (landed.landed, landed.quarantined) == (1, 3)
    assert set(pd.read_parquet(landed.quarantine_path)[REASON]) == {"labels.minutes.domain"}


def test_the_prediction_log_has_one_column_per_entity_key_and_feeds_the_event_store(
    store: EventStore,
) -> None:
    keys = ORDERS.entity_keys
    columns = {ACCOUNT_ID: np.array([4, 5]), EVENT_ID: np.array(["served-1", None], dtype=object)}
    events = stamp_events(columns, keys, NOW.to_datetime64())
    assert list(events.entity_ids) == [ACCOUNT_ID] and events.event_ids[0] == "served-1"
    log = PredictionLog(store.prediction_log.local_path, flush_s=3600).start()
    log.append(answered(inputs(2.0, 3.0), events, "r1"))
    log.append(answered(inputs(4.0), None, "r2"))  # a feature request: no entity ids
    log.close()

    logged = read_prediction_log(store.prediction_log)
    assert list(logged.columns[:4]) == [*ORDERS.model_input.columns, ACCOUNT_ID]
    assert logged[ACCOUNT_ID].tolist() == [4, 5, -1], "a row answered without its entity ids holds -1"
    served = store.served_events()
    assert served[EVENT_ID].tolist() == [events.event_ids[0], events.event_ids[1]]
    assert served[ACCOUNT_ID].tolist() == [4, 5] and served[DISTANCE].tolist() == [2.0, 3.0]
    label = minutes({"served-1": 18.5}, NOW + timedelta(seconds=1))
    assert land_labels(store, label, "POST /v1/labels", NOW + timedelta(seconds=1), trusted_times=False).landed == 1
