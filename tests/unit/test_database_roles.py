"""The PostgreSQL roles' plan and the SQL the migration composes from it, without a server; and that no
password a setting holds reaches `driftloop config show`."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from driftloop.database import statements
from driftloop.database.migrate import role_passwords
from driftloop.database.roles import DATABASES, FEAST_READER, FEAST_WRITER, MLFLOW, ROLES
from driftloop.database.statements import CatalogObject
from pipelines.core.database_url import libpq_url, masked_url
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings


def text(statement: object) -> str:
    return str(statement.as_string(None))  # type: ignore[attr-defined]


def test_every_role_owns_or_reads_a_database_and_its_password_is_a_secret_setting() -> None:
    used = {database.owner for database in DATABASES} | {r for database in DATABASES for r in database.readers}
    assert used == set(ROLES)
    for role in ROLES:
        assert re.fullmatch(r"[a-z_]+", role.name), "a plain identifier: the chart's URLs name it unquoted"
        field = Settings.model_fields[role.password_setting]
        assert SecretStr in getattr(field.annotation, "__args__", ()), f"{role.password_setting} must be a SecretStr"
    owners = {database.name: database.owner for database in DATABASES}
    assert owners == {"mlflow": MLFLOW, "mlflow_auth": MLFLOW, "feast": FEAST_WRITER}
    assert [d.readers for d in DATABASES if d.name == "feast"] == [(FEAST_READER,)]


def test_a_new_role_cannot_log_in_until_the_end_and_no_role_keeps_a_privileged_attribute() -> None:
    created = text(statements.prepare_role(FEAST_READER, exists=False))
    assert created == (
        'CREATE ROLE "feast_reader" WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS'
    )
    existing = text(statements.prepare_role(MLFLOW, exists=True))
    assert existing == 'ALTER ROLE "mlflow" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS'
    assert "LOGIN" not in existing.replace("NOLOGIN", ""), "an existing role keeps logging in while the job runs"
    login = text(statements.login(MLFLOW, "SCRAM-SHA-256$4096:c2FsdA==$a'b:c"))
    assert login == "ALTER ROLE \"mlflow\" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a''b:c'"


def test_every_kind_of_object_is_handed_over_by_its_quoted_name_and_nothing_else_is() -> None:
    objects = [
        CatalogObject("SCHEMA", "", "audit"),
        CatalogObject("TABLE", "public", "feature_views"),
        CatalogObject("SEQUENCE", "public", "standalone_seq"),
        CatalogObject("VIEW", "public", 'odd"name'),
        CatalogObject("MATERIALIZED VIEW", "public", "m"),
        CatalogObject("TYPE", "public", "run_status"),
    ]
    assert [text(s) for s in statements.ownership(objects, FEAST_WRITER)] == [
        'ALTER SCHEMA "audit" OWNER TO "feast_writer"',
        'ALTER TABLE "public"."feature_views" OWNER TO "feast_writer"',
        'ALTER SEQUENCE "public"."standalone_seq" OWNER TO "feast_writer"',
        'ALTER VIEW "public"."odd""name" OWNER TO "feast_writer"',
        'ALTER MATERIALIZED VIEW "public"."m" OWNER TO "feast_writer"',
        'ALTER TYPE "public"."run_status" OWNER TO "feast_writer"',
    ]
    with pytest.raises(ValueError, match="cannot hand over a 'ROLE; DROP'"):
        statements.ownership([CatalogObject("ROLE; DROP", "", "x")], MLFLOW)


def test_the_reader_gets_select_now_and_on_what_the_writer_creates_later_and_nothing_more() -> None:
    (feast,) = [database for database in DATABASES if database.name == "feast"]
    assert [text(s) for s in statements.schema_privileges(feast, ["public"])] == [
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC',
        'GRANT USAGE ON SCHEMA "public" TO "feast_reader"',
        'REVOKE ALL ON ALL TABLES IN SCHEMA "public" FROM "feast_reader"',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "feast_reader"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "feast_writer" IN SCHEMA "public" REVOKE ALL ON TABLES FROM "feast_reader"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "feast_writer" IN SCHEMA "public" GRANT SELECT ON TABLES TO "feast_reader"',
    ]
    assert [text(s) for s in statements.hand_over(feast)] == [
        'ALTER DATABASE "feast" OWNER TO "feast_writer"',
        'REVOKE ALL ON DATABASE "feast" FROM PUBLIC',
        'GRANT CONNECT ON DATABASE "feast" TO "feast_reader"',
    ]
    (mlflow,) = [database for database in DATABASES if database.name == "mlflow"]
    assert [text(s) for s in statements.schema_privileges(mlflow, ["public"])] == [
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC'
    ]
    assert [text(s) for s in statements.hand_over(mlflow)] == [
        'ALTER DATABASE "mlflow" OWNER TO "mlflow"',
        'REVOKE ALL ON DATABASE "mlflow" FROM PUBLIC',
    ]


def test_the_migration_names_every_password_it_lacks(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(postgres_mlflow_password=SecretStr("m"), _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(DriftloopError) as raised:
        role_passwords(settings)
    assert raised.value.message == (
        "no password for the database roles: set DRIFTLOOP_POSTGRES_FEAST_WRITER_PASSWORD, "
        "DRIFTLOOP_POSTGRES_FEAST_READER_PASSWORD"
    )
    full = Settings(  # type: ignore[call-arg]
        postgres_mlflow_password=SecretStr("m"), postgres_feast_writer_password=SecretStr("w"),
        postgres_feast_reader_password=SecretStr("r"), _env_file=None,
    )  # fmt: skip
    assert role_passwords(full) == {"mlflow": "m", "feast_writer": "w", "feast_reader": "r"}


def test_config_show_prints_no_database_password(clean_env: pytest.MonkeyPatch) -> None:
    from driftloop.settings_doc import effective_values

    host = "driftloop-postgres.kubeflow.svc.cluster.local:5432"
    clean_env.setenv("DRIFTLOOP_FEAST_REGISTRY_URI", f"postgresql+psycopg://feast_reader:r3ader@{host}/feast")
    clean_env.setenv("DRIFTLOOP_MLFLOW_BACKEND_STORE_URI", f"postgresql+psycopg://mlflow:ml0w@{host}/mlflow")
    clean_env.setenv("DRIFTLOOP_POSTGRES_SUPERUSER_URI", f"postgresql://driftloop:sup3r@{host}/postgres")
    clean_env.setenv("DRIFTLOOP_POSTGRES_FEAST_WRITER_PASSWORD", "wr1ter")
    shown = effective_values(Settings())
    for password in ("r3ader", "ml0w", "sup3r", "wr1ter"):
        assert password not in str(shown)
    assert shown["DRIFTLOOP_FEAST_REGISTRY_URI"] == f"postgresql+psycopg://feast_reader:***@{host}/feast"
    assert shown["DRIFTLOOP_MLFLOW_BACKEND_STORE_URI"] == f"postgresql+psycopg://mlflow:***@{host}/mlflow"


def test_urls_are_masked_only_where_they_hold_a_password() -> None:
    assert masked_url("postgresql+psycopg://u:p@ss@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    for plain in ("postgresql://u@h/db", "http://127.0.0.1:5000", "/var/lib/driftloop/feast/registry.db", "h:6379"):
        assert masked_url(plain) == plain
    assert libpq_url("postgresql+psycopg://u:p@h/db") == "postgresql://u:p@h/db"
