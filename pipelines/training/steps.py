"""The training pipeline's steps as plain functions: the KFP components call these and nothing else.

Every step logs into one MLflow run (created by the runner, or by the first step when a pipeline is
started without one), so the run holds the whole story: validation report, data fingerprint, params,
metrics, the model, the gate's decision and the registered version.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import pipelines
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.core.use_case import Skip, load_use_case
from pipelines.data.contract import validate_raw_data, write_report
from pipelines.data.event_store import VIA, event_store_for
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP
from pipelines.features.compute_engine import open_engine
from pipelines.features.refresh import refresh_features
from pipelines.features.training_set_build import training_set_from_snapshot
from pipelines.registry.lineage import code_version, frame_fingerprint
from pipelines.registry.model_moves import MAX_REASON_CHARS, set_challenger, set_champion
from pipelines.registry.models import (
    CALIBRATION_SAMPLE_PATH,
    current_champion,
    log_calibration_sample,
    log_model,
    log_onnx,
    register,
)
from pipelines.registry.names import SEARCH_TAG_PREFIX, RunTag, VersionTag, holdout_tag
from pipelines.registry.onnx_model import (
    PARITY_METRIC,
    export_model,
    onnx_lineage,
    open_session,
    parity_gap,
    runtime_versions,
)
from pipelines.registry.tracking import client_as, in_run, load_sklearn_version
from pipelines.registry.users import MlflowUser, act_as, acting_login
from pipelines.training.evaluation_set import current_set, freeze
from pipelines.training.evidence import Improvement, paired_improvement
from pipelines.training.evidence_record import from_run, run_record, version_tags
from pipelines.training.gate import PROMOTE, Candidate, EvidencePlan, GatePolicy, decide
from pipelines.training.label_mix import label_mix, mix_from_metrics, mix_metrics, shift_reason
from pipelines.training.search import SearchBudget
from pipelines.training.search_tracking import tracked_search
from pipelines.training.train import model_params, train_model

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

# The folder holding the `pipelines` package: a checkout of driftloop, or site-packages in the image.
REPO_DIR = Path(pipelines.__file__).resolve().parents[1]
REFERENCE_ROWS = 5000
REFERENCE_WINDOW = timedelta(days=7)  # the drift reference: the latest week of training rows


class DataContractError(DriftloopError):
    """The raw data broke its contract; the pipeline stops before anything is trained."""


class GateError(DriftloopError):
    """Registration was attempted without a passing gate decision."""


def _in_pipeline_run(settings: Settings, run_id: str) -> Any:
    """The run as MLflow's active run, logged to as the pipeline's MLflow user."""
    act_as(settings, MlflowUser.PIPELINE)
    return in_run(settings.tracking_uri, run_id)


def training_experiment_id(client: MlflowClient, settings: Settings) -> str:
    experiment = client.get_experiment_by_name(settings.mlflow_experiment)
    return str(experiment.experiment_id) if experiment else str(client.create_experiment(settings.mlflow_experiment))


def ensure_run(settings: Settings, run_id: str, pipeline_run_id: str, trigger: str) -> str:
    """The MLflow run of this pipeline run: the given one, or a new one in the training experiment."""
    client = client_as(settings, MlflowUser.PIPELINE)
    if not run_id:
        experiment_id = training_experiment_id(client, settings)
        run_id = client.create_run(experiment_id, run_name=f"training-{pipeline_run_id}").info.run_id
    client.set_tag(run_id, RunTag.PIPELINE_RUN_ID, pipeline_run_id)
    client.set_tag(run_id, RunTag.TRIGGER, trigger)
    return run_id


def window_bounds(window_days: int, window_end: str, now: datetime | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of a training window: `window_days` ending at `window_end` (ISO, UTC), or now when empty."""
    end = pd.Timestamp(window_end) if window_end else pd.Timestamp(now or datetime.now(UTC))
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return end - pd.Timedelta(days=window_days), end


