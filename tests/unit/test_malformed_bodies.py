"""What used to be a 500 is a refusal naming the field, checked without a server: binary tensor framing, lone
surrogates, integers past float range, deep nesting, label times outside pandas' range. `tests/integration/
test_http_fuzz.py` sends the same and worse over HTTP."""

from __future__ import annotations

import json
import re
import struct

import pandas as pd
import pytest
from kserve import InferInput, InferRequest
from kserve.errors import InvalidInput

from serving.body_framing import binary_request_problem
from serving.feedback import BadLabels, parse_labels
from serving.json_body import NotJson, parse_json
from serving.protocol import parse_request
from serving.request_schema import event_fields
from use_cases.fraud import USE_CASE as FRAUD

TRANSACTION_FIELDS = event_fields(FRAUD)

NOW = pd.Timestamp("2026-06-01T12:00:00Z")
SKEW = pd.Timedelta(seconds=5)


def binary_request(inputs: list[dict[str, object]], tensors: bytes) -> tuple[bytes, str]:
    head = json.dumps({"inputs": inputs}).encode()
    return head + tensors, str(len(head))


AMOUNT = {"name": "amount", "datatype": "FP64", "shape": [2], "parameters": {"binary_data_size": 16}}


@pytest.mark.parametrize(
    ("inputs", "tensors", "declared", "named"),
    [
        ([AMOUNT], struct.pack("<2d", 1.0, 2.0), "abc", "inference-header-content-length: expected"),
        ([AMOUNT], struct.pack("<2d", 1.0, 2.0), "999", "inference-header-content-length: 999 bytes"),
        ([AMOUNT], struct.pack("<1d", 1.0), None, "declare 16 bytes of tensor data, 8 follow"),
        ([{**AMOUNT, "shape": [-1]}], struct.pack("<2d", 1.0, 2.0), None, "inputs.amount.shape"),
        ([{**AMOUNT, "datatype": ["FP64"]}], struct.pack("<2d", 1.0, 2.0), None, "inputs.amount.datatype"),
        ([{**AMOUNT, "parameters": {"binary_data_size": 3}}], b"\x01\x02\x03", None, "does not fit its datatype"),
        ([{**AMOUNT, "parameters": []}], b"", None, "inputs.amount.parameters"),
        ([{"datatype": "FP64", "shape": [1], "data": [1.0]}], b"", None, "inputs[0]: expected an object with a name"),
    ],
)
def test_a_binary_tensor_request_that_kserve_cannot_decode_is_named(
    inputs: list[dict[str, object]], tensors: bytes, declared: str | None, named: str
) -> None:
    body, length = binary_request(inputs, tensors)
    problem = binary_request_problem(body, declared or length)
    assert problem is not None and named in problem and "\n" not in problem


def test_a_sound_binary_tensor_request_passes_to_kserve() -> None:
    body, length = binary_request([AMOUNT], struct.pack("<2d", 1.0, 2.0))
    assert binary_request_problem(body, length) is None
    assert binary_request_problem(b"not json" + body, str(len(b"not json") + int(length))) is not None


@pytest.mark.parametrize("text", ["\ud800", "pos-\udfff-1"])
def test_a_lone_surrogate_in_an_event_id_is_refused_where_it_arrives(text: str) -> None:
    """It decodes from a JSON escape but can be encoded by nothing downstream (the forward, the log)."""
    inputs = [
        InferInput("customer_id", [1], "INT64", [7]),
        InferInput("merchant_id", [1], "INT64", [3]),
        InferInput("amount", [1], "FP64", [12.5]),
        InferInput("channel", [1], "BYTES", ["online"]),
        InferInput("event_id", [1], "BYTES", [text]),
    ]
    with pytest.raises(InvalidInput, match=r"inputs.event_id\[0\]: not valid Unicode"):
        parse_request(InferRequest("m", inputs), TRANSACTION_FIELDS, max_batch=10)
    with pytest.raises(BadLabels, match=r"labels\[0\].event_id: not valid Unicode"):
        parse_labels({"labels": [{"event_id": text, "is_fraud": 1}]}, NOW, SKEW, FRAUD.label)


def test_an_integer_past_float_range_is_a_refused_number() -> None:
    row = {"customer_id": 7, "merchant_id": 3, "amount": 10**400, "channel": "online"}
    with pytest.raises(InvalidInput, match=r"instances\[0\].amount: must be a finite number"):
        parse_request({"instances": [row]}, TRANSACTION_FIELDS, max_batch=10)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[NaN]"])
def test_deep_nesting_and_nan_literals_are_not_json(body: bytes) -> None:
    with pytest.raises(NotJson, match="request body: not valid JSON"):
        parse_json(body)
    with pytest.raises(InvalidInput, match="request body: not valid JSON"):
        parse_request(body, TRANSACTION_FIELDS, max_batch=10)


@pytest.mark.parametrize(
    ("stamp", "problem"),
    [
        ("0001-01-01", "must lie between"),
        ("2999-01-01", "must lie between"),
        ("0001-01-01T00:00:00+01:00", "must lie between"),
        ("9999-12-31T23:59:59-14:00", "must lie between"),
        ("now", "not an ISO-8601 time"),
        ("NaT", "not an ISO-8601 time"),
    ],
)
def test_a_label_time_is_read_as_iso_8601_and_bounded_before_pandas_sees_it(stamp: str, problem: str) -> None:
    with pytest.raises(BadLabels, match=rf"labels\[0\].label_timestamp: {problem}"):
        parse_labels({"labels": [{"event_id": "x", "is_fraud": 1, "label_timestamp": stamp}]}, NOW, SKEW, FRAUD.label)


def test_a_label_time_within_bounds_keeps_its_instant() -> None:
    labels = parse_labels(
        {"labels": [{"event_id": "x", "is_fraud": 1, "label_timestamp": "2026-06-01T13:00:00+02:00"}]},
        NOW,
        SKEW,
        FRAUD.label,
    )
    assert labels["label_timestamp"].iloc[0] == pd.Timestamp("2026-06-01T11:00:00Z")
    assert str(labels["label_timestamp"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, "must be a finite number"),
        ("12", "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (10**400, "must lie in [0.0, 240.0]"),
        (-1.0, "must lie in [0.0, 240.0]"),
    ],
)
def test_a_regression_label_is_a_finite_number_in_its_domain(value: object, problem: str) -> None:
    from use_cases.delivery import USE_CASE as DELIVERY

    with pytest.raises(BadLabels, match=re.escape(f"labels[0].delivery_minutes: {problem}")):
        parse_labels({"labels": [{"event_id": "x", "delivery_minutes": value}]}, NOW, SKEW, DELIVERY.label)
    labels = parse_labels({"labels": [{"event_id": "x", "delivery_minutes": 31.5}]}, NOW, SKEW, DELIVERY.label)
    assert labels["delivery_minutes"].tolist() == [31.5] and str(labels["delivery_minutes"].dtype) == "float64"
