"""Malformed requests for the model servers' write routes, generated from a seed: the HTTP fuzz's cases.

Each case starts from a valid body of its route (V1 `:predict`, V2 `/infer`, `POST /v1/labels`) and breaks it:
a value replaced by something nasty (deep nesting, lone surrogates, extreme numbers and times, huge fields,
wrong types), a field dropped or added, or the whole body replaced by bytes that are not JSON at all. The
bodies are written byte by byte, so a case can hold what no JSON library writes (NaN literals, a lone surrogate,
invalid UTF-8). Every label batch ends with an invalid label, so no case can land a label in a shared platform.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

from use_cases.fraud.schema import CATEGORIES, NUMERIC_COLUMNS

MAX_BODY = 3 * 2**20  # under the servers' DRIFTLOOP_MAX_REQUEST_BYTES default (4 MiB): the parser is under test


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is, valid or not."""

    text: bytes


@dataclass(frozen=True)
class Case:
    """One request: the route (`v1`, `v2` or `labels`), its body and headers, what was done to it, and the
    names an answer refusing it may use for the broken field (empty when no single field was broken)."""

    route: str
    body: bytes
    headers: dict[str, str]
    what: str
    names: frozenset[str] = field(default_factory=frozenset)


def deep(depth: int, closed: bool = True) -> Raw:
    inner = b"[" * depth + (b"]" * depth if closed else b"")
    return Raw(inner)


NUMBERS: list[Any] = [
    Raw(b"1e308"), Raw(b"-1e308"), Raw(b"1e400"), Raw(b"-1e400"), Raw(b"-0"), Raw(b"-0.0"), Raw(b"NaN"),
    Raw(b"Infinity"), Raw(b"-Infinity"), 2**63, 2**64, -(2**63) - 1, 10**200, Raw(b"9" * 5000), Raw(b"1e-400"),
    5e-324, Raw(b"0x1F"), Raw(b"01"), Raw(b"+1"), Raw(b".5"), Raw(b"1."), 0, -1, 1.5, 1e12, 1e13,
]  # fmt: skip
TIMES: list[Any] = [
    "0001-01-01", "2999-01-01", "0001-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-14:00",
    "0001-01-01T00:00:00+14:00", "+275760-09-13T00:00:00Z", "-000001-01-01T00:00:00Z", "-200000-01-01T00:00:00Z",
    "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775808Z", "NaT", "nan", "now", "today", "",
    "2024-02-30T00:00:00Z", "2024-01-01T24:00:01Z", "2024-01-01T00:00:00+99:00", "1" * 64, "9" * 65,
    "2024-01-01T00:00:00.00000000000000000001Z", 1e10, -1, Raw(b"1e400"),
]  # fmt: skip
STRINGS: list[Any] = [
    Raw(b'"\\ud800"'), Raw(b'"\\udfff"'), Raw(b'"a\\udc00b"'), Raw(b'"\\ud800\\ud800"'), "\ud800", "x\udfffy",
    Raw(b'"\xed\xa0\x80"'), Raw(b'"\xff\xfe"'), Raw(b'"\x01"'), "\u0000", "online\u0000", "\U0001f642" * 60,
    "x" * 201, "x" * 2**20, "\u202e", "online ", "ONLINE", "",
]  # fmt: skip
STRUCTURES: list[Any] = [
    deep(32), deep(900), deep(1023), deep(1024), deep(1025), deep(50_000), deep(1_000_000), deep(2000, closed=False),
    Raw(b'{"a":' * 20_000 + b"1" + b"}" * 20_000), [], {}, [None], {"": None}, [[1]], [{"a": [{"b": []}]}],
    Raw(b"[" + b"0," * 200_000 + b"0]"), Raw(b"{" + b",".join(b'"k%d":0' % i for i in range(20_000)) + b"}"),
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, True, False, 0, "x", [], {}, 3.5]
NASTY = {"number": NUMBERS, "time": TIMES, "string": STRINGS, "structure": STRUCTURES, "type": WRONG_TYPES}
ADDED_NAMES = ["event_timestamp", "label_timestamp", "event_id", "extra", "parameters", "id", "outputs", "instances"]
CONTENT_TYPES = [
    "application/json", None, "text/plain", "application/octet-stream", "application/json; charset=utf-16",
    "application/cloudevents+json",
]  # fmt: skip
PLAIN_TYPES = {"application/json", None, "text/plain", "application/octet-stream"}  # read as the route's JSON
BINARY_HEADER = "inference-header-content-length"
CLOUD_EVENT = {"ce-specversion": "1.0", "ce-id": "fuzz", "ce-source": "fuzz", "ce-type": "fuzz"}  # a binary CloudEvent