def read_window(
    settings: Settings, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The window's events (landed and served), their labels as known at its end, and the labels' mix by channel
    (the gate's label-mix guard compares it with the champion's), from one read of the event store."""
    label = load_use_case(settings.use_case).label.name
    store = event_store_for(settings)
    events = store.events(start, end)
    labels = store.labels(known_at=end, extra=(VIA,))
    labels = labels[labels[EVENT_ID].isin(events[EVENT_ID])].reset_index(drop=True)
    return events, labels.drop(columns=[VIA]), mix_metrics(label_mix(labels, label))


def validate(
    settings: Settings,
    window_days: int,
    window_end: str,
    run_id: str,
    report_path: str,
    events_out: str,
    labels_out: str,
) -> str:
    """Read the training window from the event store, check the data contract and keep exactly what was read
    (the snapshot every later step uses). On a violation log the report and stop. Returns the fingerprint."""
    start, end = window_bounds(window_days, window_end)
    events, labels, mix = read_window(settings, start, end)
    use_case, max_age = load_use_case(settings.use_case), timedelta(hours=settings.data_max_age_hours)
    report = validate_raw_data(events, labels, use_case, as_of=end.to_pydatetime(), max_event_age=max_age)
    write_report(report, Path(report_path))
    with _in_pipeline_run(settings, run_id) as run:
        import mlflow

        mlflow.log_artifact(report_path, artifact_path="validation")
        mlflow.set_tag(RunTag.VALIDATION, "passed" if report.passed else "failed")
        mlflow.log_params(
            {"window_start": start.isoformat(), "window_end": end.isoformat(), "window_days": window_days}
        )
        if events.empty:
            mlflow.set_tag(RunTag.VALIDATION_FAILURES, "events.window.empty")
            raise DataContractError(f"the event store holds no events in [{start}, {end}): land some first")
        if not report.passed:
            mlflow.set_tag(RunTag.VALIDATION_FAILURES, ", ".join(c.name for c in report.failures))
            raise DataContractError(f"data contract violated (run {run.info.run_id}):\n{report.summary()}")
        fingerprint = frame_fingerprint(events, labels)
        mlflow.set_tag(RunTag.DATA_FINGERPRINT, fingerprint)
        mlflow.log_metrics({"raw_events": len(events), "raw_labels": len(labels)})
        mlflow.log_metrics(mix)
    events.to_parquet(events_out, index=False)
    labels.to_parquet(labels_out, index=False)
    return fingerprint


def compute_features(settings: Settings, run_id: str) -> None:
    """Bring the offline feature tables and the online store up to the current hour (the refresh job)."""
    outcome = refresh_features(settings)
    with _in_pipeline_run(settings, run_id):
        import mlflow

        mlflow.log_metrics({f"feature_rows_{table}": rows for table, rows in outcome.rows_written.items()})
        mlflow.set_tag(RunTag.FEATURES_AS_OF, outcome.watermark or "")


def build_training_set(
    settings: Settings, events_path: str, labels_path: str, run_id: str, label_maturity_days: int, out_path: str
) -> None:
    """The window's labelled transactions joined point-in-time to their features, written as parquet (on the
    engine the settings choose)."""
    with open_engine(settings) as engine:
        training_set = training_set_from_snapshot(
            settings, Path(events_path), Path(labels_path), label_maturity_days, engine
        )
    training_set.to_parquet(out_path, index=False)
    with _in_pipeline_run(settings, run_id):
        import mlflow

        mlflow.log_params({"label_maturity_days": label_maturity_days, "feature_engine": settings.feature_engine})
        mlflow.log_metric("training_set_rows", len(training_set))


def train(
    settings: Settings,
    training_set_path: str,
    run_id: str,
    seed: int,
    params_json: str,
    holdout_days: int,
    shuffle_labels: bool,
    model_path: str,
    search_trials: int = 0,
    search_seconds: float = 0.0,
) -> str:
    """Fit on everything before the holdout (with `search_trials`, the configuration a search chose on the last
    days of it); log the model and its drift reference. Returns the model URI."""
    import joblib

    from pipelines.training.evaluate import split_by_time  # lazy: pulls sklearn

    use_case = load_use_case(settings.use_case)
    model_input, spec, score = use_case.model_input, use_case.model.onnx, use_case.model.score
    train_rows, holdout = split_by_time(pd.read_parquet(training_set_path), holdout_days)
    pinned = json.loads(params_json or "{}")
    if search_trials > 0 and not shuffle_labels:  # a shuffled-label run is meant to be useless: nothing to search
        budget = SearchBudget(search_trials, search_seconds or settings.search_seconds, settings.search_concurrency)
        pinned = {**pinned, **tracked_search(settings, run_id, train_rows, use_case, budget, seed, pinned)}
    params = model_params(use_case, json.dumps(pinned))
    model = train_model(train_rows, use_case, params, seed, shuffle_labels=shuffle_labels)
    joblib.dump(model, model_path)
    onnx_bytes = export_model(model, spec, model_input)
    parity = parity_gap(score, model, open_session(onnx_bytes, threads=1), holdout, spec, model_input)
    # The drift reference: the latest week of training rows, the closest to what serving sees next.
    recent = train_rows[train_rows[EVENT_TIMESTAMP] >= train_rows[EVENT_TIMESTAMP].max() - REFERENCE_WINDOW]
    reference = recent.sample(n=min(REFERENCE_ROWS, len(recent)), random_state=seed)
    # As serving sees it: a missing feature value is the documented default, so drift compares like with like.
    default = use_case.model.feature_default
    reference = reference[list(model_input.columns)].fillna({c: default for c in model_input.feature_columns})
    reference = reference.assign(prediction=score(model, reference))
    with _in_pipeline_run(settings, run_id):
        import mlflow

        mlflow.log_params({
            "seed": seed, "holdout_days": holdout_days, "shuffle_labels": shuffle_labels,
            "search_trials": search_trials,
        })  # fmt: skip
        mlflow.log_params(params.as_dict())
        mlflow.log_metric("train_rows", len(train_rows))
        mlflow.log_metric(PARITY_METRIC, parity)
        if parity > spec.parity_tolerance:
            raise DriftloopError(
                f"the ONNX export differs from the model by up to {parity:.2e} on the holdout "
                f"(tolerance {spec.parity_tolerance:.0e}); nothing is registered"
            )
        example = train_rows[list(model_input.columns)].head(50)
        model_uri = log_model(model, example, reference.reset_index(drop=True), use_case.model.pyfunc_predict_fn)
        log_onnx(onnx_bytes)
        if use_case.label.kind == "binary":
            log_calibration_sample(holdout[use_case.label.name].to_numpy(), score(model, holdout))
        mlflow.set_tags({"model_uri": model_uri, **runtime_versions()})
    return model_uri


def evaluate(
    settings: Settings, training_set_path: str, model_path: str, run_id: str, holdout_days: int
) -> tuple[float, float, str]:
    """Score the candidate and the current champion on the same holdout with the use case's metrics, and measure
    the candidate's improvement on the gate's evidence metric (a paired bootstrap over the same rows).

    Returns (candidate's primary metric, champion's, champion version); the version is "" with no champion.
    """
    import joblib
    import mlflow

    from pipelines.training.evaluate import split_by_time  # lazy: pulls sklearn

    use_case = load_use_case(settings.use_case)
    judge, score, primary = use_case.metric.compute, use_case.model.score, use_case.metric.primary
    _, holdout = split_by_time(pd.read_parquet(training_set_path), holdout_days)
    labels = holdout[use_case.label.name].to_numpy()
    candidate_model = joblib.load(model_path)
    candidate_scores = score(candidate_model, holdout)
    candidate = judge(labels, candidate_scores)
    client = client_as(settings, MlflowUser.PIPELINE)
    champion_version = current_champion(client, settings.model_name)
    champion: dict[str, float] = {}
    champion_model, improvement = None, None
    if champion_version is not None:
        champion_model = load_sklearn_version(client, settings.model_name, champion_version.version)
        champion_scores = score(champion_model, holdout)
        champion = judge(labels, champion_scores)
        seed = int(client.get_run(run_id).data.params.get("seed", settings.seed))
        improvement = measure_improvement(settings, holdout, labels, candidate_scores, champion_scores, seed)
    if champion_version is None:  # the platform's first model: its holdout becomes the frozen set, once
        freeze(settings, holdout, f"the holdout of the first run {run_id}", replace=False, label=use_case.label)
    frozen_metrics, evaluation_set = frozen_set_metrics(settings, candidate_model, champion_model)
    with _in_pipeline_run(settings, run_id):
        mlflow.log_metrics({f"holdout_{name}": value for name, value in candidate.items()})
        mlflow.log_metrics({f"champion_holdout_{name}": value for name, value in champion.items()})
        mlflow.log_metrics(frozen_metrics)
        if improvement is not None:
            metrics, tags = run_record(improvement)
            mlflow.log_metrics(metrics)
            mlflow.set_tags(tags)
        if evaluation_set:
            mlflow.set_tag(RunTag.EVALUATION_SET, evaluation_set)
        if champion_version is not None:
            mlflow.set_tag(RunTag.CHAMPION_AT_EVALUATION, champion_version.version)
    return (
        candidate[primary],
        champion.get(primary, float("nan")),
        champion_version.version if champion_version else "",
    )


def measure_improvement(
    settings: Settings, holdout: pd.DataFrame, labels: Any, candidate_scores: Any, champion_scores: Any, seed: int
) -> Improvement:
    """The candidate's improvement over the champion on the evidence metric, days being the holdout's UTC
    calendar days (precision at budget spends each day's alerts on that day's rows)."""
    plan = EvidencePlan.of(load_use_case(settings.use_case), settings)
    days = pd.to_datetime(holdout[EVENT_TIMESTAMP], utc=True).dt.floor("D").to_numpy()
    improvement = paired_improvement(
        labels,
        candidate_scores,
        champion_scores,
        days,
        plan.metric,
        budget=plan.budget,
        higher_is_better=plan.higher_is_better,
        resamples=plan.resamples,
        confidence=plan.confidence,
        seed=seed,
    )
    logger.info("evidence: %s", improvement)
    return improvement


def frozen_set_metrics(settings: Settings, candidate: Any, champion: Any | None) -> tuple[dict[str, float], str]:
    """Candidate (and champion) scored on the frozen evaluation set, and the set's fingerprint ("" before one
    was frozen)."""
    frozen = current_set(settings)
    if frozen is None:
        return {}, ""
    use_case = load_use_case(settings.use_case)
    judge, score = use_case.metric.compute, use_case.model.score
    record, rows = frozen
    truth = rows[use_case.label.name].to_numpy()
    metrics = {f"frozen_{k}": v for k, v in judge(truth, score(candidate, rows)).items()}
    if champion is not None:
        metrics |= {f"champion_frozen_{k}": v for k, v in judge(truth, score(champion, rows)).items()}
    return metrics, record.fingerprint


def gate(settings: Settings, run_id: str, candidate_score: float, champion_score: float, champion_version: str) -> str:
    """Decide promote or reject with the use case's thresholds and the settings' overrides (never a run's
    parameters), and record the decision and its reason on the run. The label mix of this run's window is held
    against the champion's."""
    from dataclasses import replace

    use_case = load_use_case(settings.use_case)
    guard = use_case.gate.label_guard
    if settings.gate_label_shift_ratio is not None and not isinstance(guard, Skip):
        guard = replace(guard, max_ratio=settings.gate_label_shift_ratio)

    client = client_as(settings, MlflowUser.PIPELINE)
    run = client.get_run(run_id)
    metrics, params = run.data.metrics, run.data.params
    shift = None
    window = mix_from_metrics(metrics)
    if champion_version and window is not None and not isinstance(guard, Skip):
        champion_run_id = client.get_model_version(settings.model_name, champion_version).run_id
        reference = mix_from_metrics(client.get_run(champion_run_id).data.metrics) if champion_run_id else None
        if reference is not None:
            shift = shift_reason(window, reference, guard, use_case.label)
    holdout_rows = int(metrics.get("holdout_rows", 0))
    primary = use_case.metric.primary
    candidate = Candidate(
        score=candidate_score,
        champion_score=champion_score if champion_version else None,
        holdout_rows=holdout_rows,
        holdout_positives=round(holdout_rows * metrics.get("holdout_positive_rate", 0.0)),
        shuffled_labels=params.get("shuffle_labels") == "True",
        label_shift=shift,
        frozen_score=metrics.get(f"frozen_{primary}"),
        champion_frozen_score=metrics.get(f"champion_frozen_{primary}"),
        evaluation_set=run.data.tags.get(RunTag.EVALUATION_SET, ""),
        improvement=from_run(metrics, run.data.tags) if champion_version else None,
    )
    policy = GatePolicy.of(use_case, settings)
    decision = decide(candidate, policy)
    with _in_pipeline_run(settings, run_id):
        import mlflow

        mlflow.set_tags({
            RunTag.GATE_DECISION: decision.decision, RunTag.GATE_REASON: decision.reason,
            RunTag.GATE_CHECK: decision.check,
        })  # fmt: skip
        mlflow.log_params(
            {
                "gate_metric": policy.metric,
                "gate_floor": policy.floor,
                "gate_margin": policy.margin,
                "gate_min_holdout_rows": policy.min_holdout_rows,
                "gate_min_holdout_positives": str(policy.min_holdout_positives),
                "gate_label_guard": str(guard),
                "gate_frozen_tolerance": policy.frozen_tolerance,
            }
        )
    logger.info("gate: %s (%s)", decision.decision, decision.reason)
    return decision.decision


