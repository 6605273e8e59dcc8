"""The hyperparameter search for real: Ray Tune on a local Ray, and the platform's MLflow server for the trials.

The determinism test runs the same search twice (same seed, rows and budget) and asks for the same choice
and the same trials; the tracking test runs the train step's search under a run of the trained platform's
MLflow and reads the nested trial runs and the run's `search.` tags back as the MLflow UI shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.core.settings import Settings
from pipelines.registry.names import PARENT_RUN_TAG, SearchTag
from pipelines.training.search import SearchBudget, SearchOutcome, search
from tests.integration.local_platform import PlatformUnderTest
from use_cases.fraud import USE_CASE as FRAUD

pytestmark = pytest.mark.integration

BUDGET = SearchBudget(trials=5, seconds=300)


def training_rows(seed: int, rows: int = 3000, days: int = 20) -> pd.DataFrame:
    """Fraud's model input over `days`, the label depending on the amount and one velocity feature."""
    rng = np.random.default_rng(seed)
    inputs = FRAUD.model_input
    frame = pd.DataFrame({column: rng.gamma(2.0, 2.0, rows) for column in inputs.numeric})
    for column in inputs.categorical:
        frame[column] = rng.choice(list(inputs.categories[column]), rows)
    risk = 0.3 * frame[inputs.numeric[0]] + 0.5 * frame[inputs.numeric[-1]] + rng.normal(0, 1.0, rows)
    frame[FRAUD.label.name] = (risk > np.quantile(risk, 0.9)).astype(int)
    start = pd.Timestamp("2026-11-01", tz="UTC")
    frame["event_timestamp"] = start + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, rows)), unit="s")
    return frame


@pytest.fixture(scope="module")
def local_ray() -> Iterator[int]:
    from pipelines.core.ray_runtime import ray_runtime

    with ray_runtime(Settings(ray_cpus=2), object_store_mib=128) as cpus:
        yield cpus


def _search(rows: pd.DataFrame, seed: int, cpus: int) -> SearchOutcome:
    return search(rows, FRAUD, BUDGET, seed, {}, validation_days=5, cpus=cpus)


def test_the_same_seed_rows_and_budget_choose_the_same_configuration(local_ray: int) -> None:
    rows = training_rows(11)
    first, second = _search(rows, 7, local_ray), _search(rows, 7, local_ray)
    assert first.chosen == second.chosen
    assert [(t.number, t.params, t.scores, t.status) for t in first.trials] == [
        (t.number, t.params, t.scores, t.status) for t in second.trials
    ]
    assert len(first.trials) == BUDGET.trials
    # The first trial is the use case's fixed configuration; the others are the seeded searcher's.
    assert first.trials[0].params == {name: getattr(FRAUD.model.params(), name) for name in FRAUD.model.search_space}
    assert len({json.dumps(t.params, sort_keys=True) for t in first.trials}) == BUDGET.trials
    assert all(t.status in ("completed", "stopped") for t in first.trials)
    other = _search(rows, 8, local_ray)  # another seed samples other configurations
    assert [t.params for t in other.trials[1:]] != [t.params for t in first.trials[1:]]


def test_the_search_never_sees_the_rows_it_is_not_given(local_ray: int) -> None:
    rows = training_rows(12)
    outcome = _search(rows, 7, local_ray)
    cut = rows["event_timestamp"].max() - pd.Timedelta(days=5)
    assert outcome.validation_rows == int((rows["event_timestamp"] > cut).sum())
    assert outcome.fit_rows + outcome.validation_rows == len(rows)


def test_every_trial_is_a_nested_run_of_the_pipeline_run_and_the_run_names_the_search(
    platform: PlatformUnderTest, local_ray: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.training.search_tracking import tracked_search

    for name, value in platform.env.items():
        if name.startswith("DRIFTLOOP_"):
            monkeypatch.setenv(name, value)
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):  # act_as sets them; restored after
        monkeypatch.delenv(name, raising=False)
    settings = Settings(search_validation_days=5)
    client: Any = platform.registry()
    experiment = client.get_experiment_by_name("search-tracking-test") or None
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("search-tracking-test")
    parent = client.create_run(experiment_id, run_name="training-under-test").info.run_id

    chosen = tracked_search(settings, parent, training_rows(13), FRAUD, BUDGET, 7, {"max_iter": 60})

    trials = client.search_runs([experiment_id], filter_string=f"tags.`{PARENT_RUN_TAG}` = '{parent}'")
    assert len(trials) == BUDGET.trials
    assert sorted(int(run.data.tags[SearchTag.TRIAL]) for run in trials) == list(range(1, BUDGET.trials + 1))
    for run in trials:
        assert run.info.status in ("FINISHED", "FAILED")
        assert set(run.data.params) == set(FRAUD.model.search_space) - {"max_iter"}  # a pinned value is not searched
        assert "validation_roc_auc" in run.data.metrics and run.data.metrics["trial_seconds"] > 0
        assert run.data.tags[SearchTag.TRIAL_STATUS] in ("completed", "stopped")
    tags = client.get_run(parent).data.tags
    assert json.loads(tags[SearchTag.CHOSEN]) == chosen and "max_iter" not in chosen
    assert tags[SearchTag.SEED] == "7"
    assert json.loads(tags[SearchTag.BUDGET]) == {"trials": 5, "seconds": 300, "concurrency": 1}
    assert "max_iter" not in json.loads(tags[SearchTag.SPACE])
    best = next(run for run in trials if run.data.tags[SearchTag.TRIAL] == tags[SearchTag.BEST_TRIAL].split()[0])
    assert best.info.run_id in tags[SearchTag.BEST_TRIAL]
    assert tags[SearchTag.TRIALS].startswith(f"{BUDGET.trials} trials: ")
    assert tags[SearchTag.VALIDATION].startswith("the last 5 days before the holdout")
