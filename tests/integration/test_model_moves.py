"""`driftloop model` against the real platform: a promotion and a rollback made through the CLI while a real
predictor answers continuously (every answer 200, the served version follows both moves), the refusals, and
the record `model list` shows.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.integration.conftest import MODEL
from tests.integration.local_platform import PlatformUnderTest, server_url, spawn_predictor

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"


class Sender:
    """One thread posting the same transaction until stopped, keeping every (status, served version)."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.url, self.body, self.headers = url, body, headers
        self.answers: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=20, headers=self.headers) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(self.url, json=self.body)
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))
                    continue
                version = response.json().get("model_version", "") if response.status_code == 200 else ""
                self.answers.append((response.status_code, version))

    def wait_for(self, version: str, timeout_s: float = 30.0) -> None:
        """Until the last answers all come from `version` (the swap reached the predictor)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            recent = self.answers[-5:]
            if len(recent) == 5 and {served for _, served in recent} == {version}:
                return
            time.sleep(0.1)
        raise AssertionError(f"version {version} never served; last answers {self.answers[-5:]}")

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def transaction(raw_data: dict[str, Path]) -> dict[str, Any]:
    row = pd.read_parquet(raw_data["events"]).iloc[-1]
    keys = {"customer_id": int(row["customer_id"]), "merchant_id": int(row["merchant_id"])}
    return {**keys, "amount": float(row["amount"]), "channel": str(row["channel"])}


@pytest.fixture(scope="module")
def gated_version(serving: PlatformUnderTest, client: Any) -> str:
    """A second version that may serve: version 1's model registered again with its lineage (a stand-in for a
    retrained one; its training run passed the gate)."""
    import mlflow

    from pipelines.registry.tracking import fluent_tracking

    first = client.get_model_version(MODEL, "1")
    with fluent_tracking(client.tracking_uri):
        return str(mlflow.register_model(first.source, MODEL, tags=first.tags).version)


@pytest.fixture
def champion_kept(client: Any) -> Any:
    """The champion before the test, put back after it whatever the test did."""
    before = str(client.get_model_version_by_alias(MODEL, "champion").version)
    yield before
    if str(client.get_model_version_by_alias(MODEL, "champion").version) != before:
        client.set_registered_model_alias(MODEL, "champion", before)


def _move(platform: PlatformUnderTest, *args: str) -> str:
    result = platform.run("model", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promote_and_rollback_through_the_cli_fail_no_request(
    serving: PlatformUnderTest, gated_version: str, champion_kept: str, transaction: dict[str, Any], tmp_path: Path
) -> None:
    process, url = spawn_predictor(serving, tmp_path)
    try:
        with Sender(url + V1_PATH, {"instances": [transaction]}, serving.headers("score")) as sender:
            sender.wait_for(champion_kept)
            _move(serving, "promote", gated_version, "--reason", "test: promote under load")
            sender.wait_for(gated_version)
            _move(serving, "rollback", "--reason", "test: roll back under load")
            sender.wait_for(champion_kept)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert sender.errors == []
    assert len(sender.answers) > 50 and {status for status, _ in sender.answers} == {200}
    served = [version for _, version in sender.answers]
    switched_to = served.index(gated_version)
    switched_back = served.index(champion_kept, switched_to)
    assert set(served[:switched_to]) == {champion_kept} and gated_version in served[switched_to:switched_back]

    listed = json.loads(_move(serving, "list", "--json", "--moves", "2"))
    assert [(m["action"], m["from_version"], m["to_version"], m["who"], m["why"]) for m in listed["moves"]] == [
        ("rollback", gated_version, champion_kept, "admin", "test: roll back under load"),
        ("promote", champion_kept, gated_version, "admin", "test: promote under load"),
    ]
    versions = {v["version"]: v for v in listed["versions"]}
    assert "champion" in versions[champion_kept]["aliases"] and versions[gated_version]["gate_decision"] == "promote"
    assert not any("previous-champion" in v["aliases"] for v in versions.values()), "a rollback is one undo"
    shown = _move(serving, "list")
    assert "moves (newest first):" in shown and "by admin: test: roll back under load" in shown


def test_moves_that_would_serve_something_bad_are_refused_in_one_line(
    serving: PlatformUnderTest, client: Any, gated_version: str, champion_kept: str
) -> None:
    import mlflow

    from pipelines.registry.tracking import fluent_tracking

    if "previous-champion" in client.get_registered_model(MODEL).aliases:  # a pipeline run's promotion
        client.delete_registered_model_alias(MODEL, "previous-champion")
    first = client.get_model_version(MODEL, "1")
    with fluent_tracking(client.tracking_uri):
        bare = str(mlflow.register_model(first.source, MODEL, tags={"registered_by": "hand"}).version)
    refused = {
        "unknown": serving.run("model", "promote", "999", "--reason", "r"),
        "no lineage": serving.run("model", "challenger", bare, "--share", "0.5", "--reason", "r"),
        "champion": serving.run("model", "promote", champion_kept, "--reason", "r"),
        "rollback": serving.run("model", "rollback", "--reason", "r"),
        "no reason": serving.run("model", "shadow", gated_version),
        "bad share": serving.run("model", "challenger", gated_version, "--share", "1.5", "--reason", "r"),
    }
    for case, result in refused.items():
        assert result.returncode != 0, (case, result.stdout)
    messages = {case: result.stderr.strip() for case, result in refused.items() if case != "no reason"}
    assert all(message.startswith("error: ") and "\n" not in message for message in messages.values()), messages
    assert "version 999 does not exist" in messages["unknown"]
    assert f"version {bare} lacks the lineage tags" in messages["no lineage"]
    assert "is already the champion" in messages["champion"]
    assert "no previous champion" in messages["rollback"]
    assert "--reason" in refused["no reason"].stderr
    assert "not a share of requests" in messages["bad share"]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == champion_kept
    aliases = client.get_registered_model(MODEL).aliases
    assert "challenger" not in aliases and "shadow" not in aliases


def test_a_canary_and_a_shadow_set_through_the_cli_serve_then_clear(
    serving: PlatformUnderTest,
    client: Any,
    gated_version: str,
    champion_kept: str,
    transaction: dict[str, Any],
    tmp_path: Path,
) -> None:
    process, url = spawn_predictor(serving, tmp_path)
    try:
        _move(serving, "challenger", gated_version, "--share", "0.5", "--reason", "test: canary")
        _move(serving, "shadow", gated_version, "--reason", "test: shadow")
        with Sender(url + V1_PATH, {"instances": [transaction]}, serving.headers("score")) as sender:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len({v for _, v in sender.answers[-40:]}) < 2:
                time.sleep(0.2)
            _move(serving, "challenger", "--clear", "--reason", "test: canary done")
            _move(serving, "shadow", "--clear", "--reason", "test: shadow done")
            sender.wait_for(champion_kept)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert sender.errors == [] and {status for status, _ in sender.answers} == {200}
    assert {version for _, version in sender.answers} == {champion_kept, gated_version}
    from pipelines.data.prediction_log_format import read_prediction_log

    logged = read_prediction_log(tmp_path / "predictions")
    shadow = logged[logged["role"] == "shadow"]
    assert len(shadow) > 0 and set(shadow["model_version"]) == {gated_version}
    assert set(shadow["model_alias"]) == {"shadow"}
    assert {"challenger", "shadow"}.isdisjoint(client.get_registered_model(MODEL).aliases)


class LabelledSender(Sender):
    """A Sender whose every request is a new transaction with its own event id, keeping each answered row's
    (event id, score, served version) so its label can be posted back."""

    def __init__(self, url: str, transaction: dict[str, Any], headers: dict[str, str], run: str) -> None:
        super().__init__(url, {}, headers)
        self.transaction, self.run_name = transaction, run
        self.rows: list[tuple[str, float, str]] = []

    def _run(self) -> None:
        with httpx.Client(timeout=20, headers=self.headers) as http:
            index = 0
            while not self._stop.is_set():
                ids = [f"{self.run_name}-{index}-{row}" for row in range(5)]
                index += 1
                body = {"instances": [{**self.transaction, "event_id": event_id} for event_id in ids]}
                try:
                    response = http.post(self.url, json=body)
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))
                    continue
                version = response.json().get("model_version", "") if response.status_code == 200 else ""
                self.answers.append((response.status_code, version))
                if response.status_code == 200:
                    scores = [float(score) for score in response.json()["predictions"]]
                    self.rows += [(e, s, version) for e, s in zip(ids, scores, strict=True)]


def test_a_canary_whose_answers_prove_better_is_promoted_by_the_monitor_under_load(
    serving: PlatformUnderTest, client: Any, gated_version: str, champion_kept: str, transaction: dict[str, Any]
) -> None:
    """The real loop end to end: a challenger at half the requests through the platform's transformer, labels
    posted back through POST /v1/labels, one `monitor run`. The labels make the challenger's answers right and the
    champion's wrong (the same model scores both arms, so only the labels tell them apart): its log loss is
    lower, the sequential test promotes it, the monitor moves it (recorded), the predictor swaps, and no request
    of the thousands sent meanwhile fails."""
    from pipelines.registry.model_moves import recorded_moves

    url = server_url(serving, "transformer") + V1_PATH
    saved = dict(serving.env)
    try:
        _move(serving, "challenger", gated_version, "--share", "0.5", "--reason", "test: canary under load")
        with LabelledSender(url, transaction, serving.headers("score"), f"canary-{time.time_ns()}") as sender:
            deadline = time.monotonic() + 60
            while (
                time.monotonic() < deadline
                and min(sum(v == version for _, _, v in sender.rows) for version in (champion_kept, gated_version))
                < 100
            ):
                time.sleep(0.2)
            time.sleep(3)  # one flush of the prediction log: the label route knows the events it has logged
            answered = list(sender.rows)
            labels = [
                {"event_id": e, "is_fraud": int(s >= 0.5) if v == gated_version else int(s < 0.5)}
                for e, s, v in answered
            ]
            statuses = [
                httpx.post(server_url(serving, "transformer") + "/v1/labels", json={"labels": labels[i : i + 500]},
                           headers=serving.headers("label"), timeout=120).status_code
                for i in range(0, len(labels), 500)
            ]  # fmt: skip
            assert set(statuses) == {200}, statuses
            serving.env.update({"DRIFTLOOP_CANARY_MIN_ROWS": "50", "DRIFTLOOP_DRIFT_MIN_ROWS": "1000000"})
            check = serving.run("monitor", "run", "--json")
            assert check.returncode == 0, check.stdout + check.stderr
            sender.wait_for(gated_version)
    finally:
        serving.env.clear()
        serving.env.update(saved)
        if "challenger" in client.get_registered_model(MODEL).aliases:
            client.delete_registered_model_alias(MODEL, "challenger")
    assert sender.errors == [] and {status for status, _ in sender.answers} == {200}
    outcome = json.loads(check.stdout)
    canary = outcome["canary"]
    verdict = canary["verdict"]
    assert (canary["champion"], canary["challenger"], verdict["decision"]) == (champion_kept, gated_version, "promote")
    assert verdict["challenger"]["rows"] >= 50 and verdict["champion"]["rows"] >= 50
    assert verdict["challenger"]["mean"] < verdict["champion"]["mean"] and verdict["p_value"] <= 0.05
    assert canary["moved"] == f"promote v{gated_version}, clear-challenger" and not canary["move_error"]
    assert outcome["action"] != "trigger"
    model = client.get_registered_model(MODEL)
    assert str(model.aliases["champion"]) == gated_version and "challenger" not in model.aliases
    moves = recorded_moves(client, MODEL, last=3)
    assert [(m.action, m.to_version, m.who) for m in moves[:2]] == [
        ("clear-challenger", "", "driftloop-pipeline"),
        ("promote", gated_version, "driftloop-pipeline"),
    ]
    assert moves[1].why.startswith("canary promote: challenger's loss lower")
    recorded = (serving.state_dir / "monitor" / "canary.jsonl").read_text().splitlines()
    assert json.loads(recorded[-1])["verdict"]["decision"] == "promote"
