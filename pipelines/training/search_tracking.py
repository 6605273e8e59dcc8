"""The train step's search, tracked: every trial a nested MLflow run under the pipeline's run as it ends, one
progress line per trial in the step's log (the demo and `pipeline run` show it), and the search's seed, space,
budget and choice as `search.` tags on the run (the registered version copies them).
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

from pipelines.core.ray_runtime import ray_runtime
from pipelines.core.search_space import describe
from pipelines.core.settings import Settings
from pipelines.registry.names import PARENT_RUN_TAG, SearchTag
from pipelines.registry.tracking import client_as
from pipelines.registry.users import MlflowUser
from pipelines.training.search import (
    ALGORITHM,
    DONE_PREFIX,
    SearchBudget,
    SearchOutcome,
    SearchProgress,
    SearchUnavailable,
    TrialRecord,
    progress_line,
    search,
    searched_space,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from pipelines.core.use_case import UseCase

logger = logging.getLogger(__name__)

SEARCH_OBJECT_STORE_MIB = 256  # a local Ray for a search holds two frames of a few MB: a small store starts faster
MLFLOW_STATUS = {"completed": "FINISHED", "stopped": "FINISHED", "failed": "FAILED"}


class TrialLogger:
    """Logs each ending trial as a nested run of the pipeline's run, and its progress line."""

    def __init__(self, client: MlflowClient, parent_run_id: str, metric: str) -> None:
        self.client = client
        self.parent_run_id = parent_run_id
        self.experiment_id = client.get_run(parent_run_id).info.experiment_id
        self.metric = metric
        self.run_ids: dict[int, str] = {}

    def __call__(self, trial: TrialRecord, progress: SearchProgress) -> None:
        from mlflow.entities import Metric, Param

        started_ms = int(trial.started_at * 1000)
        run = self.client.create_run(
            self.experiment_id,
            start_time=started_ms,
            run_name=f"trial-{trial.number}",
            tags={PARENT_RUN_TAG: self.parent_run_id, SearchTag.TRIAL: str(trial.number),
                  SearchTag.TRIAL_STATUS: trial.status},
        )  # fmt: skip
        metric_name = f"validation_{self.metric}"
        metrics = [Metric(metric_name, score, started_ms, step) for step, score in enumerate(trial.scores, start=1)]
        metrics.append(Metric("trial_seconds", trial.seconds, started_ms, 0))
        metrics.append(Metric("best_stage", trial.best_stage, started_ms, 0))
        params = [Param(name, str(value)) for name, value in sorted(trial.params.items())]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params)
        if trial.error:
            self.client.set_tag(run.info.run_id, "search.trial_error", trial.error)
        end_ms = started_ms + int(trial.seconds * 1000)
        self.client.set_terminated(run.info.run_id, MLFLOW_STATUS[trial.status], end_time=end_ms)
        self.run_ids[trial.number] = run.info.run_id
        logger.info(progress_line(progress))


def outcome_tags(outcome: SearchOutcome, best_run_id: str, validation_days: int) -> dict[str, str]:
    """The `search.` tags of a search that chose."""
    ended = {status: sum(t.status == status for t in outcome.trials) for status in ("completed", "stopped", "failed")}
    fixed = next((t for t in outcome.trials if t.number == 1), None)
    fixed_score = f"{fixed.score:.4f}" if fixed and not math.isnan(fixed.score) else "n/a"
    return {
        SearchTag.TRIALS: f"{len(outcome.trials)} trials: {ended['completed']} completed, {ended['stopped']} stopped "
        f"early, {ended['failed']} failed, in {outcome.seconds:.1f} s",
        SearchTag.VALIDATION: f"the last {validation_days} days before the holdout: {outcome.validation_rows} rows "
        f"(fitted on {outcome.fit_rows})",
        SearchTag.CHOSEN: json.dumps(outcome.chosen, sort_keys=True),
        SearchTag.BEST_TRIAL: f"{outcome.best.number} (run {best_run_id})",
        SearchTag.SCORE: f"{outcome.metric} {outcome.best.score:.4f}; the fixed configuration's {fixed_score}",
    }


def tracked_search(
    settings: Settings,
    run_id: str,
    train_rows: pd.DataFrame,
    use_case: UseCase,
    budget: SearchBudget,
    seed: int,
    pinned: dict[str, Any],
) -> dict[str, Any]:
    """Search, log every trial under `run_id`, tag the run; returns the chosen values of the searched parameters
    ({} when the search could not choose: the run then trains the fixed configuration, and says why)."""
    client = client_as(settings, MlflowUser.PIPELINE)
    space = searched_space(use_case.model.search_space, pinned)
    client_tags: dict[str, str] = {
        SearchTag.ALGORITHM: ALGORITHM,
        SearchTag.SEED: str(seed),
        SearchTag.SPACE: describe(space),
        SearchTag.BUDGET: json.dumps(budget.describe(), sort_keys=True),
    }
    for key, value in client_tags.items():
        client.set_tag(run_id, key, value)
    on_trial = TrialLogger(client, run_id, use_case.metric.primary)
    try:
        with ray_runtime(settings, object_store_mib=SEARCH_OBJECT_STORE_MIB) as cpus:
            outcome = search(
                train_rows, use_case, budget, seed, pinned, settings.search_validation_days, cpus, on_trial
            )
    except SearchUnavailable as reason:
        logger.warning("search: not run (%s): training the fixed configuration", reason)
        client.set_tag(run_id, SearchTag.FALLBACK, str(reason)[:500])
        return {}
    except Exception as error:  # Ray could not start or a trial broke it: a retraining after drift still trains
        logger.exception("search: failed (%s): training the fixed configuration", error)
        client.set_tag(run_id, SearchTag.FALLBACK, f"the search failed: {error!r}"[:500])
        return {}
    best_run = on_trial.run_ids.get(outcome.best.number, "")
    for name, text in outcome_tags(outcome, best_run, settings.search_validation_days).items():
        client.set_tag(run_id, name, text)
    logger.info(
        "%s %d/%d trials in %.1f s, best %s %.4f (trial %d): %s", DONE_PREFIX, len(outcome.trials), budget.trials,
        outcome.seconds, outcome.metric, outcome.best.score, outcome.best.number, json.dumps(outcome.chosen),
    )  # fmt: skip
    return outcome.chosen
