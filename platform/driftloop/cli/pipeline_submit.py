"""What `driftloop pipeline submit | runs | get` do, between the options and the run records.

The command module declares the options; this one loads the pipeline, types its parameters, picks the backend
once and prints the record. The built-in training pipeline goes through the training runners, which make its
MLflow run first and read the gate's outcome, and records its runs in the same format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from driftloop.cli.pipeline_run_views import show_run, show_runs
from driftloop.cli.step_console import with_step_progress
from driftloop.pipeline_runs.kfp_runner import KfpApiRunner, attach_mlflow_run
from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
from driftloop.pipeline_runs.pipeline_parameters import parse_parameters
from driftloop.pipeline_runs.pipeline_source import PipelineSource, load_pipeline
from driftloop.pipeline_runs.run_record import RunRecord, RunRecordStore
from driftloop.pipeline_runs.submission import (
    KfpPipelineBackend,
    LocalPipelineBackend,
    backend_for,
    backend_of,
    builtin_training_source,
    is_builtin_training,
    new_record,
)
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.training_request import TrainingRequest

logger = logging.getLogger(__name__)
# Set by the training runners, never by whoever submits.
RUNNER_PARAMETERS = ("mlflow_run_id",)


def _store(settings: Settings) -> RunRecordStore:
    return RunRecordStore(Layout.from_settings(settings).pipeline_runs)


@contextlib.contextmanager
def _stdout_to_stderr(as_json: bool) -> Iterator[None]:
    """kfp.Client prints its links ("Run details: ...") to stdout: with --json they go to stderr."""
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        yield


def _print(record: RunRecord, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps({**record.to_json(), **(extra or {})}, indent=2))
    else:
        show_run(record)


def submit(
    settings: Settings,
    file: Path | None,
    function: str | None,
    pairs: list[str],
    training_options: dict[str, Any],
    *,
    wait: bool,
    as_json: bool,
) -> None:
    if file is None and function:
        raise DriftloopError("--function names a pipeline in FILE; give the FILE")
    source = load_pipeline(file, function) if file is not None else builtin_training_source()
    if is_builtin_training(source):
        _submit_training(settings, source, pairs, training_options, wait=wait, as_json=as_json)
        return
    given = sorted(f"--{name.replace('_', '-')}" for name, value in training_options.items() if value is not None)
    if given:
        raise DriftloopError(f"{', '.join(given)}: only for the built-in training pipeline; give --param NAME=VALUE")
    arguments = parse_parameters(source.parameters, pairs)
    store = _store(settings)
    backend = backend_for(settings, store)
    record = new_record(source, arguments, backend.mode)
    if isinstance(backend, LocalPipelineBackend):

        def run_here(log: Path | None) -> RunRecord:
            record.log = str(log) if log else None
            return backend.submit(source, arguments, record)

        with_step_progress(settings, source.name, run_here)
    else:
        with _stdout_to_stderr(as_json):
            backend.submit(source, arguments, record)
            if wait:
                backend.wait(record)
        if not as_json:
            typer.echo(f"submitted KFP run {record.kfp_run_id} (run {record.id})")
    _print(record, as_json)
    if record.status == "failed":
        raise DriftloopError(f"pipeline {record.pipeline} failed: {record.error} (driftloop pipeline get {record.id})")


def _submit_training(
    settings: Settings,
    source: PipelineSource,
    pairs: list[str],
    training_options: dict[str, Any],
    *,
    wait: bool,
    as_json: bool,
) -> None:
    given = parse_parameters(source.parameters, pairs, fixed=RUNNER_PARAMETERS)
    request = TrainingRequest.from_settings(settings, **{**given, **training_options})
    store = _store(settings)
    if not settings.kfp_host:
        runner = LocalPipelineRunner(settings)
        record = new_record(source, {**request.pipeline_arguments(), "mlflow_run_id": ""}, "local")
        outcome = with_step_progress(settings, "training", lambda log: runner.run_training(request, record, log))
        _print(record, as_json, {"gate": {"decision": outcome.decision, "reason": outcome.reason}})
        if outcome.status == "failed":
            raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
        return
    kfp_runner = KfpApiRunner(settings)
    record = new_record(source, {**request.pipeline_arguments(), "mlflow_run_id": ""}, "kfp")
    with _stdout_to_stderr(as_json):
        record.kfp_run_id = kfp_runner.submit(request).removeprefix("kfp:")
    record.kfp_host, record.status = settings.kfp_host, "submitted"
    store.save(record)
    if not wait:
        if as_json:
            _print(record, as_json)
        else:
            typer.echo(
                f"submitted KFP run {record.kfp_run_id} (the last {request.window_days} days of the event store)"
            )
            typer.echo(f"run {record.id}: driftloop pipeline get {record.id}")
        return
    with _stdout_to_stderr(as_json):
        outcome = kfp_runner.outcome_of(record.kfp_run_id)
        KfpPipelineBackend(settings.kfp_host, settings.mlflow_experiment, store).refresh(record)
    record.mlflow_run_id, record.mlflow_run_url = outcome.mlflow_run_id or None, outcome.run_url or None
    record.model_version = outcome.registered_version
    store.save(record)
    if as_json:  # a failed run too: the object says so, and the exit code below
        _print(record, as_json, {"outcome": asdict(outcome)})
    if outcome.status == "failed":
        raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
    if not as_json:
        typer.echo(f"gate: {outcome.decision} ({outcome.reason}); MLflow run: {outcome.run_url}")


def _refreshed(record: RunRecord, settings: Settings, store: RunRecordStore) -> RunRecord:
    """The record brought up to date by the backend that has the run; as stored, with a warning, when that
    backend cannot be reached (a cluster run's KFP API from a laptop without its port-forward)."""
    try:
        if record.active:
            with contextlib.redirect_stdout(sys.stderr):
                record = backend_of(record, settings, store).refresh(record)
        return attach_mlflow_run(record, settings, store)
    except DriftloopError as unreachable:
        typer.secho(f"warning: run {record.id} shown as recorded: {unreachable}", err=True, fg=typer.colors.YELLOW)
        return record


def list_runs(settings: Settings, limit: int, *, as_json: bool) -> None:
    store = _store(settings)
    records = [_refreshed(record, settings, store) for record in store.all()[:limit]]
    if as_json:
        typer.echo(json.dumps([record.to_json() for record in records], indent=2))
    else:
        show_runs(records)


def get_run(settings: Settings, wanted: str, *, as_json: bool) -> None:
    store = _store(settings)
    _print(_refreshed(store.find(wanted), settings, store), as_json)
