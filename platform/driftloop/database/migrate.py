"""The migration: the component roles, their databases and everything in them, as `roles` plans them. Run as
the bootstrap superuser by the chart's migration hook on every install and upgrade; idempotent.

An install made before the roles existed has every database, table and sequence owned by the superuser, and
REASSIGN OWNED cannot take objects from a bootstrap superuser: each object is handed over by name, found in
the catalog, until its database's owner owns all of it. Roles get LOGIN last (`statements`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.database import statements
from driftloop.database.login_wait import connect_when_ready
from driftloop.database.roles import DATABASES, ROLES, Database, Role
from pipelines.core.database_url import libpq_url
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings, env_var_name

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

# What the owner does not own yet, in the schemas of users (not pg_*, not information_schema), leaving out
# extension members. A sequence that belongs to a column follows its table (ALTER SEQUENCE on it is refused);
# a table's row type and array types follow their table or element type.
NOT_OWNED = """
SELECT 'SCHEMA', '', n.nspname FROM pg_namespace n
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND n.nspowner NOT IN (%(owner)s::regrole, 'pg_database_owner'::regrole)
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid
                      AND e.deptype = 'e')
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> %(owner)s::regrole
   AND NOT (c.relkind = 'S' AND EXISTS (
        SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                      AND e.deptype = 'e')
UNION ALL
SELECT 'TYPE', n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND t.typowner <> %(owner)s::regrole AND t.typtype IN ('e', 'd', 'r', 'c')
   AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid
                      AND e.deptype = 'e')
"""
USER_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1"


@dataclass
class MigrationReport:
    """What one run changed: roles and databases it created, objects it handed to their owner."""

    roles_created: list[str] = field(default_factory=list)
    databases_created: list[str] = field(default_factory=list)
    objects_handed_over: dict[str, int] = field(default_factory=dict)


def role_passwords(settings: Settings) -> dict[str, str]:
    """Each role's password from its setting; every one is needed (the chart's Secret holds them)."""
    passwords, missing = {}, []
    for role in ROLES:
        secret = getattr(settings, role.password_setting)
        if secret is None or not secret.get_secret_value():
            missing.append(env_var_name(role.password_setting))
        else:
            passwords[role.name] = secret.get_secret_value()
    if missing:
        raise DriftloopError(f"no password for the database roles: set {', '.join(missing)}")
    return passwords


def migrate(superuser_url: str, passwords: Mapping[str, str], wait_s: float) -> MigrationReport:
    """Make every role and database of `roles` as planned; safe to run again at any time."""
    from psycopg.conninfo import make_conninfo

    report = MigrationReport()
    conninfo = libpq_url(superuser_url)
    with connect_when_ready(conninfo, wait_s, autocommit=True) as admin:
        roles = _existing(admin, "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [r.name for r in ROLES])
        for role in ROLES:
            admin.execute(statements.prepare_role(role, role.name in roles))
            if role.name not in roles:
                report.roles_created.append(role.name)
        names = [d.name for d in DATABASES]
        databases = _existing(admin, "SELECT datname FROM pg_database WHERE datname = ANY(%s)", names)
        for database in DATABASES:
            if database.name not in databases:
                admin.execute(statements.create_database(database))  # outside a transaction: autocommit
                report.databases_created.append(database.name)
        for database in DATABASES:
            report.objects_handed_over[database.name] = _settle(make_conninfo(conninfo, dbname=database.name), database)
            for statement in statements.hand_over(database):
                admin.execute(statement)
        for role in ROLES:
            admin.execute(statements.login(role, _verifier(admin, role, passwords[role.name])))
    logger.info(
        "database roles in place: created roles %s, databases %s; handed over %s",
        report.roles_created or "none", report.databases_created or "none", report.objects_handed_over,
    )  # fmt: skip
    return report


def _existing(admin: psycopg.Connection[Any], query: str, names: list[str]) -> set[str]:
    return {row[0] for row in admin.execute(query, [names]).fetchall()}


def _settle(conninfo: str, database: Database) -> int:
    """In one transaction of `database`: hand every object to its owner, then its readers' privileges."""
    import psycopg

    with psycopg.connect(conninfo, connect_timeout=10) as connection:
        # An ALTER ... OWNER waits for its table's lock: a running component's long query must not hang the hook.
        connection.execute("SET LOCAL lock_timeout = '30s'")
        rows = connection.execute(NOT_OWNED, {"owner": database.owner.name}).fetchall()
        objects = [statements.CatalogObject(kind, schema, name) for kind, schema, name in rows]
        schemas = [row[0] for row in connection.execute(USER_SCHEMAS).fetchall()]
        for statement in [
            *statements.ownership(objects, database.owner),
            *statements.schema_privileges(database, schemas),
        ]:
            connection.execute(statement)
    for obj in objects:
        logger.info("%s: %s %s.%s now owned by %s", database.name, obj.kind, obj.schema, obj.name, database.owner.name)
    return len(objects)


def _verifier(admin: psycopg.Connection[Any], role: Role, password: str) -> str:
    """The SCRAM-SHA-256 verifier libpq computes here (as psql's \\password does): the server never sees the
    plain password."""
    return bytes(admin.pgconn.encrypt_password(password.encode(), role.name.encode(), b"scram-sha-256")).decode()
