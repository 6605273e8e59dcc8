"""PostgreSQL's roles in the chart: no superuser URL outside the migration job, each workload logs in as the
role it needs and no other, every password comes from a Secret, and the Secret's URLs are the roles' plan."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from driftloop.database.roles import DATABASES, ROLES
from pipelines.core.settings import env_var_name
from pipelines.kfp import cluster_wiring as wiring
from tests.cluster.conftest import VALUE_FILES, model_name, model_servers, render, streams
from tests.cluster.rendered_objects import admits, containers, pod_labels

pytestmark = pytest.mark.cluster
SUPERUSER = "driftloop"
MIGRATION = "Job/driftloop-database-roles/migrate"
POSTGRES = "StatefulSet/driftloop-postgres/postgres"
# The URL keys of the database Secret: whose login, to which database.
URL_KEYS = {
    "superuser-database-uri": (SUPERUSER, "postgres"),
    "mlflow-backend-store-uri": ("mlflow", "mlflow"),
    "mlflow-auth-database-uri": ("mlflow", "mlflow_auth"),
    "feast-registry-writer-uri": ("feast_writer", "feast"),
    "feast-registry-reader-uri": ("feast_reader", "feast"),
}
URL = re.compile(r"^postgresql(\+psycopg)?://(?P<user>[^:@/]+):(?P<password>[^@]+)@(?P<host>[^/]+)/(?P<database>\w+)$")


def expected_logins(object_store: bool, isvc: str, streamed: bool, transformer: bool) -> dict[str, set[str]]:
    """Who may log in as whom; every other container of the chart as nobody. With the data on the object store,
    event-store writers that use no features take advisory locks in the registry's database: as its reader. A
    stream worker's push through Feast's push source reads the registry, as the lookups do: the transformer's, or
    the in-process predictor's (`transformer` False: no transformer renders)."""
    lock = {"feast_reader"} if object_store else set()
    model_servers = {
        f"InferenceService/{isvc}/predictor/kserve-container": lock,
        f"InferenceService/{isvc}/transformer/kserve-container": {"feast_reader"},
    }
    if not transformer:
        model_servers = {f"InferenceService/{isvc}/predictor/kserve-container": {"feast_reader"}}
    workers = {"StatefulSet/driftloop-stream-worker/stream-worker": {"feast_reader"}} if streamed else {}
    return workers | {
        POSTGRES: {SUPERUSER},
        MIGRATION: {SUPERUSER, "mlflow", "feast_writer", "feast_reader"},
        "Deployment/driftloop-mlflow/wait-for-role": {"mlflow"},
        "Deployment/driftloop-mlflow/mlflow": {"mlflow"},
        "Job/driftloop-feast-apply/apply": {"feast_writer"},
        "Job/driftloop-feast-apply/land-demo-events": lock,
        "Job/driftloop-feast-apply/land-demo-labels": lock,
        "Job/driftloop-feast-apply/materialize": {"feast_writer"},
        "CronJob/driftloop-feature-refresh/feature-refresh": {"feast_writer"},
        "CronJob/driftloop-drift/drift": {"feast_reader"},
        **model_servers,
    }


def _secrets(rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        obj["metadata"]["name"]: {key: base64.b64decode(value).decode() for key, value in obj.get("data", {}).items()}
        for obj in rendered
        if obj["kind"] == "Secret"
    }


def _database_secret(rendered: list[dict[str, Any]]) -> dict[str, str]:
    return _secrets(rendered)[wiring.DATABASE_SECRET]


