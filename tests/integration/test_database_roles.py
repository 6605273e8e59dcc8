"""The roles' migration against a real PostgreSQL holding an install from before the roles: everything owned by
the bootstrap superuser, as the chart's first releases left it. Logins go over TCP with SCRAM passwords, as in
the cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from driftloop.database.login_wait import wait_for_login
from driftloop.database.migrate import MigrationReport, migrate
from driftloop.local.ports import port_is_listening
from pipelines.core.errors import DriftloopError
from tests.conftest import free_port
from tests.parity.upstream_images import postgres_program

pytestmark = pytest.mark.integration

SUPERUSER, SUPERUSER_PASSWORD = "driftloop", "bootstrap-Secret-1"
PASSWORDS = {"mlflow": "mlflow-Secret-2", "feast_writer": "writer-Secret-3", "feast_reader": "reader-Secret-4"}
# What the chart's first releases made: MLflow's tables (a serial's sequence, an enum, a view) and the Feast
# registry's, all by the superuser, and a stray standalone sequence and schema.
OLD_INSTALL = {
    "mlflow": [
        "CREATE TYPE run_status AS ENUM ('RUNNING', 'FINISHED')",
        "CREATE TABLE experiments (experiment_id serial PRIMARY KEY, name text, status run_status)",
        "CREATE VIEW experiment_names AS SELECT name FROM experiments",
        "CREATE SEQUENCE standalone_seq",
        "CREATE SCHEMA audit",
        "CREATE TABLE audit.events (id bigint GENERATED ALWAYS AS IDENTITY, note text)",
        "INSERT INTO experiments (name, status) VALUES ('Default', 'FINISHED')",
    ],
    "feast": [
        "CREATE TABLE feature_views (feature_view_name text, project_id text, feature_view_proto bytea)",
        "CREATE TABLE feast_metadata (project_id text, metadata_key text, metadata_value text)",
        "INSERT INTO feature_views VALUES ('customer_stats', 'driftloop', '\\x00')",
    ],
}


@dataclass(frozen=True)
class Server:
    port: int

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def superuser(self, database: str = "postgres") -> str:
        return self.url(SUPERUSER, SUPERUSER_PASSWORD, database)

    def role(self, name: str, database: str) -> str:
        return self.url(name, PASSWORDS[name], database)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """PostgreSQL as the image initialises it: the superuser with a password, MLflow's database (POSTGRES_DB)."""
    home = Path(tempfile.mkdtemp(prefix="driftloop-roles-"))  # not under pytest's root-only folder
    data, owner = home / "data", ("postgres" if os.geteuid() == 0 else None)
    process: subprocess.Popen[bytes] | None = None
    try:
        (home / "pwfile").write_text(SUPERUSER_PASSWORD)
        if owner:
            shutil.chown(home, owner, owner)
            shutil.chown(home / "pwfile", owner, owner)
        subprocess.run([postgres_program("initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={home / 'pwfile'}",
                        "--auth-local=trust", "--auth-host=scram-sha-256"],
                       check=True, capture_output=True, user=owner, env={**os.environ, "LANG": "C.UTF-8"})  # fmt: skip
        port = free_port()
        process = subprocess.Popen(
            [postgres_program("postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1", "-p", str(port),
             "-k", str(data)],
            user=owner, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_is_listening("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)
        yield Server(port)
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(server: Server) -> MigrationReport:
    """The old install, then the migration's first run (the upgrade that brings the roles)."""
    with psycopg.connect(server.superuser(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE mlflow")
        admin.execute("CREATE DATABASE feast")
    for database, script in OLD_INSTALL.items():
        with psycopg.connect(server.superuser(database)) as connection:
            for statement in script:
                connection.execute(statement.encode())
    return migrate(server.superuser(), PASSWORDS, wait_s=30)


def owners(server: Server, database: str) -> dict[str, str]:
    """Owner of every schema, relation and type of ours in `database`: `public` belongs to pg_database_owner
    (PostgreSQL 15 on), which stands for the database's owner."""
    query = """
        SELECT 'schema ' || nspname, pg_get_userbyid(nspowner) FROM pg_namespace
         WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
        UNION ALL
        SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
        UNION ALL
        SELECT 'type ' || n.nspname || '.' || t.typname, pg_get_userbyid(t.typowner)
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
        UNION ALL
        SELECT 'database', pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()
    """
    with psycopg.connect(server.superuser(database)) as connection:
        found = {name: owner for name, owner in connection.execute(query).fetchall()}
    assert found.pop("schema public") == "pg_database_owner"
    return found


def test_an_install_from_before_the_roles_is_handed_to_its_component_roles(
    server: Server, first_run: MigrationReport
) -> None:
    assert first_run.roles_created == ["mlflow", "feast_writer", "feast_reader"]
    assert first_run.databases_created == ["mlflow_auth"]
    mlflow = owners(server, "mlflow")
    assert set(mlflow.values()) == {"mlflow"}, mlflow
    expected = {"schema audit", "r public.experiments", "S public.experiments_experiment_id_seq",
                "v public.experiment_names", "S public.standalone_seq", "type public.run_status",
                "r audit.events", "S audit.events_id_seq", "database"}  # fmt: skip
    assert expected <= set(mlflow), set(mlflow)
    feast = owners(server, "feast")
    assert set(feast.values()) == {"feast_writer"} and "r public.feature_views" in feast, feast
    assert owners(server, "mlflow_auth")["database"] == "mlflow"
    assert sum(first_run.objects_handed_over.values()) > 0


def test_the_roles_log_in_with_their_passwords_and_none_is_privileged(
    server: Server, first_run: MigrationReport
) -> None:
    with psycopg.connect(server.superuser()) as admin:
        rows = admin.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = ANY(%s) ORDER BY 1",
            [list(PASSWORDS)],
        ).fetchall()
    assert [tuple(row[1:]) for row in rows] == [(True, False, False, False, False, False, True)] * 3
    for role, database in (("mlflow", "mlflow"), ("mlflow", "mlflow_auth"), ("feast_writer", "feast")):
        with psycopg.connect(server.role(role, database)) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (role,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.url("mlflow", "wrong", "mlflow"))


def test_mlflow_migrates_its_own_schema_as_the_owner(server: Server, first_run: MigrationReport) -> None:
    """MLflow runs its schema migrations at start: on tables the superuser made, now its own."""
    with psycopg.connect(server.role("mlflow", "mlflow")) as connection:
        connection.execute("ALTER TABLE experiments ADD COLUMN lifecycle_stage text")
        connection.execute("ALTER TYPE run_status ADD VALUE IF NOT EXISTS 'KILLED'")
        connection.execute("INSERT INTO experiments (name) VALUES ('second')")
        connection.execute("CREATE TABLE alembic_version (version_num text)")
    with psycopg.connect(server.role("mlflow", "mlflow_auth")) as connection:
        connection.execute("CREATE TABLE users (id serial PRIMARY KEY, username text)")


def test_the_reader_reads_the_registry_and_cannot_change_it(server: Server, first_run: MigrationReport) -> None:
    with psycopg.connect(server.role("feast_writer", "feast")) as writer:  # a table a later Feast adds
        writer.execute("CREATE TABLE projects (project_id text, project_proto bytea)")
        writer.execute("INSERT INTO projects VALUES ('driftloop', '\\x00')")
    reader = psycopg.connect(server.role("feast_reader", "feast"), autocommit=True)
    with reader:
        assert reader.execute("SELECT count(*) FROM feature_views").fetchone() == (1,)
        assert reader.execute("SELECT project_id FROM projects").fetchall() == [("driftloop",)]
        assert reader.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,), "the writers' locks"
        for write in ("INSERT INTO feast_metadata VALUES ('driftloop', 'project_uuid', 'x')",
                      "UPDATE feature_views SET feature_view_proto = '\\x01'", "DELETE FROM feature_views",
                      "TRUNCATE feature_views", "DROP TABLE projects",
                      "CREATE TABLE sneaky (x int)", "CREATE TEMP TABLE sneaky (x int)"):  # fmt: skip
            with pytest.raises(errors.InsufficientPrivilege):
                reader.execute(write.encode())


def test_only_a_databases_owner_and_its_readers_connect_to_it(server: Server, first_run: MigrationReport) -> None:
    for role, database in (("feast_reader", "mlflow"), ("feast_writer", "mlflow_auth"), ("mlflow", "feast")):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(server.role(role, database))


def test_the_migration_runs_again_changing_nothing_but_a_rotated_password(
    server: Server, first_run: MigrationReport
) -> None:
    again = migrate(server.superuser(), PASSWORDS, wait_s=5)
    assert (again.roles_created, again.databases_created) == ([], [])
    assert again.objects_handed_over == {"mlflow": 0, "mlflow_auth": 0, "feast": 0}
    with psycopg.connect(server.superuser()) as admin:  # a hand-made superpower is taken back
        admin.execute("ALTER ROLE feast_reader SUPERUSER CREATEROLE")
    rotated = {**PASSWORDS, "feast_reader": "rotated-Secret-5"}
    try:
        migrate(server.superuser(), rotated, wait_s=5)
        with psycopg.connect(server.url("feast_reader", "rotated-Secret-5", "feast")) as connection:
            assert connection.execute(
                "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
            ).fetchone() == (False, False)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(server.role("feast_reader", "feast"))
    finally:
        migrate(server.superuser(), PASSWORDS, wait_s=5)


def test_a_login_that_never_comes_is_waited_for_then_refused_with_what_to_do(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(DriftloopError, match=r"nobody@127\.0\.0\.1:\d+/mlflow accepted no login within 3 s"):
        wait_for_login(server.url("nobody", "x", "mlflow"), timeout_s=3)
    assert 3 <= time.monotonic() - started < 15
