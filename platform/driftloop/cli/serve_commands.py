"""`driftloop serve ...`: one long-running server per command; containers and local mode run these."""

from __future__ import annotations

import os

import typer

app = typer.Typer(help="Run one server in the foreground (what each container runs).", no_args_is_help=True)


def _exec(command: list[str]) -> None:
    """Replace this process with the server, so signals and the pid belong to the server itself."""
    os.execv(command[0], command)


@app.command()
def mlflow() -> None:
    """MLflow tracking server and model registry."""
    from driftloop.settings import get_settings
    from driftloop.upstream_servers import mlflow_server_command

    _exec(mlflow_server_command(get_settings()))


@app.command("evidently-ui")
def evidently_ui() -> None:
    """Evidently UI over the drift snapshots workspace."""
    from driftloop.settings import get_settings
    from driftloop.upstream_servers import evidently_ui_command

    _exec(evidently_ui_command(get_settings()))


@app.command()
def predictor(
    with_features: bool = typer.Option(
        False, "--with-features", help="Take transactions and look features up in Feast in-process."
    ),
    port: int | None = typer.Option(None, help="HTTP port. Default: DRIFTLOOP_PREDICTOR_PORT."),
) -> None:
    """KServe predictor serving the `champion` model version (V1 and V2 REST)."""
    from driftloop.settings import get_settings
    from serving.server import import_kserve, serve

    import_kserve()
    from serving.predictor import FraudPredictor

    settings = get_settings()
    serve(FraudPredictor(settings, with_features=with_features), port or settings.predictor_port)


@app.command()
def transformer(
    port: int | None = typer.Option(None, help="HTTP port. Default: DRIFTLOOP_TRANSFORMER_PORT."),
) -> None:
    """KServe transformer: online features from Feast, then the predictor (V1 and V2 REST)."""
    from driftloop.settings import get_settings
    from serving.server import import_kserve, serve

    import_kserve()
    from serving.transformer import FraudTransformer

    settings = get_settings()
    serve(FraudTransformer(settings), port or settings.transformer_port)


@app.command()
def monitor() -> None:
    """Local drift scheduler: a drift check every DRIFTLOOP_DRIFT_CHECK_INTERVAL_S, metrics on /metrics."""
    from driftloop.settings import get_settings
    from monitoring.scheduler import run_scheduler

    run_scheduler(get_settings())
