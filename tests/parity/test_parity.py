"""The chart's own containers, executed here against real PostgreSQL, Redis, Prometheus and the Pushgateway
(tests/parity/conftest.py brings it up once). What only a real cluster shows is listed in docs/cluster.md."""

from __future__ import annotations

from typing import Any

import pytest

from monitoring.policy import NO_TRIGGER, TRIGGER
from tests.parity.bring_up import ParityRun, http_json
from tests.parity.checks import get_json, load_dashboard, panels_without_data, psql, unknown_settings

pytestmark = pytest.mark.parity


def test_every_driftloop_variable_in_the_chart_is_a_setting(parity: ParityRun) -> None:
    assert unknown_settings(parity.chart) == []


def test_mlflow_keeps_runs_and_the_registry_in_postgresql(parity: ParityRun) -> None:
    model = parity.settings_env["DRIFTLOOP_MODEL_NAME"]
    versions = psql(parity.pods, "mlflow", f"select version from model_versions where name = '{model}'")
    aliases = dict(
        psql(parity.pods, "mlflow", f"select alias, version from registered_model_aliases where name = '{model}'")
    )
    assert versions, "no model version in PostgreSQL's MLflow database"
    assert aliases.get("champion") in {row[0] for row in versions}
    runs = psql(parity.pods, "mlflow", "select run_uuid, artifact_uri from runs where status = 'FINISHED'")
    assert runs, "no finished run in PostgreSQL"


def test_mlflow_artifacts_were_uploaded_through_the_server(parity: ParityRun) -> None:
    """`--serve-artifacts`: runs record mlflow-artifacts:/ URIs and the files land on the server's volume only."""
    runs = psql(parity.pods, "mlflow", "select artifact_uri from runs")
    assert runs and all(uri.startswith("mlflow-artifacts:/") for (uri,) in runs), runs
    mlflow = parity.chart.container("Deployment/driftloop-mlflow", "mlflow")
    artifacts = parity.table.mount_dirs(mlflow)["/var/lib/mlflow"]
    assert list(artifacts.rglob("MLmodel")), f"no model artifact under the server's volume {artifacts}"
    state = parity.table.root / "volumes" / "driftloop-state"
    assert not list(state.rglob("MLmodel")), "a client wrote a model onto the shared state volume"


def test_feast_registry_is_in_postgresql_and_online_values_in_redis(parity: ParityRun) -> None:
    import redis

    tables = {
        name for (name,) in psql(parity.pods, "feast", "select tablename from pg_tables where schemaname = 'public'")
    }
    assert "feature_views" in tables, tables
    assert psql(parity.pods, "feast", "select count(*) from feature_views")[0][0] != "0"
    host, port = parity.table.address("driftloop-redis", 6379).split(":")
    with pytest.raises(redis.AuthenticationError):  # no password: nothing (the image's default is none)
        redis.Redis(host=host, port=int(port)).dbsize()
    password = parity.chart.secret("driftloop-postgres")["redis-password"]
    keys = redis.Redis(host=host, port=int(port), password=password).dbsize()
    assert keys > 100, f"Redis holds {keys} keys"


def test_the_answers_were_published_to_the_streams_own_redis_behind_its_own_password(parity: ParityRun) -> None:
    """The predictor publishes every answer to the stream (stream-redis.yaml): the parity traffic is there, and
    neither no password nor the online store's opens it."""
    import redis

    host, port = parity.table.address("driftloop-stream-redis", 6379).split(":")
    passwords = parity.chart.secret("driftloop-postgres")
    for wrong in (None, passwords["redis-password"]):
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=host, port=int(port), password=wrong).dbsize()
    keys = redis.Redis(host=host, port=int(port), password=passwords["stream-password"]).dbsize()
    assert keys > 0, "the stream's Redis holds nothing of the parity traffic"


def test_the_endpoint_answers_with_the_registered_champion(parity: ParityRun) -> None:
    """The traffic was answered by the first version; after the retraining moved `champion`, the predictor
    (polling the registry at the chart's interval) answers with the new one."""
    import time

    model = parity.settings_env["DRIFTLOOP_MODEL_NAME"]
    sql = f"select version from model_versions where name = '{model}' order by creation_time"
    first = psql(parity.pods, "mlflow", sql)[0][0]
    assert {answer["model_version"] for answer in parity.answers} == {first}
    aliases = f"select alias, version from registered_model_aliases where name = '{model}'"
    champion = dict(psql(parity.pods, "mlflow", aliases))["champion"]
    endpoint = f"{parity.url('driftloop-inference', 8080)}/v1/models/{model}:predict"
    request = {"instances": [{"customer_id": 3, "merchant_id": 5, "amount": 20.0, "channel": "online"}]}
    deadline = time.monotonic() + 60
    while True:
        status, answer = http_json(endpoint, request, token=parity.token("score"))
        if (status == 200 and answer["model_version"] == champion) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (status, answer.get("model_version")) == (200, champion)


def test_the_training_run_went_through_the_kfp_api_with_the_tasks_config(parity: ParityRun) -> None:
    assert parity.kfp is not None
    first = parity.kfp.runs["run-1"]
    assert first["state"] == "SUCCEEDED" and first["runtime_config"]["parameters"]["trigger"] == "parity"


