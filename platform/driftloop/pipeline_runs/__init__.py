"""Submitting the training pipeline: one runner interface, a local (kfp.local) and a cluster implementation."""