def encode(value: Any) -> bytes:
    """JSON text of `value`, `Raw` parts verbatim: strings as ASCII escapes, so a lone surrogate survives."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return b"{" + b",".join(encode(key) + b":" + encode(item) for key, item in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(encode(item) for item in value) + b"]"
    return json.dumps(value).encode("ascii")


def transaction(index: int) -> dict[str, Any]:
    return {"customer_id": 3, "merchant_id": 5, "amount": 20.0, "channel": "online", "event_id": f"fuzz-{index}"}


def feature_row(index: int) -> dict[str, Any]:
    """The plain predictor's request: every model input, and the ids the transformer forwards beside them."""
    row: dict[str, Any] = {name: 0.0 for name in NUMERIC_COLUMNS}
    row.update({name: values[0] for name, values in CATEGORIES.items()})
    return {**row, "amount": 20.0, "customer_id": 3, "merchant_id": 5, "event_id": f"fuzz-{index}"}


def v2_body(row: dict[str, Any]) -> dict[str, Any]:
    def datatype(value: Any) -> str:
        return "BYTES" if isinstance(value, str) else "INT64" if isinstance(value, int) else "FP64"

    return {"inputs": [
        {"name": name, "datatype": datatype(value), "shape": [1], "data": [value]} for name, value in row.items()
    ]}  # fmt: skip


def template(server: str, route: str, index: int) -> dict[str, Any]:
    row = transaction(index) if server == "transformer" else feature_row(index)
    if route == "v1":
        return {"instances": [row]}
    if route == "v2":
        return v2_body(row)
    invalid = {"event_id": "", "is_fraud": 1}  # refused whatever the first label is: nothing lands
    return {"labels": [{"event_id": f"fuzz-label-{index}", "is_fraud": 1, "label_timestamp": "2025-01-01"}, invalid]}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into `value` (containers included), the first label's and each V2 input's own parts."""
    paths = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value[:1] if path and path[-1] == "labels" else value):
            paths += _leaves(item, (*path, position))
    return paths


def _names(body: dict[str, Any], path: tuple[Any, ...]) -> frozenset[str]:
    """How a refusal may name the field at `path`: its key, and for a V2 tensor the tensor's name."""
    names = {str(part) for part in path[-1:] if isinstance(part, str)}
    tensor = body["inputs"][path[1]] if len(path) >= 2 and path[0] == "inputs" else None
    if isinstance(tensor, dict) and isinstance(tensor.get("name"), str):
        names.add(tensor["name"])
    return frozenset(names)


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    if new is _DROP:
        del value[path[-1]]
    else:
        value[path[-1]] = new


_DROP = object()


def _whole_body(rng: random.Random, valid: bytes) -> tuple[bytes, str]:
    kind = rng.choice(["random", "truncated", "trailing", "bom", "utf16", "empty", "scalar", "deep", "repeated"])
    if kind == "random":
        return rng.randbytes(rng.randint(1, 4000)), "random bytes"
    if kind == "truncated":
        return valid[: rng.randint(1, max(1, len(valid) - 1))], "a truncated body"
    if kind == "trailing":
        return valid + rng.choice([b"x", b"}", b"\x00", b" {}", b"\xff"]), "a body with trailing bytes"
    if kind == "bom":
        return b"\xef\xbb\xbf" + valid, "a body behind a UTF-8 byte order mark"
    if kind == "utf16":
        return valid.decode().encode("utf-16"), "a UTF-16 body"
    if kind == "empty":
        return rng.choice([b"", b" ", b"\n\t"]), "an empty body"
    if kind == "scalar":
        return rng.choice([b"null", b"true", b"0", b'"instances"', b"[]", b"{}", b"NaN", b"1e400"]), "a bare scalar"
    if kind == "deep":
        return encode(rng.choice(STRUCTURES[:9])), "deep nesting as the body"
    return valid + valid, "two bodies in one"


