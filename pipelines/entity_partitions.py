"""Entity partitions: which part of a keyed table an entity's rows belong to (its id modulo the part count).

The same in every process and on every node, so a task can read, compute and write its part alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def entity_partition(entity_ids: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each entity id: the id modulo `partitions`."""
    return np.mod(entity_ids.astype(np.int64), partitions)


@dataclass(frozen=True)
class EntitySlice:
    """The rows whose `key` falls in partition `index` of `count`."""

    key: str
    index: int
    count: int

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.count == 1:
            return frame
        return frame[entity_partition(frame[self.key].to_numpy(), self.count) == self.index]
