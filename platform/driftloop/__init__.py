"""driftloop: the whole MLOps loop (train, serve, watch drift, retrain) on one machine or a kind cluster."""

__version__ = "0.1.0"