def _resolved_env(container: dict[str, Any], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as the kubelet gives it, from the chart's own Secrets (KFP's object store
    Secret is not the chart's: left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            env.update(secrets.get(source["secretRef"]["name"], {}))
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference is not None:
            if reference["name"] in secrets:
                env[variable["name"]] = secrets[reference["name"]][reference["key"]]
        else:
            env[variable["name"]] = str(variable.get("value", ""))
    return env


def _logins(values: list[str], passwords: dict[str, str]) -> set[str]:
    """The roles whose password is among (or inside, as in a URL) these values."""
    return {role for role, password in passwords.items() if any(password in value for value in values)}


def _role_passwords(secret: dict[str, str]) -> dict[str, str]:
    passwords = {SUPERUSER: secret["password"]}
    passwords |= {role.name: secret[f"{role.name.replace('_', '-')}-password"] for role in ROLES}
    return passwords


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_no_superuser_url_outside_the_migration_job_and_each_workload_logs_in_as_the_role_it_needs(
    values: str,
) -> None:
    rendered = render(VALUE_FILES[values])
    secrets = _secrets(rendered)
    passwords = _role_passwords(secrets[wiring.DATABASE_SECRET])
    assert len(set(passwords.values())) == len(passwords), "one password per role"
    expected = expected_logins(
        object_store=values == "object-store",
        isvc=model_name(rendered),
        streamed=streams(rendered),
        transformer=model_servers(rendered) == ["predictor", "transformer"],
    )
    seen = {}
    for where, container, _ in containers(rendered):
        env = _resolved_env(container, secrets)
        seen[where] = _logins(list(env.values()), passwords)
        assert seen[where] == expected.get(where, set()), where
        if where not in (POSTGRES, MIGRATION):
            assert SUPERUSER not in seen[where] and not re.search(rf"://{SUPERUSER}:", " ".join(env.values())), where
    assert set(expected) <= set(seen), set(expected) - set(seen)
    for obj in rendered:  # nobody mounts the database Secret as files
        for volume in obj.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
            assert volume.get("secret", {}).get("secretName") != wiring.DATABASE_SECRET, obj["metadata"]["name"]
    # The training pipeline's tasks: the registry's writer (its feature step materialises), nothing more.
    secret = secrets[wiring.DATABASE_SECRET]
    assert _logins([secret[key] for key in wiring.SECRET_ENV], passwords) == {"feast_writer"}


def test_the_secrets_urls_are_the_roles_plan_on_the_postgres_service() -> None:
    rendered = render(None)
    secret = _database_secret(rendered)
    passwords = _role_passwords(secret)
    postgres = next(o for o in rendered if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "driftloop-postgres")
    env = {v["name"]: v.get("value") for v in postgres["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_USER"] == SUPERUSER
    for key, (user, database) in URL_KEYS.items():
        found = URL.match(secret[key])
        assert found, key
        assert (found["user"], found["password"], found["database"]) == (user, passwords[user], database), key
        assert found["host"] == "driftloop-postgres.kubeflow.svc.cluster.local:5432", key
    planned = {(d.owner.name, d.name) for d in DATABASES} | {(r.name, d.name) for d in DATABASES for r in d.readers}
    assert planned <= set(URL_KEYS.values())
    assert all(len(password) >= 32 for password in passwords.values())


def test_the_migration_is_a_hook_before_the_feast_job_with_every_password_from_the_secret() -> None:
    rendered = render(None)
    jobs = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Job"}
    migration, feast = jobs["driftloop-database-roles"], jobs["driftloop-feast-apply"]
    for job in (migration, feast):
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    weight = {name: int(job["metadata"]["annotations"]["helm.sh/hook-weight"]) for name, job in jobs.items()}
    assert weight["driftloop-database-roles"] < weight["driftloop-feast-apply"]
    (container,) = migration["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["database", "migrate"]
    references = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in container["env"]}
    expected = {env_var_name("postgres_superuser_uri"): "superuser-database-uri"}
    expected |= {env_var_name(role.password_setting): f"{role.name.replace('_', '-')}-password" for role in ROLES}
    assert references == {name: {"name": wiring.DATABASE_SECRET, "key": key} for name, key in expected.items()}
    policies = [o for o in rendered if o["kind"] == "NetworkPolicy"]
    postgres = next(o for o in rendered if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "driftloop-postgres")
    assert admits(policies, pod_labels(migration), pod_labels(postgres), 5432)


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_every_password_comes_from_a_secret_never_a_plain_value(values: str) -> None:
    rendered = render(VALUE_FILES[values])
    generated = [value for secret in _secrets(rendered).values() for value in secret.values() if len(value) >= 16]
    assert len(generated) >= 10
    for where, container, _ in containers(rendered):
        for variable in container.get("env", []):
            literal = str(variable.get("value", ""))
            assert not [value for value in generated if value in literal], (where, variable["name"])
            if re.search(r"PASSWORD|SECRET|TOKEN|_URI$", variable["name"]) and "value" not in variable:
                assert "secretKeyRef" in variable["valueFrom"], (where, variable["name"])
