"""Serving for real: KServe transformer and predictor on loopback, the pipeline's model, Feast online.

V1 with plain JSON, V2 through tritonclient (a real Open Inference Protocol client), bad input, hot swap
under load, canary and shadow, and a SIGTERM under load that must not lose a logged answer.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from pipelines.registry.names import Alias, ModelTag
from tests.integration.conftest import MODEL
from tests.integration.local_platform import (
    PlatformUnderTest,
    server_url,
    spawn_predictor,
    spawn_transformer,
    stream_caught_up,
)
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import PARITY_TOLERANCE

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"
V2_PATH = f"/v2/models/{MODEL}/infer"


def post(platform: PlatformUnderTest, url: str, **kwargs: Any) -> httpx.Response:
    """POST as a client holding the scope the route needs: `label` for /v1/labels, `score` for the rest."""
    scope = "label" if url.endswith("/v1/labels") else "score"
    return httpx.post(url, **{**kwargs, "headers": {**kwargs.get("headers", {}), **platform.headers(scope)}})


@pytest.fixture(scope="module")
def transactions(raw_data: dict[str, Path]) -> list[dict[str, Any]]:
    events = pd.read_parquet(raw_data["events"]).tail(20)
    rows = events[["customer_id", "merchant_id", "amount", "channel"]].to_dict("records")
    return [{**row, "customer_id": int(row["customer_id"]), "merchant_id": int(row["merchant_id"])} for row in rows]


def _sample(url: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples on a server's /metrics whose labels include `labels` (0 when none)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _champion(client: Any) -> str:
    return str(client.get_model_version_by_alias(MODEL, "champion").version)


def test_v1_through_the_transformer_returns_scores_and_the_version(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], client: Any
) -> None:
    unknown = {**transactions[0], "customer_id": 987_654_321}
    unknown_before = _sample(server_url(serving, "transformer"), "driftloop_unknown_entities_total", entity="customer")
    response = post(
        serving, server_url(serving, "transformer") + V1_PATH, json={"instances": [*transactions[:5], unknown]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == 6
    assert all(0.0 <= p <= 1.0 for p in body["predictions"])
    assert body["model_version"] == _champion(client)
    assert response.headers["x-driftloop-model-version"] == body["model_version"]
    unknown_after = _sample(server_url(serving, "transformer"), "driftloop_unknown_entities_total", entity="customer")
    assert unknown_after == unknown_before + 1, "the one unknown customer is counted"


def test_transformer_and_predictor_agree_with_the_registered_model(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], client: Any
) -> None:
    """The predictor's answer for explicit features (scored by the version's ONNX export) equals the registered
    scikit-learn pipeline's predict_proba within the parity tolerance, on rows of the version's reference."""
    import mlflow

    from pipelines.registry.tracking import load_sklearn_version

    features = (
        pd.read_parquet(
            mlflow.artifacts.download_artifacts(
                client.get_model_version(MODEL, _champion(client)).tags["reference_sample"],
                tracking_uri=client.tracking_uri,
            )
        )
        .drop(columns=["prediction"])
        .head(200)
    )
    instances = json.loads(features.to_json(orient="records", double_precision=15))  # full float64 precision
    response = post(serving, server_url(serving, "predictor") + V1_PATH, json={"instances": instances})
    assert response.status_code == 200, response.text
    model = load_sklearn_version(client, MODEL, _champion(client))
    expected = model.predict_proba(features)[:, 1]
    np.testing.assert_allclose(response.json()["predictions"], expected, atol=PARITY_TOLERANCE, rtol=0)
    assert "with onnx" in (serving.state_dir / "logs" / "predictor.log").read_text(), (
        "the predictor fell back to sklearn"
    )


def test_v2_through_a_real_open_inference_client(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], client: Any
) -> None:
    import tritonclient.http as triton

    server = triton.InferenceServerClient(url=server_url(serving, "transformer").removeprefix("http://"))
    assert server.is_server_live() and server.is_model_ready(MODEL)
    metadata = server.get_model_metadata(MODEL)
    assert {i["name"] for i in metadata["inputs"]} == {"customer_id", "merchant_id", "amount", "channel", "event_id"}
    # The same four transactions (fixed ids) through V1 first: once the stream worker has folded them, sending
    # them again changes no streamed feature (an event id counts once), so both protocols see the same features.
    rows = [{**row, "event_id": f"v2-client-{index}"} for index, row in enumerate(transactions[:4])]
    assert post(serving, server_url(serving, "transformer") + V1_PATH, json={"instances": rows}).status_code == 200
    stream_caught_up(serving)
    inputs = []
    for name, datatype, dtype in (
        ("customer_id", "INT64", np.int64),
        ("merchant_id", "INT64", np.int64),
        ("amount", "FP64", np.float64),
        ("channel", "BYTES", np.object_),
        ("event_id", "BYTES", np.object_),
    ):
        tensor = triton.InferInput(name, [len(rows)], datatype)
        tensor.set_data_from_numpy(np.array([row[name] for row in rows], dtype=dtype), binary_data=False)
        inputs.append(tensor)
    wanted = [triton.InferRequestedOutput("fraud_score", binary_data=False)]
    result = server.infer(MODEL, inputs, outputs=wanted, headers=serving.headers("score"))
    scores = result.as_numpy("fraud_score")
    assert scores.shape == (4,) and ((scores >= 0) & (scores <= 1)).all()
    assert result.get_response()["model_version"] == _champion(client)
    v1 = post(serving, server_url(serving, "transformer") + V1_PATH, json={"instances": rows}).json()["predictions"]
    np.testing.assert_allclose(scores, v1, rtol=1e-9)


BAD_V1 = [
    (b"{not json", "Unrecognized request format"),
    (b"[1, 2]", "request body"),
    (b'{"instances": []}', "instances: must not be empty"),
    (b'{"instances": {"a": 1}}', "instances"),
    (b'{"rows": []}', "instances: missing"),
    (b'{"instances": [{"customer_id": 1, "merchant_id": 2, "amount": 3.5}]}', "instances[0].channel: missing"),
    (b'{"instances": [{"customer_id": "x", "merchant_id": 2, "amount": 3.5, "channel": "online"}]}',
     "instances[0].customer_id"),
    (b'{"instances": [{"customer_id": 1, "merchant_id": 2, "amount": -3, "channel": "online"}]}',
     "instances[0].amount"),
    (b'{"instances": [{"customer_id": 1, "merchant_id": 2, "amount": 3, "channel": "fax"}]}',
     "instances[0].channel"),
    (b'{"instances": [7]}', "instances[0]"),
]  # fmt: skip


@pytest.mark.parametrize("server", ["transformer", "predictor"])
def test_bad_requests_are_400s_that_name_the_problem(serving: PlatformUnderTest, server: str) -> None:
    for body, message in BAD_V1:
        if server == "predictor" and message.startswith("instances[0]."):
            message = "instances[0]."  # the plain predictor expects feature fields instead
        response = post(
            serving, server_url(serving, server) + V1_PATH, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (body, response.status_code, response.text)
        assert message in response.json()["error"], (body, response.text)
    oversized = {"instances": [{"customer_id": 1, "merchant_id": 1, "amount": 1.0, "channel": "online"}] * 1001}
    response = post(serving, server_url(serving, server) + V1_PATH, json=oversized)
    assert response.status_code == 400 and "exceeds the limit of 1000" in response.text
    v2_missing = {"inputs": [{"name": "amount", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
    response = post(serving, server_url(serving, server) + V2_PATH, json=v2_missing)
    assert response.status_code == 400 and "inputs." in response.json()["error"], response.text
    v2_malformed = {"inputs": [{"name": "amount", "datatype": "FP64"}]}
    response = post(serving, server_url(serving, server) + V2_PATH, json=v2_malformed)
    assert response.status_code == 400, response.text
    # What the parser's fuzz (tests/unit/test_request_fuzz.py) cannot send: bytes that are not JSON, and JSON
    # that is not an object, through each protocol's HTTP route and KServe's own decoding.
    for path, body in ((V1_PATH, b"\xff\x00{"), (V2_PATH, b"\xff\x00{"), (V1_PATH, b"[1, 2]"), (V2_PATH, b'"x"')):
        response = post(
            serving, server_url(serving, server) + path, content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (path, body, response.status_code, response.text)
    assert httpx.get(server_url(serving, server) + "/v2/health/live").status_code == 200


def test_the_fast_lane_answers_as_kserve_does_and_skips_its_stack(serving: PlatformUnderTest, tmp_path: Path) -> None:
    """The predictor's V1 fast lane (`serving.fast_lane`) gives every answer KServe's own route gives: the
    platform's predictor (lane on, the default) beside one started with `DRIFTLOOP_FAST_LANE=false`, same
    champion, same requests. KServe's `request_predict_seconds` counts only what its own route handled. The second
    one also writes uvicorn's access log (`DRIFTLOOP_ACCESS_LOG=true`): a line per request there, none on the
    platform's (the default)."""
    from use_cases.fraud.schema import NUMERIC_COLUMNS

    laned_url = server_url(serving, "predictor")
    process, routed_url = spawn_predictor(
        serving, tmp_path, with_features=False, DRIFTLOOP_FAST_LANE="false", DRIFTLOOP_ACCESS_LOG="true"
    )
    try:
        good = {"instances": [{**{c: 0.0 for c in NUMERIC_COLUMNS}, "amount": 12.5, "channel": "online"}] * 3}
        bodies = [json.dumps(good).encode(), *(body for body, _ in BAD_V1), b"[1, 2]", b"\xff\x00{"]
        counted_before = {url: _sample(url, "request_predict_seconds_count") for url in (laned_url, routed_url)}
        for body in bodies:
            laned, routed = (
                post(serving, url + V1_PATH, content=body, headers={"content-type": "application/json"})
                for url in (laned_url, routed_url)
            )
            assert (laned.status_code, laned.json()) == (routed.status_code, routed.json()), body
            assert laned.headers.get("x-driftloop-model-version") == routed.headers.get("x-driftloop-model-version")
        assert _sample(laned_url, "request_predict_seconds_count") == counted_before[laned_url], (
            "a V1 JSON request went through KServe's route on the laned predictor"
        )
        assert _sample(routed_url, "request_predict_seconds_count") > counted_before[routed_url]
        access_lines = '"POST /v1/models/'  # uvicorn's access line (the colon percent-encoded)
        assert (tmp_path / "predictor.log").read_text().count(access_lines) >= len(bodies)
        assert access_lines not in (serving.state_dir / "logs" / "predictor.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_transformers_fast_lane_answers_as_kserve_does(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The transformer's `predict` is a coroutine; the lane awaits it and answers as KServe's route does: the
    platform's transformer (lane on) beside one started with `DRIFTLOOP_FAST_LANE=false`, in front of the same
    predictor. Answers match but for the event ids each server makes; a refusal by the predictor behind (a receipt
    time far from its clock is refused there, not here) travels back the same way."""
    laned_url = server_url(serving, "transformer")
    process, routed_url = spawn_transformer(serving, tmp_path, DRIFTLOOP_FAST_LANE="false")
    try:
        good = json.dumps({"instances": transactions[:3]}).encode()
        bodies = [good, *(body for body, _ in BAD_V1), b"[1, 2]", b"\xff\x00{"]
        counted_before = {url: _sample(url, "request_predict_seconds_count") for url in (laned_url, routed_url)}
        for body in bodies:
            laned, routed = (
                post(serving, url + V1_PATH, content=body, headers={"content-type": "application/json"})
                for url in (laned_url, routed_url)
            )
            assert laned.status_code == routed.status_code, (body, laned.text, routed.text)
            mine, theirs = laned.json(), routed.json()
            if laned.status_code == 200:
                assert len(mine.pop("event_ids")) == len(theirs.pop("event_ids")) == 3
                # The first answer's transactions reach the stream, so the second reads its cards' velocity one
                # transaction later: the same cards, a score each, not the same scores.
                scores = mine.pop("predictions"), theirs.pop("predictions")
                assert [len(s) for s in scores] == [3, 3] and all(0.0 <= x <= 1.0 for s in scores for x in s)
            assert mine == theirs, body
            assert laned.headers.get("x-driftloop-model-version") == routed.headers.get("x-driftloop-model-version")
        assert _sample(laned_url, "request_predict_seconds_count") == counted_before[laned_url], (
            "a V1 JSON request went through KServe's route on the laned transformer"
        )
        assert _sample(routed_url, "request_predict_seconds_count") > counted_before[routed_url]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_answers_name_each_event_and_labels_come_back_for_them(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]]
) -> None:
    from pipelines.data.event_store import EventStore

    url = server_url(serving, "transformer")
    mine = {**transactions[0], "event_id": "client-txn-0001"}
    v1 = post(serving, url + V1_PATH, json={"instances": [mine, transactions[1]]}).json()
    assert v1["event_ids"][0] == "client-txn-0001" and v1["event_ids"][1].startswith("evt-")
    v2_body = {"inputs": [
        {"name": "customer_id", "datatype": "INT64", "shape": [1], "data": [transactions[2]["customer_id"]]},
        {"name": "merchant_id", "datatype": "INT64", "shape": [1], "data": [transactions[2]["merchant_id"]]},
        {"name": "amount", "datatype": "FP64", "shape": [1], "data": [transactions[2]["amount"]]},
        {"name": "channel", "datatype": "BYTES", "shape": [1], "data": [transactions[2]["channel"]]},
    ]}  # fmt: skip
    v2 = post(serving, url + V2_PATH, json=v2_body).json()
    v2_ids = next(o["data"] for o in v2["outputs"] if o["name"] == "event_id")
    answered = [*v1["event_ids"], *v2_ids]

    labels = {"labels": [{"event_id": event_id, "is_fraud": 0} for event_id in answered]}
    first = post(serving, url + "/v1/labels", json=labels)  # right away: the answers may not be flushed yet
    assert first.status_code == 200 and first.json() == {"landed": 3, "already_present": 0}, first.text
    assert post(serving, url + "/v1/labels", json=labels).json() == {"landed": 0, "already_present": 3}
    predictor = server_url(serving, "predictor")
    chargeback = {"labels": [{"event_id": "client-txn-0001", "is_fraud": 1}]}
    assert post(serving, predictor + "/v1/labels", json=chargeback).json()["landed"] == 1

    unknown = post(
        serving, url + "/v1/labels", json={"labels": [*labels["labels"], {"event_id": "nope", "is_fraud": 1}]}
    )
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"] and "nothing was stored" in unknown.text
    for body, field in (
        ({"labels": [{"event_id": "client-txn-0001", "is_fraud": 2}]}, "labels[0].is_fraud"),
        ({"labels": [{"is_fraud": 1}]}, "labels[0].event_id"),
        ({"labels": [{"event_id": "x", "is_fraud": 1, "label_timestamp": "soon"}]}, "labels[0].label_timestamp"),
        ({"rows": []}, "labels"),
    ):
        response = post(serving, url + "/v1/labels", json=body)
        assert response.status_code == 400 and field in response.json()["error"], (body, response.text)
    early = {"labels": [{"event_id": answered[1], "is_fraud": 1, "label_timestamp": "2001-01-01T00:00:00Z"}]}
    refused = post(serving, url + "/v1/labels", json=early)
    assert refused.status_code == 422 and "labels.label_timestamp.order" in refused.text

    store = EventStore(serving.state_dir / "events", serving.state_dir / "predictions", FRAUD)
    sent = store.label_records().set_index("event_id")
    assert set(sent.loc[list(answered), "sent_by"]) == {"POST /v1/labels by credential label"}
    current = store.labels().set_index("event_id")
    assert current.loc["client-txn-0001", "is_fraud"] == 1, "the later label wins"
    assert set(answered) <= set(current.index) and len(store.label_records()) >= 4
    metrics = httpx.get(url + "/metrics").text
    assert 'driftloop_labels_received_total{outcome="unknown_event"} 1.0' in metrics


class Load:
    """Threads sending requests until stopped, recording every status and answering version."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str], threads: int = 4) -> None:
        self.url, self.body, self.headers = url, body, headers
        self.results: list[tuple[float, int, str, str]] = []  # (time, status, version, request id)
        self.event_ids: list[str] = []  # of every answered transaction
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, worker: int) -> None:
        with httpx.Client(timeout=20) as http:
            sent = 0
            while not self._stop.is_set():
                rid = f"load-{worker}-{sent}"
                sent += 1
                try:
                    response = http.post(self.url, json=self.body, headers={**self.headers, "x-request-id": rid})
                except httpx.HTTPError as error:
                    self.errors.append(f"{rid}: {error!r}")
                    continue
                answer = response.json() if response.status_code == 200 else {}
                self.event_ids.extend(answer.get("event_ids", []))
                self.results.append((time.monotonic(), response.status_code, answer.get("model_version", ""), rid))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def _register_again(client: Any, version: Any) -> Any:
    """A new version of the same model (a stand-in for a retrained one; the pipeline tests cover those)."""
    import mlflow

    from pipelines.registry.tracking import fluent_tracking

    with fluent_tracking(client.tracking_uri):
        return mlflow.register_model(version.source, MODEL, tags={"registered_by": "test_serving"})


