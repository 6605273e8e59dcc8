"""`driftloop serve ...`: one long-running server per command; containers and local mode run these."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from pipelines.core.credentials import Scope, load_credentials
from pipelines.core.settings import get_settings

if TYPE_CHECKING:
    from pipelines.core.settings import Settings

app = typer.Typer(help="Run one server in the foreground (what each container runs).", no_args_is_help=True)


def _exec(command: list[str]) -> None:
    """Replace this process with the server, so signals and the pid belong to the server itself."""
    os.execv(command[0], command)


@app.command()
def mlflow() -> None:
    """MLflow tracking server and model registry, behind its basic-auth app: our users are created (or their
    passwords brought up to date) first, so the server never runs without them."""
    from driftloop.mlflow_auth import auth_environment, bootstrap_users, write_auth_config  # lazy: --help budget
    from driftloop.upstream_servers import MLFLOW_SERVER_ENVIRONMENT, mlflow_server_command  # lazy: --help budget

    settings = get_settings()
    for name, value in MLFLOW_SERVER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ.update(auth_environment(settings, write_auth_config(settings)))
    bootstrap_users(settings)
    _exec(mlflow_server_command(settings))


@app.command("evidently-ui")
def evidently_ui() -> None:
    """Evidently UI over the drift snapshots workspace. Its write API (projects, snapshots, dashboards) asks
    for the platform's admin token in the `evidently-secret` header (none: 401; a wrong one: Evidently's 403);
    reading and the dashboards stay open. The drift job writes snapshots into the workspace folder, not through
    this API."""
    from driftloop.evidently_ui import serve_evidently_ui  # lazy: --help budget

    settings = get_settings()
    serve_evidently_ui(settings, load_credentials(settings).token(Scope.ADMIN))


@app.command()
def ray(
    kuberay: bool = typer.Option(
        False, help="Run the `ray start` KubeRay generated for this pod (KUBERAY_GEN_RAY_START_CMD): a RayCluster pod."
    ),
) -> None:
    """A Ray node for the `ray` feature engine: local mode's single-node head, or a KubeRay head or worker."""
    from driftloop.upstream_servers import kuberay_node_command, ray_head_command  # lazy: --help budget

    _exec(kuberay_node_command(os.environ) if kuberay else ray_head_command(get_settings()))


# KServe appends its own arguments to a custom container's (`--model_name`, `--predictor_host`,
# `--http_port`, ...): the model server commands accept them, honour the ones that matter, ignore the rest.
KSERVE_ARGS = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True}}


def _kserve_arguments(extra: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs from KServe's appended arguments."""
    found: dict[str, str] = {}
    index = 0
    while index < len(extra):
        token = extra[index]
        if token.startswith("--") and "=" in token:
            name, value = token[2:].split("=", 1)
            found[name] = value
        elif token.startswith("--") and index + 1 < len(extra) and not extra[index + 1].startswith("--"):
            found[token[2:]] = extra[index + 1]
            index += 1
        index += 1
    return found


def _kserve_settings(ctx: typer.Context) -> tuple[Settings, int | None]:
    """The settings with KServe's `--predictor_host` in force, and its `--http_port`, if given: handed to the
    server, not written into the environment."""
    given = _kserve_arguments(list(ctx.args))
    settings = get_settings()
    if "predictor_host" in given:
        settings = settings.model_copy(update={"predictor_host": given["predictor_host"]})
    return settings, int(given["http_port"]) if given.get("http_port", "").isdigit() else None


@app.command(**KSERVE_ARGS)  # type: ignore[arg-type]
def predictor(
    ctx: typer.Context,
    with_features: bool = typer.Option(
        False, "--with-features", help="Take transactions and look features up in Feast in-process."
    ),
    port: int | None = typer.Option(None, help="HTTP port. Default: DRIFTLOOP_PREDICTOR_PORT."),
) -> None:
    """KServe predictor serving the `champion` model version (V1 and V2 REST)."""
    from serving.model_threads import one_model_thread  # lazy: --help budget

    one_model_thread()  # before scikit-learn loads its OpenMP runtime
    from serving.server import import_kserve, serve  # lazy: --help budget

    settings, kserve_port = _kserve_settings(ctx)
    import_kserve()
    from serving.predictor import ChampionPredictor  # lazy: pulls kserve

    serve(ChampionPredictor(settings, with_features=with_features), port or kserve_port or settings.predictor_port)


@app.command(**KSERVE_ARGS)  # type: ignore[arg-type]
def transformer(
    ctx: typer.Context,
    port: int | None = typer.Option(None, help="HTTP port. Default: DRIFTLOOP_TRANSFORMER_PORT."),
) -> None:
    """KServe transformer: online features from Feast, then the predictor (V1 and V2 REST)."""
    from serving.server import import_kserve, serve  # lazy: --help budget

    settings, kserve_port = _kserve_settings(ctx)
    import_kserve()
    from serving.transformer import FeatureTransformer  # lazy: pulls kserve

    serve(FeatureTransformer(settings), port or kserve_port or settings.transformer_port)


@app.command()
def monitor() -> None:
    """Local scheduler: drift checks, feature refreshes and realised quality on intervals; metrics on /metrics."""
    from driftloop.pipeline_runs.factory import runner_for  # lazy: pulls httpx
    from monitoring.scheduler import run_scheduler  # lazy: pulls pandas

    settings = get_settings()
    run_scheduler(settings, runner_for(settings))


@app.command()
def stream() -> None:
    """Stream worker: keeps the streamed feature views (per-card and per-merchant windows) in the online store as
    answered and landed transactions arrive; metrics (freshness, backlog) on /metrics at DRIFTLOOP_STREAM_PORT."""
    from pipelines.streaming.service import run_stream_worker  # lazy: pulls pandas and Feast

    run_stream_worker(get_settings())
