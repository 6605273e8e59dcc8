"""PostgreSQL's component roles on the parity run: made by the chart's migration hook, used by every process
that reached the database, none of them a superuser; the Feast registry's reader cannot write it."""

from __future__ import annotations

import pytest
import yaml

from driftloop.database.roles import DATABASES, ROLES
from pipelines.core.database_url import libpq_url
from tests.parity.bring_up import ParityRun
from tests.parity.chart import REPO
from tests.parity.checks import psql

pytestmark = pytest.mark.parity
MIGRATION = "Job/driftloop-database-roles"


def test_the_migration_hook_made_the_roles_and_mlflow_waited_for_its_own(parity: ParityRun) -> None:
    log = parity.job_logs[f"{MIGRATION}/migrate"]
    assert "roles created: mlflow, feast_writer, feast_reader; databases created: mlflow_auth, feast" in log, log
    assert "/mlflow accepts the login" in parity.job_logs["Deployment/driftloop-mlflow/wait-for-role"]


def test_no_component_role_is_privileged_and_each_owns_its_databases(parity: ParityRun) -> None:
    names = ", ".join(f"'{role.name}'" for role in ROLES)
    attributes = "rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
    rows = psql(parity.pods, "postgres", f"select rolname, {attributes} from pg_roles where rolname in ({names})")
    assert {row[0]: row[1:] for row in rows} == {role.name: ["t", "f", "f", "f", "f", "f"] for role in ROLES}
    owners = dict(psql(parity.pods, "postgres", "select datname, pg_get_userbyid(datdba) from pg_database"))
    assert {database.name: owners[database.name] for database in DATABASES} == {
        database.name: database.owner.name for database in DATABASES
    }
    for database in DATABASES:
        query = "select distinct tableowner from pg_tables where schemaname = 'public'"
        tables = psql(parity.pods, database.name, query)
        assert tables in ([[database.owner.name]], []), (database.name, tables)
    assert psql(parity.pods, "feast", "select count(*) from pg_tables where schemaname = 'public'")[0][0] != "0"


def test_every_connection_postgresql_sees_is_a_component_role_on_its_own_database(parity: ParityRun) -> None:
    """MLflow's pool and the feature lookups' registry reads are open now: as their roles, never the superuser."""
    query = "select usename, datname from pg_stat_activity where backend_type = 'client backend'"
    sessions = psql(parity.pods, "postgres", f"{query} and pid <> pg_backend_pid()")
    allowed = {(d.owner.name, d.name) for d in DATABASES} | {(r.name, d.name) for d in DATABASES for r in d.readers}
    assert sessions and {tuple(row) for row in sessions} <= allowed, sessions
    assert ["mlflow", "mlflow"] in sessions


def test_the_feast_registry_reader_reads_it_and_cannot_write_it(parity: ParityRun) -> None:
    import psycopg
    from psycopg import errors

    endpoint = parity.chart.model_servers[-1]  # the server that looks features up: the transformer, or in process
    server = parity.processes[f"InferenceService/{parity.chart.inference_service}/{endpoint}"]
    url = server.env["DRIFTLOOP_FEAST_REGISTRY_URI"]
    assert url.startswith("postgresql+psycopg://feast_reader:"), f"the {endpoint} reads the registry as its reader"
    with psycopg.connect(libpq_url(url), autocommit=True) as reader:
        assert reader.execute("select count(*) from feature_views").fetchone()[0] > 0  # type: ignore[index]
        writes = (
            "insert into feast_metadata (project_id, metadata_key, metadata_value, last_updated_timestamp) "
            "values ('driftloop', 'sneaky', 'x', 0)",
            "delete from feature_views",
            "update projects set last_updated_timestamp = 0",
            "create table sneaky (x int)",
        )
        for write in writes:
            with pytest.raises(errors.InsufficientPrivilege):
                reader.execute(write.encode())


def test_no_process_but_postgres_and_the_migration_was_given_the_superusers_password(parity: ParityRun) -> None:
    from tests.parity.kfp_tasks import task_environment

    password = parity.chart.secret("driftloop-postgres")["password"]
    holders = {
        f"{process.container.workload}/{process.container.name}"
        for process in parity.pods.running
        if any(password in value for value in process.env.values())
    }
    assert holders == {"StatefulSet/driftloop-postgres/postgres", f"{MIGRATION}/migrate"}
    _, platform = yaml.safe_load_all((REPO / "pipelines" / "kfp" / "compiled" / "training_pipeline.yaml").read_text())
    tasks = task_environment(platform, parity.chart, parity.table)
    assert password not in " ".join(tasks.values()) and "://feast_writer:" in tasks["DRIFTLOOP_FEAST_REGISTRY_URI"]


def test_the_migration_runs_again_as_on_an_upgrade_and_changes_nothing(parity: ParityRun) -> None:
    from tests.parity.bring_up import http_json

    parity.run_job(MIGRATION)
    log = parity.job_logs[f"{MIGRATION}/migrate"]
    assert "roles created: none; databases created: none; objects handed to their owner: 0" in log, log
    isvc = parity.chart.inference_service
    probe = {"instances": [{"customer_id": 4, "merchant_id": 2, "amount": 12.0, "channel": "online"}]}
    endpoint = f"{parity.url('driftloop-inference', 8080)}/v1/models/{isvc}:predict"
    status, answer = http_json(endpoint, probe, token=parity.token("score"))
    assert status == 200, answer
