"""The hyperparameter search's pure parts, without Ray: the declared space, the time split it validates on,
the staged fit early stopping relies on, the choice among trials, and the progress line the console reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.pipeline_runs.step_progress import StepFollower
from pipelines.core.search_space import Choice, FloatRange, IntRange, describe, space_problems
from pipelines.core.use_case import load_use_case
from pipelines.training.model_pipeline import BOOSTED_TREE_SPACE, BoostedTreeParams
from pipelines.training.search import (
    SearchProgress,
    TrialRecord,
    choose,
    progress_line,
    searched_space,
    stage_size,
    staged_fit,
    validation_split,
    with_best_stage,
)


def _trial(number: int, score: float, status: str = "completed") -> TrialRecord:
    return TrialRecord(number, {"learning_rate": 0.1 * number}, (score - 0.01, score), 2, status, 1.0, 0.0)  # type: ignore[arg-type]


def test_every_use_case_declares_a_valid_space_holding_its_defaults() -> None:
    for name in ("fraud", "delivery", "fraud_streaming"):
        model = load_use_case(name).model
        assert space_problems(model.search_space, model.params) == []
        defaults = model.params()
        for parameter, dimension in model.search_space.items():
            value = getattr(defaults, parameter)
            assert dimension.low <= value <= dimension.high, (name, parameter)  # type: ignore[union-attr]


def test_a_space_naming_an_unknown_parameter_or_an_empty_range_is_refused() -> None:
    problems = space_problems(
        {
            "depth": IntRange(1, 3),
            "learning_rate": FloatRange(0.5, 0.1),
            "l2_regularization": FloatRange(0, 1, log=True),
        },
        BoostedTreeParams,
    )
    assert len(problems) == 3
    assert "'depth', not a parameter of BoostedTreeParams" in problems[0]
    assert "low 0.5 above high 0.1" in problems[1]
    assert "must start above 0" in problems[2]


def test_the_space_is_described_in_a_stable_order_and_pinned_parameters_are_not_searched() -> None:
    text = describe({"b": Choice((1, 2)), "a": FloatRange(0.01, 1.0, log=True)})
    assert text == '{"a":{"float":[0.01,1.0],"log":true},"b":{"choice":[1,2]}}'
    assert set(searched_space(BOOSTED_TREE_SPACE, {"max_iter": 50})) == set(BOOSTED_TREE_SPACE) - {"max_iter"}
    assert json.loads(describe(BOOSTED_TREE_SPACE))["max_iter"] == {"int": [100, 400]}


def test_validation_is_the_last_days_of_the_training_rows_by_time() -> None:
    stamps = pd.date_range("2026-11-01", periods=20 * 24, freq="h", tz="UTC")
    rows = pd.DataFrame({"event_timestamp": stamps, "x": np.arange(len(stamps))})
    fit, validation = validation_split(rows, 4)
    assert len(fit) + len(validation) == len(rows)
    assert fit["event_timestamp"].max() < validation["event_timestamp"].min()
    assert validation["event_timestamp"].min() > stamps[-1] - pd.Timedelta(days=4)


def test_a_staged_fit_of_boosted_trees_ends_where_one_fit_does() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(3)
    features = rng.normal(size=(600, 4))
    labels = (features[:, 0] + rng.normal(scale=0.5, size=600) > 0).astype(int)

    def model() -> Pipeline:
        return Pipeline([("classifier", HistGradientBoostingClassifier(max_iter=40, random_state=1))])

    staged = model()
    stages = list(staged_fit(staged, features, labels, 4))
    whole = model().fit(features, labels)
    assert stages == [1, 2, 3, 4]
    assert staged.steps[-1][1].n_iter_ == 40
    np.testing.assert_allclose(staged.predict_proba(features), whole.predict_proba(features), atol=1e-12)


def test_an_estimator_that_is_not_a_growing_ensemble_is_fitted_once() -> None:
    from sklearn.linear_model import LogisticRegression

    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert list(staged_fit(LogisticRegression(), features, np.array([0, 0, 1, 1]), 4)) == [1]


def test_the_chosen_tree_count_is_the_best_stages_when_the_space_searches_it() -> None:
    from use_cases.fraud import USE_CASE as FRAUD

    peaked = TrialRecord(2, {"max_iter": 300, "learning_rate": 0.1}, (0.90, 0.91, 0.89, 0.88), 2, "completed", 1.0, 0.0)
    assert peaked.score == 0.91
    assert with_best_stage(peaked, FRAUD, {}, 1) == {"max_iter": 150, "learning_rate": 0.1}
    assert stage_size(300, 2) == 150 and stage_size(3, 1) == 1
    last = TrialRecord(3, {"max_iter": 300}, (0.80, 0.85, 0.86, 0.87), 4, "completed", 1.0, 0.0)
    assert with_best_stage(last, FRAUD, {}, 1) == {"max_iter": 300}
    unsearched = TrialRecord(4, {"learning_rate": 0.1}, (0.9, 0.8, 0.8, 0.8), 1, "completed", 1.0, 0.0)
    assert with_best_stage(unsearched, FRAUD, {"max_iter": 60}, 1) == {"learning_rate": 0.1}  # a pinned count stays


def test_the_choice_is_the_best_trial_that_ran_every_stage_and_the_earliest_on_a_tie() -> None:
    trials = [_trial(1, 0.80), _trial(2, 0.90, "stopped"), _trial(3, 0.85), _trial(4, 0.85), _trial(5, 0.99, "failed")]
    assert choose(trials, higher_is_better=True).number == 3  # type: ignore[union-attr]
    assert choose(trials, higher_is_better=False).number == 1  # type: ignore[union-attr]
    assert choose([_trial(1, 0.9, "stopped")], higher_is_better=True) is None


def test_the_console_shows_the_search_beside_its_step_and_one_line_when_it_ends(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("")
    reported: list[str] = []
    follower = StepFollower(log, reported.append)
    follower._handle("12:00:00.000 - INFO - Executing task 'train-model'")
    follower._handle(progress_line(SearchProgress(3, 8, "roc_auc", _trial(2, 0.8721))))
    assert follower.search == "3/8 trials, best roc_auc 0.8721 (trial 2)"
    follower._handle('INFO pipelines.training.search_tracking: search done: 8/8 trials in 12.3 s, best roc_auc '
                     '0.8800 (trial 7): {"learning_rate": 0.05}')  # fmt: skip
    assert reported == ["  search                 12.3 s  8/8 trials, best roc_auc 0.8800 (trial 7)"]
    assert follower.search == ""
    # A background run's log holds its console's lines: the demo's follower relays the search line as it is.
    relayed: list[str] = []
    StepFollower(log, relayed.append)._handle(reported[0])
    assert relayed == reported