def test_promoting_a_new_champion_under_load_fails_no_request(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], client: Any
) -> None:
    before = client.get_model_version_by_alias(MODEL, "champion")
    with Load(
        server_url(serving, "transformer") + V1_PATH, {"instances": transactions[:3]}, serving.headers("score")
    ) as load:
        time.sleep(3)
        new = _register_again(client, before)
        client.set_registered_model_alias(MODEL, "champion", new.version)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r[2] == new.version for r in load.results[-20:]):
            time.sleep(0.2)
        time.sleep(2)
    assert load.errors == []
    statuses = {status for _, status, _, _ in load.results}
    assert statuses == {200}, statuses
    versions = [version for _, _, version, _ in sorted(load.results)]
    assert versions[0] == before.version and versions[-1] == new.version
    switch = versions.index(new.version)
    assert set(versions[switch + 20 :]) <= {new.version}, "after the swap settles, only the new version answers"
    assert len(load.results) > 100


def _logged(tmp_path: Path) -> pd.DataFrame:
    from pipelines.data.prediction_log_format import read_prediction_log

    return read_prediction_log(tmp_path / "predictions")


def test_sigterm_under_load_loses_no_answered_prediction(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], tmp_path: Path
) -> None:
    process, url = spawn_predictor(serving, tmp_path, DRIFTLOOP_PREDICTION_LOG_FLUSH_S="30")
    try:
        with Load(url + V1_PATH, {"instances": transactions[:2]}, serving.headers("score")) as load:
            time.sleep(3)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    answered = {rid for _, status, _, rid in load.results if status == 200}
    assert len(answered) > 50
    logged = _logged(tmp_path)
    served = logged[logged["role"] == "served"]
    assert answered <= set(served["request_id"]), f"lost {len(answered - set(served['request_id']))} answered requests"
    assert (served.groupby("request_id").size() == 2).all()
    assert {"customer_id", "merchant_id", "prediction", "model_version", "logged_at"} <= set(served.columns)
    # Every answered transaction is an event, exactly once, stamped when the server received it.
    from pipelines.data.event_store import EventStore

    events = EventStore(tmp_path / "events", tmp_path / "predictions", FRAUD).events()
    assert len(load.event_ids) == 2 * len(answered) == len(set(load.event_ids))
    assert set(load.event_ids) <= set(events["event_id"]) and events["event_id"].is_unique
    received = events.set_index("event_id").loc[load.event_ids, "event_timestamp"]
    logged_at = served.set_index("event_id").loc[load.event_ids, "logged_at"]
    assert (received <= logged_at).all() and (logged_at - received).max() < pd.Timedelta(seconds=5)


