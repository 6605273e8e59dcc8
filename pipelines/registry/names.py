"""The names driftloop writes into MLflow and every reader looks up: registry aliases, run tags, the gate's run
metrics and model version tags. One owner for each, so a writer and its readers cannot drift apart; StrEnum
members are the strings themselves, so they go straight into MLflow's API."""

from __future__ import annotations

from enum import StrEnum


class Alias(StrEnum):
    """Registry aliases: what serves is what they say (serving/model_slots.py), and only recorded moves change
    them (registry/model_moves.py)."""

    CHAMPION = "champion"  # answers traffic
    CHALLENGER = "challenger"  # answers ModelTag.CHALLENGER_SHARE of requests (a canary)
    SHADOW = "shadow"  # scores a copy of every request; its answers are only logged
    PREVIOUS_CHAMPION = "previous-champion"  # the champion a promotion replaced: what `model rollback` restores


class ModelTag(StrEnum):
    """Tags on the registered model itself."""

    CHALLENGER_SHARE = "challenger_share"  # share of requests the challenger answers, "0".."1"; absent = 0
    MOVE = "move"  # key prefix: `move.<UTC microseconds>.<nonce>` holds one recorded move as JSON


class RunTag(StrEnum):
    """Tags on a training run (the MLflow run a pipeline run logs into)."""

    RUNNER = "runner"
    TRIGGER = "trigger"
    PIPELINE_RUN_ID = "kfp.pipeline_run_id"
    VALIDATION = "validation"
    VALIDATION_FAILURES = "validation_failures"
    DATA_FINGERPRINT = "data_fingerprint"
    FEATURES_AS_OF = "features_as_of"
    CHAMPION_AT_EVALUATION = "champion_version_at_evaluation"
    GATE_DECISION = "gate_decision"
    GATE_REASON = "gate_reason"
    GATE_CHECK = "gate_check"  # which of the gate's checks decided (pipelines/training/gate.py)
    EVALUATION_SET = "evaluation_set"  # the frozen evaluation set's fingerprint (pipelines/training/evaluation_set.py)
    REGISTERED_VERSION = "registered_version"
    EVIDENCE_METRIC = "gate_evidence_metric"  # the metric the gate's evidence compares (pipelines/training/evidence.py)
    EVIDENCE_UNDEFINED = "gate_evidence_undefined"  # why the evidence has no interval (too few positives), if so


class RunMetric(StrEnum):
    """The gate's evidence on a training run: evaluate writes it, the gate, the registry and `monitor status` read
    it (the improvement is oriented so that positive means the candidate is better)."""

    CANDIDATE = "gate_evidence_candidate"  # the evidence metric on the holdout, the candidate's
    CHAMPION = "gate_evidence_champion"
    IMPROVEMENT = "gate_improvement_point"
    IMPROVEMENT_LOW = "gate_improvement_low"
    IMPROVEMENT_HIGH = "gate_improvement_high"
    CONFIDENCE = "gate_evidence_confidence"
    POSITIVES = "gate_evidence_positives"  # absent for a regression
    ROWS = "gate_evidence_rows"
    RESAMPLES = "gate_evidence_resamples"


class VersionTag(StrEnum):
    """Lineage tags on a registered model version (the ONNX ones live with the export, registry/onnx_model.py)."""

    MLFLOW_RUN_ID = "mlflow_run_id"
    DATA_FINGERPRINT = "data_fingerprint"
    CODE_COMMIT = "code_commit"
    CODE_DIRTY = "code_dirty"
    PIPELINE_RUN_ID = "pipeline_run_id"
    TRIGGER = "trigger"
    SEED = "seed"
    PARAMS = "params"
    FEATURE_VIEWS = "feature_views"
    GATE_REASON = "gate_reason"
    EVALUATION_SET = "evaluation_set"
    REFERENCE_SAMPLE = "reference_sample"
    CALIBRATION_SAMPLE = "calibration_sample"  # the holdout's scores and labels: estimated quality calibrates on it
    EVIDENCE_METRIC = "gate.evidence_metric"  # what the gate compared the version and the champion on
    IMPROVEMENT = "gate.improvement"  # the point difference, positive = this version better
    IMPROVEMENT_CI = "gate.improvement_ci"  # "[low, high]"
    EVIDENCE_CONFIDENCE = "gate.evidence_confidence"
    EVIDENCE_POSITIVES = "gate.evidence_positives"  # a classifier's; a regression's evidence counts rows
    # and `metric.holdout_<name>` for each holdout metric of the run (holdout_tag)


class SearchTag(StrEnum):
    """What a hyperparameter search records (pipelines/training/search.py): on the training run, copied to the
    version it registers (every `search.` tag), and on each trial's nested run."""

    ALGORITHM = "search.algorithm"
    SEED = "search.seed"
    SPACE = "search.space"  # the searched space as JSON (pipelines/core/search_space.py `describe`)
    BUDGET = "search.budget"  # {"trials", "seconds", "concurrency"} as JSON
    TRIALS = "search.trials"  # how the trials ended, e.g. "8 trials: 2 completed, 6 stopped early, 0 failed"
    VALIDATION = "search.validation"  # the split it chose on
    CHOSEN = "search.chosen"  # the searched parameters' chosen values as JSON
    BEST_TRIAL = "search.best_trial"  # the chosen trial's number and nested run
    SCORE = "search.validation_score"  # the chosen trial's validation score beside the fixed configuration's
    FALLBACK = "search.fallback"  # why a run asked to search trained the fixed configuration instead
    TRIAL = "search.trial"  # on a trial's nested run: its number (1 = the fixed configuration)
    TRIAL_STATUS = "search.trial_status"  # completed | stopped | failed


SEARCH_TAG_PREFIX = "search."
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own: nests a run under another in the UI


def holdout_tag(metric: str) -> str:
    """The version tag holding a holdout metric (each of the run's `holdout_<metric>` metrics is copied)."""
    return f"metric.holdout_{metric}"
