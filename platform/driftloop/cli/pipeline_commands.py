"""`driftloop pipeline ...`: run the training pipeline here, or compile it for the cluster."""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop.errors import DriftloopError

app = typer.Typer(
    help="Training pipeline: run it locally with kfp.local, or compile it to KFP IR.", no_args_is_help=True
)
run_app = typer.Typer(help="Run a pipeline.", no_args_is_help=True)
app.add_typer(run_app, name="run")

DEFAULT_IR = Path("pipelines/compiled/training_pipeline.yaml")


@run_app.command("training")
def run_training(
    events: Path | None = typer.Option(None, help="Raw events parquet. Default: <state_dir>/data/raw/events.parquet."),
    labels: Path | None = typer.Option(None, help="Labels parquet. Default: <state_dir>/data/raw/labels.parquet."),
    seed: int | None = typer.Option(None, help="Training seed. Default: DRIFTLOOP_SEED."),
    params_json: str | None = typer.Option(
        None, "--params", help='Model hyperparameters as JSON, e.g. {"max_iter": 300}.'
    ),
    shuffle_labels: bool = typer.Option(False, help="Train on shuffled labels: a deliberately bad model (gate demo)."),
    trigger: str = typer.Option("manual", help="Why this run happens; recorded on the run and the model version."),
) -> None:
    """Validate -> features -> training set -> train -> evaluate -> gate -> register, with kfp.local."""
    from rich.console import Console

    from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
    from driftloop.pipeline_runs.request import TrainingRequest
    from driftloop.settings import get_settings

    settings = get_settings()
    request = TrainingRequest.from_settings(
        settings,
        events_path=str(events) if events else None,
        labels_path=str(labels) if labels else None,
        seed=seed,
        params_json=params_json,
        shuffle_labels=shuffle_labels,
        trigger=trigger,
    )
    for path in (request.events_path, request.labels_path):
        if not Path(path).is_file():
            raise DriftloopError(f"{path} does not exist; run `driftloop data generate` or pass --events/--labels")
    console = Console(stderr=True)
    with console.status("running the training pipeline (kfp.local)…"):
        outcome = LocalPipelineRunner(settings).run_training(request)
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
    trigger: str = typer.Option("manual", help="Why this run happens; recorded on the run and the model version."),
    wait: bool = typer.Option(False, help="Wait for the run and print the gate's decision (reads MLflow)."),
) -> None:
    """Submit the compiled training pipeline to Kubeflow Pipelines (cluster mode; what `make pipeline` runs).

    The run reads the raw data on the release's state volume, where the cluster's tasks mount it.
    """
    from driftloop.pipeline_runs.kfp_runner import KfpApiRunner
    from driftloop.pipeline_runs.request import TrainingRequest
    from driftloop.settings import get_settings
    from pipelines.cluster_wiring import STATE_DIR

    settings = get_settings()
    if kfp_host:
        settings = settings.model_copy(update={"kfp_host": kfp_host})
    in_cluster = settings.model_copy(update={"state_dir": Path(STATE_DIR)})
    request = TrainingRequest.from_settings(in_cluster, seed=seed, trigger=trigger)
    runner = KfpApiRunner(settings)
    if not wait:
        typer.echo(f"submitted KFP run {runner.submit(request).removeprefix('kfp:')} ({request.events_path})")
        return
    outcome = runner.run_training(request)
    if outcome.status == "failed":
        raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
    typer.echo(f"gate: {outcome.decision} ({outcome.reason}); MLflow run: {outcome.run_url}")


@app.command("compile")
def compile_pipeline(
    out: Path = typer.Option(DEFAULT_IR, help="Where to write the KFP IR YAML the cluster submits."),
) -> None:
    """Compile the training pipeline to KFP IR YAML."""
    from pipelines.compile import compile_training_pipeline

    compile_training_pipeline(out)
    typer.echo(f"wrote {out}")
