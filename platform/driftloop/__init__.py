"""driftloop: the whole MLOps loop (train, serve, watch drift, retrain) on one machine or a kind cluster."""

from pipelines.core import __version__

__all__ = ["__version__"]
