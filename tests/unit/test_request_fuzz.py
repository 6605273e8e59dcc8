"""No request can make a model server fail: whatever a caller sends, parsing either gives typed columns or
raises `InvalidInput` (which KServe answers with a 400 naming the field). Fuzzed against the parser itself,
V1 bodies as JSON values or raw bytes and V2 inputs as KServe hands them over; `tests/integration` sends one
malformed request of each kind over HTTP to each server."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from kserve import InferInput, InferRequest
from kserve.errors import InvalidInput

from serving.protocol import parse_request
from serving.request_schema import event_fields, feature_fields
from use_cases.fraud import USE_CASE as FRAUD

TRANSACTION_FIELDS = event_fields(FRAUD)
FEATURE_FIELDS = feature_fields(FRAUD)

FIELD_SETS = {"transformer": TRANSACTION_FIELDS, "predictor": FEATURE_FIELDS}
MAX_BATCH = 4

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(),
    st.text(max_size=8), st.sampled_from(["online", "in_store", "contactless"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
names = st.sampled_from(
    ["customer_id", "merchant_id", "amount", "channel", "event_id", "customer_stats__txn_count_1h", "extra"]
)
instance = st.dictionaries(names, values, max_size=6)
v1_bodies = st.one_of(
    values,
    st.fixed_dictionaries({"instances": st.one_of(values, st.lists(instance, max_size=MAX_BATCH + 1))}),
)
v2_inputs = st.lists(
    st.tuples(
        names,
        st.lists(st.integers(-2, 5), max_size=3),
        st.sampled_from(["INT64", "FP64", "FP32", "BYTES", "BOOL", "nope"]),
        st.one_of(values, st.lists(scalars, max_size=MAX_BATCH + 1)),
    ),
    max_size=6,
)


def _parsed_or_refused(payload: Any, server: str) -> None:
    """The property: typed columns of one length, or InvalidInput; any other exception is a server error."""
    try:
        columns, _ = parse_request(payload, FIELD_SETS[server], MAX_BATCH)
    except InvalidInput as refused:
        assert str(refused), "a refusal says what is wrong"
        return
    lengths = {len(column) for column in columns.values()}
    assert len(lengths) == 1 and 0 < lengths.pop() <= MAX_BATCH
    for spec in FIELD_SETS[server]:
        column = columns[spec.name]
        if column.dtype.kind == "f" and spec.kind == "amount":
            assert np.isfinite(column).all() and (column > 0).all()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=v1_bodies, server=st.sampled_from(sorted(FIELD_SETS)), as_bytes=st.booleans())
def test_any_v1_body_is_parsed_or_refused_with_invalid_input(body: Any, server: str, as_bytes: bool) -> None:
    _parsed_or_refused(json.dumps(body).encode() if as_bytes else body, server)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(junk=st.binary(max_size=40), server=st.sampled_from(sorted(FIELD_SETS)))
def test_any_raw_bytes_are_parsed_or_refused_with_invalid_input(junk: bytes, server: str) -> None:
    _parsed_or_refused(junk, server)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(inputs=v2_inputs, server=st.sampled_from(sorted(FIELD_SETS)))
def test_any_v2_request_is_parsed_or_refused_with_invalid_input(inputs: list[Any], server: str) -> None:
    try:
        request = InferRequest("m", [InferInput(n, shape, datatype, data) for n, shape, datatype, data in inputs])
    except Exception:  # noqa: BLE001 - KServe refuses it before our code sees it
        assume(False)
    _parsed_or_refused(request, server)
