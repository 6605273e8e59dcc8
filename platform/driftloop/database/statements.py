"""The SQL the migration runs, composed with psycopg's `sql` (identifiers quoted, passwords as literals): pure,
so the plan is tested without a server.

The order carries one promise: a role created here gets LOGIN last (`login`), so a component that waits for
its login (MLflow's init container) starts only once it owns everything it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from driftloop.database.roles import Database, Role

# Nothing a component needs: a role of ours is never a superuser, never makes roles or databases.
NO_PRIVILEGED_ATTRIBUTES = sql.SQL("NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
# What ALTER ... OWNER TO names each kind of object the migration hands over (the catalog query returns these).
OWNED_KINDS = frozenset({"SCHEMA", "TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "SEQUENCE", "TYPE"})


@dataclass(frozen=True)
class CatalogObject:
    """An object in a database that its owner role does not own yet.

    Attributes:
        kind: one of OWNED_KINDS.
        schema: its schema ("" for a schema itself).
        name: its name.
    """

    kind: str
    schema: str
    name: str


def prepare_role(role: Role, exists: bool) -> sql.Composed:
    """A new role starts without LOGIN; an existing one loses any attribute granted to it by hand."""
    if exists:
        return sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(role.name), NO_PRIVILEGED_ATTRIBUTES)
    return sql.SQL("CREATE ROLE {} WITH NOLOGIN {}").format(sql.Identifier(role.name), NO_PRIVILEGED_ATTRIBUTES)


def login(role: Role, password_verifier: str) -> sql.Composed:
    """LOGIN with its password, as a SCRAM verifier the client computed: the server's statement log would
    otherwise hold the plain password."""
    return sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
        sql.Identifier(role.name), sql.Literal(password_verifier)
    )


def create_database(database: Database) -> sql.Composed:
    """Created by the superuser; handed to its owner once its objects are (`hand_over`)."""
    return sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name))


def ownership(objects: Iterable[CatalogObject], owner: Role) -> list[sql.Composed]:
    """ALTER ... OWNER TO for each object: REASSIGN OWNED cannot take objects from the bootstrap superuser."""
    statements = []
    for obj in objects:
        if obj.kind not in OWNED_KINDS:
            raise ValueError(f"cannot hand over a {obj.kind!r}: not one of {sorted(OWNED_KINDS)}")
        target = sql.Identifier(obj.name) if obj.kind == "SCHEMA" else sql.Identifier(obj.schema, obj.name)
        statements.append(
            sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(obj.kind), target, sql.Identifier(owner.name))
        )
    return statements


def schema_privileges(database: Database, schemas: Iterable[str]) -> list[sql.Composed]:
    """Nobody but the owner creates objects; each reader may use every schema and SELECT every table in it,
    also the tables its owner creates later (default privileges), and nothing more."""
    statements = []
    owner = sql.Identifier(database.owner.name)
    for name in schemas:
        schema = sql.Identifier(name)
        statements.append(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(schema))
        for reader in database.readers:
            role = sql.Identifier(reader.name)
            statements += [
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, role),
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE ALL ON TABLES FROM {}").format(
                    owner, schema, role
                ),
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                    owner, schema, role
                ),
            ]
    return statements


def hand_over(database: Database) -> list[sql.Composed]:
    """The database to its owner; connecting only for the owner and its readers (PUBLIC may by default)."""
    name = sql.Identifier(database.name)
    statements = [
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, sql.Identifier(database.owner.name)),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name),
    ]
    statements += [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(name, sql.Identifier(reader.name))
        for reader in database.readers
    ]
    return statements
