"""Entity partitions: which part of a keyed table an entity's rows belong to (its id modulo the part count),
and reading only the rows a partition's task needs.

The same in every process and on every node, so a task can read, compute and write its part alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

READ_BATCH_ROWS = 262_144  # rows of a file held at once while cutting out one partition


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

    def read_parquet(self, source: Path | pq.ParquetFile) -> pd.DataFrame:
        """A parquet file's rows in this slice (a path, or a file opened on the object store).

        Rows are cut in Arrow, a batch at a time, before pandas sees them: other partitions' rows are never
        all in memory at once, and their strings never become Python objects (most of the cost
        of reading an event file)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(source, pq.ParquetFile):
            source = pq.ParquetFile(source)
        if self.count == 1:
            return source.read().to_pandas()
        kept = [
            batch.filter(entity_partition(batch.column(self.key).to_numpy(), self.count) == self.index)
            for batch in source.iter_batches(batch_size=READ_BATCH_ROWS)
        ]
        table = pa.Table.from_batches(kept, schema=source.schema_arrow) if kept else source.schema_arrow.empty_table()
        return table.to_pandas()


def read_rows_where(sources: Sequence[Path | pa.Table], column: str, values: pd.Series) -> pd.DataFrame:
    """The rows of these parquet files (paths, or tables read from the object store) whose `column` is one of
    `values`, cut in Arrow before pandas sees them (the other rows' strings never become Python objects).
    `sources` must not be empty."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = [source if isinstance(source, pa.Table) else pq.read_table(source) for source in sources]
    if values.empty:  # (an empty array has no type to compare a column with)
        return pa.concat_tables([table.slice(0, 0) for table in tables], promote_options="default").to_pandas()
    wanted = pa.array(values.drop_duplicates().to_numpy())
    kept = [table.filter(pc.is_in(table.column(column).cast(wanted.type), value_set=wanted)) for table in tables]
    # Parts written before a column was added lack it: it reads as null there (promote_options).
    return pa.concat_tables(kept, promote_options="default").to_pandas()
