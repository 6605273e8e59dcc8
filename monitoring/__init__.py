"""Drift monitoring: the Evidently drift job, the retraining policy and the metrics it exports."""
