"""`driftloop pipeline ...`: run the training pipeline here, or compile it for the cluster."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import typer

from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import get_settings

app = typer.Typer(
    help="Training pipeline: run it here with kfp.local, submit it to Kubeflow Pipelines, or compile it to KFP IR.",
    no_args_is_help=True,
)
run_app = typer.Typer(help="Run a pipeline.", no_args_is_help=True)
app.add_typer(run_app, name="run")


def _utc_iso(moment: str) -> str:
    import pandas as pd

    try:
        stamp = pd.Timestamp(moment)
    except ValueError as error:
        raise DriftloopError(f"--window-end {moment!r} is not an ISO-8601 time") from error
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).isoformat()


@run_app.command("training")
def run_training(
    window_days: int | None = typer.Option(
        None, min=8, help="Days of the event store to train on. Default: DRIFTLOOP_TRAINING_WINDOW_DAYS."
    ),
    window_end: str | None = typer.Option(
        None,
        help="End of the window, ISO-8601 (UTC unless it carries an offset); a run's MLflow param `window_end` "
        "repeats it exactly. Default: now.",
    ),
    seed: int | None = typer.Option(None, help="Training seed. Default: DRIFTLOOP_SEED."),
    holdout_days: int | None = typer.Option(
        None, min=1, help="Days at the end of the window kept for evaluation. Default: DRIFTLOOP_HOLDOUT_DAYS."
    ),
    label_maturity_days: int | None = typer.Option(
        None, min=0, help="Newest days left out of training (labels lag). Default: DRIFTLOOP_LABEL_MATURITY_DAYS."
    ),
    params_json: str | None = typer.Option(
        None, "--params", help='Model hyperparameters as JSON, e.g. {"max_iter": 300}.'
    ),
    shuffle_labels: bool = typer.Option(False, help="Train on shuffled labels: a deliberately bad model (gate demo)."),
    trigger: str = typer.Option("manual", help="Why this run happens; recorded on the run and the model version."),
) -> None:
    """Validate -> features -> training set -> train -> evaluate -> gate -> register, with kfp.local, on a
    window of the event store (land data first with `driftloop data ingest`)."""
    from rich.console import Console

    from driftloop.pipeline_runs.local_runner import LocalPipelineRunner  # lazy: pulls httpx
    from driftloop.pipeline_runs.step_progress import StepFollower, output_to  # lazy: --help budget
    from pipelines.core.training_request import TrainingRequest  # lazy: --help budget

    settings = get_settings()
    request = TrainingRequest.from_settings(
        settings,
        window_days=window_days,
        window_end=_utc_iso(window_end) if window_end else None,
        seed=seed,
        holdout_days=holdout_days,
        label_maturity_days=label_maturity_days,
        params_json=params_json,
        shuffle_labels=shuffle_labels,
        trigger=trigger,
    )
    runner = LocalPipelineRunner(settings)
    if logging.getLogger().isEnabledFor(logging.DEBUG):  # -v: kfp.local's own output, as it comes
        outcome = runner.run_training(request)
    else:
        log_path = Layout.from_settings(settings).logs / f"training-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
        with output_to(log_path) as terminal:
            console = Console(file=terminal, soft_wrap=True)
            console.print(f"training pipeline (kfp.local); executor output: {log_path}")
            with console.status("starting…") as spinner, StepFollower(log_path, console.print, spinner.update):
                outcome = runner.run_training(request)
    if outcome.status == "failed":
        raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
    typer.echo(f"gate: {outcome.decision} ({outcome.reason})")
    if outcome.registered_version:
        typer.echo(f"registered {settings.model_name} version {outcome.registered_version} as champion")
    typer.echo(f"MLflow run: {outcome.run_url}")


@app.command("submit")
def submit_training(
    kfp_host: str | None = typer.Option(None, help="The KFP API. Default: DRIFTLOOP_KFP_HOST."),
    seed: int | None = typer.Option(None, help="Training seed. Default: DRIFTLOOP_SEED."),
    holdout_days: int | None = typer.Option(
        None, min=1, help="Days at the end of the window kept for evaluation. Default: DRIFTLOOP_HOLDOUT_DAYS."
    ),
    label_maturity_days: int | None = typer.Option(
        None, min=0, help="Newest days left out of training (labels lag). Default: DRIFTLOOP_LABEL_MATURITY_DAYS."
    ),
    trigger: str = typer.Option("manual", help="Why this run happens; recorded on the run and the model version."),
    wait: bool = typer.Option(False, help="Wait for the run and print the gate's decision (reads MLflow)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object: the run id and window, or with --wait the run's outcome."
    ),
) -> None:
    """Submit the compiled training pipeline to Kubeflow Pipelines (cluster mode; what `make pipeline` runs).

    The run reads the event store on the release's state volume, where the cluster's tasks mount it.
    """
    from driftloop.pipeline_runs.kfp_runner import KfpApiRunner  # lazy: pulls httpx
    from pipelines.core.training_request import TrainingRequest  # lazy: --help budget

    settings = get_settings()
    if kfp_host:
        settings = settings.model_copy(update={"kfp_host": kfp_host})
    request = TrainingRequest.from_settings(
        settings, seed=seed, holdout_days=holdout_days, label_maturity_days=label_maturity_days, trigger=trigger
    )
    runner = KfpApiRunner(settings)
    # kfp.Client prints its links ("Run details: ...") to stdout: with --json they go to stderr, so stdout is JSON.
    chatter = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    if not wait:
        with chatter:
            handle = runner.submit(request).removeprefix("kfp:")
        if as_json:
            shown = {"kfp_run_id": handle, "trigger": request.trigger, "window_days": request.window_days}
            typer.echo(json.dumps(shown, indent=2))
        else:
            typer.echo(f"submitted KFP run {handle} (the last {request.window_days} days of the event store)")
        return
    with chatter:
        outcome = runner.run_training(request)
    if as_json:  # a failed run too: the object says so, and the exit code below
        typer.echo(json.dumps(asdict(outcome), indent=2))
    if outcome.status == "failed":
        raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
    if not as_json:
        typer.echo(f"gate: {outcome.decision} ({outcome.reason}); MLflow run: {outcome.run_url}")


@app.command("compile")
def compile_pipeline(
    out: Path | None = typer.Option(
        None,
        help="Where to write the KFP IR YAML. Default: the committed pipelines/kfp/compiled/training_pipeline.yaml.",
    ),
) -> None:
    """Compile the training pipeline to KFP IR YAML."""
    from pipelines.kfp.compile import COMPILED_PIPELINE, compile_training_pipeline  # lazy: --help budget

    written = compile_training_pipeline(out or COMPILED_PIPELINE)
    typer.echo(f"wrote {written}")
