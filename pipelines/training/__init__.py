"""Training: fit, score and evaluate a model, judge it at the gate; `steps` is what the KFP tasks run."""
