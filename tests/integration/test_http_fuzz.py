"""The model servers' write routes under malformed input, over HTTP: V1 `:predict`, V2 `/infer` and
`POST /v1/labels` on the transformer and the predictor, each sent seeded cases from `http_fuzz` (raw bytes, deep
nesting, lone surrogates, extreme numbers and times, huge fields, wrong types, binary tensor framing).

Every answer is below 500, within a second, and on the same keep-alive connection (a 500 used to close it); a
refusal is `{"error": ...}` in one line, naming the broken field when the body was JSON with one field broken.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import MODEL
from tests.integration.http_fuzz import Case, cases, template
from tests.integration.local_platform import PlatformUnderTest, server_url

pytestmark = pytest.mark.integration

SEED = 28
CASES = {"v1": 200, "v2": 200, "labels": 60}  # per server; labels within the rate limit's burst of two credentials
MAX_ANSWER_S = 1.0
MAX_ERROR_CHARS = 500
PATHS = {"v1": f"/v1/models/{MODEL}:predict", "v2": f"/v2/models/{MODEL}/infer", "labels": "/v1/labels"}
LABEL_SCOPES = ("label", "admin")  # each credential has a rate bucket of its own


def _problems(case: Case, response: httpx.Response, took: float) -> list[str]:
    """What is wrong with one answer (empty when nothing is)."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"answered {response.status_code}")
    if took > MAX_ANSWER_S:
        problems.append(f"took {took:.2f}s")
    if response.headers.get("connection", "").lower() == "close":
        problems.append("asked to close the connection")
    if case.route == "labels" and response.status_code == 200:
        problems.append("a label landed")
    if 400 <= response.status_code < 500:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return [*problems, "a refusal without an `error`"]
        if "\n" in error or len(error) > MAX_ERROR_CHARS:
            problems.append("the error is not one short line")
        named = any(name in error for name in case.names)
        # a label batch whose first label survived its change is refused for the invalid one that ends it
        if (
            response.status_code == 400
            and case.names
            and _is_json(case.body)
            and "labels[1]" not in error
            and not named
        ):
            problems.append(f"the error does not name {sorted(case.names)}")
    return problems


def _is_json(body: bytes) -> bool:
    """Strict JSON (what every route decodes the same way), so a refusal can name the field."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def _valid(server: str, route: str) -> dict[str, Any]:
    return template(server, route, 0)


def _socket(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("socket")


def test_malformed_requests_are_4xx_on_a_connection_that_stays_open(serving: PlatformUnderTest) -> None:
    bases = {server: server_url(serving, server) for server in ("transformer", "predictor")}
    generated = {server: cases(SEED, server, CASES) for server in bases}
    planned = [  # the two servers take turns
        (server, case)
        for pair in zip(*generated.values(), strict=True)
        for server, case in zip(bases, pair, strict=True)
    ]
    headers = {scope: serving.headers(scope) for scope in ("score", *LABEL_SCOPES)}
    failures: list[str] = []
    statuses: Counter[tuple[str, str, int]] = Counter()
    connections: dict[str, Any] = {}
    label_turns: Counter[str] = Counter()
    slowest = (0.0, "")
    began = time.monotonic()
    with httpx.Client(timeout=10.0) as client:
        for server, base in bases.items():  # the first answers warm a server up (lazy imports, its own clients)
            for route in ("v1", "v2"):
                warm = client.post(base + PATHS[route], json=_valid(server, route), headers=headers["score"])
                assert warm.status_code == 200, warm.text
            connections[server] = _socket(warm)
        for server, case in planned:
            scope = "score"
            if case.route == "labels":  # the label credentials take turns
                scope = LABEL_SCOPES[label_turns[server] % len(LABEL_SCOPES)]
                label_turns[server] += 1
            started = time.monotonic()
            try:
                response = client.post(
                    bases[server] + PATHS[case.route], content=case.body, headers={**case.headers, **headers[scope]}
                )
            except httpx.HTTPError as error:
                failures.append(f"{server} {case.route} [{ascii(case.what[:200])}]: {error!r}")
                connections.pop(server, None)
                continue
            took = time.monotonic() - started
            if took > slowest[0]:
                slowest = (took, f"{server} {case.route} [{ascii(case.what[:120])}]")
            statuses[(server, case.route, response.status_code)] += 1
            problems = _problems(case, response, took)
            connection = _socket(response)
            if connections.setdefault(server, connection) is not connection:
                problems.append("answered on a new connection: the previous one was dropped")
                connections[server] = connection
            if connection.fileno() == -1:
                problems.append("the server closed the connection")
            if problems:
                failures.append(f"{server} {case.route} [{ascii(case.what[:200])}]: {problems} {response.text[:200]!r}")
            if len(failures) > 20:
                break
        for server, base in bases.items():  # and the servers still score, on the same connections
            after = client.post(base + PATHS["v1"], json=_valid(server, "v1"), headers=headers["score"])
            assert after.status_code == 200, after.text
            assert _socket(after) is connections[server], f"{server}: the connection did not survive the fuzz"
    took_all = time.monotonic() - began
    assert not failures, "\n".join(failures)
    assert took_all < 45, f"the fuzz took {took_all:.0f}s"
    refused = sum(count for (_, _, status), count in statuses.items() if 400 <= status < 500)
    assert refused > len(planned) / 2, f"most cases are malformed: {dict(statuses)}"
    rate_limited = sum(count for (_, route, status), count in statuses.items() if route == "labels" and status == 429)
    assert rate_limited < CASES["labels"] / 4, f"the label cases mostly reached the parser: {dict(statuses)}"
    print(f"{len(planned)} cases in {took_all:.1f}s; slowest answer {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    print(f"answers: {dict(statuses)}")
