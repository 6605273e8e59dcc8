"""Request validation: turn a V1 or V2 body into typed column arrays, or a 400 that names the problem.

Two request shapes exist, both derived from the use case's declaration: an *event* request (transformer,
in-process predictor) carries entity ids and request-time fields (`event_fields`); a *feature* request (plain
predictor) carries every model input column (`feature_fields`). Both
arrive as KServe V1 `{"instances": [{...}]}` or V2 Open Inference Protocol named inputs.
No input may make the server fail: every check here raises `InvalidInput`, which KServe answers with 400.
The result is one numpy array per field (int64, float64, or object for text): no DataFrame on the request path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve.errors import InvalidInput

from pipelines.core.use_case import EVENT_ID, Field, UseCase

MAX_ABS_VALUE = 1e12


@dataclass(frozen=True)
class FieldSpec:
    """One request field: its kind ("int" for entity keys and integers, "number", "optional" for a feature
    value that may be null, "category", "optional_text"), its bounds and, for categories, the allowed values."""

    name: str
    kind: str
    allowed: tuple[str, ...] = ()
    minimum: float | None = None  # one rule for requests and landed events: the use case's field bounds
    maximum: float | None = None
    open_minimum: bool = False

    @classmethod
    def of(cls, field: Field) -> FieldSpec:
        """A declared field as requests carry it (an integer field stays an integer, bounds and all)."""
        kind = {"integer": "int", "number": "number", "category": "category"}[field.kind]
        return cls(field.name, kind, field.allowed, field.minimum, field.maximum, field.open_minimum)

    def out_of_bounds(self, number: float) -> str | None:
        """Why `number` is outside the field's bounds, or None."""
        low, high = self.minimum, self.maximum
        below = low is not None and (number <= low if self.open_minimum else number < low)
        if not below and (high is None or number <= high):
            return None
        rules = [f"{'>' if self.open_minimum else '>='} {low:g}"] if low is not None else []
        rules += [f"<= {high:g}"] if high is not None else []
        return "must be " + " and ".join(rules)


# Optional: the event id the labels will refer to; logged so realised quality can be measured.
EVENT_ID_FIELD = FieldSpec(EVENT_ID, "optional_text")


def event_fields(use_case: UseCase) -> tuple[FieldSpec, ...]:
    """An event request's fields: each entity key (an integer >= 0), the request-time fields, the event id."""
    return (*(FieldSpec.of(field) for field in use_case.request_fields), EVENT_ID_FIELD)


def feature_fields(use_case: UseCase) -> tuple[FieldSpec, ...]:
    """A feature request's fields: every model input column. Feature values may be null (an entity the store did
    not know): the model imputes the documented default."""
    declared = {field.name: FieldSpec.of(field) for field in use_case.fields}
    model_input = use_case.model_input
    numeric = tuple(declared.get(name) or FieldSpec(name, "optional") for name in model_input.numeric)
    return numeric + tuple(declared[name] for name in model_input.categorical)


V2_DATATYPES = {"int": {"INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"}}
V2_DATATYPES["number"] = V2_DATATYPES["int"] | {"FP64", "FP32", "FP16"}
V2_DATATYPES["optional"] = V2_DATATYPES["number"]
V2_DATATYPES["category"] = V2_DATATYPES["optional_text"] = {"BYTES"}
OPTIONAL_KINDS = {"optional_text"}  # may be left out of a request entirely
ARRAY_DTYPES: dict[str, type] = {"int": np.int64, "number": np.float64, "optional": np.float64}

Columns = dict[str, np.ndarray]  # one array per field (or model input column), all of the batch's length


def _as_array(spec: FieldSpec, values: list[Any]) -> np.ndarray:
    """Checked values as the field's array type (None stays None in text fields; optional numbers are NaN)."""
    return np.array(values, dtype=ARRAY_DTYPES.get(spec.kind, object))


def check_value(spec: FieldSpec, value: Any, where: str) -> Any:
    """`value` as the field takes it, or InvalidInput naming `where`."""
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{where}: expected an integer, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise InvalidInput(f"{where}: must be a 64-bit integer")
        if (problem := spec.out_of_bounds(value)) is not None:
            raise InvalidInput(f"{where}: {problem}")
        return value
    if spec.kind == "optional" and value is None:
        return math.nan
    if spec.kind in ("number", "optional"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where}: expected a number, got {type(value).__name__}")
        too_large = isinstance(value, int) and abs(value) > MAX_ABS_VALUE  # float(10**400) raises OverflowError
        number = math.inf if too_large else float(value)
        if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
            raise InvalidInput(f"{where}: must be a finite number")
        if (problem := spec.out_of_bounds(number)) is not None:
            raise InvalidInput(f"{where}: {problem}")
        return number
    if spec.kind == "optional_text":
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, str) or len(value) > 200:
            raise InvalidInput(f"{where}: expected a string of at most 200 characters")
        return check_text(value, where)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"{where}: not valid UTF-8") from error
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a string, got {type(value).__name__}")
    if value not in spec.allowed:
        raise InvalidInput(f"{where}: must be one of {list(spec.allowed)}")
    return value


