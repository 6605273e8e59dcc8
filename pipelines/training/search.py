"""Hyperparameter search on Ray Tune: the use case's declared space, early stopping of weak trials, a budget.

A retraining run after drift should not reuse yesterday's hyperparameters on a world that changed. The search
cuts a validation split off the end of the training rows, by time (the gate's holdout is never seen here), and
tries configurations on Ray Tune: Tune's seeded random search over the space (`ModelSpec.search_space`), the
use case's fixed configuration first, so a search can only choose something else when it validates better.
Each trial grows its trees in stages and reports the use case's primary metric after each, and its best stage
so far; ASHA stops the trials whose best trails the others'. Only trials that ran every stage can be chosen; the
best one wins, the earliest on a tie, with as many trees as its best stage had (when the space searches the tree
count: more trees than that only fitted the validation days' past more closely, measured on the bench's worlds).

The same seed, window and budget choose the same configuration: the searcher is seeded, the fits are, and
trials run one at a time by default (`DRIFTLOOP_SEARCH_CONCURRENCY`; with more, ASHA's decisions depend on which
trial reports first). A seconds budget ends the search early; trials it cut are not chosen.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pipelines.core.errors import DriftloopError
from pipelines.core.search_space import Choice, Dimension, FloatRange, IntRange, SearchSpace
from pipelines.core.use_case import UseCase, load_use_case

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

ALGORITHM = "ray-tune:random+asha"  # what the version's tags name as the search
STAGES = 4  # a trial's trees grow in this many equal steps, reporting after each (ASHA's rungs: 1 and 2)
REDUCTION_FACTOR = 2  # ASHA keeps the better half at each rung
# Tune's console tables and its default file loggers (TensorBoard's is not installed; the JSON one is added back:
# Tune reads its results from it): the step's log has our own line.
QUIET_TUNE = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
MIN_VALIDATION_ROWS = 200
# The progress line's words (driftloop.pipeline_runs.step_progress reads them back: one owner of the format).
PROGRESS_PREFIX = "search:"
DONE_PREFIX = "search done:"  # fewer, and a validation score says too little to choose on


class SearchUnavailable(DriftloopError):
    """The search cannot run on these rows (too few to validate on, one class only): train the fixed
    configuration instead, and say why."""


@dataclass(frozen=True)
class SearchBudget:
    """How much a search may spend: trials, wall-clock seconds, and how many trials run at once."""

    trials: int
    seconds: float
    concurrency: int = 1

    def describe(self) -> dict[str, float | int]:
        return {"trials": self.trials, "seconds": self.seconds, "concurrency": self.concurrency}


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its configuration (the searched parameters only), its validation score after each stage it
    ran, how it ended and how long it took."""

    number: int  # 1 = the fixed configuration
    params: dict[str, Any]
    scores: tuple[float, ...]  # after each stage
    best_stage: int  # the stage of the best score (1-based; 0 before any)
    status: Literal["completed", "stopped", "failed"]
    seconds: float
    started_at: float  # Unix seconds
    error: str = ""

    @property
    def score(self) -> float:
        """The trial's best validation score, at its best stage."""
        return self.scores[self.best_stage - 1] if self.best_stage else math.nan


@dataclass(frozen=True)
class SearchProgress:
    """Where a search stands after a trial ends: what the progress line shows."""

    done: int
    budget: int
    metric: str
    best: TrialRecord | None


@dataclass(frozen=True)
class SearchOutcome:
    """What a search chose and everything it tried."""

    chosen: dict[str, Any]  # the searched parameters' values (the rest are the run's pinned or default ones)
    best: TrialRecord
    trials: list[TrialRecord]
    metric: str
    higher_is_better: bool
    fit_rows: int
    validation_rows: int
    seconds: float
    searched: tuple[str, ...] = field(default=())


def progress_line(progress: SearchProgress) -> str:
    """`search: 3/8 trials, best roc_auc 0.8721 (trial 2)`: what the step logs after each trial."""
    best = progress.best
    shown = f"best {progress.metric} {best.score:.4f} (trial {best.number})" if best else "no trial finished yet"
    return f"{PROGRESS_PREFIX} {progress.done}/{progress.budget} trials, {shown}"


def validation_split(train_rows: pd.DataFrame, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, validation): validation is the last `days` of the training rows, before the gate's holdout."""
    from pipelines.training.evaluate import split_by_time  # lazy: pulls sklearn

    return split_by_time(train_rows, days)


def searched_space(space: SearchSpace, pinned: Mapping[str, Any]) -> dict[str, Dimension]:
    """The space minus what the run pins (`--params`): a pinned value is not searched."""
    return {name: dimension for name, dimension in space.items() if name not in pinned}


