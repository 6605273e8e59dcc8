"""`driftloop database ...`: PostgreSQL's roles in the cluster (the migration hook's command) and a wait for a
component's login (MLflow's init container)."""

from __future__ import annotations

import typer

from driftloop.database.login_wait import described, wait_for_login
from pipelines.core.database_url import is_postgresql, libpq_url
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import env_var_name, get_settings

app = typer.Typer(help="PostgreSQL roles: one per component, made by the migration job.", no_args_is_help=True)


@app.command()
def migrate(
    wait_s: float = typer.Option(300.0, "--wait-s", min=0, help="Seconds to wait for PostgreSQL to accept the login."),
) -> None:
    """Create or update the component roles and their databases as the bootstrap superuser (idempotent; the
    chart's migration hook runs it on every install and upgrade)."""
    from driftloop.database.migrate import migrate as run_migration  # lazy: pulls psycopg
    from driftloop.database.migrate import role_passwords  # lazy: pulls psycopg

    settings = get_settings()
    if settings.postgres_superuser_uri is None:
        raise DriftloopError(f"the migration needs the superuser's URL: set {env_var_name('postgres_superuser_uri')}")
    report = run_migration(settings.postgres_superuser_uri.get_secret_value(), role_passwords(settings), wait_s)
    handed = sum(report.objects_handed_over.values())
    typer.echo(
        f"roles created: {', '.join(report.roles_created) or 'none'}; databases created: "
        f"{', '.join(report.databases_created) or 'none'}; objects handed to their owner: {handed}"
    )


@app.command()
def wait(
    timeout_s: float = typer.Option(600.0, "--timeout-s", min=0, help="Seconds to wait before failing."),
) -> None:
    """Wait until every PostgreSQL URL of the settings (MLflow's backend store, the Feast registry) accepts its
    login: a component's role may log in only once the migration has run."""
    settings = get_settings()
    urls = [url for url in (settings.mlflow_backend_store_uri, settings.feast_registry_uri) if is_postgresql(url)]
    if not urls:
        typer.echo("no PostgreSQL URL in the settings: nothing to wait for")
        return
    for url in urls:
        wait_for_login(libpq_url(str(url)), timeout_s)
        typer.echo(f"{described(libpq_url(str(url)))} accepts the login")
