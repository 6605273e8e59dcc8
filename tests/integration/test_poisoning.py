"""Poisoning the loop, over HTTP, with valid credentials (an insider, or a leaked token), and without.

A platform of its own (the attacks rewrite its labels): v1 from a clean landing; a clean retrain still
promotes; then, each followed by a retraining run that must not promote and must name the label-mix guard:
2,000 fabricated transactions with coin-flip labels, 20% of the historical labels flipped, then all of them;
and with the label-mix guard turned off, the frozen evaluation set refuses the flipped world on its own.
Without a credential none of it lands."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.integration.conftest import MODEL, run_id_of
from tests.integration.local_platform import PlatformUnderTest, free_ports, isolated_env, server_url
from use_cases.fraud import USE_CASE as FRAUD

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformUnderTest, pd.DataFrame, Any]]:
    """A platform serving v1, trained on a clean landing; its labels, as landed."""
    from pipelines.data.raw_data import write_raw_data
    from use_cases.fraud.generator import FraudConfig, generate

    state = tmp_path_factory.mktemp("poisoned") / "state"
    platform = PlatformUnderTest(state, isolated_env(state, free_ports()))
    platform.env["DRIFTLOOP_DRIFT_CHECK_INTERVAL_S"] = "3600"  # no drift-triggered run gets in the way
    platform.env["DRIFTLOOP_MODEL_POLL_INTERVAL_S"] = "0.5"
    try:
        assert platform.run("local", "up").returncode == 0
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        config = FraudConfig(seed=11, days=21, size=400, merchants=60, end=end)
        events, labels = generate(config)
        paths = write_raw_data(events, labels, state / "data" / "raw", config)
        for kind in ("events", "labels"):
            assert platform.run("data", "ingest", kind, str(paths[kind])).returncode == 0
        code, output = retrain(platform)
        assert code == 0, output
        client = platform.registry()
        assert client.get_model_version_by_alias(MODEL, "champion").version == "1"
        yield platform, labels, client
    finally:
        platform.run("local", "down")


def retrain(platform: PlatformUnderTest, **env: str) -> tuple[int, str]:
    saved = dict(platform.env)
    platform.env.update(env)
    try:
        result = platform.run("pipeline", "run", "training", "--trigger", "test:poisoning", timeout=600)
    finally:
        platform.env = saved
    return result.returncode, result.stdout + result.stderr


def decision_of(client: Any, output: str) -> tuple[str, str]:
    tags = client.get_run(run_id_of(output)).data.tags
    return tags["gate_decision"], tags["gate_reason"]


def post_labels(platform: PlatformUnderTest, labels: list[dict[str, Any]], headers: dict[str, str]) -> list[int]:
    url = server_url(platform, "transformer") + "/v1/labels"
    return [
        httpx.post(url, json={"labels": labels[start : start + 10_000]}, headers=headers, timeout=120).status_code
        for start in range(0, len(labels), 10_000)
    ]


def test_1_a_clean_retrain_still_promotes(attacked: tuple[PlatformUnderTest, pd.DataFrame, Any]) -> None:
    """The same data and seed give the same model: with the operator's margin set just below zero, the guard
    lets it through and it promotes."""
    platform, _, client = attacked
    code, output = retrain(platform, DRIFTLOOP_GATE_MARGIN="-0.001")
    assert code == 0, output
    decision, reason = decision_of(client, output)
    assert (decision, "held" in reason) == ("promote", False), reason
    assert client.get_model_version_by_alias(MODEL, "champion").version == "2"
    # The same model twice: an improvement of exactly 0 on every resample, above the margin of -0.001.
    evidence = client.get_model_version(MODEL, "2").tags
    assert (evidence["gate.evidence_metric"], evidence["gate.improvement_ci"]) == (
        "precision_at_budget",
        "[+0.0000, +0.0000]",
    ), reason
    assert int(evidence["gate.evidence_positives"]) >= 10
    frozen = {client.get_model_version(MODEL, v).tags["evaluation_set"] for v in ("1", "2")}
    assert len(frozen) == 1 and len(frozen.pop()) == 64, "both judged on the set the first run froze"


def test_1b_an_operator_refreshes_the_frozen_evaluation_set(
    attacked: tuple[PlatformUnderTest, pd.DataFrame, Any],
) -> None:
    import json

    platform, _, client = attacked
    before = json.loads((platform.state_dir / "evaluation" / "current.json").read_text())
    result = platform.run("data", "freeze-evaluation-set", "--days", "6")
    assert result.returncode == 0, result.stderr
    after = json.loads((platform.state_dir / "evaluation" / "current.json").read_text())
    assert after["fingerprint"] != before["fingerprint"] and after["source"].startswith("operator: events")
    assert f"evaluation set {after['fingerprint'][:12]} frozen: {after['rows']} rows" in result.stdout
    assert (platform.state_dir / "evaluation" / before["file"]).exists(), "an earlier set is kept, not rewritten"


def test_2_without_a_credential_nothing_lands(attacked: tuple[PlatformUnderTest, pd.DataFrame, Any]) -> None:
    from pipelines.data.event_store import EventStore

    platform, labels, _ = attacked
    store = EventStore(platform.state_dir / "events", platform.state_dir / "predictions", FRAUD)
    before = len(store.label_records())
    flipped = [
        {"event_id": e, "is_fraud": 1 - int(f)} for e, f in zip(labels["event_id"], labels["is_fraud"], strict=True)
    ]
    assert set(post_labels(platform, flipped, {})) == {401}
    body = {"instances": [{"customer_id": 1, "merchant_id": 1, "amount": 5.0, "channel": "online"}]}
    assert httpx.post(server_url(platform, "transformer") + V1_PATH, json=body).status_code == 401
    assert len(store.label_records()) == before


def test_3_fabricated_transactions_with_coin_flip_labels_are_held(
    attacked: tuple[PlatformUnderTest, pd.DataFrame, Any],
) -> None:
    platform, _, client = attacked
    rng = random.Random(5)
    fabricated = [{"customer_id": rng.randrange(400), "merchant_id": rng.randrange(60),
                   "amount": round(rng.uniform(5, 500), 2), "channel": rng.choice(["online", "in_store"]),
                   "event_id": f"fake-{index:05d}"} for index in range(2000)]  # fmt: skip
    url = server_url(platform, "transformer") + V1_PATH
    for start in range(0, len(fabricated), 500):
        batch = {"instances": fabricated[start : start + 500]}
        assert httpx.post(url, json=batch, headers=platform.headers("score"), timeout=60).status_code == 200
    coin_flips = [{"event_id": row["event_id"], "is_fraud": rng.randrange(2)} for row in fabricated]
    assert post_labels(platform, coin_flips, platform.headers("label")) == [200]
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    code, output = retrain(platform)
    assert code == 0, output
    decision, reason = decision_of(client, output)
    assert decision == "reject" and reason.startswith("held: label mix") and "http labels" in reason, reason
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion


@pytest.mark.parametrize("share", [0.2, 1.0])
def test_4_flipped_historical_labels_are_held(
    attacked: tuple[PlatformUnderTest, pd.DataFrame, Any], share: float
) -> None:
    platform, labels, client = attacked
    flipped = labels.sample(frac=share, random_state=3)
    items = [
        {"event_id": e, "is_fraud": 1 - int(f)} for e, f in zip(flipped["event_id"], flipped["is_fraud"], strict=True)
    ]
    assert set(post_labels(platform, items, platform.headers("label"))) == {200}
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    code, output = retrain(platform)
    assert code == 0, output
    decision, reason = decision_of(client, output)
    assert decision == "reject" and reason.startswith("held: label mix"), reason
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion


def test_5_with_the_label_mix_guard_off_the_frozen_set_still_refuses(
    attacked: tuple[PlatformUnderTest, pd.DataFrame, Any],
) -> None:
    """Defence in depth: the labels are flipped (test 4); judged on labels no endpoint can write, the
    candidate is far worse than the champion."""
    platform, _, client = attacked
    code, output = retrain(platform, DRIFTLOOP_GATE_LABEL_SHIFT_RATIO="1000")
    assert code == 0, output
    decision, reason = decision_of(client, output)
    assert decision == "reject" and reason.startswith("frozen evaluation set "), reason


def test_6_every_refusal_is_listed_with_its_reason_and_nothing_reached_the_registry(
    attacked: tuple[PlatformUnderTest, pd.DataFrame, Any],
) -> None:
    import json

    platform, _, client = attacked
    versions = {v.version for v in client.search_model_versions(f"name='{MODEL}'")}
    assert versions == {"1", "2"}, "a held run registered a version"
    status = platform.run("monitor", "status", "--json")
    assert status.returncode == 0, status.stderr
    gates = json.loads(status.stdout)["gate_decisions"]
    assert [g["decision"] for g in gates] == ["reject", "reject", "reject", "reject", "promote", "promote"]
    assert gates[0]["reason"].startswith("frozen evaluation set")
    assert all(g["reason"].startswith("held: label mix") for g in gates[1:4])
    assert [g["registered_version"] for g in gates[4:]] == ["2", "1"]
    assert gates[4]["evidence"]["metric"] == "precision_at_budget"
    assert gates[5]["evidence"] is None, "v1 was judged without a champion"
    text = platform.run("monitor", "status").stdout
    assert "training runs (gate decisions, newest first):" in text and "reject: held: label mix" in text
    assert "    evidence: precision_at_budget +0.0000 [90% CI +0.0000, +0.0000] over " in text
