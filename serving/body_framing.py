"""Scoring bodies before KServe reads them: V2 plain JSON by default and binary tensor data checked first, and
no binary CloudEvents.

KServe treats a V2 body not labelled `application/json` as binary tensor data (the Open Inference Protocol's
extension: a JSON header of `Inference-Header-Content-Length` bytes, then each tensor's raw bytes), and its
decoder trusts those bytes: a length that is not a number, a JSON part without `inputs`, or tensor bytes that do
not fit their datatype each were a 500 (ValueError, KeyError, struct.error) that also closed the connection.
Such a body is a 400 naming the field here, before KServe sees it; a valid one reaches KServe unchanged.
A V1 body with the four `ce-*` headers KServe hands to the CloudEvents library, whose JSON reader recurses (a
deeply nested body was a RecursionError, a 500) and whose errors repeat the whole body: our protocol is plain
JSON, so such a request is a 415 before any of that runs.
FastAPI reads V2 JSON bodies itself; its refusals (not JSON, nested too deeply, the wrong shape) are worded here.
"""

from __future__ import annotations

from typing import Any

import orjson

from serving.fast_lane import Receive, Scope, Send, read_body
from serving.request_guard import refuse, replay
from serving.request_schema import shown

BINARY_HEADER = b"inference-header-content-length"
CLOUD_EVENT_HEADERS = (b"ce-specversion", b"ce-source", b"ce-type", b"ce-id")  # all four: KServe's binary CloudEvent
V2_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}
)


class ScoringBodies:
    """ASGI middleware for the scoring POSTs (`:predict`, `:explain`, `/infer`).

    A V2 body without the binary header and without a JSON content type is JSON: Open Inference clients such as
    tritonclient send plain JSON without that label when no tensor is binary. A V2 body with the binary header that
    FastAPI will not read as JSON is checked by `binary_request_problem`. A V1 binary CloudEvent is refused.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if path.endswith((":predict", ":explain")) and all(name in headers for name in CLOUD_EVENT_HEADERS):
            await refuse(send, 415, "ce-* headers: CloudEvents are not supported; send the request as plain JSON")
            return
        if not path.endswith("/infer"):
            await self.app(scope, receive, send)
            return
        declared = headers.get(BINARY_HEADER)
        if declared is None:
            if b"json" not in headers.get(b"content-type", b""):
                kept = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
            await self.app(scope, receive, send)
            return
        if _read_as_json(headers.get(b"content-type", b"")):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        problem = binary_request_problem(body, declared.decode("latin-1"))
        if problem is not None:
            await refuse(send, 400, problem)
            return
        await self.app(scope, replay(body, receive), send)


def _read_as_json(content_type: bytes) -> bool:
    """FastAPI's rule: `application/json` or `application/*+json` bodies are parsed as JSON."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def binary_request_problem(body: bytes, declared: str) -> str | None:
    """What is wrong with a binary tensor request, in one line naming the field; None when KServe can decode it."""
    if not declared.isascii() or not declared.isdigit():
        return f"inference-header-content-length: expected the JSON part's length in bytes, got {shown(declared)}"
    length = int(declared)
    if length > len(body):
        return f"inference-header-content-length: {length} bytes, but the body has only {len(body)}"
    try:
        head = orjson.loads(body[:length])
    except orjson.JSONDecodeError as error:
        return f"request body: the JSON part is not valid JSON ({error})"
    if not isinstance(head, dict) or not isinstance(head.get("inputs"), list):
        return "request body: expected a JSON object with an `inputs` list"
    for key, kind in (("id", str), ("parameters", dict), ("outputs", list)):
        if head.get(key) is not None and not isinstance(head[key], kind):
            return f"{key}: expected {'a string' if kind is str else 'an object' if kind is dict else 'a list'}"
    for index, output in enumerate(head.get("outputs") or []):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            return f"outputs[{index}]: expected an object with a name"
    binary_bytes = 0
    for index, tensor in enumerate(head["inputs"]):
        problem, size = _tensor_problem(tensor, index)
        if problem is not None:
            return problem
        binary_bytes += size
    if length + binary_bytes != len(body):
        return f"request body: the inputs declare {binary_bytes} bytes of tensor data, {len(body) - length} follow"
    return _decoding_problem(body, length)


def _tensor_problem(tensor: Any, index: int) -> tuple[str | None, int]:
    """(what is wrong with one input's JSON, None when nothing; the bytes of binary data it declares)."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        return f"inputs[{index}]: expected an object with a name", 0
    where = f"inputs.{tensor['name'][:60]}"
    if not isinstance(tensor.get("datatype"), str) or tensor["datatype"] not in V2_DATATYPES:
        return f"{where}.datatype: {shown(tensor.get('datatype'))} is not one of {sorted(V2_DATATYPES)}", 0
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        return f"{where}.shape: expected a list of integers", 0
    if any(n < 0 for n in shape):
        return f"{where}.shape: every dimension must be >= 0", 0
    parameters = tensor.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        return f"{where}.parameters: expected an object", 0
    if tensor.get("data") is not None:
        return None, 0
    size = (parameters or {}).get("binary_data_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return f"{where}: needs `data` or parameters.binary_data_size (a byte count)", 0
    return None, size


def _decoding_problem(body: bytes, length: int) -> str | None:
    """KServe's own decoding of a request whose framing is sound: tensor bytes may still not fit their datatype
    and shape."""
    from kserve import InferRequest

    try:
        InferRequest.from_bytes(body, length, "")
    except Exception as error:  # noqa: BLE001 - KServe's decoder raises ValueError, struct.error, InvalidInput...
        return f"inputs: binary tensor data does not fit its datatype and shape ({shown(error, 160)})"
    return None


def validation_message(error: Exception) -> str:
    """FastAPI's validation problems (a V2 body of the wrong shape, or not JSON) as one line naming each field."""
    problems = []
    for item in getattr(error, "errors", lambda: [])():
        location = [part for part in item.get("loc", ()) if part != "body"]
        if item.get("type") == "json_invalid":
            where = f" at char {location[-1]}" if location else ""
            problems.append(f"request body: not valid JSON ({item.get('ctx', {}).get('error', 'invalid')}{where})")
        else:
            problems.append(f"{_path(location) or 'request body'}: {item.get('msg', 'invalid')}")
    return "; ".join(problems[:5]) or "invalid request body"


def _path(parts: list[Any]) -> str:
    """A field's location for a message: each part cut short, and a key that is not valid Unicode escaped (the
    answer must encode)."""
    return ".".join(str(part)[:60].encode("utf-8", "backslashreplace").decode() for part in parts)


def http_error_message(error: Any) -> str:
    """A FastAPI HTTPException as one line; a body FastAPI failed to read says why (its cause)."""
    cause = error.__cause__
    if isinstance(cause, RecursionError):
        return "request body: not valid JSON (nested too deeply)"
    if isinstance(cause, ValueError):  # UnicodeDecodeError, an integer of more than 4300 digits
        return f"request body: not valid JSON ({shown(str(cause), 160)})"
    return str(error.detail)