def lone_surrogate_at(value: str) -> int | None:
    """Where `value` holds a lone surrogate, None when it is valid Unicode. Such a string (a JSON escape like
    `\\ud800` that pairs with nothing) decodes but cannot be encoded again: not in the answer, not when the
    transformer forwards the request, not in the prediction log or the event store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def check_text(value: str, where: str) -> str:
    if (position := lone_surrogate_at(value)) is not None:
        raise InvalidInput(f"{where}: not valid Unicode (a lone surrogate at position {position})")
    return value


def shown(value: object, limit: int = 40) -> str:
    """A caller's value inside an error message: its repr, cut short (a message is one short line)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _check_batch_size(size: int, max_batch: int, what: str) -> None:
    if size == 0:
        raise InvalidInput(f"{what}: must not be empty")
    if size > max_batch:
        raise InvalidInput(f"{what}: batch of {size} exceeds the limit of {max_batch}")


def _named(fields: Sequence[FieldSpec], shown: int = 4) -> str:
    """The fields an instance needs, the first few by name: a refusal stays one short line."""
    names = ", ".join(spec.name for spec in fields[:shown])
    return f"{names} and {len(fields) - shown} more" if len(fields) > shown else names


def parse_v1(body: Any, fields: Sequence[FieldSpec], max_batch: int) -> Columns:
    """`{"instances": [{field: value}, ...]}` -> one array per field."""
    if not isinstance(body, Mapping):
        raise InvalidInput("request body: expected a JSON object with an `instances` list")
    instances = body.get("instances")
    if instances is None:
        raise InvalidInput("instances: missing")
    if not isinstance(instances, list):
        raise InvalidInput("instances: expected a list")
    _check_batch_size(len(instances), max_batch, "instances")
    columns: dict[str, list[Any]] = {spec.name: [] for spec in fields}
    for index, instance in enumerate(instances):
        if not isinstance(instance, Mapping):
            raise InvalidInput(f"instances[{index}]: expected an object with fields {_named(fields)}")
        for spec in fields:
            if spec.name not in instance:
                if spec.kind in OPTIONAL_KINDS:
                    columns[spec.name].append(None)
                    continue
                raise InvalidInput(f"instances[{index}].{spec.name}: missing")
            columns[spec.name].append(check_value(spec, instance[spec.name], f"instances[{index}].{spec.name}"))
    return {spec.name: _as_array(spec, columns[spec.name]) for spec in fields}


def _tensor_data(item: Any, name: str) -> Any:
    """A V2 input's values. KServe converts binary tensor data when it is read; whatever that raises on bytes that
    do not fit the datatype and shape is the caller's mistake, so it is a 400 naming the input."""
    try:
        return getattr(item, "data", None)
    except Exception as error:  # noqa: BLE001 - KServe's conversion raises ValueError, struct.error, InferenceError
        problem = f"inputs.{name}: its data does not fit its datatype and shape ({shown(error, 120)})"
        raise InvalidInput(problem) from error


def parse_v2(inputs: Sequence[Any], fields: Sequence[FieldSpec], max_batch: int) -> Columns:
    """V2 named inputs (one 1-D tensor per field, same length) -> one array per field."""
    by_name = {}
    for item in inputs:
        name = getattr(item, "name", None)
        if not isinstance(name, str):
            raise InvalidInput("inputs: every input needs a name")
        by_name[name] = item
    columns: dict[str, list[Any]] = {}
    length: int | None = None
    for spec in fields:
        item = by_name.get(spec.name)
        if item is None and spec.kind in OPTIONAL_KINDS:
            continue
        if item is None:
            raise InvalidInput(f"inputs.{spec.name}: missing")
        datatype = getattr(item, "datatype", "")
        if datatype not in V2_DATATYPES[spec.kind]:
            allowed = sorted(V2_DATATYPES[spec.kind])
            raise InvalidInput(f"inputs.{spec.name}: datatype {shown(datatype)} not in {allowed}")
        data = _tensor_data(item, spec.name)
        if isinstance(data, tuple):
            data = list(data)
        if not isinstance(data, list) or any(isinstance(v, list) for v in data):
            raise InvalidInput(f"inputs.{spec.name}: expected a flat list of values")
        shape = getattr(item, "shape", None)
        if not isinstance(shape, list | tuple) or list(shape) not in ([len(data)], [len(data), 1]):
            raise InvalidInput(f"inputs.{spec.name}: shape {shown(shape)} does not match {len(data)} values")
        if length is None:
            _check_batch_size(len(data), max_batch, f"inputs.{spec.name}")
            length = len(data)
        elif len(data) != length:
            raise InvalidInput(f"inputs.{spec.name}: {len(data)} values, other inputs have {length}")
        columns[spec.name] = [check_value(spec, v, f"inputs.{spec.name}[{i}]") for i, v in enumerate(data)]
    for spec in fields:
        if spec.name not in columns:
            columns[spec.name] = [None] * (length or 0)
    return {spec.name: _as_array(spec, columns[spec.name]) for spec in fields}
