"""`driftloop pipeline ...`: run the training pipeline here, or compile it for the cluster."""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop.cli.step_console import with_step_progress
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings, get_settings

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
    search_trials: int = typer.Option(
        0,
        min=0,
        help="Search the use case's hyperparameters on Ray Tune within this many trials before training (0: its "
        "fixed configuration, or --params). A drift-triggered run asks for DRIFTLOOP_SEARCH_TRIALS.",
    ),
    search_seconds: float | None = typer.Option(
        None, min=1, help="Wall-clock budget of the search (seconds). Default: DRIFTLOOP_SEARCH_SECONDS."
    ),
) -> None:
    """Validate -> features -> training set -> train (searching, with --search-trials) -> evaluate -> gate ->
    register, with kfp.local, on a window of the event store (land data first with `driftloop data ingest`)."""

    from driftloop.pipeline_runs.local_runner import LocalPipelineRunner  # lazy: pulls httpx
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
        search_trials=search_trials,
        search_seconds=search_seconds,
    )
    runner = LocalPipelineRunner(settings)
    outcome = with_step_progress(settings, "training", lambda log: runner.run_training(request, log=log))
    if outcome.status == "failed":
        raise DriftloopError(f"training pipeline failed: {outcome.error}; MLflow run: {outcome.run_url}")
    typer.echo(f"gate: {outcome.decision} ({outcome.reason})")
    if outcome.registered_version:
        typer.echo(f"registered {settings.model_name} version {outcome.registered_version} as champion")
    typer.echo(f"MLflow run: {outcome.run_url}")


@app.command("submit")
def submit(
    file: Path | None = typer.Argument(
        None,
        help="A Python file with a @dsl.pipeline function, or compiled KFP IR (YAML). Default: the built-in "
        "training pipeline (pipelines/kfp/compiled/training_pipeline.yaml).",
        show_default=False,
    ),
    function: str | None = typer.Option(None, help="The pipeline function, when FILE defines several."),
    params: list[str] | None = typer.Option(
        None, "--param", help="name=value, typed by the pipeline's declared parameter types (repeat it)."
    ),
    kfp_host: str | None = typer.Option(
        None, help="Submit to this KFP API. Default: DRIFTLOOP_KFP_HOST; without one, run here with kfp.local."
    ),
    seed: int | None = typer.Option(None, help="Training pipeline only: seed. Default: DRIFTLOOP_SEED."),
    holdout_days: int | None = typer.Option(
        None, min=1, help="Training pipeline only: days kept for evaluation. Default: DRIFTLOOP_HOLDOUT_DAYS."
    ),
    label_maturity_days: int | None = typer.Option(
        None, min=0, help="Training pipeline only: newest days left out. Default: DRIFTLOOP_LABEL_MATURITY_DAYS."
    ),
    trigger: str | None = typer.Option(None, help="Training pipeline only: why this run happens. Default: manual."),
    search_trials: int | None = typer.Option(
        None, min=0, help="Training pipeline only: hyperparameter search trials on Ray Tune. Default: 0 (none)."
    ),
    wait: bool = typer.Option(False, help="KFP: wait for the run to end (kfp.local runs always do)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's record as one JSON object."),
) -> None:
    """Submit a KFP v2 pipeline: with kfp.local here, or to Kubeflow Pipelines with --kfp-host /
    DRIFTLOOP_KFP_HOST (what `make pipeline` runs). Every run is recorded: see `pipeline runs` and `pipeline get`.

    On the cluster the built-in training pipeline reads the event store on the release's state volume.
    """
    from driftloop.cli import pipeline_submit  # lazy: pulls kfp

    settings = get_settings()
    if kfp_host:
        settings = settings.model_copy(update={"kfp_host": kfp_host})
    training = {
        "seed": seed, "holdout_days": holdout_days, "label_maturity_days": label_maturity_days,
        "search_trials": search_trials,
    }  # fmt: skip
    pipeline_submit.submit(
        settings, file, function, params or [], {**training, "trigger": trigger}, wait=wait, as_json=as_json
    )


@app.command("runs")
def list_runs(
    limit: int = typer.Option(20, min=1, help="Show this many, newest first."),
    kfp_host: str | None = typer.Option(None, help="Refresh cluster runs from this KFP API. Default: as recorded."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of run records."),
) -> None:
    """The pipeline runs submitted from here, both modes, newest first; unfinished cluster runs are refreshed
    from the KFP API."""
    from driftloop.cli import pipeline_submit  # lazy: pulls kfp

    pipeline_submit.list_runs(_with_host(kfp_host), limit, as_json=as_json)


@app.command("get")
def get_run(
    run: str = typer.Argument(..., help="The run's id (or a unique prefix), or its KFP run id."),
    kfp_host: str | None = typer.Option(None, help="Refresh from this KFP API. Default: the one the run went to."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's record as one JSON object."),
) -> None:
    """One pipeline run: status per step, durations, its MLflow run and the model version it registered."""
    from driftloop.cli import pipeline_submit  # lazy: pulls kfp

    pipeline_submit.get_run(_with_host(kfp_host), run, as_json=as_json)


def _with_host(kfp_host: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"kfp_host": kfp_host}) if kfp_host else settings


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