def _tune_dimension(dimension: Dimension) -> Any:
    from ray import tune

    if isinstance(dimension, Choice):
        return tune.choice(list(dimension.values))
    if isinstance(dimension, IntRange):  # Tune's integer ranges exclude the upper bound
        sample = tune.lograndint if dimension.log else tune.randint
        return sample(dimension.low, dimension.high + 1)
    if isinstance(dimension, FloatRange):
        return (tune.loguniform if dimension.log else tune.uniform)(dimension.low, dimension.high)
    raise TypeError(f"not a search dimension: {dimension!r}")


def growth_parameter(estimator: Any) -> str | None:
    """The parameter that counts an ensemble's trees, when more can be added to a fitted one (`warm_start`):
    boosted trees' `max_iter`, bagged or boosted ensembles' `n_estimators`; None for anything else."""
    from sklearn.ensemble import BaseEnsemble, HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return "max_iter"
    if isinstance(estimator, BaseEnsemble) and "warm_start" in estimator.get_params():
        return "n_estimators"
    return None


def final_estimator(model: Any) -> Any:
    """The estimator a pipeline ends in (the model itself when it is no pipeline)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def stage_size(total: int, stage: int, stages: int = STAGES) -> int:
    """How many trees a model of `total` has grown after `stage` of `stages`."""
    return max(1, math.ceil(total * stage / stages))


def staged_fit(model: Any, features: pd.DataFrame, labels: Any, stages: int) -> Iterator[int]:
    """Fit `model` in `stages` steps, yielding after each: a tree ensemble that can grow (`growth_parameter`)
    adds its trees a share at a time; any other estimator fits once."""
    estimator = final_estimator(model)
    grows = growth_parameter(estimator)
    if grows is None:
        model.fit(features, labels)
        yield 1
        return
    total = int(estimator.get_params()[grows])
    for stage in range(1, stages + 1):
        estimator.set_params(warm_start=stage > 1, **{grows: stage_size(total, stage, stages)})
        model.fit(features, labels)
        yield stage
    estimator.set_params(warm_start=False)


def validation_score(use_case: UseCase, model: Any, validation: pd.DataFrame) -> float:
    """The use case's primary metric on the validation rows."""
    labels = validation[use_case.label.name].to_numpy()
    return float(use_case.metric.compute(labels, use_case.model.score(model, validation))[use_case.metric.primary])


def run_trial(
    config: dict[str, Any],
    fit_rows: pd.DataFrame,
    validation: pd.DataFrame,
    use_case_name: str,
    pinned: dict[str, Any],
    seed: int,
) -> None:
    """One Tune trial (runs in a Ray worker): fit the configuration in stages, report the validation score
    after each and the best so far (what ASHA compares and the choice reads)."""
    from ray import tune

    use_case = load_use_case(use_case_name)
    params = use_case.model.params(**{**pinned, **plain(config)})
    model = use_case.model.build(params, seed, use_case.model_input)
    features, labels = fit_rows[list(use_case.model_input.columns)], fit_rows[use_case.label.name].to_numpy()
    sign = 1.0 if use_case.metric.higher_is_better else -1.0
    best, best_stage = -math.inf, 0
    for stage in staged_fit(model, features, labels, STAGES):
        score = validation_score(use_case, model, validation)
        if sign * score > best:
            best, best_stage = sign * score, stage
        tune.report({"score": sign * best, "stage_score": score, "best_stage": best_stage, "stage": stage})


def plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """Tune's sampled values as Python numbers (numpy scalars do not go into JSON or MLflow params as such)."""
    return {name: value.item() if hasattr(value, "item") else value for name, value in config.items()}


