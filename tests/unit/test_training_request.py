"""A training request travels whole: from the drift monitor's runner, through a background command's options,
into the pipeline's arguments, without a field falling back to the child process's settings."""

from __future__ import annotations

from dataclasses import asdict, fields

import typer.main

from driftloop.cli.pipeline_commands import run_app
from driftloop.pipeline_runs.local_runner import training_options
from pipelines.core.training_request import REQUEST_FIELDS, TrainingRequest


def _parsed(options: list[str]) -> dict[str, object]:
    """The values `driftloop pipeline run training` would receive for `options`, parsed by its own parser."""
    command = typer.main.get_command(run_app)  # its only command: `training`
    context = command.make_context("training", list(options))
    return dict(context.params)


def test_every_request_field_survives_the_background_commands_options() -> None:
    request = TrainingRequest(
        window_days=21,
        seed=7,
        holdout_days=3,
        label_maturity_days=2,
        search_seconds=45.0,
        window_end="2026-11-01T00:00:00+00:00",
        params_json='{"max_iter": 50}',
        shuffle_labels=True,
        trigger="drift",
        search_trials=6,
    )
    parsed = _parsed(training_options(request))
    assert {field: parsed[field] for field in REQUEST_FIELDS} == asdict(request)


def test_a_default_request_round_trips_too() -> None:
    request = TrainingRequest(window_days=30, seed=42, holdout_days=5, label_maturity_days=7, search_seconds=120.0)
    parsed = _parsed(training_options(request))
    values = {field: parsed[field] for field in REQUEST_FIELDS}
    assert values == {**asdict(request), "window_end": None}  # no window end: the run's own start
    assert len(fields(TrainingRequest)) == len(REQUEST_FIELDS)
