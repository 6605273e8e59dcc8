"""The request path without servers: V1/V2 bodies into typed arrays, events stamped, scored by the ONNX export,
answered and logged, all without building a DataFrame (the log's writer builds frames later, off the path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kserve import InferInput, InferRequest
from kserve.errors import InvalidInput

from pipelines.data.prediction_log_format import Events
from serving import metrics
from serving.event_stamp import UntrustedTime, received_now, stamp_events
from serving.loaded_model import OnnxModel
from serving.model_slots import ServingModel
from serving.prediction_log import PredictionLog
from serving.protocol import answer, parse_request
from serving.request_schema import event_fields, feature_fields
from serving.scoring import Scorer
from tests.unit.synthetic import model_input_frame
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.schema import MODEL_INPUT_COLUMNS

TRANSACTION_FIELDS = event_fields(FRAUD)
FEATURE_FIELDS = feature_fields(FRAUD)

TRANSACTIONS = {
    "instances": [
        {"customer_id": 7, "merchant_id": 3, "amount": 12.5, "channel": "online", "event_id": "pos-1"},
        {"customer_id": 8, "merchant_id": 4, "amount": 99.0, "channel": "contactless"},
    ]
}


def test_v1_and_v2_give_the_same_typed_arrays() -> None:
    v1, is_v2 = parse_request(TRANSACTIONS, TRANSACTION_FIELDS, max_batch=10)
    assert not is_v2
    inputs = [
        InferInput("customer_id", [2], "INT64", [7, 8]),
        InferInput("merchant_id", [2], "INT64", [3, 4]),
        InferInput("amount", [2], "FP64", [12.5, 99.0]),
        InferInput("channel", [2], "BYTES", ["online", "contactless"]),
        InferInput("event_id", [2], "BYTES", ["pos-1", None]),
    ]
    v2, is_v2 = parse_request(InferRequest("m", inputs), TRANSACTION_FIELDS, max_batch=10)
    assert is_v2
    for name, column in v1.items():
        assert column.dtype == {"customer_id": np.int64, "merchant_id": np.int64, "amount": np.float64}.get(
            name, np.dtype(object)
        )
        assert column.tolist() == v2[name].tolist(), name
    assert v1["event_id"].tolist() == ["pos-1", None]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"instances": [{"customer_id": 7, "merchant_id": 3, "amount": 0, "channel": "online"}]}, "amount"),
        ({"instances": [{"customer_id": -1, "merchant_id": 3, "amount": 5, "channel": "online"}]}, "customer_id"),
        ({"instances": [{"customer_id": 7, "merchant_id": 3, "amount": 5, "channel": "fax"}]}, "channel"),
        ({"instances": [{"customer_id": 7, "amount": 5, "channel": "online"}]}, "merchant_id"),
    ],
)
def test_a_bad_field_is_named(body: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        parse_request(body, TRANSACTION_FIELDS, max_batch=10)


def test_events_keep_given_ids_and_utc_times_and_stamp_the_rest() -> None:
    columns, _ = parse_request(TRANSACTIONS, TRANSACTION_FIELDS, max_batch=10)
    now = np.datetime64("2027-01-15T10:00:00.300", "ns")
    given = ["2027-01-15T10:00:00.250000Z", "2027-01-15T10:00:00+02:00"]
    with pytest.raises(UntrustedTime):  # by default no forwarded time is trusted
        stamp_events(columns, FRAUD.entity_keys, now, given_times=given)
    events = stamp_events(columns, FRAUD.entity_keys, now, given_times=given, trusted_within=np.timedelta64(5, "s"))
    assert events.event_ids[0] == "pos-1" and events.event_ids[1].startswith("evt-")
    assert events.received[0] == np.datetime64("2027-01-15T10:00:00.25", "ns")
    assert events.received[1] == now  # not UTC: the server's receipt time instead
    assert events.received_iso()[0] == "2027-01-15T10:00:00.250000Z"
    assert events.entity_ids["customer_id"].tolist() == [7, 8] and events.entity_ids["merchant_id"].tolist() == [3, 4]


@pytest.mark.parametrize("given", ["2027-01-15T09:59:50Z", "2027-01-15T10:00:10Z", "9999-12-31T00:00:00Z",
                                   "1500-01-01T00:00:00Z"])  # fmt: skip
def test_a_forwarded_time_far_from_the_servers_clock_is_refused(given: str) -> None:
    """A direct caller of the predictor cannot backdate an event (9999 used to wrap around to 1816)."""
    columns, _ = parse_request(TRANSACTIONS, TRANSACTION_FIELDS, max_batch=10)
    now = np.datetime64("2027-01-15T10:00:00", "ns")
    with pytest.raises(UntrustedTime) as refused:
        stamp_events(columns, FRAUD.entity_keys, now, ["2027-01-15T10:00:01Z", given], np.timedelta64(5, "s"))
    assert refused.value.index == 1


@dataclass
class _Slots:
    """What the scorer reads of `ModelSlots`: the aliases' models and the challenger's share."""

    champion: ServingModel | None
    challenger: ServingModel | None = None
    challenger_share: float = 0.0
    shadow: ServingModel | None = None


@pytest.fixture(scope="module")
def champion() -> ServingModel:
    from pipelines.registry.onnx_model import export_model
    from pipelines.training.train import train_model
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.model import TrainParams

    model = train_model(model_input_frame(2000, seed=3), FRAUD, TrainParams(max_iter=30), seed=3)
    return ServingModel(
        "champion",
        "4",
        "run",
        OnnxModel(export_model(model, FRAUD.model.onnx, FRAUD.model_input), 1, FRAUD.model, FRAUD.model_input),
    )


def test_a_request_is_scored_answered_and_logged_without_a_dataframe(
    champion: ServingModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = PredictionLog(tmp_path, flush_s=3600)  # not started: nothing flushes while the frame is forbidden
    seen = metrics.prediction_scores(FRAUD.model.score_buckets)
    scorer = Scorer(_Slots(champion), log, 0, FRAUD.entity_keys, seen)  # type: ignore[arg-type]
    features = {name: [1.0] * 2 for name in MODEL_INPUT_COLUMNS if name != "channel"}
    body = {"instances": [{**row, "channel": "online"} for row in pd.DataFrame(features).to_dict("records")]}

    def no_frames(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a DataFrame was built on the request path")

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "__init__", no_frames)
        columns, v2 = parse_request(body, FEATURE_FIELDS, max_batch=10)
        entity_ids = {"customer_id": np.array([7, 8]), "merchant_id": np.array([3, 4])}
        events = Events(entity_ids, np.array(["a", "b"], dtype=object), np.full(2, received_now()))
        scored = scorer.score(columns, events, "rid-1")
        reply = answer(
            "m",
            scored.served_by.version,
            scored.served_by.alias,
            scored.scores,
            v2,
            "rid-1",
            ["a", "b"],
            score_name=FRAUD.model.score_name,
        )
    assert reply["model_version"] == "4" and reply["event_ids"] == ["a", "b"]
    assert all(0.0 <= p <= 1.0 for p in reply["predictions"]) and reply["predictions"][0] == reply["predictions"][1]
    log.start()
    log.close()  # the writer thread's job: the frame is built here, after the request
    logged = pd.read_parquet(next(tmp_path.rglob("part-*.parquet")))
    assert logged["prediction"].tolist() == reply["predictions"] and logged["event_id"].tolist() == ["a", "b"]