def with_best_stage(trial: TrialRecord, use_case: UseCase, pinned: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The trial's configuration with its tree count cut to its best stage's, when the space searches that count
    (a count the run pins, or the space leaves alone, stays as it is)."""
    chosen = dict(trial.params)
    params = use_case.model.params(**{**pinned, **chosen})
    grows = growth_parameter(final_estimator(use_case.model.build(params, seed, use_case.model_input)))
    if grows in chosen and 0 < trial.best_stage < STAGES:
        chosen[grows] = stage_size(int(chosen[grows]), trial.best_stage)
    return chosen


def choose(trials: list[TrialRecord], higher_is_better: bool) -> TrialRecord | None:
    """The best trial that ran every stage (the earliest on a tie), or None when none did."""
    finished = [trial for trial in trials if trial.status == "completed" and not math.isnan(trial.score)]
    if not finished:
        return None
    sign = 1.0 if higher_is_better else -1.0
    return max(finished, key=lambda trial: (sign * trial.score, -trial.number))


def _progress_callback(
    metric: str, budget: int, higher_is_better: bool, on_trial: Callable[[TrialRecord, SearchProgress], None] | None
) -> tuple[Any, list[TrialRecord]]:
    """A Tune callback that turns each ending trial into a TrialRecord (in the driver, as trials end)."""
    from ray.tune import Callback

    records: list[TrialRecord] = []

    class Recorder(Callback):
        """Each trial's number (in start order), start, per-stage scores and end, as a TrialRecord."""

        def __init__(self) -> None:
            self.scores: dict[str, list[float]] = {}
            self.best_stage: dict[str, int] = {}
            self.started: dict[str, float] = {}
            self.numbers: dict[str, int] = {}

        def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            self.started.setdefault(trial.trial_id, time.time())
            self.numbers.setdefault(trial.trial_id, len(self.numbers) + 1)

        def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict, **info: Any) -> None:
            self.scores.setdefault(trial.trial_id, []).append(float(result["stage_score"]))
            self.best_stage[trial.trial_id] = int(result["best_stage"])

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            scores = self.scores.get(trial.trial_id, [])
            self._record(trial, "completed" if len(scores) >= STAGES else "stopped")

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            self._record(trial, "failed", error=str(getattr(trial, "error_msg", "") or "the trial failed"))

        def _record(self, trial: Any, status: Literal["completed", "stopped", "failed"], error: str = "") -> None:
            started = self.started.get(trial.trial_id, time.time())
            record = TrialRecord(
                number=self.numbers.get(trial.trial_id, len(self.numbers) + 1),
                params=plain(trial.config),
                scores=tuple(self.scores.get(trial.trial_id, [])),
                best_stage=self.best_stage.get(trial.trial_id, 0),
                status=status,
                seconds=round(time.time() - started, 3),
                started_at=started,
                error=error[:500],
            )
            records.append(record)
            if on_trial is not None:
                on_trial(record, SearchProgress(len(records), budget, metric, choose(records, higher_is_better)))

    return Recorder(), records


def search(
    train_rows: pd.DataFrame,
    use_case: UseCase,
    budget: SearchBudget,
    seed: int,
    pinned: Mapping[str, Any],
    validation_days: int,
    cpus: int,
    on_trial: Callable[[TrialRecord, SearchProgress], None] | None = None,
) -> SearchOutcome:
    """Search the use case's space on Ray Tune (Ray must be initialised: `pipelines.core.ray_runtime`) and
    return the chosen configuration with every trial. Raises SearchUnavailable when the rows cannot support a
    choice."""
    for variable, value in QUIET_TUNE.items():  # read when Tune starts a run
        os.environ.setdefault(variable, value)
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    space = searched_space(use_case.model.search_space, pinned)
    if not space:
        raise SearchUnavailable(f"the use case {use_case.name} declares nothing to search beyond what the run pins")
    fit_rows, validation = validation_split(train_rows, validation_days)
    label = validation[use_case.label.name]
    if len(validation) < MIN_VALIDATION_ROWS or fit_rows.empty:
        raise SearchUnavailable(
            f"{len(validation)} validation rows in the last {validation_days} days (at least {MIN_VALIDATION_ROWS} "
            f"are needed) and {len(fit_rows)} to fit on"
        )
    if use_case.label.kind == "binary" and label.nunique() < 2:
        raise SearchUnavailable(f"the validation days hold one class only ({label.iloc[0]!r})")
    metric, higher = use_case.metric.primary, use_case.metric.higher_is_better
    fixed = asdict(use_case.model.params(**pinned))
    recorder, records = _progress_callback(metric, budget.trials, higher, on_trial)
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial, fit_rows=fit_rows, validation=validation, use_case_name=use_case.name, pinned=dict(pinned),
            seed=seed,
        ),
        {"cpu": max(1, cpus // budget.concurrency)},
    )  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="driftloop-search-") as storage:
        tuner = tune.Tuner(
            trainable,
            param_space={name: _tune_dimension(dimension) for name, dimension in space.items()},
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max" if higher else "min",
                search_alg=BasicVariantGenerator(
                    points_to_evaluate=[{name: fixed[name] for name in space}],
                    random_state=seed,
                    max_concurrent=budget.concurrency,
                ),
                scheduler=ASHAScheduler(max_t=STAGES, grace_period=1, reduction_factor=REDUCTION_FACTOR),
                num_samples=budget.trials,
                time_budget_s=budget.seconds,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name="search",
                storage_path=storage,
                verbose=0,
                callbacks=[recorder, JsonLoggerCallback()],
                log_to_file=False,
            ),
        )
        tuner.fit()
    trials = sorted(records, key=lambda trial: trial.number)
    best = choose(trials, higher)
    if best is None:
        failures = "; ".join(f"trial {t.number}: {t.error}" for t in trials if t.error) or "none ran every stage"
        raise SearchUnavailable(f"no trial of {len(trials)} finished ({failures})")
    return SearchOutcome(
        chosen=with_best_stage(best, use_case, pinned, seed),
        best=best,
        trials=trials,
        metric=metric,
        higher_is_better=higher,
        fit_rows=len(fit_rows),
        validation_rows=len(validation),
        seconds=round(time.perf_counter() - started, 2),
        searched=tuple(sorted(space)),
    )