def register_and_promote(settings: Settings, run_id: str, model_uri: str, decision: str) -> str:
    """Register the candidate with its lineage and move `champion` to it (or `challenger`, at the canary share),
    only after a passing gate."""
    use_case = load_use_case(settings.use_case)
    client = client_as(settings, MlflowUser.PIPELINE)
    run = client.get_run(run_id)
    if decision != PROMOTE or run.data.tags.get(RunTag.GATE_DECISION) != PROMOTE:
        raise GateError(f"refusing to register: the gate decided {run.data.tags.get(RunTag.GATE_DECISION)!r}")
    code = code_version(REPO_DIR, fallback=settings.code_version)
    evidence = from_run(run.data.metrics, run.data.tags)
    tags: dict[str, Any] = {
        VersionTag.DATA_FINGERPRINT: run.data.tags[RunTag.DATA_FINGERPRINT],
        VersionTag.CODE_COMMIT: code.commit,
        VersionTag.CODE_DIRTY: code.dirty,
        VersionTag.PIPELINE_RUN_ID: run.data.tags.get(RunTag.PIPELINE_RUN_ID, ""),
        VersionTag.TRIGGER: run.data.tags.get(RunTag.TRIGGER, ""),
        VersionTag.SEED: run.data.params["seed"],
        VersionTag.PARAMS: json.dumps({k: v for k, v in sorted(run.data.params.items())}),
        VersionTag.FEATURE_VIEWS: ",".join(sorted(view.name for view in use_case.views)),
        VersionTag.GATE_REASON: run.data.tags[RunTag.GATE_REASON],
        VersionTag.EVALUATION_SET: run.data.tags.get(RunTag.EVALUATION_SET, ""),
        VersionTag.REFERENCE_SAMPLE: f"runs:/{run_id}/reference/reference_sample.parquet",
        **(
            {VersionTag.CALIBRATION_SAMPLE: f"runs:/{run_id}/{CALIBRATION_SAMPLE_PATH}"}
            if use_case.label.kind == "binary"
            else {}
        ),
        **(version_tags(evidence) if evidence else {}),
        **{key: value for key, value in run.data.tags.items() if key.startswith(SEARCH_TAG_PREFIX)},
        **onnx_lineage(
            run_id, run.data.metrics[PARITY_METRIC], {key: run.data.tags[key] for key in runtime_versions()}
        ),
        **{
            holdout_tag(name.removeprefix("holdout_")): round(value, 6)
            for name, value in run.data.metrics.items()
            if name.startswith("holdout_")
        },
    }
    description = use_case.description
    version = register(client, model_uri, settings.model_name, run_id, tags, description)
    # A recorded move, like an operator's: the champion it replaces stays the rollback target. With a canary
    # share, it answers that share as challenger first, and the monitor's sequential test decides
    # (monitoring/canary_check.py); the first version has nothing to be compared with and becomes champion.
    reason = f"the gate passed it: {run.data.tags[RunTag.GATE_REASON]}"[:MAX_REASON_CHARS]
    who = acting_login(settings, MlflowUser.PIPELINE)
    if settings.canary_share > 0 and current_champion(client, settings.model_name) is not None:
        set_challenger(client, settings.model_name, str(version.version), settings.canary_share, who, reason)
    else:
        set_champion(client, settings.model_name, str(version.version), who, reason)
    client.set_tag(run_id, RunTag.REGISTERED_VERSION, version.version)
    return str(version.version)