def test_canary_answers_with_both_and_shadow_only_logs_the_shadow(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]], client: Any, tmp_path: Path
) -> None:
    champion = client.get_model_version_by_alias(MODEL, "champion")
    challenger = _register_again(client, champion)
    try:
        for mode in ("canary", "shadow"):
            folder = tmp_path / mode
            folder.mkdir()
            if mode == "canary":  # what `driftloop model challenger V --share 0.5` writes
                client.set_registered_model_tag(MODEL, ModelTag.CHALLENGER_SHARE, "0.5")
                client.set_registered_model_alias(MODEL, Alias.CHALLENGER, challenger.version)
            else:
                client.delete_registered_model_alias(MODEL, Alias.CHALLENGER)
                client.set_registered_model_alias(MODEL, Alias.SHADOW, challenger.version)
            process, url = spawn_predictor(serving, folder)
            try:
                with httpx.Client(headers=serving.headers("score")) as http:
                    answers = [
                        http.post(url + V1_PATH, json={"instances": transactions[:1]}).json()["model_version"]
                        for _ in range(60)
                    ]
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
            logged = _logged(folder)
            if mode == "canary":
                assert set(answers) == {champion.version, challenger.version}
                assert 10 < answers.count(challenger.version) < 50
            else:
                assert set(answers) == {champion.version}
                shadow = logged[logged["role"] == "shadow"]
                assert len(shadow) == 60 and set(shadow["model_version"]) == {challenger.version}
    finally:
        for alias in (Alias.CHALLENGER, Alias.SHADOW):
            if alias in client.get_registered_model(MODEL).aliases:
                client.delete_registered_model_alias(MODEL, alias)
        client.delete_registered_model_tag(MODEL, ModelTag.CHALLENGER_SHARE)


