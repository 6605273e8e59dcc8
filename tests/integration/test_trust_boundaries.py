"""The platform's front door, attacked over HTTP as an outsider would: writes without a credential, with the
wrong scope or a forged token, KServe's model repository routes, a 50 MB body, a burst of label requests,
and a backdated event sent straight to the predictor. After each, the platform still serves and logs."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.integration.conftest import MODEL
from tests.integration.local_platform import PlatformUnderTest, server_url, spawn_predictor
from use_cases.fraud import USE_CASE as FRAUD

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"
V2_PATH = f"/v2/models/{MODEL}/infer"
TRANSACTION = {"customer_id": 3, "merchant_id": 5, "amount": 20.0, "channel": "online"}
V2_BODY = {"inputs": [
    {"name": "customer_id", "datatype": "INT64", "shape": [1], "data": [3]},
    {"name": "merchant_id", "datatype": "INT64", "shape": [1], "data": [5]},
    {"name": "amount", "datatype": "FP64", "shape": [1], "data": [20.0]},
    {"name": "channel", "datatype": "BYTES", "shape": [1], "data": ["online"]},
]}  # fmt: skip


def answered_event(platform: PlatformUnderTest, event_id: str) -> dict[str, Any]:
    body = {"instances": [{**TRANSACTION, "event_id": event_id}]}
    response = httpx.post(server_url(platform, "transformer") + V1_PATH, json=body, headers=platform.headers("score"))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("server", ["transformer", "predictor"])
def test_writes_need_a_credential_of_their_scope_and_reads_stay_open(serving: PlatformUnderTest, server: str) -> None:
    from pipelines.data.event_store import EventStore

    base = server_url(serving, server)
    answered_event(serving, f"guard-{server}")
    store = EventStore(serving.state_dir / "events", serving.state_dir / "predictions", FRAUD)
    labels_before = len(store.label_records())
    flip = {"labels": [{"event_id": f"guard-{server}", "is_fraud": 1}]}
    predict_body = {"instances": [TRANSACTION]} if server == "transformer" else None
    writes = [("/v1/labels", flip, "label"), (V2_PATH, V2_BODY, "score")]
    if predict_body is not None:
        writes.append((V1_PATH, predict_body, "score"))
    for path, body, scope in writes:
        missing = httpx.post(base + path, json=body)
        assert missing.status_code == 401, (path, missing.text)
        assert missing.headers["www-authenticate"].startswith("Bearer") and scope in missing.json()["error"]
        forged = httpx.post(base + path, json=body, headers={"authorization": "Bearer not-a-token-of-ours"})
        assert forged.status_code == 401 and "not a credential" in forged.json()["error"], forged.text
        other = "score" if scope == "label" else "label"
        wrong = httpx.post(base + path, json=body, headers=serving.headers(other))
        assert wrong.status_code == 403, (path, wrong.text)
        assert f"needs the {scope} scope" in wrong.json()["error"] and other in wrong.json()["error"]
    assert len(store.label_records()) == labels_before, "a refused label landed"
    for path in (f"/v2/models/{MODEL}", f"/v2/models/{MODEL}/ready", "/v2/health/live", "/metrics"):
        assert httpx.get(base + path).status_code == 200, path


def test_kserve_repository_routes_are_closed_and_the_platform_keeps_serving_and_logging(
    serving: PlatformUnderTest,
) -> None:
    """Unloading the predictor used to leave the fast lane answering with a frozen model while its log stopped,
    the probes green. Now nobody can: not without a token, not with score, not with admin."""
    predictor = server_url(serving, "predictor")
    logged_before = _sample(predictor, "driftloop_prediction_log_rows_total")
    for server in ("predictor", "transformer"):
        for action in ("unload", "load"):
            for headers in ({}, serving.headers("score"), serving.headers("admin")):
                response = httpx.post(
                    f"{server_url(serving, server)}/v2/repository/models/{MODEL}/{action}", headers=headers
                )
                assert response.status_code == 403, (server, action, response.text)
                assert "repository routes are disabled" in response.json()["error"]
    assert httpx.get(f"{predictor}/v2/models/{MODEL}/ready").status_code == 200
    answer = answered_event(serving, "after-unload-attempts")
    assert answer["event_ids"] == ["after-unload-attempts"]
    deadline = time.monotonic() + 10
    while _sample(predictor, "driftloop_prediction_log_rows_total") <= logged_before and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _sample(predictor, "driftloop_prediction_log_rows_total") > logged_before, "the log stopped"


def test_a_50_mb_body_is_a_413_before_it_is_read(serving: PlatformUnderTest) -> None:
    headers = {**serving.headers("score"), "content-type": "application/json"}
    big = b'{"instances": [' + b" " * (50 * 2**20) + b"]}"
    for server in ("predictor", "transformer"):
        process = psutil.Process(serving.status()[server]["pid"])
        before = process.memory_info().rss
        declared = httpx.post(server_url(serving, server) + "/v1/labels", content=big, headers=serving.headers("label"))
        assert declared.status_code == 413 and "DRIFTLOOP_MAX_REQUEST_BYTES" in declared.text
        chunked = httpx.post(server_url(serving, server) + V2_PATH, content=_chunks(big), headers=headers)
        assert chunked.status_code == 413, chunked.text
        grown = process.memory_info().rss - before
        assert grown < 10 * 2**20, f"{server} grew by {grown / 2**20:.1f} MiB"
    answered_event(serving, "after-big-bodies")


def _chunks(body: bytes, size: int = 2**20) -> Iterator[bytes]:
    """A body without a Content-Length: the limit must hold while it streams."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_label_requests_are_rate_limited_per_credential(serving: PlatformUnderTest, tmp_path: Path) -> None:
    process, own = spawn_predictor(serving, tmp_path, DRIFTLOOP_LABEL_REQUESTS_PER_MINUTE="8")
    try:
        bad = {"rows": []}  # the guard counts the request before the body is looked at
        statuses = [httpx.post(own + "/v1/labels", json=bad, headers=serving.headers("label")) for _ in range(4)]
        assert [r.status_code for r in statuses][:2] == [400, 400]
        limited = statuses[-1]
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1, limited.text
        other = httpx.post(own + "/v1/labels", json=bad, headers=serving.headers("admin"))
        assert other.status_code == 400, "another credential has a bucket of its own"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _sample(base: str, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(base + "/metrics").text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


@pytest.mark.parametrize("stamp", ["days_ago", "9999-12-31T00:00:00Z", "1500-01-01T00:00:00Z"])
def test_a_direct_caller_cannot_backdate_an_event(serving: PlatformUnderTest, stamp: str) -> None:
    """The predictor takes a receipt time only from the transformer's hop: one far from its own clock is a 400
    naming the field, and no event is stored."""
    from datetime import UTC, datetime, timedelta

    from pipelines.data.event_store import EventStore
    from use_cases.fraud.schema import NUMERIC_COLUMNS

    if stamp == "days_ago":
        stamp = (datetime.now(UTC) - timedelta(days=12)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event_id = f"backdated-{stamp[:4]}"
    instance = {**{c: 0.0 for c in NUMERIC_COLUMNS}, "amount": 12.5, "channel": "online", "customer_id": 3,
                "merchant_id": 5, "event_id": event_id, "event_timestamp": stamp}  # fmt: skip
    response = httpx.post(
        server_url(serving, "predictor") + V1_PATH, json={"instances": [instance]}, headers=serving.headers("score")
    )
    assert response.status_code == 400, response.text
    assert "instances[0].event_timestamp" in response.json()["error"]
    time.sleep(1.5)  # one flush of the prediction log
    events = EventStore(serving.state_dir / "events", serving.state_dir / "predictions", FRAUD).events()
    assert event_id not in set(events["event_id"])


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "1999-12-31T23:59:59Z"])
def test_a_label_time_outside_the_platforms_bounds_is_a_400(serving: PlatformUnderTest, stamp: str) -> None:
    answered_event(serving, "bounded-label")
    body = {"labels": [{"event_id": "bounded-label", "is_fraud": 1, "label_timestamp": stamp}]}
    response = httpx.post(
        server_url(serving, "transformer") + "/v1/labels", json=body, headers=serving.headers("label")
    )
    assert response.status_code == 400 and "labels[0].label_timestamp" in response.json()["error"], response.text


