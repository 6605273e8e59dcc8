"""Split thresholds the ONNX export reproduces exactly, whatever float64 value a row brings.

scikit-learn compares a float64 value with a float64 threshold; the ONNX tree ensemble casts both to float32
(Feast serves float32 too). A value between a threshold and its float32 rounding goes left in one and right in
the other, and the whole tree's answer changes (0.08 minutes on delivery's ETAs, a rare parity refusal on
fraud's amounts). After the fit, each threshold t moves to the largest float64 below the midpoint between the
float32 at or below t and the next float32: there both sides agree for every value but that midpoint itself,
since rounding a float64 to float32 sends exactly the values below the midpoint to the lower neighbour. A
float32-exact value (every feature Feast stored) is split as before; only a value within half a float32 step
of a threshold can change sides, which the model does not notice.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def float32_exact_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Each float64 threshold moved to just below the midpoint of its float32 neighbours (see the module)."""
    value = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: left as it is, below
        low = value.astype(np.float32)
        low = np.where(low.astype(np.float64) > value, np.nextafter(low, np.float32(-np.inf)), low)
        high = np.nextafter(low, np.float32(np.inf))
        middle = (low.astype(np.float64) + high.astype(np.float64)) / 2
    moved = np.nextafter(middle, -np.inf)
    return np.where(np.isfinite(low) & np.isfinite(high), moved, value)


def snap_split_thresholds(model: Any) -> int:
    """Move the split thresholds of a fitted scikit-learn histogram gradient boosting model (alone or as the
    last step of a pipeline) in place; returns how many moved. Other estimators are left as they are."""
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    predictors = getattr(estimator, "_predictors", None)
    if predictors is None:
        logger.debug("%s has no histogram trees: thresholds left as fitted", type(estimator).__name__)
        return 0
    moved = 0
    for iteration in predictors:
        for tree in iteration:
            nodes = tree.nodes
            splits = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
            before = nodes["num_threshold"][splits]
            after = float32_exact_thresholds(before)
            nodes["num_threshold"][splits] = after
            moved += int(np.count_nonzero(before != after))
    return moved
