"""Reading requests and writing answers in both KServe protocols (V1 JSON and V2 Open Inference)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse
from kserve.errors import InvalidInput

from serving.json_body import NotJson, parse_json
from serving.request_schema import Columns, FieldSpec, parse_v1, parse_v2

EVENT_ID_OUTPUT = "event_id"
VERSION_HEADER = "x-driftloop-model-version"


MAX_REQUEST_ID = 128


def request_id(headers: dict[str, str] | None) -> str:
    """The caller's `x-request-id` when it is a short printable one (it is logged with every row), else a new id."""
    given = (headers or {}).get("x-request-id", "")
    return given if 0 < len(given) <= MAX_REQUEST_ID and given.isprintable() else uuid.uuid4().hex


def parse_request(payload: Any, fields: Sequence[FieldSpec], max_batch: int) -> tuple[Columns, bool]:
    """(validated columns, whether the request was V2)."""
    if isinstance(payload, InferRequest):
        return parse_v2(payload.inputs, fields, max_batch), True
    if isinstance(payload, bytes | str):  # a V1 body sent without `content-type: application/json`
        try:
            payload = parse_json(payload)
        except NotJson as error:
            raise InvalidInput(str(error)) from error
    return parse_v1(payload, fields, max_batch), False


def answer(
    model_name: str, version: str, alias: str, scores: np.ndarray | Iterable[float], v2: bool, rid: str,
    event_ids: Sequence[str] | None = None, degraded: str | None = None, *, score_name: str,
) -> Any:  # fmt: skip
    """The response body: V1 `predictions` or a V2 output named after the use case's score (`score_name`), both
    naming the model version, and for events the event id of each (the one a label refers to later); `degraded`
    flags an answer scored
    on default features because the online store did not answer (DRIFTLOOP_ONLINE_STORE_DOWN_POLICY)."""
    values = np.asarray(scores, dtype=np.float64).tolist()
    if v2:
        outputs = [InferOutput(name=score_name, shape=[len(values)], datatype="FP64", data=values)]
        if event_ids is not None:
            ids = [str(i) for i in event_ids]
            outputs.append(InferOutput(name=EVENT_ID_OUTPUT, shape=[len(ids)], datatype="BYTES", data=ids))
        parameters = {"model_alias": alias, **({"degraded": degraded} if degraded else {})}
        return InferResponse(
            response_id=rid, model_name=model_name, model_version=version, infer_outputs=outputs,
            parameters=parameters,
        )  # fmt: skip
    body: dict[str, Any] = {"predictions": values}
    if event_ids is not None:
        body["event_ids"] = [str(i) for i in event_ids]
    if degraded:
        body["degraded"] = degraded
    return {**body, "model_name": model_name, "model_version": version, "model_alias": alias}


def tensor_types(fields: Sequence[FieldSpec]) -> list[dict[str, Any]]:
    """V2 metadata for a list of request fields."""
    datatypes = {
        "int": "INT64",
        "number": "FP64",
        "optional": "FP64",
        "category": "BYTES",
        "optional_text": "BYTES",
    }
    return [{"name": spec.name, "datatype": datatypes[spec.kind], "shape": [-1]} for spec in fields]
