"""Which role owns which database, and who may only read one: the one plan the migration applies, the chart's
Secret builds its URLs from (tests/cluster checks they agree) and docs/cluster.md describes.

Who writes the Feast SQL registry, read from the code and Feast's `SqlRegistry`: `feast apply` (the chart's
feast-apply hook) creates its tables and rows; every materialisation (`features materialize` in the same hook,
the hourly feature refresh, the training pipeline's feature step) records its interval on the feature view's
row. Everyone else only reads it (the transformer's lookups, the drift job's skew check, the training set's
point-in-time join): once `feast apply` has run, opening the registry issues only SELECTs. The registry's
database also holds the advisory locks writers of the event store take when the data lives on the object
store (pipelines/data/writer_lock.py); a lock needs a login, not a privilege, so those writers get the reader role.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """A login role of one component.

    Attributes:
        name: the PostgreSQL role.
        password_setting: the settings field (DRIFTLOOP_<FIELD>) the migration reads its password from.
        purpose: what it is for, in one line (the migration logs it).
    """

    name: str
    password_setting: str
    purpose: str


@dataclass(frozen=True)
class Database:
    """A database and who may use it.

    Attributes:
        name: the database.
        owner: owns the database and every table, sequence, view and type in it (an owner runs its own schema
            migrations, as MLflow does at start and Feast's `create_all` does on `feast apply`).
        readers: may connect and SELECT every table, also the ones the owner creates later; nothing else.
    """

    name: str
    owner: Role
    readers: tuple[Role, ...] = ()


MLFLOW = Role(
    "mlflow", "postgres_mlflow_password", "the MLflow server: its backend store and the auth app's user store"
)
FEAST_WRITER = Role(
    "feast_writer",
    "postgres_feast_writer_password",
    "feast apply and materialisation: the feast-apply hook, the feature refresh, the training pipeline",
)
FEAST_READER = Role(
    "feast_reader",
    "postgres_feast_reader_password",
    "reads the Feast registry (the transformer, the drift job); advisory locks of event-store writers",
)

ROLES = (MLFLOW, FEAST_WRITER, FEAST_READER)
# The backend store is the PostgreSQL image's POSTGRES_DB: it exists before the migration, owned by the
# superuser, on a fresh install as on an old one.
DATABASES = (
    Database("mlflow", MLFLOW),
    Database("mlflow_auth", MLFLOW),
    Database("feast", FEAST_WRITER, readers=(FEAST_READER,)),
)
