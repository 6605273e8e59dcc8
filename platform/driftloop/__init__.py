"""driftloop: the whole MLOps loop (train, serve, watch drift, retrain) on one machine or a kind cluster."""

from driftloop.fast_imports import skip_runtime_typechecks

__version__ = "0.1.0"

skip_runtime_typechecks()