def test_an_id_claimed_over_the_endpoint_first_does_not_swallow_the_real_landing(
    serving: PlatformUnderTest, tmp_path: Path
) -> None:
    """Someone scores a made-up transaction under the id a real one will have; the lake's landing of the real
    one is quarantined with its reason (exit 1 naming it), never counted as already present and dropped."""
    from datetime import UTC, datetime

    import pandas as pd

    answered_event(serving, "pos-claimed-0001")
    time.sleep(1.5)  # one flush of the prediction log
    now = pd.Timestamp(datetime.now(UTC))
    real = pd.DataFrame({"event_id": ["pos-claimed-0001"], "event_timestamp": [now], "customer_id": [7],
                         "merchant_id": [9], "amount": [999.0], "channel": ["in_store"]})  # fmt: skip
    real["event_id"] = real["event_id"].astype("string")
    path = tmp_path / "lake.parquet"
    real.to_parquet(path, index=False)
    result = serving.run("data", "ingest", "events", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 quarantined [events.event_id.collision (1)]" in result.stdout


def test_evidentlys_write_api_needs_the_admin_token_and_reading_stays_open(serving: PlatformUnderTest) -> None:
    """The Evidently UI (a `driftloop local up` service) asks for a credential on a write without one (401), refuses
    a wrong one (Evidently's own 403 "Not enough permissions"), takes the admin token as its secret, and keeps
    the dashboards readable."""
    base = f"http://127.0.0.1:{serving.env['DRIFTLOOP_EVIDENTLY_PORT']}/api/projects"
    project = {"name": "written by an outsider", "description": ""}
    admin = serving.headers("admin")["authorization"].removeprefix("Bearer ")
    anonymous = httpx.post(base, json=project)
    assert anonymous.status_code == 401 and "evidently-secret" in anonymous.headers["www-authenticate"]
    for headers in (
        {"evidently-secret": "guess"},
        {"evidently-secret": serving.headers("label")["authorization"][7:]},
    ):
        refused = httpx.post(base, json=project, headers=headers)
        assert refused.status_code == 403, refused.text
    assert httpx.get(base).status_code == 200
    assert "written by an outsider" not in httpx.get(base).text
    created = httpx.post(base, json=project, headers={"evidently-secret": admin})
    assert created.status_code == 201, created.text
    assert httpx.delete(f"{base}/{created.json()}").status_code == 401, "deleting needs it too"
    assert httpx.delete(f"{base}/{created.json()}", headers={"evidently-secret": admin}).status_code in (200, 204)


def test_mlflow_needs_a_login_and_only_the_pipeline_moves_aliases_or_uploads(serving: PlatformUnderTest) -> None:
    """MLflow runs its basic-auth app with one user per component. An outsider gets 401 on an alias move, an
    artifact upload and the UI; the model servers' and the monitor's users may read, not write (403); the
    champion and its run's artifacts are untouched, and the platform still serves the same version."""
    base = f"http://127.0.0.1:{serving.env['DRIFTLOOP_MLFLOW_PORT']}"
    admin = serving.registry()
    champion = admin.get_model_version_by_alias(MODEL, "champion")
    alias_move = ("POST", "/api/2.0/mlflow/registered-models/alias",
                  {"json": {"name": MODEL, "alias": "champion", "version": champion.version}})  # fmt: skip
    upload = ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{admin.get_run(champion.run_id).info.experiment_id}/"
              f"{champion.run_id}/artifacts/model/model.pkl", {"content": b"not a model"})  # fmt: skip
    new_version = ("POST", "/api/2.0/mlflow/model-versions/create",
                   {"json": {"name": MODEL, "source": f"runs:/{champion.run_id}/model"}})  # fmt: skip
    for method, path, body in (alias_move, upload, new_version):
        anonymous = httpx.request(method, base + path, **body)
        assert anonymous.status_code == 401, (path, anonymous.text)
        for user in ("driftloop-serving", "driftloop-monitor"):
            login = serving.run("auth", "mlflow", user).stdout.strip().split(":", 1)
            refused = httpx.request(method, base + path, auth=(login[0], login[1]), **body)
            assert refused.status_code == 403, (user, path, refused.text)
        forged = httpx.request(method, base + path, auth=("admin", "guessed-password"), **body)
        assert forged.status_code == 401, (path, forged.text)
    ui = httpx.get(base + "/")
    assert ui.status_code == 401 and ui.headers["www-authenticate"].startswith("Basic"), "a browser asks for a login"
    assert httpx.get(base + "/health").status_code == 200, "the probe stays open"
    admin_login = serving.run("auth", "mlflow").stdout.strip().split(":", 1)
    assert admin_login[0] == "admin" and httpx.get(base + "/", auth=tuple(admin_login)).status_code == 200
    assert admin.get_model_version_by_alias(MODEL, "champion").version == champion.version
    assert len(admin.search_model_versions(f"name='{MODEL}'")) == len(
        serving.registry("driftloop-monitor").search_model_versions(f"name='{MODEL}'")
    ), "the readers read the same registry"
    served = answered_event(serving, "after-the-mlflow-attacks")
    assert served["model_version"] == champion.version
