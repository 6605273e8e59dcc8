"""The fraud model's hyperparameters, apart from the estimator: declaring them must not import scikit-learn."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainParams:
    """Hyperparameters of the gradient-boosted trees."""

    max_iter: int = 200
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)