def test_the_drift_job_recorded_a_decision_and_pushed_its_metrics(parity: ParityRun) -> None:
    log = parity.job_logs["CronJob/driftloop-drift/drift"]
    decision = _last_json(log)
    assert decision["action"] in {TRIGGER, NO_TRIGGER} and decision["rows"] > 0, decision
    metrics = _text(f"{parity.url('driftloop-pushgateway', 9091)}/metrics")
    for name in ("driftloop_drift_share", "driftloop_drift_last_run_timestamp_seconds",
                 "driftloop_feature_watermark_timestamp_seconds", "driftloop_realised_quality"):  # fmt: skip
        assert f"\n{name}{{" in metrics, f"{name} was not pushed"


def test_prometheus_loaded_the_charts_rules_and_scrapes_every_target(parity: ParityRun) -> None:
    import yaml

    prometheus = parity.url("driftloop-prometheus", 9090)
    groups = get_json(f"{prometheus}/api/v1/rules")["data"]["groups"]
    rules_file = yaml.safe_load(parity.chart.config_map("driftloop-prometheus")["rules.yaml"])
    expected = {rule.get("alert") or rule.get("record") for group in rules_file["groups"] for rule in group["rules"]}
    assert {rule["name"] for group in groups for rule in group["rules"]} == expected
    assert _wait(lambda: _targets_not_up(prometheus)) == {}, "targets not up"


def test_every_grafana_panel_query_returns_data(parity: ParityRun) -> None:
    assert panels_without_data(parity.url("driftloop-prometheus", 9090), load_dashboard()) == {}


def test_the_alert_rules_evaluate_without_error(parity: ParityRun) -> None:
    prometheus = parity.url("driftloop-prometheus", 9090)

    def not_ok() -> dict[str, str]:
        groups = get_json(f"{prometheus}/api/v1/rules")["data"]["groups"]
        return {
            rule["name"]: rule.get("lastError") or rule["health"]
            for g in groups
            for rule in g["rules"]
            if rule["health"] != "ok"
        }

    assert _wait(not_ok) == {}, "rules not evaluated without error"


def _targets_not_up(prometheus: str) -> dict[str, str]:
    active = get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
    return {t["scrapeUrl"]: t.get("lastError") or t["health"] for t in active if t["health"] != "up"}


def _wait(check: Any, timeout: float = 60) -> Any:
    """Poll `check` until it returns something empty (nothing left to wait for) or the time is up."""
    import time

    deadline = time.monotonic() + timeout
    result = check()
    while result and time.monotonic() < deadline:
        time.sleep(1)
        result = check()
    return result


def _text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as reply:
        return "\n" + reply.read().decode()


def _last_json(log: str) -> dict[str, Any]:
    """The JSON document `--json` printed last (indented, so it starts on a line of its own)."""
    import json

    start = log.rfind("\n{")
    assert start >= 0, f"no JSON in the job's output:\n{log[-2000:]}"
    return dict(json.loads(log[start:]))


def test_a_drift_trigger_retrains_through_the_kfp_api(parity: ParityRun) -> None:
    """The drift CronJob's command submitted the compiled IR to the KFP API; the run read the event store
    (served traffic included) and recorded its trigger in MLflow."""
    assert parity.kfp is not None
    decision = _last_json(parity.job_logs["CronJob/driftloop-drift/drift"])
    if decision["action"] != TRIGGER:
        pytest.fail(f"the drift check did not trigger on the parity traffic: {decision}")
    retraining = parity.kfp.runs[decision["retraining_run"].removeprefix("kfp:")]
    assert retraining["state"] == "SUCCEEDED", retraining.get("error")
    trigger = retraining["runtime_config"]["parameters"]["trigger"]
    assert trigger.startswith("drift:")
    tags = psql(parity.pods, "mlflow", "select value from tags where key = 'trigger'")
    assert [trigger] in tags, tags
    # The retraining searched its hyperparameters in the task's environment (a Ray started by the task, as
    # the image's uid), not fell back to the fixed configuration.
    fallback = psql(parity.pods, "mlflow", "select value from tags where key = 'search.fallback'")
    assert fallback == [], fallback
    trials = psql(parity.pods, "mlflow", "select value from tags where key = 'search.trials'")
    assert trials and "trials:" in trials[0][0], trials


def test_every_workload_of_the_chart_ran_or_is_listed_with_its_reason(parity: ParityRun) -> None:
    from tests.parity.bring_up import BACKENDS, CRONJOBS, NOT_RUN, SERVERS, hook_jobs

    isvc = parity.chart.inference_service
    hooks = hook_jobs(parity.chart)
    assert hooks == ["Job/driftloop-database-roles", "Job/driftloop-feast-apply"], "the roles before feast apply"
    covered = {*BACKENDS, *SERVERS, *hooks, *CRONJOBS, *NOT_RUN}
    covered |= {f"InferenceService/{isvc}/{part}" for part in parity.chart.model_servers}
    assert {container.workload for container in parity.chart.containers()} == covered


def test_prometheus_sends_the_firing_drift_alert_to_alertmanager(parity: ParityRun) -> None:
    """The parity traffic drifted (the drift job triggered), so DriftloopDataDrift fires and reaches
    Alertmanager through the address in the rendered prometheus.yml."""
    prometheus = parity.url("driftloop-prometheus", 9090)
    alertmanager = parity.url("driftloop-alertmanager", 9093)
    active = get_json(f"{prometheus}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [target["url"] for target in active] == [f"{alertmanager}/api/v2/alerts"]

    def missing() -> bool:
        names = {alert["labels"]["alertname"] for alert in get_json(f"{alertmanager}/api/v2/alerts")}
        return "DriftloopDataDrift" not in names

    assert not _wait(missing), "the drift alert never reached Alertmanager"
