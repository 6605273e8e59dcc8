"""A use case's hyperparameter search space, declared as plain data next to its model.

The declaration names ranges, not a tuning library's objects: the search step translates it for Ray Tune
(`pipelines.training.search`), and the version's tags record it as JSON (`describe`), so a reader sees what was
searched without Ray installed. Pure declarations: importing this module costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntRange:
    """Integers in [low, high], uniform or uniform in log space (`log`: for sizes spanning orders of magnitude)."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class FloatRange:
    """Floats in [low, high], uniform or uniform in log space (`log`: learning rates, regularization)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a few values."""

    values: tuple[Any, ...]


Dimension = IntRange | FloatRange | Choice
SearchSpace = Mapping[str, Dimension]


def space_problems(space: SearchSpace, params_type: type[Any]) -> list[str]:
    """What is wrong with a declared space: a dimension the model's parameters do not have, an empty range."""
    known = set(getattr(params_type, "__dataclass_fields__", {}))
    problems = [
        f"search space names {name!r}, not a parameter of {params_type.__name__}" for name in space if name not in known
    ]
    for name, dimension in space.items():
        if isinstance(dimension, Choice) and not dimension.values:
            problems.append(f"search space {name!r}: a choice of nothing")
        elif isinstance(dimension, IntRange | FloatRange):
            if dimension.low > dimension.high:
                problems.append(f"search space {name!r}: low {dimension.low} above high {dimension.high}")
            if dimension.log and dimension.low <= 0:
                problems.append(f"search space {name!r}: a log range must start above 0, not at {dimension.low}")
    return problems


def describe(space: SearchSpace) -> str:
    """The space as compact JSON, in a stable order (a model version's tag)."""

    def one(dimension: Dimension) -> dict[str, Any]:
        if isinstance(dimension, Choice):
            return {"choice": list(dimension.values)}
        kind = "int" if isinstance(dimension, IntRange) else "float"
        return {kind: [dimension.low, dimension.high], **({"log": True} if dimension.log else {})}

    return json.dumps({name: one(space[name]) for name in sorted(space)}, separators=(",", ":"))