def _headers(rng: random.Random, route: str, body: bytes) -> tuple[dict[str, str], bytes, str]:
    """Content type (and now and then a V2 binary tensor header or a hostile request id) for a case."""
    headers: dict[str, str] = {}
    content_type = rng.choice(CONTENT_TYPES)
    if content_type is not None:
        headers["content-type"] = content_type
    note = f"content-type {content_type}"
    if route == "v2" and rng.random() < 0.2:  # the binary tensor extension: a JSON header, then raw tensor bytes
        length = rng.choice([str(len(body)), str(rng.randint(0, len(body) + 10)), "-1", "abc", "9" * 30, ""])
        headers[BINARY_HEADER] = length
        body += rng.randbytes(rng.choice([0, 1, 3, 8, 64]))
        note += f", binary tensors after {length!r} bytes of JSON"
    if rng.random() < 0.05:
        headers.update(CLOUD_EVENT)
        note += ", as a binary CloudEvent"
    if rng.random() < 0.05:
        headers["x-request-id"] = rng.choice(["x" * 4000, "a b", "-", "../../etc/passwd"])
        note += ", an odd request id"
    return headers, body, note


def mutated(rng: random.Random, server: str, route: str, index: int) -> Case:
    """One broken request for `route` on `server`."""
    body = template(server, route, index)
    valid = encode(body)
    if rng.random() < 0.15:
        raw, what = _whole_body(rng, valid)
        headers, raw, note = _headers(rng, route, raw)
        return Case(route, raw, headers, f"{what}; {note}")
    paths = _leaves(body)
    changes, names = [], frozenset[str]()
    count = rng.choice([1, 1, 1, 2, 3])
    for _ in range(count):
        if not paths:
            break
        path = rng.choice(paths)
        action = rng.choice(["value", "value", "value", "drop", "add"])
        if action == "drop" and isinstance(path[-1], str):
            _replace(body, path, _DROP)
            paths = _leaves(body)
            changes.append(f"dropped {'.'.join(map(str, path))}")
            names = _names(template(server, route, index), path)
            continue
        kind = rng.choice(sorted(NASTY))
        new = copy.deepcopy(rng.choice(NASTY[kind]))
        if action == "add":
            container = path[:-1]
            target = body
            for part in container:
                target = target[part]
            if not isinstance(target, dict):
                continue
            key = rng.choice([*ADDED_NAMES, rng.choice(STRINGS[:6])]) if rng.random() < 0.9 else Raw(b'"\\ud800"')
            path = (*container, key)
        names = _names(body, path) if isinstance(path[-1], str) else frozenset()
        _replace(body, path, new)
        paths = _leaves(body)
        changes.append(f"{'.'.join(map(str, path))} = {kind} {_short(new)}")
    raw = encode(body)
    if len(raw) > MAX_BODY:
        raw = raw[:MAX_BODY]
        changes.append("truncated to fit the body limit")
    headers, raw, note = _headers(rng, route, raw)
    plain = headers.get("content-type") in PLAIN_TYPES and not {"ce-id", BINARY_HEADER} & set(headers)
    return Case(
        route, raw, headers, f"{'; '.join(changes)}; {note}", names if plain and len(changes) == 1 else frozenset()
    )


def _short(value: Any) -> str:
    text = encode(value)
    return repr(text[:40] + (b"..." if len(text) > 40 else b""))


def cases(seed: int, server: str, counts: dict[str, int]) -> list[Case]:
    """`counts[route]` cases for each of `server`'s routes, in a mixed order; the same for the same seed."""
    rng = random.Random(f"{seed}:{server}")
    routes = [route for route, count in counts.items() for _ in range(count)]
    rng.shuffle(routes)
    return [mutated(rng, server, route, index) for index, route in enumerate(routes)]