def test_metrics_name_the_version_in_service(serving: PlatformUnderTest, client: Any) -> None:
    text = httpx.get(server_url(serving, "predictor") + "/metrics").text
    version = _champion(client)
    assert f'driftloop_model_version_info{{alias="champion",model_version="{version}"}} 1.0' in text
    predictor = server_url(serving, "predictor")
    assert _sample(predictor, "driftloop_inference_requests_total", server="predictor", status="200") > 0
    assert _sample(predictor, "driftloop_inference_request_seconds_count", server="predictor") > 0
    assert _sample(predictor, "driftloop_prediction_score_count", model_version=version) > 0
    assert _sample(predictor, "driftloop_prediction_log_rows_total") > 0, "the log has flushed rows"
    transformer = server_url(serving, "transformer")
    assert _sample(transformer, "driftloop_feature_lookup_seconds_count") > 0
    rejected = _sample(transformer, "driftloop_inference_requests_total", server="transformer", status="400")
    assert post(serving, transformer + V1_PATH, json={"instances": [{"customer_id": 1}]}).status_code == 400
    after = _sample(transformer, "driftloop_inference_requests_total", server="transformer", status="400")
    assert after == rejected + 1, "a rejected request is counted as a 400"


def test_the_skew_check_finds_no_skew_then_catches_a_changed_online_value(
    serving: PlatformUnderTest, transactions: list[dict[str, Any]]
) -> None:
    """Served features equal the offline point-in-time ones; one online value changed behind Feast's back is
    caught by the next check and named."""
    from datetime import UTC, datetime

    from pipelines.core.settings import Settings
    from pipelines.features.store import open_feature_store

    url = server_url(serving, "transformer")

    def send_and_check(rows: list[dict[str, Any]]) -> dict[str, Any]:
        since = datetime.now(UTC).replace(microsecond=0)
        for start in range(0, len(rows), 10):
            assert post(serving, url + V1_PATH, json={"instances": rows[start : start + 10]}).status_code == 200
        time.sleep(2.5)  # one flush of the prediction log
        result = serving.run("monitor", "run", "--since", since.strftime("%Y-%m-%dT%H:%M:%S"), "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        return dict(json.loads(result.stdout))

    for _attempt in range(2):  # an hour boundary in the middle leaves the rows pending: try once more
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        assert serving.run("features", "refresh").returncode == 0
        clean = send_and_check(transactions)
        if datetime.now(UTC).replace(minute=0, second=0, microsecond=0) == hour:
            break
    assert (clean["skew_share"], clean["skew_rows"], clean["skew_columns"]) == (0.0, 20, {})

    store = open_feature_store(Settings(state_dir=serving.state_dir, _env_file=None))  # type: ignore[call-arg]
    customer = transactions[0]["customer_id"]
    names = ["txn_count_1h", "txn_count_24h", "amount_sum_24h", "amount_mean_7d", "amount_max_7d",
             "distinct_merchants_7d"]  # fmt: skip
    current = store.get_online_features(
        features=[f"customer_stats:{name}" for name in names], entity_rows=[{"customer_id": customer}]
    ).to_dict()
    row = {name: [current[name][0] if current[name][0] is not None else 0] for name in names}
    row["txn_count_24h"] = [int(row["txn_count_24h"][0]) + 7]  # the one value changed behind Feast's back
    stamps = {"event_timestamp": [pd.Timestamp(hour)], "created_timestamp": [pd.Timestamp.now(tz="UTC")]}
    store.write_to_online_store("customer_stats", pd.DataFrame({"customer_id": [customer], **stamps, **row}))
    try:
        skewed = send_and_check([transactions[0]] * 4)
        assert skewed["skew_share"] == 1.0 and skewed["skew_rows"] == 4
        assert skewed["skew_columns"] == {"customer_stats__txn_count_24h": 4}
        status = serving.run("monitor", "status").stdout
        assert "customer_stats__txn_count_24h" in status
    finally:
        serving.run("features", "refresh")  # recomputes and rematerialises: the online value is right again


@pytest.mark.parametrize("server", ["predictor", "transformer"])
def test_model_servers_listen_only_on_the_bind_address(serving: PlatformUnderTest, server: str) -> None:
    """DRIFTLOOP_BIND_ADDRESS (default: the host, 127.0.0.1) is where the KServe servers listen; KServe alone
    would listen on every interface. Another loopback address reaches a socket bound to 0.0.0.0, not this one."""
    port = int(serving.env[f"DRIFTLOOP_{server.upper()}_PORT"])
    assert httpx.get(f"http://127.0.0.1:{port}/v2/health/live").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/v2/health/live", timeout=2)
