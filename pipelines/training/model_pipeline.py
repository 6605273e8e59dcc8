"""The scikit-learn pipeline a use case's model factory wraps its estimator in: imputation and encoding travel
with the model, so the served model (its ONNX export included) treats a missing feature or an unseen category
exactly as training did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

from pipelines.core.search_space import FloatRange, IntRange, SearchSpace
from pipelines.core.use_case import ModelInput


@dataclass(frozen=True)
class BoostedTreeParams:
    """Hyperparameters of scikit-learn's histogram gradient-boosted trees (classifier or regressor): a use case
    that builds on them declares this as its `ModelSpec.params`, and a run's `--params` JSON overrides them."""

    max_iter: int = 200
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


# Where a search looks for better trees (a use case declares it as `ModelSpec.search_space`): the defaults above sit
# inside every range (`make bench`'s search case measures what searching them gains: docs/benchmarks.md).
BOOSTED_TREE_SPACE: SearchSpace = MappingProxyType(
    {
        "max_iter": IntRange(100, 400),
        "learning_rate": FloatRange(0.02, 0.3, log=True),
        "max_leaf_nodes": IntRange(8, 63, log=True),
        "min_samples_leaf": IntRange(10, 300, log=True),
        "l2_regularization": FloatRange(1e-3, 10.0, log=True),
    }
)


def with_preprocessing(estimator: Any, model_input: ModelInput, feature_default: float) -> Any:
    """`estimator` after the model input's preprocessing: numeric columns with a missing value imputed as
    `feature_default` (an unknown entity's features), categories one-hot in the declared order (an unseen one
    is all zeros)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(
        categories=[list(model_input.categories[c]) for c in model_input.categorical],
        handle_unknown="ignore",
        sparse_output=False,
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="constant", fill_value=feature_default), list(model_input.numeric)),
            ("categorical", encoder, list(model_input.categorical)),
        ]
    )
    return Pipeline([("preprocess", preprocess), (_step_name(estimator), estimator)])


def _step_name(estimator: Any) -> str:
    """The estimator's step name: `classifier` or `regressor` (as the models registered before were named)."""
    from sklearn.base import is_classifier

    return "classifier" if is_classifier(estimator) else "regressor"
