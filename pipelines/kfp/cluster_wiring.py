"""How each training task finds the platform when Kubeflow Pipelines runs it on the cluster.

KFP standalone starts every task pod in its own namespace, and `make up` installs the driftloop release
there, because volumes, ConfigMaps and Secrets cannot be shared across namespaces. Each task mounts the
release's state volume (raw data, the Feast offline store), reads its settings from the release's ConfigMap
and the Feast registry's writer URL from its Secret, exactly as the chart's own pods do. `kfp.local` ignores
this platform config, so local runs keep reading the local settings.
"""

from __future__ import annotations

from kfp import kubernetes
from kfp.dsl import PipelineTask

from pipelines.registry.users import CLUSTER_SECRET, PASSWORD_VARIABLE, USERNAME_VARIABLE, MlflowUser

# The release `make up` installs (helm/driftloop, release name "driftloop"); tests/cluster checks the chart
# renders these names and keys.
STATE_DIR = "/var/lib/driftloop"
STATE_VOLUME_CLAIM = "driftloop-state"
SETTINGS_CONFIG_MAP = "driftloop-settings"
DATABASE_SECRET = "driftloop-postgres"
# The Feast registry as its writer: the feature step materialises, which records its interval in the registry.
# One Kubernetes config for every task (the parity harness runs them in one kfp.local environment), so the
# steps that only read features log in as the writer too; none gets the superuser's URL.
SECRET_ENV = {
    "feast-registry-writer-uri": "DRIFTLOOP_FEAST_REGISTRY_URI",
    "redis-password": "DRIFTLOOP_FEAST_REDIS_PASSWORD",
}
# The pipeline's MLflow login (it registers versions and moves aliases): the chart's MLflow users Secret.
MLFLOW_USERS_SECRET = CLUSTER_SECRET
MLFLOW_USER = MlflowUser.PIPELINE
SETTINGS_ENV = (
    "DRIFTLOOP_MODE",
    "DRIFTLOOP_USE_CASE",
    "DRIFTLOOP_STATE_DIR",
    "DRIFTLOOP_MODEL_NAME",
    "DRIFTLOOP_MLFLOW_TRACKING_URI",
    "DRIFTLOOP_FEAST_ONLINE_STORE",
    "DRIFTLOOP_FEAST_REDIS_URL",
    "DRIFTLOOP_FEAST_REPO_PATH",
    "DRIFTLOOP_KFP_HOST",  # cluster-mode settings require it (a task reads the settings, never submits)
    "DRIFTLOOP_FEATURE_ENGINE",
    "DRIFTLOOP_FEATURE_PARTITIONS",
    "DRIFTLOOP_SEARCH_VALIDATION_DAYS",  # the train task's search (its trials and seconds are run parameters)
    "DRIFTLOOP_SEARCH_CONCURRENCY",
)
# Only with the chart's RayCluster (ray.enabled): the feature and training-set steps then join it; only with
# the object store (objectStore.enabled): the steps read and write the data there.
OPTIONAL_SETTINGS_ENV = ("DRIFTLOOP_RAY_ADDRESS", "DRIFTLOOP_OBJECT_STORE_URL", "DRIFTLOOP_OBJECT_STORE_ENDPOINT")
# KFP's own object store credentials (its SeaweedFS), which the chart's pods read too when objectStore.enabled.
OBJECT_STORE_SECRET = "mlpipeline-minio-artifact"
OBJECT_STORE_SECRET_ENV = {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}
# No EC2 metadata probe for a region (kind is not EC2): the AWS SDKs would wait on it.
OBJECT_STORE_ENV = {"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
IMAGE_UID = 10001  # Dockerfile `USER`, the chart's runAsUser
TASK_CPU_REQUEST = "250m"
TASK_MEMORY_REQUEST = "768Mi"
# Labels the chart's NetworkPolicies admit to Redis and PostgreSQL.
POD_LABELS = {"app.kubernetes.io/part-of": "driftloop", "app.kubernetes.io/component": "training-pipeline"}


def wire_for_cluster(task: PipelineTask) -> PipelineTask:
    """Give one task the release's state volume, settings, database secret, MLflow login and object store
    credentials."""
    kubernetes.mount_pvc(task, pvc_name=STATE_VOLUME_CLAIM, mount_path=STATE_DIR)
    kubernetes.use_config_map_as_env(task, SETTINGS_CONFIG_MAP, {key: key for key in SETTINGS_ENV})
    kubernetes.use_config_map_as_env(
        task, SETTINGS_CONFIG_MAP, {key: key for key in OPTIONAL_SETTINGS_ENV}, optional=True
    )
    kubernetes.use_secret_as_env(task, DATABASE_SECRET, SECRET_ENV)
    kubernetes.use_secret_as_env(task, MLFLOW_USERS_SECRET, {MLFLOW_USER.password_file: PASSWORD_VARIABLE})
    task.set_env_variable(USERNAME_VARIABLE, MLFLOW_USER.value)
    kubernetes.use_secret_as_env(task, OBJECT_STORE_SECRET, OBJECT_STORE_SECRET_ENV, optional=True)
    for name, value in OBJECT_STORE_ENV.items():
        task.set_env_variable(name, value)
    for key, value in POD_LABELS.items():
        kubernetes.add_pod_label(task, key, value)
    # The image's own non-root user, the owner of what the chart's pods write on the shared volume.
    kubernetes.set_security_context(task, run_as_user=IMAGE_UID, run_as_group=IMAGE_UID, run_as_non_root=True)
    # The image is loaded into kind, not pulled from a registry.
    kubernetes.set_image_pull_policy(task, "IfNotPresent")
    # Tasks run one after another; this is what one reserves while it runs (docs/cluster.md counts it).
    return task.set_cpu_request(TASK_CPU_REQUEST).set_memory_request(TASK_MEMORY_REQUEST)
