"""The `driftloop` command. Heavy libraries (mlflow, feast, kserve, evidently) are imported inside
commands, never here, so `driftloop --help` answers at once."""

from __future__ import annotations

import gc
import logging
import os
import sys
import warnings
from importlib import metadata

import typer
from pydantic import ValidationError

from driftloop.cli import (
    auth_commands,
    cluster_target,
    config_commands,
    data_commands,
    database_commands,
    demo_commands,
    feature_commands,
    local_commands,
    loop_commands,
    model_commands,
    monitor_commands,
    pipeline_commands,
    serve_commands,
    use_case_commands,
)
from driftloop.unknown_variables import unknown_variables
from pipelines.core import __version__ as source_version
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import env_var_name, get_settings

app = typer.Typer(
    name="driftloop",
    help="driftloop: train, serve, watch drift and retrain, on one machine or a kind cluster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=cluster_target.ArgsKeepingGroup,
    context_settings={"help_option_names": ["-h", "--help"]},  # every group and command inherits it
)
app.add_typer(local_commands.app, name="local")
app.add_typer(serve_commands.app, name="serve")
app.add_typer(data_commands.app, name="data")
app.add_typer(feature_commands.app, name="features")
app.add_typer(pipeline_commands.app, name="pipeline")
app.add_typer(monitor_commands.app, name="monitor")
app.add_typer(loop_commands.app, name="loop")
app.add_typer(model_commands.app, name="model")
app.command("demo")(demo_commands.demo)
app.add_typer(config_commands.app, name="config")
app.add_typer(auth_commands.app, name="auth")
app.add_typer(database_commands.app, name="database")
app.add_typer(use_case_commands.app, name="use-case")


def package_version() -> str:
    """The installed distribution's version (what pip and the image report); the source's when not installed."""
    try:
        return metadata.version("driftloop")
    except metadata.PackageNotFoundError:
        return source_version


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"driftloop {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    target: cluster_target.Target | None = typer.Option(
        None,
        "--target",
        help="Where the command acts: `local` (this machine's state) or `cluster` (the release kubectl reaches: "
        "data ingest/status, features status, monitor, loop and model commands run in its predictor pod). "
        "Default: DRIFTLOOP_TARGET.",
    ),
) -> None:
    for unknown in unknown_variables(os.environ):  # before the settings: shown even when they are refused
        typer.secho(f"warning: {unknown.message}", err=True, fg=typer.colors.YELLOW)
    settings = get_settings()
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level)
    if not verbose:  # libraries' deprecation notices (litestar via Evidently, numpy) are not the user's to act on
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if (target or settings.target) == "cluster":  # before anything local starts (the Ray join below)
        code = cluster_target.run_on_cluster(ctx, settings)
        if code is not None:
            raise typer.Exit(code)
    if settings.feature_engine == "ray" and not settings.ray_address:
        from driftloop.local.runtime import join_platform_ray  # lazy: pulls httpx

        join_platform_ray(settings)
        get_settings.cache_clear()


def main() -> None:
    """Entry point: run the CLI; a DriftloopError becomes a one-line message and its exit code."""
    try:
        app()
    except DriftloopError as error:
        typer.secho(f"error: {error.message}", err=True, fg=typer.colors.RED)
        sys.exit(error.exit_code)
    except ValidationError as error:
        if error.title != "Settings":
            raise
        typer.secho(f"error: invalid settings: {settings_problem(error)}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    finally:
        # Free what the command left in reference cycles while Arrow is still whole: a parquet reader's threads
        # that survive into the interpreter's teardown abort it now and then ("terminate called without an
        # active exception", exit 250 or SIGABRT) after the command's work and output are done (apache/arrow
        # #34314).
        gc.collect()


def settings_problem(error: ValidationError) -> str:
    """pydantic's report of invalid settings as one line: each problem with the variable it concerns."""
    problems = []
    for item in error.errors():
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{env_var_name(field)}: {message}" if field else message)
    return "; ".join(problems) or str(error)
